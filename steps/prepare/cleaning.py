"""Record-level cleaning done right after extraction.

The original system stamped each load with a timestamp and gave every record a unique client id.
Here the id is derived from the record's content (UUID5 over the source's columns) after exact
duplicates are removed. Re-ingesting the same record therefore yields the same id, so that
predictions, feature-store rows and later loads join on it across runs, and the ids are unique
because the remaining rows are all distinct.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Optional

import pandas as pd

CLIENT_ID = "client_id"
LOADED_AT = "loaded_at"
_NAMESPACE = uuid.UUID("5f1d2a57-95b8-4ab8-9b8e-2f1f9b0c6a11")


@dataclass(frozen=True)
class CleaningSummary:
    rows_in: int
    duplicates_removed: int
    rows_out: int


def drop_exact_duplicates(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Remove rows identical in every column, keeping the first; return the removed count."""
    deduplicated = frame.drop_duplicates(keep="first").reset_index(drop=True)
    return deduplicated, len(frame) - len(deduplicated)


def content_ids(frame: pd.DataFrame, scope: str) -> pd.Series:
    """A UUID5 per row from its values, namespaced by ``scope`` (the use case)."""
    namespace = uuid.uuid5(_NAMESPACE, scope)
    columns = list(frame.columns)
    keys = frame.astype(str).agg("\x1f".join, axis=1) if columns else pd.Series([], dtype=str)
    return keys.map(lambda key: str(uuid.uuid5(namespace, "\x1e".join(columns) + "\x1d" + key)))


def clean_records(
    frame: pd.DataFrame, scope: str, loaded_at: Optional[datetime] = None
) -> tuple[pd.DataFrame, CleaningSummary]:
    """Deduplicate, then add ``client_id`` (first column) and ``loaded_at`` (UTC, last column)."""
    for reserved in (CLIENT_ID, LOADED_AT):
        if reserved in frame.columns:
            raise ValueError(f"the source already has a column named {reserved!r}, which cleaning adds")
    deduplicated, removed = drop_exact_duplicates(frame)
    ids = content_ids(deduplicated, scope)
    if ids.duplicated().any():  # distinct rows cannot collide unless UUID5 does
        raise RuntimeError("content-derived client ids are not unique")
    stamp = pd.Timestamp(loaded_at or datetime.now(timezone.utc))
    cleaned = deduplicated.copy()
    cleaned.insert(0, CLIENT_ID, ids.to_numpy())
    cleaned[LOADED_AT] = stamp
    return cleaned, CleaningSummary(len(frame), removed, len(cleaned))


def encode_target(frame: pd.DataFrame, target: str, positive_class: Optional[str]) -> pd.DataFrame:
    """A text class label as 1 (``positive_class``) or 0; unchanged without a positive class."""
    if positive_class is None or target not in frame.columns:
        return frame
    encoded = frame.copy()
    encoded[target] = (frame[target].astype(str) == positive_class).astype(int)
    return encoded
