"""The data pipeline's reports in the dashboard: the data profile (column statistics and the
data-quality issues, also as CSV) and the exploration (association table, bins, encoding,
permutation importance and the charts, inline PNGs on one page)."""

from __future__ import annotations

import csv
import io
from typing import Any, ClassVar, Dict, Tuple, Type

from zenml.enums import VisualizationType

from materializers.html import escape, page, table
from materializers.report_base import ReportMaterializer
from steps.explore.report import DataProfile, ExplorationReport

ISSUE_COLUMNS = ["column", "issue", "count", "resolution"]


def _fmt(value) -> str:
    if value is None:
        return ""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def issues_csv(profile: DataProfile) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(ISSUE_COLUMNS)
    for issue in profile.issues:
        writer.writerow([getattr(issue, column) for column in ISSUE_COLUMNS])
    return buffer.getvalue()


def render_profile(profile: DataProfile) -> str:
    statistics = ["name", "declared_type", "dtype", "missing", "missing_share", "unique", "mean", "std", "min",
                  "q25", "median", "q75", "max", "top", "top_count"]
    issues = (table(ISSUE_COLUMNS, [[getattr(i, c) for c in ISSUE_COLUMNS] for i in profile.issues])
              if profile.issues else "<p>No issues found.</p>")
    body = (f"<h2>Data-quality issues</h2>{issues}<h2>Columns</h2>"
            + table(statistics, [[_fmt(getattr(column, s)) for s in statistics] for column in profile.columns]))
    summary = (f"{profile.rows} rows, {len(profile.columns)} columns, {profile.duplicate_rows} duplicate rows, "
               f"{sum(profile.missing_values.values())} missing values, {len(profile.issues)} issue(s).")
    return page(f"Data profile: {profile.use_case}", summary, body)


def render_exploration(report: ExplorationReport) -> str:
    associations = table(["first", "second", "measure", "value"],
                         [[a.first, a.second, a.measure, f"{a.value:.3f}"] for a in report.associations])
    importances = table(["feature", f"mean drop in {report.importance_metric}", "std"],
                        [[i.feature, f"{i.mean:.4f}", f"{i.std:.4f}"] for i in report.importances])
    bins = "".join(
        f"<p>{escape(b.name)} from {escape(b.column)}</p>" + table(["bin", "rows"], list(b.counts.items()))
        for b in report.bins)
    encoding = table(["column", "one-hot columns"], [[c, ", ".join(v)] for c, v in report.encoded_columns.items()])
    charts = "".join(f"<h2>{escape(title)}</h2><img alt='{escape(title)}' src='data:image/png;base64,{png}'>"
                     for title, png in report.charts.items())
    body = (f"{charts}<h2>Associations</h2>{associations}<h2>Permutation importance "
            f"({escape(report.importance_model)})</h2>{importances}<h2>Bins</h2>{bins}<h2>Encoding</h2>{encoding}")
    return page(f"Exploratory analysis: {report.use_case}", " ".join(report.notes), body)


class DataProfileMaterializer(ReportMaterializer):
    ASSOCIATED_TYPES: ClassVar[Tuple[Type[Any], ...]] = (DataProfile,)
    NAME: ClassVar[str] = "data_profile"

    def render_html(self, data: DataProfile) -> str:
        return render_profile(data)

    def extra_visualizations(self, data: DataProfile) -> Dict[str, tuple[str, VisualizationType]]:
        return {"csv": (issues_csv(data), VisualizationType.CSV)}

    def extract_metadata(self, data: DataProfile) -> Dict[str, Any]:
        return {"rows": data.rows, "duplicate_rows": data.duplicate_rows, "missing_values": data.missing_values,
                "issues": len(data.issues)}


class ExplorationReportMaterializer(ReportMaterializer):
    ASSOCIATED_TYPES: ClassVar[Tuple[Type[Any], ...]] = (ExplorationReport,)
    NAME: ClassVar[str] = "exploration_report"

    def render_html(self, data: ExplorationReport) -> str:
        return render_exploration(data)

    def extract_metadata(self, data: ExplorationReport) -> Dict[str, Any]:
        return {"rows": data.rows, "charts": len(data.charts),
                "strongest_associations": [f"{a.first}~{a.second} {a.measure}={a.value:.3f}"
                                           for a in data.associations[:5]],
                "top_features": [i.feature for i in data.importances[:5]]}
