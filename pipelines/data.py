"""DataOps: extract, validate, profile, normalize and explore a use case's table, and record
the run's activity. Run on a schedule with ``python run.py data --config ... --schedule ...``."""

from __future__ import annotations

from zenml import pipeline

from core.config import UseCaseParameters
from pipelines.hooks import report_data_failure
from pipelines.ingestion import extract, gated_validation, parsed_numbers
from steps.explore.steps import explore_data, normalize_data, profile_data, record_data_activity


@pipeline(substitutions={"data_role": "training"}, on_failure=report_data_failure)
def data(params: UseCaseParameters) -> None:
    table_schema = params.schema_
    received = extract(params)(source=params.source, columns=list(table_schema.columns))
    typed = parsed_numbers(params, received)
    report = gated_validation(params, typed, role="training")
    # The profile reads the data as received, so that a number sent as text is one of its issues.
    profile = profile_data(received, table_schema=table_schema, use_case=params.use_case, after="validation_gate")
    _, encoding = normalize_data(typed, table_schema=table_schema, exploration=params.exploration,
                                 after="validation_gate")
    eda_report = explore_data(typed, encoding, table_schema=table_schema, exploration=params.exploration,
                              task=params.training.task, use_case=params.use_case)
    record_data_activity(profile, report, eda_report, use_case=params.use_case)
