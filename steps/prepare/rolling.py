"""Per-symbol rolling features for the stock-volume model.

- ``vol_moving_avg``: the mean of Volume over the last 30 trading rows of the same symbol;
- ``adj_close_rolling_med``: the median of Adj Close over the same 30 rows.

Rows are ordered by (Symbol, Date) and the window never crosses into another symbol. Rows with
no prices (or no volume) are removed first, so a window counts 30 real trading days. The first
29 rows of each symbol have no complete window: their features are null and they are dropped
from the feature table (a symbol with fewer than 30 rows contributes nothing), as the original
system did. The window includes the current row, as pandas' ``rolling(30)`` does.
"""

from __future__ import annotations

import polars as pl

from steps.ingest.stock_market import PRICE_COLUMNS

WINDOW = 30
FEATURES = ["vol_moving_avg", "adj_close_rolling_med"]


def drop_rows_without_prices(frame: pl.LazyFrame) -> pl.LazyFrame:
    valid = pl.all_horizontal([pl.col(c).is_not_null() & pl.col(c).is_not_nan() for c in PRICE_COLUMNS])
    return frame.filter(valid & pl.col("Volume").is_not_null())


def rolling_features(frame: pl.LazyFrame, window: int = WINDOW) -> pl.LazyFrame:
    """Add both features per symbol and keep only rows with a complete window."""
    return (
        drop_rows_without_prices(frame)
        .sort(["Symbol", "Date"])
        .with_columns(
            pl.col("Volume").rolling_mean(window_size=window).over("Symbol").alias("vol_moving_avg"),
            pl.col("Adj Close").rolling_median(window_size=window).over("Symbol").alias("adj_close_rolling_med"),
        )
        .drop_nulls(FEATURES)
    )
