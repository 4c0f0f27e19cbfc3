"""ZenML steps: Great Expectations suite, meta-validation gate, deepchecks suites."""

from __future__ import annotations

from typing import List

import pandas as pd
from typing_extensions import Annotated
from zenml import log_metadata, step
from zenml.types import HTMLString

from core.config import ExpectationSpec, SchemaSpec
from materializers.validation_report import ValidationReportMaterializer
from steps.validate.expectations import build_expectations, run_expectations
from steps.validate.gate import enforce_gate
from steps.validate.integrity import run_data_integrity, run_train_test_validation
from steps.validate.report import ValidationReport


@step(output_materializers=ValidationReportMaterializer)
def validate_expectations(
    raw_data: pd.DataFrame,
    table_schema: SchemaSpec,
    suite_name: str,
    extra_expectations: List[ExpectationSpec],
    include_target: bool = True,
) -> Annotated[ValidationReport, "validation_report"]:
    """Run the schema-derived GX suite. It never raises on bad data: the gate decides."""
    specs = build_expectations(table_schema, extra_expectations, include_target=include_target)
    return run_expectations(raw_data, specs, suite_name)


@step(enable_cache=False)
def validation_gate(validation_report: ValidationReport, min_success_ratio: float) -> None:
    """Stop the pipeline, naming each failed expectation and column, when validation fails."""
    log_metadata(
        metadata={
            "suite_success": validation_report.success,
            "success_ratio": round(validation_report.success_ratio, 4),
            "min_success_ratio": min_success_ratio,
        }
    )
    enforce_gate(validation_report, min_success_ratio)


@step
def check_data_integrity(raw_data: pd.DataFrame, table_schema: SchemaSpec) -> Annotated[HTMLString, "data_integrity_report"]:
    """deepchecks' data-integrity suite on the raw table; condition outcomes become metadata."""
    report_html, summary = run_data_integrity(raw_data, table_schema.target, table_schema.categorical_features())
    log_metadata(metadata=summary.as_metadata())
    return HTMLString(report_html)


@step
def check_train_test_drift(
    train_data: pd.DataFrame, test_data: pd.DataFrame, table_schema: SchemaSpec
) -> Annotated[HTMLString, "train_test_drift_report"]:
    """deepchecks' train-test validation suite (drift, leakage, new categories) on the split."""
    columns = list(table_schema.columns)
    report_html, summary = run_train_test_validation(
        train_data[columns], test_data[columns], table_schema.target, table_schema.categorical_features()
    )
    log_metadata(metadata=summary.as_metadata())
    return HTMLString(report_html)
