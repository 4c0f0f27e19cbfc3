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

PARTITION_COLUMN = "year"


def drop_incomplete_rows(frame: pl.LazyFrame, require: Sequence[str]) -> pl.LazyFrame:
    """Rows where every required column has a value (null and NaN both count as missing)."""
    if not require:
        return frame
    floats = {name for name, dtype in frame.collect_schema().items() if dtype.is_float()}
    present = [pl.col(c).is_not_null() & (pl.col(c).is_not_nan() if c in floats else pl.lit(True)) for c in require]
    return frame.filter(pl.all_horizontal(present))


def rolling_features(frame: pl.LazyFrame, window: int, group: str, order: str,
                     features: Dict[str, Tuple[str, str]]) -> pl.LazyFrame:
    """Add each ``name: (column, statistic)`` feature per group; keep rows with a full window."""
    statistics = {"mean": lambda c: c.rolling_mean(window_size=window),
                  "median": lambda c: c.rolling_median(window_size=window)}
    return (
        frame.sort([group, order])
        .with_columns([statistics[stat](pl.col(column)).over(group).alias(name)
                       for name, (column, stat) in features.items()])
        .drop_nulls(list(features))
    )


def build_feature_table(frame: pl.DataFrame, window: int, group: str, order: str,
                        features: Dict[str, Tuple[str, str]], require: Sequence[str]
                        ) -> Tuple[pl.DataFrame, Dict[str, int]]:
    """The feature table and what was dropped on the way, for the quality record.

    Adds ``year`` (the first four characters of the order column, a YYYY-MM-DD date) as the
    Parquet partition key: one partition per year keeps files large enough to scan well, where
    one per group would make thousands of small ones.
    """
    complete = drop_incomplete_rows(frame.lazy(), require).collect()
    table = rolling_features(complete.lazy(), window, group, order, features).collect()
    table = table.with_columns(pl.col(order).cast(pl.String).str.slice(0, 4).alias(PARTITION_COLUMN))
    counts = {
        "rows_in": frame.height,
        "rows_missing_required_values": frame.height - complete.height,
        "rows_without_full_window": complete.height - table.height,
        "rows_out": table.height,
        "groups": int(table[group].n_unique()),
    }
    return table, counts
