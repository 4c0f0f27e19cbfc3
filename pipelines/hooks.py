"""Failure hook shared by every pipeline: say which step failed and why, where people look."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from zenml import get_step_context, log_metadata
from zenml.client import Client
from zenml.logger import get_logger

logger = get_logger(__name__)


def failure_log_path(state_dir: Path) -> Path:
    return Path(state_dir) / "logs" / "failures.log"


def report_failure(exception: BaseException) -> None:
    """Post to the stack's alerter if it has one; always log, to the step's log (the dashboard
    shows it) and as one line in ``<state>/logs/failures.log``, which outlives the run's records."""
    from core.paths import STATE_DIR
    from steps.ingest.ingestion_log import append_line, one_line

    context = get_step_context()
    message = (
        f"Pipeline run '{context.pipeline_run.name}' failed in step '{context.step_run.name}': "
        f"{type(exception).__name__}: {exception}"
    )
    logger.error(message)
    append_line(failure_log_path(STATE_DIR),
                f"{datetime.now(timezone.utc).isoformat(timespec='seconds')} | {one_line(message)}")
    alerter = Client().active_stack.alerter
    if alerter is not None and not alerter.post(message):
        logger.error("the failure above was not delivered to the stack's alerter '%s'", alerter.name)


def report_data_failure(exception: BaseException) -> None:
    """``report_failure``, plus the failed run's line in the data pipeline's activity log."""
    from core.paths import STATE_DIR
    from steps.explore.activity import Activity, activity_log_path, append_activity
    from steps.explore.steps import run_duration

    report_failure(exception)
    context = get_step_context()
    name, seconds = run_duration()
    use_case = context.pipeline_run.config.parameters["params"]["use_case"]
    activity = Activity(run=name, outcome=f"failed in step '{context.step_run.name}'",
                        duration_seconds=round(seconds, 1), error=f"{type(exception).__name__}: {exception}")
    append_activity(activity_log_path(STATE_DIR, use_case), activity)
    log_metadata(metadata={"data_activity": activity.as_metadata()}, run_id_name_or_prefix=context.pipeline_run.id)
