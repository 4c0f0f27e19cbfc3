"""The Kaggle "stock market dataset" layout: one CSV per symbol, plus symbol metadata.

    <root>/stocks/<SYMBOL>.csv   Date,Open,High,Low,Close,Adj Close,Volume
    <root>/etfs/<SYMBOL>.csv     (same columns)
    <root>/symbols_valid_meta.csv   Symbol, Security Name, ETF, ...

Read with polars lazy scans: the full data set is about 8,000 files and 28 million rows, and a
per-file pandas loop spends most of its time opening files. ``root`` may be a local folder or
an ``s3://`` prefix (``storage_options`` carry the endpoint and keys).
"""

from __future__ import annotations

from typing import Dict, Optional

import polars as pl

PRICE_COLUMNS = ["Open", "High", "Low", "Close", "Adj Close"]
SCHEMA = ["Symbol", "Security Name", "Date", *PRICE_COLUMNS, "Volume"]
_CSV_TYPES = {"Date": pl.String, **{c: pl.Float64 for c in PRICE_COLUMNS}, "Volume": pl.Float64}


class StockDataError(ValueError):
    """The folder does not hold the expected layout, or its content cannot be typed."""


def scan_prices(root: str, storage_options: Optional[Dict[str, str]] = None) -> pl.LazyFrame:
    """All symbol files under ``stocks/`` and ``etfs/`` as one lazy table with a Symbol column.

    Volume is read as a float: a few files in the published data have fractional volumes, and
    a float holds every integer volume up to 2**53 exactly.
    """
    root = root.rstrip("/")
    frames = []
    for kind in ("stocks", "etfs"):
        pattern = f"{root}/{kind}/*.csv"
        try:
            frame = pl.scan_csv(pattern, schema_overrides=_CSV_TYPES, include_file_paths="__path__",
                                storage_options=storage_options, raise_if_empty=False)
            frame.collect_schema()
        except pl.exceptions.ComputeError as exc:
            if "expanded paths were empty" in str(exc):  # polars' way of saying: no file matches
                continue
            raise StockDataError(f"cannot read {pattern}: {exc}") from exc
        frames.append(frame)
    if not frames:
        raise StockDataError(f"{root} has no stocks/*.csv or etfs/*.csv files (the Kaggle stock market layout)")
    symbol = pl.col("__path__").str.extract(r"([^/\\]+)\.csv$").alias("Symbol")
    return pl.concat(frames, how="vertical").with_columns(symbol).drop("__path__")


def read_metadata(root: str, storage_options: Optional[Dict[str, str]] = None) -> pl.DataFrame:
    path = f"{root.rstrip('/')}/symbols_valid_meta.csv"
    try:
        meta = pl.read_csv(path, storage_options=storage_options, infer_schema_length=0)
    except FileNotFoundError as exc:
        raise StockDataError(f"symbol metadata not found: {path}") from exc
    missing = [c for c in ("Symbol", "Security Name") if c not in meta.columns]
    if missing:
        raise StockDataError(f"{path} lacks the column(s) {missing}")
    return meta.select("Symbol", "Security Name").unique(subset="Symbol", keep="first")


def to_schema(prices: pl.LazyFrame, metadata: pl.DataFrame) -> pl.LazyFrame:
    """Exactly: Symbol, Security Name, Date (YYYY-MM-DD text), the five prices, Volume.

    A symbol missing from the metadata keeps a null Security Name, for validation to report.
    A date that is not YYYY-MM-DD becomes null and is reported the same way.
    """
    date = pl.col("Date").str.strptime(pl.Date, "%Y-%m-%d", strict=False).dt.strftime("%Y-%m-%d")
    return (
        prices.with_columns(date.alias("Date"))
        .join(metadata.lazy(), on="Symbol", how="left")
        .select(SCHEMA)
    )


def zero_prices_to_missing(frame: pl.DataFrame) -> pl.DataFrame:
    """A price of exactly 0 is how the Yahoo Finance export writes "no price" (the published data
    has about 20,000 rows with Open = 0): treat it as missing. Negative prices stay, for
    validation to reject."""
    return frame.with_columns([pl.when(pl.col(c) == 0).then(None).otherwise(pl.col(c)).alias(c)
                               for c in PRICE_COLUMNS])


def price_quality(frame: pl.DataFrame) -> Dict[str, int]:
    """Counts for the quality report: rows, symbols, rows without prices (missing or 0),
    duplicates and symbols without metadata. Run it before ``zero_prices_to_missing``."""
    missing_price = pl.any_horizontal([pl.col(c).is_null() | pl.col(c).is_nan() for c in PRICE_COLUMNS])
    zero_price = pl.any_horizontal([pl.col(c) == 0 for c in PRICE_COLUMNS])
    return {
        "rows": frame.height,
        "symbols": frame["Symbol"].n_unique(),
        "rows_without_prices": int(frame.select(missing_price.sum()).item()),
        "rows_with_zero_prices": int(frame.select(zero_price.fill_null(False).sum()).item()),
        "rows_without_volume": int(frame["Volume"].is_null().sum()),
        "duplicate_symbol_dates": int(frame.height - frame.select(["Symbol", "Date"]).n_unique()),
        "symbols_without_metadata": int(frame.filter(pl.col("Security Name").is_null())["Symbol"].n_unique()),
    }
