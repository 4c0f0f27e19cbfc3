"""ZenML steps around the stack's feature store (Feast): publish a feature table, read training
rows back point in time, and serve a batch's features from the online store.

None of them is cached: each one reads or changes the feature store, which may have changed (or
been emptied) since an identical earlier run.
"""

from __future__ import annotations

import os
from typing import Any, Dict

import pandas as pd
from typing_extensions import Annotated
from zenml import get_step_context, log_metadata, step

from core.config import FeatureTableSpec, FeatureViewSpec, SchemaSpec


def _feast_repo() -> str:
    """The active stack's Feast repository, written here first where the component carries it."""
    from zenml.client import Client

    from steps.store.feature_store import repository

    feature_store = Client().active_stack.feature_store
    if feature_store is None:
        raise RuntimeError(f"the active stack '{Client().active_stack.name}' has no feature store")
    return repository(feature_store.config)


def _feast():
    from feast import FeatureStore

    return FeatureStore(repo_path=_feast_repo())


def _parquet_location(stored) -> str:
    """Where an artifact's table lies as Parquet in the artifact store, for Feast to read."""
    from zenml.integrations.pandas.materializers.pandas_materializer import PARQUET_FILENAME

    from materializers.partitioned_parquet import PartitionedParquetMaterializer, dataset_uri

    if stored.materializer.import_path.endswith(PartitionedParquetMaterializer.__name__):
        return dataset_uri(stored.uri)
    return os.path.join(stored.uri, PARQUET_FILENAME)


@step(enable_cache=False)
def publish_feature_view(feature_table: pd.DataFrame, view: FeatureViewSpec) -> Annotated[Dict[str, Any], "feature_view"]:
    """Register the feature table (where the artifact store keeps it) as a Feast feature view,
    with each feature's metadata, and load each entity's latest values into the online store.

    The view always points at a versioned artifact: a later run re-points it at its own table,
    and older tables stay in lineage.
    """
    from steps.store.feature_store import feature_source, publish

    repo = _feast_repo()
    stored = get_step_context().inputs["feature_table"][0]
    location = _parquet_location(stored)
    columns = [view.entity, view.timestamp, *view.feature_names]
    data_source = feature_source(repo, view, feature_table[columns], location, str(stored.id))
    latest = pd.Timestamp(feature_table[view.timestamp].max()).to_pydatetime()
    published = publish(repo, view, data_source, latest)
    published.update({"feature_table": location, "entity": view.entity, "features": view.feature_names,
                      "ttl_days": view.ttl_days, "rows": len(feature_table)})
    log_metadata(metadata=published)
    return published


@step(enable_cache=False)
def retrieve_training_features(
    dataset: pd.DataFrame, feature_view: Dict[str, Any], view: FeatureViewSpec, target: str
) -> Annotated[pd.DataFrame, "training_features"]:
    """The training rows as the feature store gives them back with ``get_historical_features``:
    each row's features as of its key's timestamp, so a later update of a client never leaks
    into an earlier label. ``feature_view`` (the publication) orders this step after it."""
    from steps.store.feature_store import historical_rows

    rows = historical_rows(_feast(), view, dataset, target)
    log_metadata(metadata={"feature_view": view.name, "rows": len(rows), "features": view.feature_names,
                           "published_to": feature_view.get("materialized_to", "")})
    return rows


@step(enable_cache=False)
def serve_online_features(batch_dataset: pd.DataFrame, view: FeatureViewSpec) -> Annotated[pd.DataFrame, "online_features"]:
    """Write the batch's profiles to the online store, then score what ``get_online_features``
    returns for the batch's keys: the model sees the values the feature store serves."""
    from steps.store.feature_store import online_rows, write_online

    store = _feast()
    written = write_online(store, view, batch_dataset)
    rows = online_rows(store, view, batch_dataset)
    log_metadata(metadata={"feature_view": view.name, "rows_written": written, "rows_read": len(rows)})
    return rows


@step(enable_cache=False)
def store_feature_table(features: pd.DataFrame, feature_metadata: pd.DataFrame, table: FeatureTableSpec,
                        table_schema: SchemaSpec) -> Annotated[Dict[str, Any], "feature_table_write"]:
    """Append this run's features, as version ``<run id>``, to the relational feature table.
    Never cached: each run's rows are a new version."""
    from datetime import datetime, timezone

    from steps.store.feature_table import write_feature_table

    version = str(get_step_context().pipeline_run.id)
    written = write_feature_table(features, feature_metadata, table, table_schema, version, datetime.now(timezone.utc))
    record = {"table": table.table, "feature_version": version, **written}
    log_metadata(metadata=record)
    return record
