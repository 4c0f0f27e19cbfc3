"""The raw data lake: each ingestion's data as received, on the active stack's artifact-store
filesystem (a local folder or an S3 bucket), one file per source and ingestion:

    <artifact store>/raw/<source>/<type>/<YYYY>/<MM>/<DD>/<timestamp>.<ext>

``source`` names the system (``crm_export``, ``billing_api``), ``type`` the records
(``customers``, ``billing``), the date and timestamp are the ingestion's, in UTC. A CSV lands
byte for byte; a REST API's pages land as a JSON array of the page bodies, in order.

A partition is written under a hidden temporary name in its final folder and renamed when
complete: a reader never sees a half-written file under a partition's name (a local rename is
atomic; on S3 the renamed object appears whole). Names carry microseconds and the rename
refuses to overwrite, so an earlier ingestion is never replaced.
"""

from __future__ import annotations

import hashlib
import posixpath
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Dict, List, Optional

import pandas as pd

LAKE_FOLDER = "raw"


def partition_path(root: str, source: str, record_type: str, received_at: datetime, extension: str) -> str:
    moment = received_at.astimezone(timezone.utc)
    name = moment.strftime("%Y%m%dT%H%M%S_%fZ")
    return posixpath.join(root.rstrip("/"), LAKE_FOLDER, source, record_type, f"{moment:%Y}", f"{moment:%m}",
                          f"{moment:%d}", f"{name}.{extension}")


def write_atomically(path: str, payload: bytes) -> None:
    """``payload`` at ``path``, visible only once complete; never replaces an existing file."""
    from zenml.io import fileio

    folder, name = posixpath.split(path)
    if fileio.exists(path):
        raise FileExistsError(f"lake partition {path} already exists: an earlier ingestion is never overwritten")
    fileio.makedirs(folder)
    partial = posixpath.join(folder, f".{name}.partial-{uuid.uuid4().hex}")
    try:
        with fileio.open(partial, "wb") as handle:
            handle.write(payload)
        fileio.rename(partial, path, overwrite=False)
    finally:
        if fileio.exists(partial):
            fileio.remove(partial)


def schema_hash(frame: pd.DataFrame) -> str:
    """A short fingerprint of the column names and types, in order: equal schemas, equal hashes."""
    text = "\n".join(f"{name}\t{dtype}" for name, dtype in frame.dtypes.astype(str).items())
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class RawLake:
    """Where one ingestion lands its sources; ``landed`` lists what it wrote."""

    root: str
    received_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    landed: List[Dict[str, object]] = field(default_factory=list)

    def land(self, source: str, record_type: str, payload: bytes, extension: str, rows: Optional[int] = None) -> str:
        path = partition_path(self.root, source, record_type, self.received_at, extension)
        write_atomically(path, payload)
        self.landed.append({"source": source, "type": record_type, "path": path, "bytes": len(payload),
                            **({"rows": rows} if rows is not None else {})})
        return path


def change_log_entry(rows: int, schema: str, previous: Optional[Dict[str, object]]) -> str:
    """How this version differs from the artifact's previous one (``rows`` and ``schema_hash``
    from its metadata), in one line."""
    if not previous or "rows" not in previous:
        return f"first version: {rows} rows, schema {schema}"
    delta = rows - int(previous["rows"])
    if previous.get("schema_hash") is None:
        schema_note = f"schema {schema} (the previous version recorded none)"
    elif previous["schema_hash"] == schema:
        schema_note = "schema unchanged"
    else:
        schema_note = f"schema changed ({previous['schema_hash']} -> {schema})"
    return f"{rows} rows ({delta:+d} against version {previous.get('version', '?')}), {schema_note}"
