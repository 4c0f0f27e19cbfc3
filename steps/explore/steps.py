"""The data pipeline's steps: profile, normalize, explore, and record the run's activity."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Dict, List, Tuple

import pandas as pd
from typing_extensions import Annotated
from zenml import get_step_context, log_metadata, step

from core.config import ExplorationSpec, SchemaSpec
from core.paths import STATE_DIR
from materializers.exploration import DataProfileMaterializer, ExplorationReportMaterializer
from steps.explore.activity import Activity, activity_log_path, append_activity
from steps.explore.exploration import explore_table
from steps.explore.preparation import normalize_table
from steps.explore.profile import profile_table
from steps.explore.report import DataProfile, ExplorationReport
from steps.validate.report import ValidationReport


@step(output_materializers=DataProfileMaterializer)
def profile_data(raw_data: pd.DataFrame, table_schema: SchemaSpec, use_case: str
                 ) -> Annotated[DataProfile, "data_profile"]:
    """Summary statistics, types and missing values of every column, and the issues found."""
    return profile_table(raw_data, table_schema, use_case)


@step
def normalize_data(raw_data: pd.DataFrame, table_schema: SchemaSpec, exploration: ExplorationSpec
                   ) -> Tuple[Annotated[pd.DataFrame, "normalized_dataset"], Annotated[Dict[str, List[str]], "encoding"]]:
    """Binned, imputed, standardized and one-hot encoded (steps/explore/preparation.py)."""
    normalized, encoded, imputed = normalize_table(raw_data, table_schema, exploration.bins)
    log_metadata(metadata={"imputed_values": imputed, "columns": normalized.shape[1],
                           "one_hot_columns": sum(len(v) for v in encoded.values())})
    return normalized, encoded


@step(output_materializers=ExplorationReportMaterializer)
def explore_data(raw_data: pd.DataFrame, encoding: Dict[str, List[str]], table_schema: SchemaSpec,
                 exploration: ExplorationSpec, task: str, use_case: str
                 ) -> Annotated[ExplorationReport, "eda_report"]:
    """Associations, bins, permutation importance and charts, shown on the run's page."""
    return explore_table(raw_data, table_schema, exploration, task, use_case, encoding)


def run_duration() -> Tuple[str, float]:
    run = get_step_context().pipeline_run
    started = run.start_time or run.created
    if started.tzinfo is None:
        started = started.replace(tzinfo=timezone.utc)
    return run.name, (datetime.now(timezone.utc) - started).total_seconds()


@step(enable_cache=False)
def record_data_activity(data_profile: DataProfile, validation_report: ValidationReport, eda_report: ExplorationReport,
                         use_case: str) -> Annotated[Dict[str, object], "data_activity"]:
    """The run's rows, issues and duration, as run metadata and a line in the activity log.
    Never cached: it records this run, not an earlier one."""
    name, seconds = run_duration()
    issues = {f"{issue.column}: {issue.issue}": issue.count for issue in data_profile.issues}
    for outcome in validation_report.failures():
        issues[f"{outcome.column or '(table)'}: {outcome.expectation} ({outcome.severity})"] = outcome.unexpected_count or 1
    activity = Activity(run=name, outcome="completed", duration_seconds=round(seconds, 1), rows=data_profile.rows,
                        issues=issues, validation=f"{validation_report.successful}/{validation_report.evaluated}")
    append_activity(activity_log_path(STATE_DIR, use_case), activity)
    record = {**activity.as_metadata(), "charts": len(eda_report.charts)}
    log_metadata(metadata={"data_activity": record}, run_id_name_or_prefix=get_step_context().pipeline_run.id)
    return record
