"""Time-series windows on real SKAB readings: correct features, no leakage, ordering checks."""

import numpy as np
import pandas as pd
import pytest

from core.config import SmoothingSpec, SourceSpec
from steps.ingest.sources import read_source
from steps.prepare.windows import (
    TimeSeriesError,
    check_time_order,
    feature_name,
    split_groups,
    window_features,
)
from tests.conftest import PROJECT_ROOT

SKAB = PROJECT_ROOT / "data" / "skab"
SENSORS = ["Accelerometer1RMS", "Accelerometer2RMS", "Current", "Pressure", "Temperature", "Thermocouple",
           "Voltage", "Volume Flow RateRMS"]


@pytest.fixture(scope="module")
def skab() -> pd.DataFrame:
    spec = SourceSpec(kind="csv_folder", path=str(SKAB), pattern="*/*.csv", separator=";",
                      group_column="experiment", missing_column_defaults={"anomaly": 0.0, "changepoint": 0.0},
                      missing_column_defaults_for="anomaly-free/*.csv")
    return read_source(spec)


def test_folder_source_reads_every_recording(skab) -> None:
    assert skab["experiment"].nunique() == 21 and len(skab) == 31877
    assert (skab.loc[skab["experiment"] == "anomaly-free/anomaly-free.csv", "anomaly"] == 0).all()
    check_time_order(skab, "experiment", "datetime")


def test_features_match_a_direct_pandas_computation(skab) -> None:
    group = skab[skab["experiment"] == "valve1/3.csv"].reset_index(drop=True)
    windows = window_features(group, "experiment", "datetime", SENSORS, "anomaly", 60, 1, SmoothingSpec(method="none"))
    assert len(windows) == len(group) - 59
    for sensor in ("Pressure", "Volume Flow RateRMS"):
        rolling = group[sensor].rolling(60)
        np.testing.assert_allclose(windows[feature_name(sensor, "mean")], rolling.mean().dropna())
        np.testing.assert_allclose(windows[feature_name(sensor, "std")], rolling.std(ddof=0).dropna(), atol=1e-9)
        np.testing.assert_allclose(windows[feature_name(sensor, "range")], (rolling.max() - rolling.min()).dropna())
        np.testing.assert_allclose(windows[feature_name(sensor, "last")], group[sensor].iloc[59:])
        slope = rolling.apply(lambda v: np.polyfit(np.arange(60), v, 1)[0], raw=True).dropna()
        np.testing.assert_allclose(windows[feature_name(sensor, "slope")], slope, atol=1e-9)
    assert windows["anomaly"].tolist() == group["anomaly"].iloc[59:].tolist()


def test_smoothing_is_a_causal_moving_average_inside_each_window() -> None:
    frame = pd.DataFrame({"g": "a", "t": range(10), "x": np.arange(10.0) ** 2, "y": 0})
    windows = window_features(frame, "g", "t", ["x"], "y", 4, 1, SmoothingSpec(method="rolling_mean", length=2))
    first = np.array([0.0, 1.0, 4.0, 9.0])
    smoothed = np.array([0.0, 0.5, 2.5, 6.5])  # moving average of 2, the first reading on its own
    assert windows.loc[0, "x_mean"] == pytest.approx(smoothed.mean())
    assert windows.loc[0, "x_last"] == pytest.approx(smoothed[-1]) != first[-1]
    savgol = window_features(frame, "g", "t", ["x"], "y", 5, 1, SmoothingSpec(method="savgol", length=5, polyorder=2))
    assert savgol.loc[0, "x_last"] == pytest.approx(16.0)  # a quadratic passes a quadratic filter unchanged


def test_windows_never_cross_groups_and_respect_stride() -> None:
    frame = pd.DataFrame({"g": ["a"] * 50 + ["b"] * 50, "t": list(range(50)) * 2,
                          "x": [1.0] * 50 + [100.0] * 50, "y": [0] * 50 + [1] * 50})
    windows = window_features(frame, "g", "t", ["x"], "y", 10, 5, SmoothingSpec(method="none"))
    assert set(windows.loc[windows["g"] == "a", "x_mean"]) == {1.0}
    assert set(windows.loc[windows["g"] == "b", "x_mean"]) == {100.0}
    assert windows.loc[windows["g"] == "a", "t"].tolist() == list(range(9, 50, 5))
    short = frame.assign(g=["a"] * 95 + ["c"] * 5)
    assert "c" not in set(window_features(short, "g", "t", ["x"], "y", 10, 1, SmoothingSpec()).g)


def test_group_split_is_disjoint_seeded_and_keeps_always_train() -> None:
    groups = [f"valve1/{i}.csv" for i in range(16)] + ["anomaly-free/anomaly-free.csv"]
    plan = split_groups(groups, 5, 4, 42, ["anomaly-free/anomaly-free.csv"])
    assert plan == split_groups(groups, 5, 4, 42, ["anomaly-free/anomaly-free.csv"])
    assert plan != split_groups(groups, 5, 4, 7, ["anomaly-free/anomaly-free.csv"])
    sides = [set(plan[k]) for k in ("train", "validation", "test")]
    assert sum(map(len, sides)) == 17 and not (sides[0] & sides[1] or sides[0] & sides[2] or sides[1] & sides[2])
    assert "anomaly-free/anomaly-free.csv" in plan["train"]
    with pytest.raises(ValueError, match="no group left"):
        split_groups(groups[:5], 3, 2, 0)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda f: f.assign(datetime=f["datetime"].where(f.index != 10, f["datetime"][5])), "out of order"),
        (lambda f: f.assign(datetime=f["datetime"].where(f.index != 10, f["datetime"][9])), "duplicated"),
        (lambda f: f.assign(datetime=f["datetime"].where(f.index != 10, "yesterday")), "not a timestamp"),
    ],
    ids=["out_of_order", "duplicated", "unparseable"],
)
def test_time_order_problems_are_named(skab, edit, message) -> None:
    group = skab[skab["experiment"] == "valve1/0.csv"].reset_index(drop=True)
    with pytest.raises(TimeSeriesError, match=message):
        check_time_order(edit(group), "experiment", "datetime")
