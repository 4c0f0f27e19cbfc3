"""ZenML step: extract the raw table from the configured source."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional

import pandas as pd
from typing_extensions import Annotated
from zenml import ArtifactConfig, get_step_context, log_metadata, step
from zenml.client import Client

from core.config import SourceSpec
from core.paths import STATE_DIR
from steps.ingest.ingestion_log import append_line, ingestion_line, ingestion_log_path
from steps.ingest.sources import read_source
from steps.store.lake import RawLake, change_log_entry, schema_hash


def _lands(source: SourceSpec) -> bool:
    parts = source.parts.values() if source.parts else [source]
    return any(part.lake is not None for part in parts)


def _previous_ingestion(described: str) -> Optional[Dict[str, Any]]:
    """The metadata of the latest earlier completed extract of the same source, if any."""
    current = get_step_context().step_run.id
    for step_run in Client().list_run_steps(name="extract_source", status="completed", sort_by="desc:created",
                                            size=20, hydrate=True).items:
        recorded = step_run.run_metadata or {}
        if step_run.id != current and recorded.get("source") == described:
            return {**recorded, "version": f"of run {step_run.pipeline_run_id}"}
    return None


def _version_metadata(source: SourceSpec, frame: pd.DataFrame, received_at) -> Dict[str, Any]:
    """What each raw version records: source, ingestion time, rows, schema hash, and one change
    log line against the same source's previous ingestion."""
    described = source.describe()
    schema = schema_hash(frame)
    stamp = received_at or datetime.now(timezone.utc)
    previous = _previous_ingestion(described)
    return {"source": described, "ingested_at": stamp.isoformat(), "rows": len(frame), "schema_hash": schema,
            "change_log": change_log_entry(len(frame), schema, previous)}


@step(enable_cache=False)
def extract_source(
    source: SourceSpec, columns: Optional[List[str]] = None
) -> Annotated[pd.DataFrame, ArtifactConfig(name="{data_role}_raw_data")]:
    """Extract the source as it is, never cached: the source may change between runs.

    The output name carries the pipeline's data role (``training_raw_data``, ``batch_raw_data``)
    so the dashboard and the model version tell the two apart.
    """
    started = time.perf_counter()
    lake = RawLake(Client().active_stack.artifact_store.path) if _lands(source) else None
    run, log = get_step_context().pipeline_run.name, ingestion_log_path(STATE_DIR)
    try:
        frame = read_source(source, columns, lake=lake)
    except Exception as error:  # logged with its outcome, then raised unchanged for the run to fail
        append_line(log, ingestion_line(run, source.describe(), "failed", time.perf_counter() - started,
                                        error=f"{type(error).__name__}: {error}"))
        raise
    append_line(log, ingestion_line(run, source.describe(), "ok", time.perf_counter() - started, rows=len(frame)))
    version = _version_metadata(source, frame, None if lake is None else lake.received_at)
    log_metadata(metadata=version, infer_artifact=True)
    log_metadata(
        metadata={
            **version,
            "columns": list(map(str, frame.columns)),
            "duration_s": round(time.perf_counter() - started, 3),
            # The raw lake partitions this ingestion wrote (steps/store/lake.py).
            **({"lake_partitions": lake.landed} if lake is not None else {}),
            # What the reader counted and resolved on the way (for example prices written as 0).
            **({"quality": frame.attrs["quality"]} if "quality" in frame.attrs else {}),
            # A REST source's pages, attempts (retries included) and fetch time.
            **({"fetch": frame.attrs["fetch"]} if "fetch" in frame.attrs else {}),
            # A joined source's parts: each one's source, rows and columns (and fetch report).
            **({"parts": frame.attrs["parts"]} if "parts" in frame.attrs else {}),
        }
    )
    return frame
