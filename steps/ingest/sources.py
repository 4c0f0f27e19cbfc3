"""Reading raw records from the configured source, and seeding the demo source database.

Every failure is turned into a ``SourceError`` whose message names the source (with any password
hidden) and the problem, because the person reading it is usually looking at a failed pipeline
run in the dashboard, far from the code.
"""

from __future__ import annotations

from typing import List, Optional, Sequence

import pandas as pd

from core.config import SchemaSpec, SourceSpec
from core.database import SourceError, open_engine
from core.paths import resolve_path

__all__ = ["SourceError", "read_source", "seed_database"]


def read_source(spec: SourceSpec, columns: Optional[Sequence[str]] = None) -> pd.DataFrame:
    """Read the whole source into a DataFrame.

    ``columns`` is the projection to extract from a SQL table (the use case's columns, leaving
    out surrogate keys the source system may add). A CSV is read as it is, so that a missing or
    unexpected column reaches validation and is reported there.
    """
    frame = _read_csv(spec) if spec.kind == "csv" else _read_sql(spec, columns)
    if frame.empty:
        raise SourceError(f"source {spec.describe()} returned an empty table (0 rows)")
    return frame


def _read_csv(spec: SourceSpec) -> pd.DataFrame:
    path = resolve_path(spec.path or "")
    if not path.is_file():
        raise SourceError(f"CSV source not found: {path}")
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError as exc:
        raise SourceError(f"source csv:{path} returned an empty table (no header, no rows)") from exc
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise SourceError(f"CSV source {path} is malformed: {exc}") from exc


def _read_sql(spec: SourceSpec, columns: Optional[Sequence[str]]) -> pd.DataFrame:
    from sqlalchemy import MetaData, Table, select
    from sqlalchemy.exc import NoSuchTableError, OperationalError, SQLAlchemyError

    engine = open_engine(spec)
    try:
        with engine.connect() as connection:
            table = Table(spec.table, MetaData(), autoload_with=connection)
            if columns is None:
                query = select(table)
            else:
                missing = [c for c in columns if c not in table.c]
                if missing:
                    raise SourceError(
                        f"table {spec.table!r} in {spec.describe()} lacks the column(s) {missing}"
                    )
                query = select(*(table.c[c] for c in columns))
            return pd.read_sql(query, connection)
    except NoSuchTableError as exc:
        raise SourceError(
            f"table {spec.table!r} does not exist in {spec.describe()}; "
            "seed it with `python run.py seed --config <config>`"
        ) from exc
    except OperationalError as exc:
        raise SourceError(f"cannot reach the source database {spec.describe()}: {exc.orig}") from exc
    except SQLAlchemyError as exc:
        raise SourceError(f"reading {spec.describe()} failed: {exc}") from exc
    finally:
        engine.dispose()


def _sql_type(column_type: str):
    from sqlalchemy import Boolean, Float, Integer, String

    return {"int": Integer, "float": Float, "string": String(255), "bool": Boolean}[column_type]


def seed_database(csv_path: str, spec: SourceSpec, schema: SchemaSpec, replace: bool = False) -> int:
    """Load the CSV into the source table, as the transactional system would hold it.

    The table gets a surrogate primary key (``record_id``) and typed columns from the schema.
    An existing, non-empty table is left alone unless ``replace`` is set, so re-running set-up
    never changes the data under a pipeline. The load is a single transaction.
    Returns the number of rows in the table afterwards.
    """
    from sqlalchemy import Column, Integer, MetaData, Table, func, insert, inspect, select

    frame = pd.read_csv(resolve_path(csv_path))
    missing = [c for c in schema.columns if c not in frame.columns]
    if missing:
        raise SourceError(f"seed CSV {csv_path} lacks the column(s) {missing}")
    engine = open_engine(spec, create=True)
    metadata = MetaData()
    table = Table(
        spec.table,
        metadata,
        Column("record_id", Integer, primary_key=True, autoincrement=True),
        *(Column(name, _sql_type(col.type), nullable=col.nullable) for name, col in schema.columns.items()),
    )
    try:
        with engine.begin() as connection:
            if inspect(connection).has_table(spec.table):
                existing = connection.execute(select(func.count()).select_from(table)).scalar_one()
                if existing and not replace:
                    return int(existing)
                table.drop(connection)
            table.create(connection)
            records: List[dict] = frame[list(schema.columns)].to_dict(orient="records")
            connection.execute(insert(table), records)
            return int(connection.execute(select(func.count()).select_from(table)).scalar_one())
    except SourceError:
        raise
    except Exception as exc:
        raise SourceError(f"seeding {spec.describe()} failed: {exc}") from exc
    finally:
        engine.dispose()
