"""ZenML steps for batch inference with the production model."""

from __future__ import annotations

from typing import Any, Dict

import pandas as pd
from sklearn.base import BaseEstimator
from typing_extensions import Annotated
from zenml import get_step_context, log_metadata, step
from zenml.logger import get_logger
from zenml.types import HTMLString

from core.config import DriftSpec, PredictionSinkSpec, SchemaSpec
from steps.inference.prediction import predict_frame
from steps.store.predictions import append_predictions
from steps.validate.integrity import run_train_test_validation

logger = get_logger(__name__)


class DriftError(RuntimeError):
    """The batch drifted from the training data and the config says to stop."""


@step
def check_batch_drift(
    train_data: pd.DataFrame, batch_dataset: pd.DataFrame, table_schema: SchemaSpec, drift: DriftSpec
) -> Annotated[HTMLString, "batch_drift_report"]:
    """deepchecks' train-test suite between the production model's training data and the batch.

    Drift is reported (HTML and metadata) and, if ``fail_on_drift`` is set, stops the run
    before anything is predicted or stored.
    """
    features = table_schema.feature_columns
    report_html, summary = run_train_test_validation(
        train_data[features], batch_dataset[features], None, table_schema.categorical_features()
    )
    log_metadata(metadata={**summary.as_metadata(), "failed_checks": summary.failed})
    if summary.failed:
        message = f"batch drift checks failed: {summary.failed}"
        if drift.fail_on_drift:
            raise DriftError(message)
        logger.warning(message)
    return HTMLString(report_html)


@step(enable_cache=False)
def predict_batch(model: BaseEstimator, batch_dataset: pd.DataFrame) -> Annotated[pd.DataFrame, "predictions"]:
    """Score the batch with the production model; each row names the model version."""
    context = get_step_context()
    predictions = predict_frame(
        model, batch_dataset, context.model.name, str(context.model.number), context.pipeline_run.name
    )
    log_metadata(
        metadata={"rows": len(predictions), "model_version": str(context.model.number),
                  "prediction_mean": float(predictions["prediction"].mean())}
    )
    return predictions


@step(enable_cache=False)
def store_predictions(predictions: pd.DataFrame, sink: PredictionSinkSpec) -> Annotated[Dict[str, Any], "prediction_store"]:
    """Append the batch to the predictions table in one transaction."""
    spec = sink.as_source()
    total = append_predictions(predictions, spec)
    entry = {"table": spec.describe(), "rows_written": len(predictions), "rows_in_table": total}
    log_metadata(metadata=entry)
    return entry
