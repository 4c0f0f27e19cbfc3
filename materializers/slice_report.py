"""Stores a SliceReport as JSON (+ CSV) and shows it as a sorted table and a lift bar chart."""

from __future__ import annotations

import csv
import io
from typing import Any, ClassVar, Dict, Tuple, Type

from zenml.enums import VisualizationType

from materializers.html import escape, page, table
from materializers.report_base import ReportMaterializer
from steps.slices.report import SliceReport

_COLUMNS = ["description", "size", "support", "errors", "error_rate", "lift", "lift_lower_bound", "adjusted_p_value"]


def _bar_chart(report: SliceReport) -> str:
    """Inline SVG: one bar per slice, its length the lift, with a dark tick at the lift's lower
    bound (how much of it survives the search); the dashed line is lift 1 (overall)."""
    if not report.slices:
        return ""
    width, label_width, row_height = 900, 420, 24
    top = max(s.lift for s in report.slices)
    scale = (width - label_width - 80) / top
    rows = []
    for index, finding in enumerate(report.slices):
        y = index * row_height
        label = finding.description if len(finding.description) <= 60 else finding.description[:57] + "..."
        rows.append(
            f'<text x="{label_width - 8}" y="{y + 16}" text-anchor="end" font-size="12">{escape(label)}</text>'
            f'<rect x="{label_width}" y="{y + 4}" width="{finding.lift * scale:.1f}" height="{row_height - 8}" fill="#d64545"/>'
            f'<text x="{label_width + finding.lift * scale + 6:.1f}" y="{y + 16}" font-size="12">{finding.lift:.2f}x</text>'
        )
        if finding.lift_lower_bound is not None:
            x = label_width + finding.lift_lower_bound * scale
            rows.append(f'<line class="lower-bound" x1="{x:.1f}" y1="{y + 2}" x2="{x:.1f}" y2="{y + row_height - 2}" '
                        f'stroke="#1f2933" stroke-width="3"><title>at least {finding.lift_lower_bound:.2f}x</title></line>')
    height = len(report.slices) * row_height + 8
    baseline = label_width + scale
    return (
        f'<h2 style="font-size:15px">Lift (slice error rate / overall error rate)</h2>'
        f'<svg width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">{"".join(rows)}'
        f'<line x1="{baseline:.1f}" y1="0" x2="{baseline:.1f}" y2="{height}" stroke="#52606d" stroke-dasharray="4"/></svg>'
    )


def render_slice_report(report: SliceReport) -> str:
    model = f"{report.model_name} version {report.model_version}" if report.model_name else "model"
    summary = (
        f"{len(report.slices)} weak slice(s) for {model} on {report.rows} held-out rows; overall error rate "
        f"{report.overall_error_rate:.3f} (error = {report.error_definition}); {report.candidates_tested} candidates "
        f"tested with {report.settings.get('correction', 'fdr_bh')} correction at alpha {report.settings.get('alpha')}; "
        f"{report.seconds:.2f} s."
    )
    rows = [
        [i + 1, s.description, s.size, f"{s.support:.3f}", s.errors, f"{s.error_rate:.3f}", f"{s.lift:.2f}",
         "-" if s.lift_lower_bound is None else f"{s.lift_lower_bound:.2f}", f"{s.adjusted_p_value:.2e}"]
        for i, s in enumerate(report.slices)
    ]
    body = _bar_chart(report) + table(
        ["#", "slice", "size", "support", "errors", "error rate", "lift", "lift at least", "adjusted p"], rows
    )
    if report.slices:
        body += (f"<p>Lift at least: a lower bound that holds for every candidate tested at once (Clopper-Pearson "
                 f"at alpha {report.settings.get('alpha')} / {report.candidates_tested}). A slice reported for "
                 "looking worst overstates its lift, the more so the smaller it is; this much of it survives "
                 "the search.</p>")
    if report.notes:
        body += "".join(f"<p>{escape(note)}</p>" for note in report.notes)
    return page("Under-performing data slices", summary, body)


def slices_csv(report: SliceReport) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(_COLUMNS)
    for finding in report.slices:
        writer.writerow([getattr(finding, column) for column in _COLUMNS])
    return buffer.getvalue()


class SliceReportMaterializer(ReportMaterializer):
    ASSOCIATED_TYPES: ClassVar[Tuple[Type[Any], ...]] = (SliceReport,)
    NAME: ClassVar[str] = "slice_report"

    def render_html(self, data: SliceReport) -> str:
        return render_slice_report(data)

    def extra_visualizations(self, data: SliceReport) -> Dict[str, tuple[str, VisualizationType]]:
        return {"csv": (slices_csv(data), VisualizationType.CSV)}

    def extract_metadata(self, data: SliceReport) -> Dict[str, Any]:
        return {
            "slices_found": len(data.slices),
            "overall_error_rate": round(data.overall_error_rate, 4),
            "candidates_tested": data.candidates_tested,
            "top_slices": [f"{s.description} (lift {s.lift:.2f}, n={s.size})" for s in data.slices[:5]],
        }
