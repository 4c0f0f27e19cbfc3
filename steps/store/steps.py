"""ZenML step: publish the feature table to the stack's feature store (Feast)."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any, Dict

import pandas as pd
from typing_extensions import Annotated
from zenml import get_step_context, log_metadata, step

from core.config import RollingFeaturesSpec


# Never cached: the publication is a side effect on the feature store, which may have changed
# (or been emptied) since an identical earlier run.
@step(enable_cache=False)
def publish_feature_view(feature_table: pd.DataFrame,
                         rolling: RollingFeaturesSpec) -> Annotated[Dict[str, Any], "feature_view"]:
    """Register the feature table (where the artifact store keeps it) as a Feast feature view
    and load each group's latest values into the online store.

    Feast reads the stored Parquet dataset itself, so the view always points at a versioned
    artifact: a later run re-points it at its own table, and older tables stay in lineage.
    """
    from zenml.client import Client

    from steps.prepare.rolling import TIMESTAMP_COLUMN
    from steps.store.feature_store import feature_definitions, feature_source, publish

    feature_store = Client().active_stack.feature_store
    if feature_store is None:
        raise RuntimeError(f"the active stack has no feature store to publish '{rolling.feature_view}' to")
    stored = get_step_context().inputs["feature_table"][0]
    source = os.path.join(stored.uri, "dataset")
    ttl = timedelta(days=rolling.feature_ttl_days)
    repo = feature_store.config.feast_repo
    columns = [rolling.group_column, TIMESTAMP_COLUMN, *rolling.features]
    data_source = feature_source(repo, rolling.feature_view, feature_table[columns], source, str(stored.id))
    definitions = feature_definitions(rolling.feature_view, rolling.group_column, list(rolling.features),
                                      data_source, ttl)
    latest = pd.Timestamp(feature_table[TIMESTAMP_COLUMN].max()).to_pydatetime()
    published = publish(repo, definitions, latest, ttl)
    published.update({"feature_table": source, "entity": rolling.group_column,
                      "features": list(rolling.features), "ttl_days": rolling.feature_ttl_days})
    log_metadata(metadata=published)
    return published
