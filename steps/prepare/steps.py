"""ZenML steps for cleaning, splitting, feature selection and preprocessing."""

from __future__ import annotations

import hashlib
from typing import Dict, List, Optional, Tuple

import pandas as pd
from sklearn.compose import ColumnTransformer
from typing_extensions import Annotated
from zenml import ArtifactConfig, log_metadata, step

from core.config import (
    EngineeredFeatureSpec,
    FeatureSelectionSpec,
    RollingFeaturesSpec,
    SchemaSpec,
    SplitSpec,
    TimeseriesSpec,
)
from materializers.partitioned_parquet import PartitionedParquetMaterializer
from steps.prepare.cleaning import CLIENT_ID, clean_records, encode_target
from steps.prepare.engineering import engineer, feature_metadata
from steps.prepare.parsing import parse_text_numbers
from steps.prepare.preprocess import build_preprocessor, split_frame
from steps.prepare.selection import kept_features, univariate_selection
from steps.prepare.windows import check_time_order, split_groups, window_features


@step
def parse_text_numbers_step(
    raw_data: pd.DataFrame, columns: List[str]
) -> Annotated[pd.DataFrame, ArtifactConfig(name="{data_role}_typed_data")]:
    """The numbers the source delivers as text, parsed (steps/prepare/parsing.py); the raw table
    stays as received in its own artifact."""
    typed, blanks = parse_text_numbers(raw_data, columns)
    log_metadata(metadata={"parsed_columns": list(columns), "blank_values_now_missing": blanks})
    return typed


@step
def clean_dataset(
    raw_data: pd.DataFrame, use_case: str, target: Optional[str] = None, positive_class: Optional[str] = None
) -> Annotated[pd.DataFrame, ArtifactConfig(name="{data_role}_dataset")]:
    """Remove exact duplicates, then add the client id and load timestamp; a text target
    becomes 1 for ``positive_class`` and 0 otherwise."""
    cleaned, summary = clean_records(raw_data, scope=use_case)
    cleaned = encode_target(cleaned, target, positive_class) if target else cleaned
    log_metadata(
        metadata={
            "rows_in": summary.rows_in,
            "duplicates_removed": summary.duplicates_removed,
            "rows_out": summary.rows_out,
            **({"positive_class": positive_class} if positive_class else {}),
        }
    )
    return cleaned


def _ids_fingerprint(frame: pd.DataFrame) -> str:
    """Identifies which rows a split side holds: by client id, or by content without ids."""
    if CLIENT_ID in frame.columns:
        return hashlib.sha256("\n".join(sorted(frame[CLIENT_ID])).encode()).hexdigest()[:16]
    rows = pd.util.hash_pandas_object(frame, index=False).sort_values().to_numpy()
    return hashlib.sha256(rows.tobytes()).hexdigest()[:16]


@step
def split_dataset(
    dataset: pd.DataFrame, split: SplitSpec, target: str
) -> Tuple[Annotated[pd.DataFrame, "train_data"], Annotated[pd.DataFrame, "test_data"]]:
    """Seeded split; the seed, sizes and a fingerprint of each side's client ids are recorded."""
    train, test = split_frame(dataset, split.test_size, split.random_state, target if split.stratify else None)
    log_metadata(
        metadata={
            "random_state": split.random_state,
            "test_size": split.test_size,
            "stratified": split.stratify,
            "train_rows": len(train),
            "test_rows": len(test),
            "train_ids_sha256": _ids_fingerprint(train),
            "test_ids_sha256": _ids_fingerprint(test),
        }
    )
    return train, test


@step
def select_features(
    train_data: pd.DataFrame, table_schema: SchemaSpec, task: str, selection: FeatureSelectionSpec
) -> Tuple[Annotated[List[str], "selected_features"], Annotated[pd.DataFrame, "feature_selection_report"]]:
    """Univariate tests on the train split; the report lists every feature's statistic."""
    report = univariate_selection(
        train_data,
        target=table_schema.target,
        numeric=table_schema.numeric_features(),
        categorical=table_schema.categorical_features(),
        target_is_numeric=task == "regression",
        alpha=selection.alpha,
        always_keep=selection.always_keep,
    )
    features = kept_features(report)
    log_metadata(
        metadata={
            "kept": features,
            "dropped": report.loc[~report["kept"], "feature"].tolist(),
            "alpha": selection.alpha,
            "p_values": {r.feature: float(r.p_value) for r in report.itertuples()},
        }
    )
    return features, report


