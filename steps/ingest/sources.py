"""Reading raw records from the configured source, and seeding the demo source database.

Every failure is turned into a ``SourceError`` whose message names the source (with any password
hidden) and the problem, because the person reading it is usually looking at a failed pipeline
run in the dashboard, far from the code.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Sequence

import pandas as pd

from core.config import SchemaSpec, SourceSpec
from core.database import SourceError, open_engine
from core.paths import resolve_path

__all__ = ["SourceError", "read_source", "seed_database"]


def read_source(spec: SourceSpec, columns: Optional[Sequence[str]] = None, lake=None) -> pd.DataFrame:
    """Read the whole source into a DataFrame.

    ``columns`` is the projection to extract from a SQL table (the use case's columns, leaving
    out surrogate keys the source system may add). A CSV is read as it is, so that a missing or
    unexpected column reaches validation and is reported there. With a ``lake``
    (steps/store/lake.py), csv and rest sources that name a ``lake:`` place land there as received.
    """
    readers = {"csv": lambda: _read_csv(spec, lake), "csv_folder": lambda: _read_csv_folder(spec),
               "sql": lambda: _read_sql(spec, columns), "stock_market": lambda: _read_stock_market(spec),
               "rest": lambda: _read_rest(spec, lake), "joined": lambda: _read_joined(spec, lake)}
    frame = readers[spec.kind]()
    if frame.empty:
        raise SourceError(f"source {spec.describe()} returned an empty table (0 rows)")
    return frame


def _read_joined(spec: SourceSpec, lake=None) -> pd.DataFrame:
    """Each part read as its own source, then joined on the key (steps/ingest/joined.py); each
    part's rows and a REST part's fetch report go to ``frame.attrs["parts"]``."""
    from steps.ingest.joined import join_on_key

    frames, parts = {}, {}
    for name, part in spec.parts.items():
        frame = read_source(part, lake=lake)
        frames[name] = frame
        parts[name] = {"source": part.describe(), "rows": len(frame), "columns": len(frame.columns),
                       **({"fetch": frame.attrs["fetch"]} if "fetch" in frame.attrs else {})}
    joined = join_on_key(frames, spec.key)
    joined.attrs["parts"] = parts
    return joined


def _read_rest(spec: SourceSpec, lake=None) -> pd.DataFrame:
    """Every page of the API (steps/ingest/rest.py); pages, attempts and seconds go to
    ``frame.attrs["fetch"]`` for the step's metadata. The pages' bodies land in the lake."""
    import json
    from dataclasses import asdict

    from steps.ingest.rest import FetchReport, fetch_table

    report = FetchReport()
    pages: List[object] = []
    frame = fetch_table(spec.rest, report, pages)
    frame.attrs["fetch"] = asdict(report)
    if lake is not None and spec.lake is not None:
        lake.land(spec.lake.source, spec.lake.type, json.dumps(pages).encode(), "json", rows=len(frame))
    return frame


def _read_stock_market(spec: SourceSpec) -> pd.DataFrame:
    """The Kaggle stock market layout, in the exact schema (see steps/ingest/stock_market.py),
    with 0 prices turned into missing ones; the counts go to ``frame.attrs["quality"]``.

    ``path`` is a local folder, an ``s3://`` prefix or ``kaggle://<owner>/<dataset>``; remote
    sources are copied to a local folder first (steps/ingest/remote.py).
    """
    from steps.ingest.remote import KAGGLE_SCHEME, S3_SCHEME, fetch_kaggle, s3_copy

    path = spec.path or ""
    if path.startswith(KAGGLE_SCHEME):
        return _read_stock_folder(fetch_kaggle(path))
    if path.startswith(S3_SCHEME):
        with s3_copy(path, ["stocks/*.csv", "etfs/*.csv", "symbols_valid_meta.csv"]) as local:
            return _read_stock_folder(local)
    return _read_stock_folder(resolve_path(path))


def _read_stock_folder(root: Path) -> pd.DataFrame:
    import polars as pl

    from steps.ingest.stock_market import (
        StockDataError,
        price_quality,
        read_metadata,
        scan_prices,
        to_schema,
        zero_prices_to_missing,
    )

    try:
        table = to_schema(scan_prices(str(root)), read_metadata(str(root))).collect()
    except StockDataError as exc:
        raise SourceError(str(exc)) from exc
    except pl.exceptions.PolarsError as exc:  # a malformed file surfaces when the scan runs
        raise SourceError(f"cannot read the stock market files under {root}: {exc}") from exc
    quality = price_quality(table)
    # The raw-data artifact holds the exact schema: Symbol and Security Name as plain strings
    # (the polars side keeps them dictionary-encoded for speed).
    table = zero_prices_to_missing(table).with_columns(pl.col("Symbol", "Security Name").cast(pl.String))
    frame = table.to_pandas()
    frame.attrs["quality"] = quality
    return frame


def _read_csv(spec: SourceSpec, lake=None) -> pd.DataFrame:
    """The file; with a lake, its bytes are read once, landed as they are, and parsed."""
    import io

    path = resolve_path(spec.path or "")
    if not path.is_file():
        raise SourceError(f"CSV source not found: {path}")
    if lake is None or spec.lake is None:
        return _read_csv_file(path, spec.separator)
    payload = path.read_bytes()
    frame = _read_csv_file(path, spec.separator, io.BytesIO(payload))
    lake.land(spec.lake.source, spec.lake.type, payload, "csv", rows=len(frame))
    return frame


def _read_csv_file(path: Path, separator: str, content=None) -> pd.DataFrame:
    """``content`` (a file object) instead of reading ``path``, which errors still name."""
    try:
        frame = pd.read_csv(path if content is None else content, sep=separator, low_memory=False)
    except pd.errors.EmptyDataError as exc:
        raise SourceError(f"source csv:{path} returned an empty table (no header, no rows)") from exc
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise SourceError(f"CSV source {path} is malformed: {exc}") from exc
    if len(frame.columns) == 1:
        header = str(frame.columns[0])
        others = [s for s in (",", ";", "\t", "|") if s != separator and s in header]
        if others:
            raise SourceError(
                f"CSV file {path} has a single column {header[:80]!r}: it looks separated by {others[0]!r}, "
                f"but the source's separator is {separator!r}"
            )
    return frame


def _read_csv_folder(spec: SourceSpec) -> pd.DataFrame:
    """Every matching file, with the group column naming the file (its path in the folder)."""
    folder = resolve_path(spec.path or "")
    if not folder.is_dir():
        raise SourceError(f"CSV folder source not found: {folder}")
    files = sorted(p for p in folder.glob(spec.pattern) if p.is_file())
    if not files:
        raise SourceError(f"CSV folder {folder} has no file matching {spec.pattern!r}")
    frames = []
    for path in files:
        frame = _read_csv_file(path, spec.separator)
        relative = path.relative_to(folder)
        if spec.missing_column_defaults_for and relative.match(spec.missing_column_defaults_for):
            for column, value in spec.missing_column_defaults.items():
                if column not in frame.columns:
                    frame[column] = value
        frame.insert(0, spec.group_column, str(relative))
        frames.append(frame)
    columns = {tuple(f.columns) for f in frames}
    if len(columns) > 1:
        reference = list(frames[0].columns)
        for path, frame in zip(files, frames):
            if list(frame.columns) != reference:
                missing = [c for c in reference if c not in frame.columns]
                extra = [c for c in frame.columns if c not in reference]
                raise SourceError(
                    f"CSV file {path} does not have the columns of {files[0].name}: missing {missing}, extra {extra}"
                )
    return _uniform_text_columns(pd.concat(frames, ignore_index=True))


def _uniform_text_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Make every text column hold only strings (or missing values).

    A column that is numeric in most files but has text in one ends up mixing floats and
    strings after concatenation; that cannot be stored as an artifact (Parquet wants one type
    per column). As text it can, and validation then names the values that are not numbers.
    """
    for column in frame.columns[frame.dtypes == object]:
        values = frame[column]
        mixed = values.notna() & ~values.map(lambda v: isinstance(v, str))
        if mixed.any():
            frame[column] = values.where(~mixed, values[mixed].map(str))
    return frame


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
