"""Publishing a feature table to the stack's Feast feature store.

The feature table is already stored, versioned, as Parquet in the artifact store; Feast is
told where (a ``FileSource`` on that dataset), what it holds (an entity on the group column and
a feature view of the feature columns) and then materializes each entity's latest values into
the online store, so that ``get_online_features`` serves them. Only the last ``ttl`` of data is
materialized: the online store keeps one row per entity, and older values would be expired.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any, Dict, List, Sequence

from steps.prepare.rolling import TIMESTAMP_COLUMN


def feature_definitions(view_name: str, entity_column: str, features: Sequence[str], source_path: str,
                        ttl: timedelta) -> List[Any]:
    """The Feast entity, file source and feature view for a feature table at ``source_path``."""
    from feast import Entity, FeatureView, Field, FileSource
    from feast.data_format import ParquetFormat
    from feast.types import Float64
    from feast.value_type import ValueType

    entity = Entity(name=entity_column.lower().replace(" ", "_"), join_keys=[entity_column],
                    value_type=ValueType.STRING)
    endpoint = os.environ.get("AWS_ENDPOINT_URL") if source_path.startswith("s3://") else None
    source = FileSource(name=f"{view_name}_source", path=source_path, timestamp_field=TIMESTAMP_COLUMN,
                        file_format=ParquetFormat(), s3_endpoint_override=endpoint)
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
