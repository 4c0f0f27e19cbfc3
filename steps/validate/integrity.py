"""deepchecks tabular suites, called as a library (see ARCHITECTURE.md for why not ZenML's
integration), reduced to an HTML report and a flat summary of each check's conditions.

The HTML is saved with ``connected=False`` so it embeds its JavaScript and renders in the
dashboard on a machine without internet access.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import pandas as pd


@dataclass
class SuiteSummary:
    """Outcome per check: PASS, WARN, FAIL, ERROR (a condition could not be evaluated) or
    NOT RUN (the check itself failed, for example because it does not apply to the task)."""

    suite: str
    outcomes: Dict[str, str] = field(default_factory=dict)
    details: Dict[str, str] = field(default_factory=dict)

    @property
    def failed(self) -> List[str]:
        return [name for name, outcome in self.outcomes.items() if outcome == "FAIL"]

    def as_metadata(self) -> Dict[str, object]:
        counts: Dict[str, int] = {}
        for outcome in self.outcomes.values():
            counts[outcome] = counts.get(outcome, 0) + 1
        return {"suite": self.suite, "outcome_counts": counts, "conditions": dict(self.outcomes)}


_SEVERITY = {"PASS": 0, "WARN": 1, "ERROR": 2, "FAIL": 3}


def _summarise(suite_name: str, result) -> SuiteSummary:
    summary = SuiteSummary(suite=suite_name)
    for check_result in result.results:
        header = check_result.get_header() if hasattr(check_result, "get_header") else str(check_result)
        conditions = getattr(check_result, "conditions_results", None)
        if conditions is None:  # CheckFailure: the check could not run on this data
            summary.outcomes[header] = "NOT RUN"
            summary.details[header] = str(getattr(check_result, "exception", ""))[:300]
            continue
        if not conditions:
            summary.outcomes[header] = "NO CONDITION"
            continue
        worst = max(conditions, key=lambda c: _SEVERITY.get(c.category.name, 0))
        summary.outcomes[header] = worst.category.name
        summary.details[header] = "; ".join(f"{c.name}: {c.details}" for c in conditions)[:300]
    return summary


def _dataset(frame: pd.DataFrame, label: Optional[str], categorical: List[str]):
    from deepchecks.tabular import Dataset

    present = [c for c in categorical if c in frame.columns]
    return Dataset(frame, label=label if label in frame.columns else None, cat_features=present)


def _html(result) -> str:
    buffer = io.StringIO()
    result.save_as_html(buffer, connected=False)
    return buffer.getvalue()


def run_data_integrity(frame: pd.DataFrame, label: Optional[str], categorical: List[str]) -> tuple[str, SuiteSummary]:
    """deepchecks' data-integrity suite on one table."""
    os.environ.setdefault("DISABLE_DEEPCHECKS_ANONYMOUS_TELEMETRY", "1")
    from deepchecks.tabular.suites import data_integrity

    result = data_integrity().run(_dataset(frame, label, categorical))
    return _html(result), _summarise("data_integrity", result)


def run_train_test_validation(
    reference: pd.DataFrame, current: pd.DataFrame, label: Optional[str], categorical: List[str]
) -> tuple[str, SuiteSummary]:
    """deepchecks' train-test validation suite (drift, new categories, leakage) on two tables."""
    os.environ.setdefault("DISABLE_DEEPCHECKS_ANONYMOUS_TELEMETRY", "1")
    from deepchecks.tabular.suites import train_test_validation

    result = train_test_validation().run(
        _dataset(reference, label, categorical), _dataset(current, label, categorical)
    )
    return _html(result), _summarise("train_test_validation", result)
