"""Appending predictions to a SQL table: one transaction per batch, never an overwrite."""

from __future__ import annotations

import pandas as pd

from core.config import SourceSpec
from core.database import SourceError, open_engine, sqlite_file

PREDICTION_COLUMNS = ["client_id", "prediction", "model_name", "model_version", "predicted_at", "pipeline_run"]


def append_predictions(predictions: pd.DataFrame, sink: SourceSpec) -> int:
    """Append the rows in a single transaction and return how many rows the table holds.

    The table is created on first use. If anything fails, the transaction rolls back, so a
    failed batch leaves no partial rows and earlier predictions are never touched.
    """
    from sqlalchemy import Column, DateTime, Float, Integer, MetaData, String, Table, func, insert, select

    missing = [c for c in PREDICTION_COLUMNS if c not in predictions.columns]
    if missing:
        raise ValueError(f"predictions lack the column(s) {missing}")
    table = Table(
        sink.table,
        MetaData(),
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("client_id", String(64), nullable=False, index=True),
        Column("prediction", Float, nullable=False),
        Column("model_name", String(255), nullable=False),
        Column("model_version", String(64), nullable=False),
        Column("predicted_at", DateTime(timezone=True), nullable=False),
        Column("pipeline_run", String(255), nullable=False),
    )
    engine = open_engine(sink, create=True)
    records = predictions[PREDICTION_COLUMNS].to_dict(orient="records")
    try:
        with engine.begin() as connection:
            table.create(connection, checkfirst=True)
            connection.execute(insert(table), records)
            return int(connection.execute(select(func.count()).select_from(table)).scalar_one())
    except Exception as exc:
        raise SourceError(f"writing predictions to {sink.describe()} failed: {exc}") from exc
    finally:
        engine.dispose()


def count_predictions(sink: SourceSpec) -> int:
    """Rows in the predictions table, 0 if it does not exist yet."""
    from sqlalchemy import inspect, text

    path = sqlite_file(sink)
    if path is not None and not path.is_file():
        return 0
    engine = open_engine(sink)
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table(sink.table):
                return 0
            return int(connection.execute(text(f'SELECT COUNT(*) FROM "{sink.table}"')).scalar_one())
    finally:
        engine.dispose()
