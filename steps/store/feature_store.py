"""Feature views in the stack's Feast feature store: publishing and reading them back.

A feature table is already stored, versioned, as Parquet in the artifact store. Publishing
tells Feast where it is (a ``FileSource`` on that Parquet, or, for a PostgreSQL offline store, a
copy of the table in it: see ``feature_source``) and what it holds (an entity and a feature
view whose fields carry a description and the tags ``owner``, ``source`` and ``version``), then
materializes each entity's latest values into the online store. Only the last ``ttl`` is
materialized: the online store keeps one row per entity, and older values would be expired.

Reading back takes a ``feast.FeatureStore`` on the stack's repository (what ZenML's feast
component builds for each of its calls; ``get_historical_features`` for training rows, point in
time, ``get_online_features`` for scoring), and every read is checked:
a row whose values the store does not have is an error that says how many, never a NaN that
an imputer would quietly fill.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List

from core.config import FeatureFieldSpec, FeatureViewSpec, RollingFeaturesSpec, SourceSpec, UseCaseParameters
from steps.prepare.cleaning import CLIENT_ID, LOADED_AT
from steps.prepare.rolling import TIMESTAMP_COLUMN

if TYPE_CHECKING:
    import pandas as pd

# Feast's name for the entity rows' timestamp in a point-in-time join.
EVENT_TIMESTAMP = "event_timestamp"


class FeatureStoreError(RuntimeError):
    """The feature store is missing what a pipeline needs from it; the message says what."""


# ---------------------------------------------------------------- the repository
def write_repository(folder: Path, definition: str) -> bool:
    """Write ``feature_store.yaml`` into ``folder`` unless it already holds exactly that text;
    returns whether it wrote. Replaced atomically: another process may be opening the store."""
    target = folder / "feature_store.yaml"
    if target.is_file() and target.read_text() == definition:
        return False
    folder.mkdir(parents=True, exist_ok=True)
    staged = folder / f".feature_store.yaml.{os.getpid()}"
    staged.write_text(definition)
    staged.replace(target)
    return True


def repository(feature_store_config) -> str:
    """The Feast repository of a stack's feature store component, ready to open.

    A ``feast_portable`` component (stacks/feature_stores.py) carries its ``feature_store.yaml``
    and is written where the step runs (a container or a pod has no copy of this machine's
    folders); a ``feast`` component's folder must already be there."""
    folder = Path(feature_store_config.feast_repo)
    definition = getattr(feature_store_config, "repo_definition", None)
    if definition is not None:
        write_repository(folder, definition)
    elif not (folder / "feature_store.yaml").is_file():
        raise FeatureStoreError(
            f"the Feast repository {folder} has no feature_store.yaml where this step runs; a step in a container "
            "or pod needs a feature store that carries its repository (flavor feast_portable, stacks/feature_stores.py)")
    return str(folder)


# ---------------------------------------------------------------- views from configs
def source_label(source: SourceSpec) -> str:
    """Where a use case's values come from, for the registry's readers: kind and table or file,
    never a URL (it may hold a password)."""
    if source.kind == "sql":
        return f"sql table {source.table}"
    if source.kind == "rest":
        return f"rest {source.rest.endpoint}"
    if source.kind == "joined":
        return f"joined on {source.key}: " + ", ".join(f"{name} ({source_label(part)})"
                                                       for name, part in source.parts.items())
    return f"{source.kind} {os.path.basename((source.path or '').rstrip('/'))}"


def tabular_view(params: UseCaseParameters) -> FeatureViewSpec:
    """The cleaned table's feature columns, engineered features included, keyed by the schema's
    identifier column (churn: ``customerID``) or else the content-derived client id, and the
    load time."""
    spec, schema = params.feature_store, params.feature_schema
    if spec is None:
        raise ValueError(f"use case '{params.use_case}' has no feature_store section")
    tags = {"owner": spec.owner, "source": spec.source or source_label(params.source), "version": spec.version}
    fields = [FeatureFieldSpec(name=name, type=schema.columns[name].type, description=schema.columns[name].description,
                               tags=tags) for name in schema.feature_columns]
    identifiers = [name for name, column in schema.columns.items() if column.identifier]
    return FeatureViewSpec(name=spec.feature_view, entity=identifiers[0] if identifiers else CLIENT_ID,
                           timestamp=LOADED_AT, ttl_days=spec.ttl_days, fields=fields)


