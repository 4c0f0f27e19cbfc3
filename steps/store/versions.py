"""Version records of derived tables: what a feature table was computed from, and how it
differs from the previous version.

ZenML already versions every artifact by name. What a version does not say by itself is which
ingestion it goes back to and what changed; the raw extract records that for raw data
(``steps/ingest/steps.py``). A feature table records the same fields, with the source and the
ingestion time taken from the raw version it derives from (found by walking its lineage), so
the two kinds of version read alike in the dashboard and in ``zenml artifact version describe``.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

import pandas as pd

from steps.store.lake import change_log_entry, schema_hash

MAX_LINEAGE_DEPTH = 8


def ingestion_of(artifact) -> Optional[Dict[str, Any]]:
    """The ingestion a derived artifact goes back to: the nearest ancestor (through the steps that
    produced it and their inputs) whose metadata records ``source`` and ``ingested_at``, that is
    a raw extract. None when its lineage holds no extract (for example a table loaded by hand)."""
    from zenml.client import Client

    client, frontier, seen = Client(), [artifact], set()
    for _ in range(MAX_LINEAGE_DEPTH):
        parents = []
        for candidate in frontier:
            if candidate.id in seen:
                continue
            seen.add(candidate.id)
            recorded = candidate.run_metadata or {}
            if "source" in recorded and "ingested_at" in recorded:
                return {"source": recorded["source"], "ingested_at": recorded["ingested_at"],
                        "raw_version": f"{candidate.artifact.name}:{candidate.version}"}
            if candidate.producer_step_run_id is not None:
                for inputs in client.get_run_step(candidate.producer_step_run_id).inputs.values():
                    parents.extend(inputs)
        if not parents:
            return None
        frontier = parents
    return None


def previous_version_record(artifact_name: str, source: str) -> Optional[Dict[str, Any]]:
    """The metadata of the latest stored version of ``artifact_name`` computed from the same
    ``source`` that recorded its rows and schema, with ``version`` naming it for the change log
    (the artifact name is shared by every use case with engineered features)."""
    from zenml.client import Client

    versions = Client().list_artifact_versions(artifact=artifact_name, sort_by="desc:created", size=50,
                                               hydrate=True)
    for stored in versions.items:
        recorded = stored.run_metadata or {}
        if recorded.get("source") == source and "rows" in recorded and "schema_hash" in recorded:
            return {**recorded, "version": stored.version}
    return None


UNKNOWN_INGESTION = {"source": "unknown (no extract in its lineage)", "ingested_at": "unknown"}


def table_version_record(table: pd.DataFrame, ingestion: Dict[str, Any],
                         previous: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """Source, ingestion time, rows, schema hash and a change-log line for one table version."""
    schema = schema_hash(table)
    return {**ingestion, "rows": len(table), "schema_hash": schema,
            "change_log": change_log_entry(len(table), schema, previous)}
