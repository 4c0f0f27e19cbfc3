"""A synthetic data set in the exact Kaggle "stock market dataset" layout, at any size.

    stocks/<SYMBOL>.csv, etfs/<SYMBOL>.csv   Date,Open,High,Low,Close,Adj Close,Volume
    symbols_valid_meta.csv                   Nasdaq Traded,Symbol,Security Name,...,ETF,...

Symbol histories have realistic, varying lengths (log-normal, from a few days to 58 years of
trading days, the real data's range), end on the last date of the real download for most
symbols, and carry the defects of the real export: rows without prices (empty fields) and
zero opens. A manifest records what was generated, so a second run with the same arguments
reuses the folder.
"""

from __future__ import annotations

import itertools
import json
import os
import string
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
from scipy.signal import lfilter

LAST_DATE = "2020-04-01"
FIRST_DATE = "1962-01-02"
_MANIFEST = "manifest.json"


def history_lengths(rows: int, symbols: int, rng: np.random.Generator, max_length: int) -> np.ndarray:
    """``symbols`` lengths in [1, max_length] summing to exactly ``rows``."""
    if rows < symbols or rows > symbols * max_length:
        raise ValueError(f"cannot spread {rows} rows over {symbols} symbols of at most {max_length} days")
    raw = rng.lognormal(mean=0.0, sigma=0.9, size=symbols)
    lengths = np.clip(np.floor(raw / raw.sum() * rows), 1, max_length).astype(np.int64)
    # Spread what rounding and clipping left over (or took too much) one row at a time.
    while (gap := rows - int(lengths.sum())) != 0:
        room = lengths < max_length if gap > 0 else lengths > 1
        candidates = np.flatnonzero(room)
        chosen = rng.choice(candidates, size=min(abs(gap), candidates.size), replace=False)
        lengths[chosen] += 1 if gap > 0 else -1
    return lengths


def _symbol_names(count: int) -> list:
    """Four-letter tickers, as on the exchanges (26**4 = 456,976 of them)."""
    return ["".join(letters) for letters in itertools.islice(itertools.product(string.ascii_uppercase, repeat=4), count)]


def _one_symbol(dates: np.ndarray, rng: np.random.Generator) -> pl.DataFrame:
    n = dates.size
    close = 20 * np.exp(np.cumsum(rng.normal(0, 0.02, n)) + rng.normal(0, 1))
    spread = np.abs(rng.normal(0, 0.01, n)) * close
    open_ = close * np.exp(rng.normal(0, 0.01, n))
    high = np.maximum(open_, close) + spread
    low = np.maximum(np.minimum(open_, close) - spread, 0.01)
    adj = close * np.linspace(0.6, 1.0, n)
    # Log volume: a symbol's own level plus a persistent AR(1) deviation, as real volumes
    # cluster in time (which is what the 30-day average can learn from).
    shocks = rng.normal(0, 0.35, n)
    deviation = lfilter([1.0], [1.0, -0.95], shocks)
    volume = np.round(np.exp(rng.normal(13, 1.5) + 0.4 * deviation)).astype(np.int64)
    frame = pl.DataFrame({"Date": dates, "Open": open_, "High": high, "Low": low, "Close": close,
                          "Adj Close": adj, "Volume": volume})
    defects = rng.random(n)
    no_prices = pl.Series(defects < 0.0005)  # the real export has empty price fields on some days
    zero_open = pl.Series((defects >= 0.0005) & (defects < 0.0015))  # and Open = 0 on others
    prices = ["Open", "High", "Low", "Close", "Adj Close"]
    return frame.with_columns(
        [pl.when(no_prices).then(None).otherwise(pl.col(c)).alias(c) for c in prices]
        + [pl.when(no_prices).then(None).otherwise(pl.col("Volume")).alias("Volume")]
    ).with_columns(pl.when(zero_open).then(0.0).otherwise(pl.col("Open")).alias("Open"))


def generate(folder: Path, rows: int, symbols: int, seed: int = 0, etf_share: float = 0.25) -> dict:
    """Write the data set (or reuse an identical one) and return its manifest."""
    wanted = {"rows": rows, "symbols": symbols, "seed": seed, "etf_share": etf_share, "version": 2}
    manifest_path = folder / _MANIFEST
    if manifest_path.is_file() and json.loads(manifest_path.read_text()) == wanted:
        return wanted
    rng = np.random.default_rng(seed)
    calendar = np.array(pd.bdate_range(FIRST_DATE, LAST_DATE).strftime("%Y-%m-%d"), dtype=object)
    lengths = history_lengths(rows, symbols, rng, calendar.size)
    names = _symbol_names(symbols)
    is_etf = rng.random(symbols) < etf_share
    for kind in ("stocks", "etfs"):
        (folder / kind).mkdir(parents=True, exist_ok=True)
    for name, length, etf in zip(names, lengths, is_etf):
        # Most histories run to the end of the download; some symbols were delisted earlier.
        end = calendar.size - (0 if rng.random() < 0.9 else int(rng.integers(0, calendar.size - length + 1)))
        dates = calendar[end - length:end]
        _one_symbol(dates, rng).write_csv(folder / ("etfs" if etf else "stocks") / f"{name}.csv")
    meta = pl.DataFrame({
        "Nasdaq Traded": ["Y"] * symbols, "Symbol": names,
        "Security Name": [f"{n} Holdings Corporation - Common Stock" for n in names],
        "Listing Exchange": ["N"] * symbols, "Market Category": [" "] * symbols,
        "ETF": ["Y" if e else "N" for e in is_etf], "Round Lot Size": [100.0] * symbols,
    })
    meta.write_csv(folder / "symbols_valid_meta.csv")
    manifest_path.write_text(json.dumps(wanted))
    return wanted


def folder_size(folder: Path) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(folder) for f in files)
