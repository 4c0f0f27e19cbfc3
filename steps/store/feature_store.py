"""Publishing a feature table to the stack's Feast feature store.

The feature table is already stored, versioned, as Parquet in the artifact store; Feast is
told where (a ``FileSource`` on that dataset, or, for a PostgreSQL offline store, a copy of the
table in it: see ``feature_source``), what it holds (an entity on the group column and
a feature view of the feature columns) and then materializes each entity's latest values into
the online store, so that ``get_online_features`` serves them. Only the last ``ttl`` of data is
materialized: the online store keeps one row per entity, and older values would be expired.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Sequence

from steps.prepare.rolling import TIMESTAMP_COLUMN

if TYPE_CHECKING:
    import pandas as pd


def feature_source(repo_path: str, view_name: str, table: "pd.DataFrame", dataset_uri: str, version: str):
    """Where the feature view reads the table, in the repository's offline store.

    A file offline store reads the Parquet dataset that the artifact store already holds. A
    PostgreSQL offline store gets a copy, one table per artifact version (``<view>_<version>``),
    written through SQLAlchemy; the view then reads that table."""
    from feast import FileSource
    from feast.data_format import ParquetFormat
    from feast.repo_config import load_repo_config

    config = load_repo_config(Path(repo_path), Path(repo_path) / "feature_store.yaml").offline_store
    kind = config.type
    if kind == "file":
        endpoint = os.environ.get("AWS_ENDPOINT_URL") if dataset_uri.startswith("s3://") else None
        return FileSource(name=f"{view_name}_source", path=dataset_uri, timestamp_field=TIMESTAMP_COLUMN,
                          file_format=ParquetFormat(), s3_endpoint_override=endpoint)
    if kind == "postgres":
        from feast.infra.offline_stores.contrib.postgres_offline_store.postgres_source import PostgreSQLSource
        from sqlalchemy import URL, create_engine

        name = f"{view_name}_{version.replace('-', '')[:12]}"
        engine = create_engine(URL.create("postgresql+psycopg2", username=config.user, password=config.password or None,
                                          host=config.host, port=config.port, database=config.database))
        try:
            table.to_sql(name, engine, schema=config.db_schema, if_exists="replace", index=False, chunksize=10_000)
        finally:
            engine.dispose()
        return PostgreSQLSource(name=f"{view_name}_source", table=f"{config.db_schema}.{name}",
                                timestamp_field=TIMESTAMP_COLUMN)
    raise ValueError(f"Feast offline store '{kind}' is not supported here: use 'file' or 'postgres'")


def feature_definitions(view_name: str, entity_column: str, features: Sequence[str], source,
                        ttl: timedelta) -> List[Any]:
    """The Feast entity and feature view for a feature table read from ``source``."""
    from feast import Entity, FeatureView, Field
    from feast.types import Float64
    from feast.value_type import ValueType

    entity = Entity(name=entity_column.lower().replace(" ", "_"), join_keys=[entity_column],
                    value_type=ValueType.STRING)
    view = FeatureView(name=view_name, entities=[entity], ttl=ttl, online=True, source=source,
                       schema=[Field(name=name, dtype=Float64) for name in features])
    return [entity, source, view]


def publish(repo_path: str, definitions: List[Any], latest: datetime, ttl: timedelta) -> Dict[str, Any]:
    """Apply the definitions to the registry and materialize the last ``ttl`` into the online store."""
    from feast import FeatureStore, FeatureView

    store = FeatureStore(repo_path=repo_path)
    store.apply(definitions)
    views = [d.name for d in definitions if isinstance(d, FeatureView)]
    start = latest - ttl
    store.materialize(start_date=start, end_date=latest + timedelta(seconds=1), feature_views=views)
    return {"project": store.project, "feature_views": views, "materialized_from": start.isoformat(),
            "materialized_to": latest.isoformat()}
