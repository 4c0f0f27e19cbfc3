"""Batch inference: a new batch, validated and drift-checked, scored by the production model."""

from __future__ import annotations

from zenml import get_pipeline_context, pipeline

from core.config import UseCaseParameters
from pipelines.hooks import report_failure
from pipelines.ingestion import validated_dataset
from steps.inference.steps import check_batch_drift, predict_batch, store_predictions
from steps.store.feature_store import tabular_view
from steps.store.steps import serve_online_features


@pipeline(substitutions={"data_role": "batch"}, on_failure=report_failure)
def batch_inference(params: UseCaseParameters) -> None:
    table_schema = params.schema_
    inference = params.inference
    # The pipeline runs with the model's `production` version as its model context, so these
    # resolve, at run time, to that version's artifacts, and the predictions link back to it.
    production = get_pipeline_context().model
    _, batch_dataset = validated_dataset(params, inference.source, table_schema.feature_columns, role="batch")
    if params.feature_store is not None:  # score the values the online store serves for the batch
        batch_dataset = serve_online_features(batch_dataset, view=tabular_view(params))
    check_batch_drift(
        production.get_artifact("train_data"), batch_dataset, table_schema=table_schema, drift=inference.drift
    )
    predictions = predict_batch(production.get_model_artifact("model"), batch_dataset, after="check_batch_drift")
    store_predictions(predictions, sink=inference.predictions)