def rolling_view(rolling: RollingFeaturesSpec) -> FeatureViewSpec:
    """The rolling feature table's features, keyed by group and day."""
    if rolling.feature_view is None:
        raise ValueError("rolling.feature_view is not set")
    fields = [FeatureFieldSpec(name=name, type="float",
                               description=f"{feature.statistic} of {feature.column} over the last {rolling.window} "
                                           f"rows of each {rolling.group_column}")
              for name, feature in rolling.features.items()]
    return FeatureViewSpec(name=rolling.feature_view, entity=rolling.group_column, timestamp=TIMESTAMP_COLUMN,
                           ttl_days=rolling.feature_ttl_days, fields=fields)


# ---------------------------------------------------------------- publishing
def feature_source(repo_path: str, view: FeatureViewSpec, table: "pd.DataFrame", parquet_uri: str, version: str):
    """Where the feature view reads the table, in the repository's offline store.

    A file offline store reads the Parquet that the artifact store already holds. A PostgreSQL
    offline store gets a copy, one table per artifact version (``<view>_<version>``), written
    through SQLAlchemy; the view then reads that table."""
    from feast import FileSource
    from feast.data_format import ParquetFormat
    from feast.repo_config import load_repo_config

    config = load_repo_config(Path(repo_path), Path(repo_path) / "feature_store.yaml").offline_store
    kind = config.type
    if kind == "file":
        endpoint = os.environ.get("AWS_ENDPOINT_URL") if parquet_uri.startswith("s3://") else None
        return FileSource(name=f"{view.name}_source", path=parquet_uri, timestamp_field=view.timestamp,
                          file_format=ParquetFormat(), s3_endpoint_override=endpoint)
    if kind == "postgres":
        from feast.infra.offline_stores.contrib.postgres_offline_store.postgres_source import PostgreSQLSource
        from sqlalchemy import URL, create_engine

        name = f"{view.name}_{version.replace('-', '')[:12]}"
        engine = create_engine(URL.create("postgresql+psycopg2", username=config.user, password=config.password or None,
                                          host=config.host, port=config.port, database=config.database))
        try:
            table.to_sql(name, engine, schema=config.db_schema, if_exists="replace", index=False, chunksize=10_000)
        finally:
            engine.dispose()
        return PostgreSQLSource(name=f"{view.name}_source", table=f"{config.db_schema}.{name}",
                                timestamp_field=view.timestamp)
    raise ValueError(f"Feast offline store '{kind}' is not supported here: use 'file' or 'postgres'")


def feature_definitions(view: FeatureViewSpec, source) -> List[Any]:
    """The Feast entity and feature view for a feature table read from ``source``."""
    from feast import Entity, FeatureView, Field
    from feast.types import Bool, Float64, Int64, String
    from feast.value_type import ValueType

    dtypes = {"int": Int64, "float": Float64, "string": String, "bool": Bool}
    entity = Entity(name=view.entity.lower().replace(" ", "_"), join_keys=[view.entity], value_type=ValueType.STRING)
    feature_view = FeatureView(
        name=view.name, entities=[entity], ttl=timedelta(days=view.ttl_days), online=True, source=source,
        schema=[Field(name=f.name, dtype=dtypes[f.type], description=f.description, tags=f.tags) for f in view.fields],
    )
    return [entity, source, feature_view]


def definitions_code(view: FeatureViewSpec, source) -> str:
    """The view's definitions as a Feast repository module, as they were applied.

    ``feast apply`` applies what the repository's modules define and deletes everything else
    from the registry, so a repository without them would lose every published view to a
    plain ``feast apply``. With this module beside ``feature_store.yaml``, ``feast apply``
    re-applies exactly what the pipeline last published."""
    from feast import FileSource

    if isinstance(source, FileSource):
        source_code = (f"FileSource(name={source.name!r}, path={source.path!r}, timestamp_field={source.timestamp_field!r}, "
                       f"file_format=ParquetFormat(), s3_endpoint_override={source.s3_endpoint_override or None!r})")
    else:
        source_code = (f"PostgreSQLSource(name={source.name!r}, table={source.get_table_query_string()!r}, "
                       f"timestamp_field={source.timestamp_field!r})")
    dtypes = {"int": "Int64", "float": "Float64", "string": "String", "bool": "Bool"}
    fields = "".join(f"        Field(name={f.name!r}, dtype={dtypes[f.type]}, description={f.description!r}, "
                     f"tags={dict(sorted(f.tags.items()))!r}),\n" for f in view.fields)
    entity_name = view.entity.lower().replace(" ", "_")
    return f'''"""Feast definitions of the feature view {view.name!r}, written by the pipeline step
publish_feature_view (steps/store/feature_store.py) each time it publishes the view, so that
`feast apply` in this repository re-applies what was published. The next publication rewrites it."""

from datetime import timedelta

from feast import Entity, FeatureView, Field, FileSource
from feast.data_format import ParquetFormat
from feast.infra.offline_stores.contrib.postgres_offline_store.postgres_source import PostgreSQLSource
from feast.types import Bool, Float64, Int64, String
from feast.value_type import ValueType

entity = Entity(name={entity_name!r}, join_keys=[{view.entity!r}], value_type=ValueType.STRING)
source = {source_code}
feature_view = FeatureView(
    name={view.name!r},
    entities=[entity],
    ttl=timedelta(days={view.ttl_days}),
    online=True,
    source=source,
    schema=[
{fields}    ],
)
'''


