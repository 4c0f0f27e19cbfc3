"""The SQL source and predictions sink on a real PostgreSQL server (127.0.0.1:5432 here)."""

import os
import uuid

import pandas as pd
import pytest

from core.config import SourceSpec, load_config
from steps.ingest.sources import read_source, seed_database
from steps.store.predictions import append_predictions, count_predictions
from tests.conftest import INSURANCE_CONFIG, INSURANCE_CSV, require_service

pytestmark = pytest.mark.services

POSTGRES_URL = os.environ.get("MLOPS_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="module")
def postgres_url() -> str:
    from sqlalchemy import create_engine, text

    engine = create_engine(POSTGRES_URL)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        require_service("PostgreSQL", f"{POSTGRES_URL}: {exc}")
    finally:
        engine.dispose()
    return POSTGRES_URL


@pytest.fixture
def table_name(postgres_url: str):
    from sqlalchemy import create_engine, text

    name = f"insurance_test_{uuid.uuid4().hex[:8]}"
    yield name
    engine = create_engine(postgres_url)
    with engine.begin() as connection:
        for table in (name, f"{name}_predictions"):
            connection.execute(text(f'DROP TABLE IF EXISTS "{table}"'))
    engine.dispose()


def test_seed_extract_and_predict_on_postgres(postgres_url: str, table_name: str, insurance_frame) -> None:
    schema = load_config(INSURANCE_CONFIG).parameters.schema_
    source = SourceSpec(kind="sql", url=postgres_url, table=table_name)
    assert seed_database(str(INSURANCE_CSV), source, schema) == 1338
    frame = read_source(source, list(schema.columns))
    assert len(frame) == 1338
    assert str(frame["age"].dtype) == "int64" and str(frame["bmi"].dtype) == "float64"
    pd.testing.assert_frame_equal(
        frame.sort_values(list(schema.columns)).reset_index(drop=True),
        insurance_frame.sort_values(list(schema.columns)).reset_index(drop=True),
        check_dtype=False,
    )

    sink = SourceSpec(kind="sql", url=postgres_url, table=f"{table_name}_predictions")
    rows = pd.DataFrame({"client_id": ["a"], "prediction": [1.5], "model_name": "m", "model_version": "1",
                         "predicted_at": pd.Timestamp.now(tz="UTC"), "pipeline_run": "r"})
    assert append_predictions(rows, sink) == 1
    assert count_predictions(sink) == 1
