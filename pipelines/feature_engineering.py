"""Feature engineering: ingestion (with the raw lake) -> validation -> preparation -> engineered
features -> the relational feature table. Run it on a schedule with ``python run.py
feature_engineering --config configs/churn.yaml --schedule "0 * * * *"``."""

from __future__ import annotations

from zenml import pipeline

from core.config import UseCaseParameters
from pipelines.hooks import report_failure
from pipelines.ingestion import validated_dataset
from steps.prepare.steps import engineer_features
from steps.store.steps import store_feature_table
from steps.validate.steps import check_data_integrity


@pipeline(substitutions={"data_role": "training"}, on_failure=report_failure)
def feature_engineering(params: UseCaseParameters) -> None:
    table_schema = params.schema_
    raw_data, dataset = validated_dataset(params, params.source, list(table_schema.columns), role="training")
    integrity = check_data_integrity(raw_data, table_schema=table_schema, after="validation_gate")
    features, metadata = engineer_features(dataset, rules=params.engineered_features, table_schema=table_schema)
    store_feature_table(features, metadata, table=params.feature_table, table_schema=params.feature_schema,
                        after=[integrity])
