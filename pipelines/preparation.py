"""How a use case's data becomes train, validation and test tables for the candidates.

Tabular use cases: rows are cleaned, published to the stack's feature store and read back
point in time (with a ``feature_store:`` config section), split at random (seeded), and
features selected by statistical tests. Time-series use cases (a ``timeseries:`` config section): whole recordings
are split, and sliding windows become the rows. Rolling-feature use cases (a ``rolling:``
section, such as stock volume): per-group rolling statistics become the model's inputs. All
return the same five artifacts, so everything from the candidates on is shared, plus the
outputs of their side steps (reports, the feature-store publication), which promotion waits for:
ZenML continues past a failed step, and a run with a failed step must not promote.
"""

from __future__ import annotations

from typing import Optional

from core.config import UseCaseParameters
from pipelines.ingestion import validated_dataset, validated_raw
from steps.prepare.steps import (
    engineer_features,
    engineer_rolling_features,
    fit_preprocessor,
    make_windows,
    select_features,
    split_by_group,
    split_dataset,
)
from steps.store.feature_store import rolling_view, tabular_view
from steps.store.steps import publish_feature_view, retrieve_training_features
from steps.validate.steps import check_data_integrity, check_train_test_drift


def tabular_preparation(params: UseCaseParameters, dataset_version: Optional[int] = None):
    table_schema = params.schema_
    raw_data, dataset = validated_dataset(params, params.source, list(table_schema.columns), role="training",
                                          dataset_version=dataset_version)
    integrity = check_data_integrity(raw_data, table_schema=table_schema, after="validation_gate")
    if params.engineered_features:  # from here on the schema includes them
        dataset, _ = engineer_features(dataset, rules=params.engineered_features, table_schema=table_schema)
        table_schema = params.feature_schema
    if params.feature_store is not None:  # the model trains on what the feature store gives back
        view = tabular_view(params)
        published = publish_feature_view(dataset, view=view)
        dataset = retrieve_training_features(dataset, published, view=view, target=table_schema.target)
    train_data, test_data = split_dataset(dataset, split=params.split, target=table_schema.target)
    drift = check_train_test_drift(train_data, test_data, table_schema=table_schema)
    features, _ = select_features(
        train_data, table_schema=table_schema, task=params.training.task, selection=params.feature_selection
    )
    preprocessor = fit_preprocessor(train_data, features, table_schema=table_schema)
    return train_data, None, test_data, features, preprocessor, [integrity, drift]


def windowed_preparation(params: UseCaseParameters, dataset_version: Optional[int] = None):
    table_schema, series = params.schema_, params.timeseries
    raw_data = validated_raw(params, params.source, list(table_schema.columns), role="training",
                             dataset_version=dataset_version)
    train_series, validation_series, test_series = split_by_group(raw_data, series=series, after="validation_gate")
    train_data, validation_data, test_data, features = make_windows(
        train_series, validation_series, test_series, series=series, target=table_schema.target
    )
    preprocessor = fit_preprocessor(train_data, features)
    return train_data, validation_data, test_data, features, preprocessor, []


def rolling_preparation(params: UseCaseParameters, dataset_version: Optional[int] = None):
    table_schema, rolling = params.schema_, params.rolling
    raw_data = validated_raw(params, params.source, list(table_schema.columns), role="training",
                             dataset_version=dataset_version)
    checks = [check_data_integrity(raw_data, table_schema=table_schema, after="validation_gate")]
    feature_table = engineer_rolling_features(raw_data, rolling=rolling, target=table_schema.target,
                                              after="validation_gate")
    if rolling.feature_view is not None:
        checks.append(publish_feature_view(feature_table, view=rolling_view(rolling)))
    train_data, test_data = split_dataset(feature_table, split=params.split, target=table_schema.target)
    features = list(rolling.features)
    preprocessor = fit_preprocessor(train_data, features)
    return train_data, None, test_data, features, preprocessor, checks


def preparation_for(params: UseCaseParameters):
    """The preparation a config asks for."""
    if params.timeseries is not None:
        return windowed_preparation
    if params.rolling is not None:
        return rolling_preparation
    return tabular_preparation
