"""Stores a ValidationReport as JSON and shows it in the dashboard as a table of expectations."""

from __future__ import annotations

import json
from typing import Any, ClassVar, Dict, Tuple, Type

from materializers.html import page, table
from materializers.report_base import ReportMaterializer
from steps.validate.report import ValidationReport


def render_validation_report(report: ValidationReport) -> str:
    rows, classes = [], []
    for outcome in report.outcomes:
        arguments = {k: v for k, v in outcome.kwargs.items() if k != "column"}
        failing = ", ".join(outcome.unexpected_examples[:5])
        detail = "; ".join(
            part
            for part in (
                f"{outcome.unexpected_count} unexpected" if outcome.unexpected_count else "",
                f"e.g. {failing}" if failing else "",
                f"observed {outcome.observed}" if outcome.observed is not None else "",
                f"error: {outcome.error}" if outcome.error else "",
            )
            if part
        )
        rows.append(
            ["PASS" if outcome.success else "FAIL", outcome.severity, outcome.expectation,
             outcome.column or "(table)", json.dumps(arguments, default=str), detail]
        )
        classes.append("pass" if outcome.success else ("fail" if outcome.severity == "critical" else "warn"))
    summary = (
        f"{'PASSED' if report.success else 'FAILED'}: {report.successful}/{report.evaluated} expectations "
        f"passed (success ratio {report.success_ratio:.3f}) on '{report.data_asset}'."
    )
    body = table(["outcome", "severity", "expectation", "column", "arguments", "details"], rows, classes, {0: "outcome"})
    return page(f"Great Expectations suite: {report.suite_name}", summary, body)


class ValidationReportMaterializer(ReportMaterializer):
    ASSOCIATED_TYPES: ClassVar[Tuple[Type[Any], ...]] = (ValidationReport,)
    NAME: ClassVar[str] = "validation_report"

    def render_html(self, data: ValidationReport) -> str:
        return render_validation_report(data)

    def extract_metadata(self, data: ValidationReport) -> Dict[str, Any]:
        return {
            "success": data.success,
            "evaluated_expectations": data.evaluated,
            "successful_expectations": data.successful,
            "success_ratio": round(data.success_ratio, 4),
            "failed_expectations": [o.describe() for o in data.failures()][:20],
        }
