"""Extraction from CSV and SQL (SQLite here, PostgreSQL in tests/services), with clear errors."""

from pathlib import Path

import pandas as pd
import pytest

from core.config import SchemaSpec, SourceSpec, load_config
from core.database import SourceError
from steps.ingest.sources import read_source, seed_database
from steps.store.predictions import append_predictions, count_predictions
from tests.conftest import INSURANCE_CONFIG, INSURANCE_CSV


@pytest.fixture(scope="module")
def schema() -> SchemaSpec:
    return load_config(INSURANCE_CONFIG).parameters.schema_


def sqlite_spec(path: Path, table: str = "insurance") -> SourceSpec:
    return SourceSpec(kind="sql", url=f"sqlite:///{path}", table=table)


def test_seed_then_extract_roundtrip(tmp_path: Path, schema: SchemaSpec, insurance_frame: pd.DataFrame) -> None:
    spec = sqlite_spec(tmp_path / "src.db")
    assert seed_database(str(INSURANCE_CSV), spec, schema) == 1338
    assert seed_database(str(INSURANCE_CSV), spec, schema) == 1338  # idempotent: no second load
    frame = read_source(spec, list(schema.columns))
    assert list(frame.columns) == list(schema.columns)  # the surrogate record_id is not extracted
    pd.testing.assert_frame_equal(frame, insurance_frame, check_dtype=False)


def test_missing_sqlite_file_is_not_created(tmp_path: Path) -> None:
    spec = sqlite_spec(tmp_path / "absent.db")
    with pytest.raises(SourceError, match="does not exist; seed it"):
        read_source(spec)
    assert not (tmp_path / "absent.db").exists()


def test_missing_table_and_column(tmp_path: Path, schema: SchemaSpec) -> None:
    spec = sqlite_spec(tmp_path / "src.db")
    seed_database(str(INSURANCE_CSV), spec, schema)
    with pytest.raises(SourceError, match="table 'nope' does not exist"):
        read_source(sqlite_spec(tmp_path / "src.db", "nope"))
    with pytest.raises(SourceError, match=r"lacks the column\(s\) \['weight'\]"):
        read_source(spec, ["age", "weight"])


def test_unreachable_database_names_it_without_password() -> None:
    spec = SourceSpec(kind="sql", url="postgresql+psycopg2://user:hunter2@127.0.0.1:1/none", table="t")
    with pytest.raises(SourceError) as error:
        read_source(spec)
    assert "cannot reach the source database" in str(error.value)
    assert "127.0.0.1:1" in str(error.value) and "hunter2" not in str(error.value)


def test_csv_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not found"):
        read_source(SourceSpec(kind="csv", path=str(tmp_path / "none.csv")))
    header_only = tmp_path / "header.csv"
    header_only.write_text("age,sex,bmi,children,smoker,region,charges\n")
    with pytest.raises(SourceError, match="empty table"):
        read_source(SourceSpec(kind="csv", path=str(header_only)))
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(SourceError, match="empty table"):
        read_source(SourceSpec(kind="csv", path=str(empty)))
    ragged = tmp_path / "ragged.csv"
    ragged.write_text('a,b\n1,2\n3,"4\n')
    with pytest.raises(SourceError, match="malformed"):
        read_source(SourceSpec(kind="csv", path=str(ragged)))


def test_predictions_append_and_roll_back(tmp_path: Path) -> None:
    spec = sqlite_spec(tmp_path / "sink.db", "predictions")
    rows = pd.DataFrame({"client_id": ["a", "b"], "prediction": [1.0, 2.0], "model_name": "m",
                         "model_version": "1", "predicted_at": pd.Timestamp.now(tz="UTC"), "pipeline_run": "r"})
    assert append_predictions(rows, spec) == 2
    assert append_predictions(rows, spec) == 4
    broken = rows.assign(prediction=[3.0, None])  # NOT NULL violation on the second row
    with pytest.raises(SourceError, match="writing predictions"):
        append_predictions(broken, spec)
    assert count_predictions(spec) == 4  # the failed batch left no partial rows