def publish(repo_path: str, view: FeatureViewSpec, source, latest: datetime) -> Dict[str, Any]:
    """Apply the view to the registry, write its definitions module into the repository, and
    materialize the last ``ttl`` into the online store."""
    from feast import FeatureStore

    store = FeatureStore(repo_path=repo_path)
    store.apply(feature_definitions(view, source))
    module = Path(repo_path) / f"feature_view_{view.name}.py"
    module.write_text(definitions_code(view, source))
    ttl = timedelta(days=view.ttl_days)
    start = latest - ttl
    store.materialize(start_date=start, end_date=latest + timedelta(seconds=1), feature_views=[view.name])
    return {"project": store.project, "feature_views": [view.name], "materialized_from": start.isoformat(),
            "materialized_to": latest.isoformat(), "definitions": str(module)}


# ---------------------------------------------------------------- reading back
def _align(found: "pd.DataFrame", like: "pd.DataFrame", view: FeatureViewSpec, what: str) -> "pd.DataFrame":
    """``found`` in ``like``'s row order, columns and dtypes; an error for each value the store
    lacks where ``like`` has one."""
    keys = like[[view.entity]]
    if keys[view.entity].duplicated().any():
        raise FeatureStoreError(f"{what}: the {view.entity} values are not unique, a feature row cannot be told apart")
    ordered = keys.merge(found.drop_duplicates(view.entity), on=view.entity, how="left")
    features = view.feature_names
    lacking = ordered[features].isna() & like[features].reset_index(drop=True).notna()
    if lacking.to_numpy().any():
        rows = int(lacking.any(axis=1).sum())
        example = ordered.loc[lacking.any(axis=1), view.entity].iloc[0]
        raise FeatureStoreError(
            f"{what}: the feature store has no values of feature view '{view.name}' for {rows} of {len(like)} "
            f"rows (for example {view.entity}={example}) within its ttl of {view.ttl_days} days")
    result = like.reset_index(drop=True).copy()
    for name in features:
        result[name] = ordered[name].astype(like[name].dtype)
    return result


def historical_rows(store, view: FeatureViewSpec, dataset: "pd.DataFrame", target: str) -> "pd.DataFrame":
    """The dataset as the feature store gives it back, point in time: each row's features as of
    its own ``view.timestamp``, joined to its key and target (the label is not a feature)."""
    entity_rows = dataset[[view.entity, view.timestamp, target]].rename(columns={view.timestamp: EVENT_TIMESTAMP})
    found = store.get_historical_features(entity_df=entity_rows, features=view.references()).to_df()
    return _align(found, dataset, view, "training rows")


def online_rows(store, view: FeatureViewSpec, batch: "pd.DataFrame") -> "pd.DataFrame":
    """The batch with its features as the online store serves them for its keys."""
    import pandas as pd

    entity_rows = [{view.entity: key} for key in batch[view.entity].tolist()]
    found = pd.DataFrame(store.get_online_features(entity_rows=entity_rows, features=view.references()).to_dict())
    return _align(found, batch, view, "online features")


def write_online(store, view: FeatureViewSpec, batch: "pd.DataFrame") -> int:
    """Write a batch's feature rows to the online store (Feast's push path); returns the row count."""
    try:
        store.get_feature_view(view.name)
    except Exception as error:  # Feast raises FeatureViewNotFoundException, with the project in its text
        raise FeatureStoreError(f"feature view '{view.name}' is not in the stack's feature store registry "
                                f"({error}): run the training pipeline on this stack first") from error
    store.write_to_online_store(view.name, batch[[view.entity, view.timestamp, *view.feature_names]])
    return len(batch)
