"""Meta-validation: decide from a validation report whether the pipeline may go on."""

from __future__ import annotations

from typing import List

from steps.validate.report import ValidationReport


class ValidationGateError(RuntimeError):
    """The data failed validation; nothing downstream may run."""


def gate_failures(report: ValidationReport, min_success_ratio: float) -> List[str]:
    """Reasons to stop, one per failed critical expectation plus the ratio check (empty = pass)."""
    reasons = [f"[critical] {o.describe()}" for o in report.failures() if o.severity == "critical"]
    if report.success_ratio < min_success_ratio:
        warnings = [f"[warning] {o.describe()}" for o in report.failures() if o.severity == "warning"]
        reasons.extend(warnings)
        reasons.append(
            f"success ratio {report.success_ratio:.3f} ({report.successful}/{report.evaluated}) "
            f"is below the required {min_success_ratio:.3f}"
        )
    return reasons


def enforce_gate(report: ValidationReport, min_success_ratio: float) -> None:
    """Raise ValidationGateError naming every failed expectation and column, or return."""
    reasons = gate_failures(report, min_success_ratio)
    if reasons:
        listing = "\n  - ".join(reasons)
        raise ValidationGateError(
            f"data validation failed for '{report.data_asset}' "
            f"({report.successful}/{report.evaluated} expectations passed):\n  - {listing}"
        )
