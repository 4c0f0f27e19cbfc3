"""The Kaggle "stock market dataset" layout: one CSV per symbol, plus symbol metadata.

    <root>/stocks/<SYMBOL>.csv   Date,Open,High,Low,Close,Adj Close,Volume
    <root>/etfs/<SYMBOL>.csv     (same columns)
    <root>/symbols_valid_meta.csv   Symbol, Security Name, ETF, ...

Read with polars lazy scans: the full data set is about 8,000 files and 28 million rows, and a
per-file pandas loop spends most of its time opening files (benchmarks/stocks_scale.py). ``root``
is a local folder: remote sources (S3, Kaggle) are copied to one first (steps/ingest/remote.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List

import polars as pl

PRICE_COLUMNS = ["Open", "High", "Low", "Close", "Adj Close"]
SCHEMA = ["Symbol", "Security Name", "Date", *PRICE_COLUMNS, "Volume"]
_CSV_TYPES = {"Date": pl.String, **{c: pl.Float64 for c in PRICE_COLUMNS}, "Volume": pl.Float64}


class StockDataError(ValueError):
    """The folder does not hold the expected layout, or its content cannot be typed."""


def symbol_files(root: str) -> List[str]:
    """Every ``stocks/*.csv`` and ``etfs/*.csv`` under the folder ``root``."""
    return [str(path) for kind in ("stocks", "etfs") for path in sorted(Path(root, kind).glob("*.csv"))]


def scan_prices(root: str) -> pl.LazyFrame:
    """All symbol files as one lazy table with a Symbol column (an Enum of the symbols).

    Symbol is dictionary-encoded: 28 million copies of a file path, or even of a ticker, as
    text would cost gigabytes and most of the time of every later step; the Enum is 4 bytes a
    row and still holds strings (Parquet writes it as a dictionary-encoded string column).
    Volume is read as a float: a few files in the published data have fractional volumes,
    and a float holds every integer volume up to 2**53 exactly.
    """
    files = symbol_files(root)
    if not files:
        raise StockDataError(f"{root} has no stocks/*.csv or etfs/*.csv files (the Kaggle stock market layout)")
    symbols = [Path(path).stem for path in files]
    symbol_type = pl.Enum(sorted(set(symbols)))
    try:
        frame = pl.scan_csv(files, schema_overrides=_CSV_TYPES, include_file_paths="__path__", raise_if_empty=False)
        columns = frame.collect_schema().names()
    except (pl.exceptions.ComputeError, OSError) as exc:
        raise StockDataError(f"cannot read the symbol files under {root}: {exc}") from exc
    missing = [c for c in _CSV_TYPES if c not in columns]
    if missing:
        raise StockDataError(f"the symbol files under {root} lack the column(s) {missing}")
    file_index = pl.col("__path__").cast(pl.Enum(files)).to_physical()
    symbol = pl.lit(pl.Series(symbols, dtype=symbol_type)).gather(file_index).alias("Symbol")
    return frame.with_columns(symbol).drop("__path__")


def read_metadata(root: str) -> pl.DataFrame:
    path = f"{root.rstrip('/')}/symbols_valid_meta.csv"
    try:
        meta = pl.read_csv(path, infer_schema_length=0)
    except FileNotFoundError as exc:
        raise StockDataError(f"symbol metadata not found: {path}") from exc
    missing = [c for c in ("Symbol", "Security Name") if c not in meta.columns]
    if missing:
        raise StockDataError(f"{path} lacks the column(s) {missing}")
    return meta.select("Symbol", "Security Name").unique(subset="Symbol", keep="first")


def to_schema(prices: pl.LazyFrame, metadata: pl.DataFrame) -> pl.LazyFrame:
    """Exactly: Symbol, Security Name, Date (YYYY-MM-DD text), the five prices, Volume.

    A symbol missing from the metadata keeps a null Security Name, for validation to report.
    A date that is not a real YYYY-MM-DD date becomes null and is reported the same way; a
    valid one keeps its text (formatting 28 million dates back from date values would cost
    seconds for nothing). Security Name is looked up by the symbol's Enum code, which keeps
    the row order (the rolling features rely on it) and is dictionary-encoded like Symbol.
    """
    symbol_type = prices.collect_schema()["Symbol"]
    names_by_symbol = dict(zip(metadata["Symbol"].to_list(), metadata["Security Name"].to_list()))
    names = [names_by_symbol.get(symbol) for symbol in symbol_type.categories.to_list()]
    name_type = pl.Enum(sorted({n for n in names if n is not None}))
    security_name = pl.lit(pl.Series(names, dtype=name_type)).gather(pl.col("Symbol").to_physical())
    date = pl.col("Date")
    real_date = date.str.to_date("%Y-%m-%d", strict=False).is_not_null() & (date.str.len_bytes() == 10)
    return prices.with_columns(pl.when(real_date).then(date).alias("Date"),
                               security_name.alias("Security Name")).select(SCHEMA)


def zero_prices_to_missing(frame: pl.DataFrame) -> pl.DataFrame:
    """A price of exactly 0 is how the Yahoo Finance export writes "no price" (the published data
    has about 20,000 rows with Open = 0): treat it as missing. Negative prices stay, for
    validation to reject."""
    return frame.with_columns([pl.when(pl.col(c) == 0).then(None).otherwise(pl.col(c)).alias(c)
                               for c in PRICE_COLUMNS])


def price_quality(frame: pl.DataFrame) -> Dict[str, int]:
    """Counts for the quality report: rows, symbols, rows without prices (missing or 0),
    duplicates and symbols without metadata. Run it before ``zero_prices_to_missing``.

    One ``select``, so that polars computes the counts in one parallel pass over the table.
    """
    from steps.prepare.rolling import ordered_expressions

    missing_price = pl.any_horizontal([pl.col(c).is_null() | pl.col(c).is_nan() for c in PRICE_COLUMNS])
    zero_price = pl.any_horizontal([pl.col(c) == 0 for c in PRICE_COLUMNS])
    counts = frame.select(
        symbols=pl.col("Symbol").n_unique(),
        rows_without_prices=missing_price.sum(),
        rows_with_zero_prices=zero_price.fill_null(False).sum(),
        rows_without_volume=pl.col("Volume").is_null().sum(),
        symbols_without_metadata=pl.col("Symbol").filter(pl.col("Security Name").is_null()).n_unique(),
        **ordered_expressions("Symbol", "Date"),
    ).row(0, named=True)
    ordered = bool(counts.pop("in_order")) and counts.pop("blocks") == counts.pop("groups")
    return {"rows": frame.height, **{k: int(v) for k, v in counts.items()},
            # strictly increasing dates in one block per symbol: no duplicate, nothing to count
            "duplicate_symbol_dates": 0 if ordered else _duplicate_symbol_dates(frame)}


def _duplicate_symbol_dates(frame: pl.DataFrame) -> int:
    """Rows repeating an earlier row's (Symbol, Date), a missing date counting as a value.

    Keyed on one integer (the symbol's Enum code and the day number) where it can be: hashing
    28 million (text, text) pairs takes seconds and gigabytes.
    """
    if not isinstance(frame.schema["Symbol"], (pl.Enum, pl.Categorical)):
        return int(frame.height - frame.select(["Symbol", "Date"]).n_unique())
    day = pl.col("Date").str.to_date("%Y-%m-%d", strict=False).cast(pl.Int64).fill_null(-(2 ** 31))
    key = pl.col("Symbol").to_physical().cast(pl.Int64) * 2 ** 33 + day
    return int(frame.height - frame.select(key.n_unique()).item())