@step
def fit_preprocessor(
    train_data: pd.DataFrame, selected_features: List[str], table_schema: Optional[SchemaSpec] = None
) -> Annotated[ColumnTransformer, "preprocessor"]:
    """Fit imputation, scaling and one-hot encoding on the train split only.

    Without a schema (derived features such as window statistics) every feature is numeric.
    """
    if table_schema is None:
        preprocessor = build_preprocessor(list(selected_features), [])
    else:
        preprocessor = build_preprocessor(
            table_schema.numeric_features(selected_features), table_schema.categorical_features(selected_features)
        )
    preprocessor.fit(train_data[selected_features])
    log_metadata(metadata={"output_features": list(map(str, preprocessor.get_feature_names_out()))})
    return preprocessor


@step
def split_by_group(
    raw_data: pd.DataFrame, series: TimeseriesSpec
) -> Tuple[
    Annotated[pd.DataFrame, "train_series"],
    Annotated[pd.DataFrame, "validation_series"],
    Annotated[pd.DataFrame, "test_series"],
]:
    """Check each group's time order, then assign whole groups to train, validation and test."""
    check_time_order(raw_data, series.group_column, series.time_column)
    plan = series.split
    groups = split_groups(raw_data[series.group_column], plan.test_groups, plan.validation_groups,
                          plan.random_state, plan.always_train)
    log_metadata(metadata={"random_state": plan.random_state, **{f"{k}_groups": v for k, v in groups.items()}})
    train, validation, test = (raw_data[raw_data[series.group_column].isin(groups[k])].reset_index(drop=True)
                               for k in ("train", "validation", "test"))
    # A literal tuple: ZenML reads several outputs from the return statement's syntax.
    return train, validation, test


@step
def make_windows(
    train_series: pd.DataFrame, validation_series: pd.DataFrame, test_series: pd.DataFrame,
    series: TimeseriesSpec, target: str,
) -> Tuple[
    Annotated[pd.DataFrame, "train_data"],
    Annotated[pd.DataFrame, "validation_data"],
    Annotated[pd.DataFrame, "test_data"],
    Annotated[List[str], "window_features"],
]:
    """Sliding-window features for each subset with the same settings (never across groups)."""
    def windows(frame: pd.DataFrame) -> pd.DataFrame:
        return window_features(frame, series.group_column, series.time_column, series.sensors, target,
                               series.window_length, series.stride, series.smoothing)

    train, validation, test = windows(train_series), windows(validation_series), windows(test_series)
    features = [c for c in train.columns if c not in (series.group_column, series.time_column, target)]
    log_metadata(metadata={
        "window_length": series.window_length, "stride": series.stride, "smoothing": series.smoothing.method,
        "train_windows": len(train), "validation_windows": len(validation), "test_windows": len(test),
        "features": len(features),
    })
    return train, validation, test, features


@step(output_materializers={"feature_table": PartitionedParquetMaterializer})
def engineer_rolling_features(
    raw_data: pd.DataFrame, rolling: RollingFeaturesSpec, target: str
) -> Annotated[pd.DataFrame, "feature_table"]:
    """Per-group rolling features, stored as Parquet partitioned by year of the order column.

    What was dropped (rows missing a required value, each group's first ``window - 1`` rows)
    is counted in the step metadata, the quality record of this stage.
    """
    import polars as pl

    from steps.prepare.rolling import PARTITION_COLUMN, build_feature_table

    table, counts = build_feature_table(
        pl.from_pandas(raw_data), rolling.window, rolling.group_column, rolling.order_column,
        {name: (spec.column, spec.statistic) for name, spec in rolling.features.items()}, rolling.require,
        keep=[target],
    )
    log_metadata(metadata={**counts, "window": rolling.window, "partitioned_by": PARTITION_COLUMN})
    result = table.to_pandas()
    result.attrs["partition_by"] = PARTITION_COLUMN
    return result


ENGINEERED_FEATURES = "engineered_features"


@step
def engineer_features(
    dataset: pd.DataFrame, rules: Dict[str, EngineeredFeatureSpec], table_schema: SchemaSpec
) -> Tuple[Annotated[pd.DataFrame, ENGINEERED_FEATURES], Annotated[pd.DataFrame, "feature_metadata"]]:
    """The config's engineered features (steps/prepare/engineering.py) added to the cleaned
    table, and the table describing every model input.

    The feature table is a versioned artifact that records, like a raw extract, the source and
    ingestion time it goes back to, its rows, its schema hash and a change-log line against the
    previous version (steps/store/versions.py)."""
    from zenml import get_step_context

    from steps.store.versions import UNKNOWN_INGESTION, ingestion_of, previous_version_record, table_version_record

    features = engineer(dataset, rules)
    ingestion = ingestion_of(get_step_context().inputs["dataset"][0]) or UNKNOWN_INGESTION
    record = table_version_record(features, ingestion, previous_version_record(ENGINEERED_FEATURES, ingestion["source"]))
    log_metadata(metadata=record, artifact_name=ENGINEERED_FEATURES, infer_artifact=True)
    log_metadata(metadata={**record, "engineered": list(rules)})
    return features, feature_metadata(rules, table_schema)
