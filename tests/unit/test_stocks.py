"""The Kaggle stock layout, the exact schema, and per-symbol rolling features on real data."""

import shutil

import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from steps.ingest.stock_market import SCHEMA, StockDataError, price_quality, read_metadata, scan_prices, to_schema
from steps.ingest.stock_market import PRICE_COLUMNS
from steps.prepare.rolling import build_feature_table, rolling_features

STOCK_FEATURES = {"vol_moving_avg": ("Volume", "mean"), "adj_close_rolling_med": ("Adj Close", "median")}
REQUIRE = [*PRICE_COLUMNS, "Volume"]


def stock_features(frame: pl.DataFrame) -> pl.DataFrame:
    table, _ = build_feature_table(frame, 30, "Symbol", "Date", STOCK_FEATURES, REQUIRE)
    return table
from tests.conftest import PROJECT_ROOT

STOCKS = PROJECT_ROOT / "data" / "stocks"


@pytest.fixture(scope="module")
def table() -> pl.DataFrame:
    return to_schema(scan_prices(str(STOCKS)), read_metadata(str(STOCKS))).collect()


def test_schema_is_exact(table) -> None:
    assert table.columns == SCHEMA
    # Symbol and Security Name are strings, dictionary-encoded (a polars Enum) to stay small at 28 M rows.
    assert isinstance(table.schema["Symbol"], pl.Enum) and isinstance(table.schema["Security Name"], pl.Enum)
    assert table.schema["Date"] == pl.String
    assert all(table.schema[c] == pl.Float64 for c in ("Open", "High", "Low", "Close", "Adj Close", "Volume"))
    assert table["Date"].str.contains(r"^\d{4}-\d{2}-\d{2}$").all()
    assert sorted(table["Symbol"].unique()) == ["AAPL", "AGG", "AMZN", "CAT", "CSCO", "DIA"]
    assert table.filter(pl.col("Symbol") == "AAPL")["Security Name"][0].startswith("Apple Inc.")


def test_quality_counts_the_real_row_without_prices(table) -> None:
    quality = price_quality(table)
    assert quality == {"rows": 7549, "symbols": 6, "rows_without_prices": 1, "rows_with_zero_prices": 0,
                       "rows_without_volume": 1, "duplicate_symbol_dates": 0, "symbols_without_metadata": 0}
    assert table.filter(pl.col("Open").is_null())["Date"].to_list() == ["2016-01-18"]


def test_zero_prices_become_missing_and_are_counted(table) -> None:
    from steps.ingest.stock_market import zero_prices_to_missing

    broken = table.with_columns(pl.when(pl.int_range(pl.len()) < 3).then(0.0).otherwise(pl.col("Open")).alias("Open"))
    assert price_quality(broken)["rows_with_zero_prices"] == 3
    cleaned = zero_prices_to_missing(broken)
    assert cleaned["Open"].is_null().sum() == 3 + 1 and (cleaned["Open"].drop_nulls() > 0).all()


def test_features_match_a_direct_per_symbol_pandas_computation(table) -> None:
    features, counts = build_feature_table(table, 30, "Symbol", "Date", STOCK_FEATURES, REQUIRE)
    assert counts == {"rows_in": 7549, "rows_missing_required_values": 1, "rows_without_full_window": 6 * 29,
                      "rows_out": 7549 - 1 - 6 * 29, "groups": 6}
    assert sorted(features["year"].unique()) == ["2015", "2016", "2017", "2018", "2019"]
    features = features.to_pandas().astype({"Symbol": str}).sort_values(["Symbol", "Date"], ignore_index=True)
    frame = table.to_pandas().astype({"Symbol": str}).dropna(subset=["Open", "Adj Close", "Volume"]).sort_values(["Symbol", "Date"])
    expected = []
    for _, rows in frame.groupby("Symbol"):  # one symbol at a time: nothing can cross
        rows = rows.assign(vol_moving_avg=rows["Volume"].rolling(30).mean(),
                           adj_close_rolling_med=rows["Adj Close"].rolling(30).median())
        expected.append(rows.iloc[29:])
    expected = pd.concat(expected).reset_index(drop=True)
    assert len(features) == len(expected) == 7549 - 1 - 6 * 29
    assert features[["Symbol", "Date"]].equals(expected[["Symbol", "Date"]])
    for name in STOCK_FEATURES:
        np.testing.assert_allclose(features[name], expected[name], rtol=1e-12)


