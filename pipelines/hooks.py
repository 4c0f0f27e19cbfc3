"""Failure hook shared by every pipeline: say which step failed and why, where people look."""

from __future__ import annotations

from zenml import get_step_context
from zenml.client import Client
from zenml.logger import get_logger

logger = get_logger(__name__)


def report_failure(exception: BaseException) -> None:
    """Post to the stack's alerter if it has one, and always to the log."""
    context = get_step_context()
    message = (
        f"Pipeline run '{context.pipeline_run.name}' failed in step '{context.step_run.name}': "
        f"{type(exception).__name__}: {exception}"
    )
    logger.error(message)
    alerter = Client().active_stack.alerter
    if alerter is not None:
        alerter.post(message)
