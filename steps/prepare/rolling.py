"""Rolling features per group, such as the stock-volume model's:

- ``vol_moving_avg``: the mean of Volume over the last 30 trading rows of the same symbol;
- ``adj_close_rolling_med``: the median of Adj Close over the same 30 rows.

Rows are ordered by (group, order column) and a window never crosses into another group. Rows
missing a required value (a trading day without prices) are removed first, so a window counts
30 real rows. The first 29 rows of each group have no complete window: their features are null
and they are dropped from the feature table (a group with fewer than 30 rows contributes
nothing), as the original system did. The window includes the current row, as pandas'
``rolling(30)`` does.
"""

from __future__ import annotations

from typing import Dict, Sequence, Tuple

import polars as pl

from steps.ingest.stock_market import PRICE_COLUMNS

WINDOW = 30
STOCK_FEATURES: Dict[str, Tuple[str, str]] = {
    "vol_moving_avg": ("Volume", "mean"),
    "adj_close_rolling_med": ("Adj Close", "median"),
}
FEATURES = list(STOCK_FEATURES)


def drop_incomplete_rows(frame: pl.LazyFrame, require: Sequence[str]) -> pl.LazyFrame:
    """Rows where every required column has a value (null and NaN both count as missing)."""
    if not require:
        return frame
    floats = {name for name, dtype in frame.collect_schema().items() if dtype.is_float()}
    present = [pl.col(c).is_not_null() & (pl.col(c).is_not_nan() if c in floats else pl.lit(True)) for c in require]
    return frame.filter(pl.all_horizontal(present))


def rolling_features(frame: pl.LazyFrame, window: int = WINDOW, group: str = "Symbol", order: str = "Date",
                     features: Dict[str, Tuple[str, str]] = STOCK_FEATURES,
                     require: Sequence[str] = (*PRICE_COLUMNS, "Volume")) -> pl.LazyFrame:
    """Add each ``name: (column, statistic)`` feature per group; keep rows with a full window."""
    statistics = {"mean": lambda c: c.rolling_mean(window_size=window),
                  "median": lambda c: c.rolling_median(window_size=window)}
    return (
        drop_incomplete_rows(frame, require)
        .sort([group, order])
        .with_columns([statistics[stat](pl.col(column)).over(group).alias(name)
                       for name, (column, stat) in features.items()])
        .drop_nulls(list(features))
    )