def test_window_never_crosses_symbols_and_short_symbols_give_nothing() -> None:
    frame = pl.DataFrame({
        "Symbol": ["A"] * 40 + ["B"] * 35 + ["C"] * 10,
        "Date": [f"{d:%Y-%m-%d}" for d in pd.date_range("2020-01-01", periods=40)]
        + [f"{d:%Y-%m-%d}" for d in pd.date_range("2020-03-01", periods=35)]
        + [f"{d:%Y-%m-%d}" for d in pd.date_range("2020-05-01", periods=10)],
        **{c: [1.0] * 85 for c in ("Open", "High", "Low", "Close")},
        "Adj Close": [1.0] * 40 + [100.0] * 35 + [5.0] * 10,
        "Volume": [10.0] * 40 + [1000.0] * 35 + [3.0] * 10,
    })
    out = stock_features(frame)
    assert out.group_by("Symbol").len().sort("Symbol").rows() == [("A", 11), ("B", 6)]
    assert set(out.filter(pl.col("Symbol") == "B")["vol_moving_avg"]) == {1000.0}
    assert set(out.filter(pl.col("Symbol") == "B")["adj_close_rolling_med"]) == {100.0}


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(0, 1e9, allow_nan=False), min_size=30, max_size=80), st.integers(0, 50))
def test_rolling_mean_property(volumes, split) -> None:
    split = min(split, len(volumes))
    symbols = ["X"] * split + ["Y"] * (len(volumes) - split)
    dates = [f"2020-{1 + i // 28:02d}-{1 + i % 28:02d}" for i in range(len(volumes))]
    frame = pl.DataFrame({"Symbol": symbols, "Date": dates, **{c: [1.0] * len(volumes) for c in
                          ("Open", "High", "Low", "Close", "Adj Close")}, "Volume": volumes})
    out = rolling_features(frame.lazy(), 30, "Symbol", "Date", STOCK_FEATURES).collect()
    for symbol in ("X", "Y"):
        series = pd.Series([v for s, v in zip(symbols, volumes) if s == symbol])
        expected = series.rolling(30).mean().dropna().to_numpy()
        np.testing.assert_allclose(out.filter(pl.col("Symbol") == symbol)["vol_moving_avg"].to_numpy(), expected,
                                   rtol=1e-9, atol=1e-3)


def test_layout_errors(tmp_path) -> None:
    with pytest.raises(StockDataError, match="no stocks/\\*.csv or etfs/\\*.csv"):
        scan_prices(str(tmp_path))
    with pytest.raises(StockDataError, match="symbol metadata not found"):
        read_metadata(str(tmp_path))
    (tmp_path / "etfs").mkdir()
    shutil.copy(STOCKS / "etfs" / "AGG.csv", tmp_path / "etfs" / "AGG.csv")
    (tmp_path / "symbols_valid_meta.csv").write_text("Symbol,Security Name\nDIA,SPDR Dow Jones\n")
    table = to_schema(scan_prices(str(tmp_path)), read_metadata(str(tmp_path))).collect()
    assert table.height == 1258 and price_quality(table)["symbols_without_metadata"] == 1


def test_a_date_that_is_not_a_real_yyyy_mm_dd_date_becomes_null(tmp_path) -> None:
    (tmp_path / "stocks").mkdir()
    (tmp_path / "stocks" / "ZZZ.csv").write_text(
        "Date,Open,High,Low,Close,Adj Close,Volume\n2020-01-02,1,2,1,2,2,10\n2020-13-01,1,2,1,2,2,10\n"
        "2020-1-6,1,2,1,2,2,10\n01/07/2020,1,2,1,2,2,10\n")
    (tmp_path / "symbols_valid_meta.csv").write_text("Symbol,Security Name\nZZZ,Zed\n")
    table = to_schema(scan_prices(str(tmp_path)), read_metadata(str(tmp_path))).collect()
    assert table["Date"].to_list() == ["2020-01-02", None, None, None]
    assert table["Security Name"].cast(pl.String).to_list() == ["Zed"] * 4


def test_rows_out_of_order_are_sorted_before_the_window(table) -> None:
    from steps.prepare.rolling import is_ordered

    assert is_ordered(table, "Symbol", "Date")
    shuffled = table.sample(fraction=1.0, shuffle=True, seed=1)
    assert not is_ordered(shuffled, "Symbol", "Date")
    interleaved = pl.concat([table.filter(pl.col("Symbol") == "AAPL").head(50), table.filter(pl.col("Symbol") == "CAT"),
                             table.filter(pl.col("Symbol") == "AAPL").slice(50)])
    assert not is_ordered(interleaved, "Symbol", "Date")  # in order within AAPL, but in two blocks
    expected = stock_features(table).sort(["Symbol", "Date"])
    assert stock_features(shuffled).sort(["Symbol", "Date"]).equals(expected)


def test_an_order_column_that_is_not_a_date_stops_the_feature_table(table) -> None:
    broken = table.with_columns(pl.when(pl.int_range(pl.len()) == 5).then(pl.lit("2019-02-30"))
                                .otherwise(pl.col("Date")).alias("Date"))
    with pytest.raises(pl.exceptions.InvalidOperationError, match="'Date'"):
        build_feature_table(broken, 30, "Symbol", "Date", STOCK_FEATURES, REQUIRE)


def test_repeated_symbol_dates_are_counted(table) -> None:
    repeated = pl.concat([table, table.filter(pl.col("Symbol") == "CAT").head(3)])
    assert price_quality(repeated)["duplicate_symbol_dates"] == 3
    assert price_quality(table.sample(fraction=1.0, shuffle=True, seed=0))["duplicate_symbol_dates"] == 0
