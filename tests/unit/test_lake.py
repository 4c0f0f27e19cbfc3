"""The raw lake's layout, its atomic, never-overwriting writes, and the version metadata."""

from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd
import pytest

from steps.store.lake import RawLake, change_log_entry, partition_path, schema_hash, write_atomically

MOMENT = datetime(2026, 3, 7, 9, 5, 2, 123456, tzinfo=timezone.utc)


def test_partitions_follow_source_type_and_date() -> None:
    assert partition_path("s3://bucket/store", "billing_api", "billing", MOMENT, "json") == \
        "s3://bucket/store/raw/billing_api/billing/2026/03/07/20260307T090502_123456Z.json"


def test_a_partition_is_written_whole_and_never_overwritten(tmp_path) -> None:
    lake = RawLake(str(tmp_path), received_at=MOMENT)
    path = lake.land("crm_export", "customers", b"id,x\n1,2\n", "csv", rows=1)
    assert open(path, "rb").read() == b"id,x\n1,2\n"
    assert lake.landed == [{"source": "crm_export", "type": "customers", "path": path, "bytes": 9, "rows": 1}]
    folder = tmp_path / "raw" / "crm_export" / "customers" / "2026" / "03" / "07"
    assert [p.name for p in folder.iterdir()] == ["20260307T090502_123456Z.csv"]  # no partial file left
    with pytest.raises(FileExistsError, match="never overwritten"):
        write_atomically(path, b"other")
    assert open(path, "rb").read() == b"id,x\n1,2\n"


def test_the_schema_hash_follows_names_and_types_and_the_change_log_compares_versions() -> None:
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    assert schema_hash(frame) == schema_hash(frame.head(1)) != schema_hash(frame.assign(a=[1.5, 2.0]))
    first = change_log_entry(2, schema_hash(frame), None)
    assert first == f"first version: 2 rows, schema {schema_hash(frame)}"
    later = change_log_entry(5, "abc", {"rows": 2, "schema_hash": "abc", "version": "of run r1"})
    assert later == "5 rows (+3 against version of run r1), schema unchanged"
    assert "schema changed (abc -> def)" in change_log_entry(5, "def", {"rows": 5, "schema_hash": "abc"})
