"""Time-series preparation: ordering checks, splitting by group, and window features.

Windows never cross a group boundary (a group is one recording, e.g. one SKAB experiment), and
groups are split whole, so no window of a test recording is ever seen in training. A window of
``length`` readings ends at a reading and carries that reading's label; the features describe
the (smoothed) window per sensor: mean, standard deviation, least-squares slope per step,
range and last value.
"""

from __future__ import annotations

import re
from typing import Dict, Iterable, List, Sequence

import numpy as np
import pandas as pd

STATISTICS = ("mean", "std", "slope", "range", "last")


class TimeSeriesError(ValueError):
    """Readings that cannot be windowed as they are (unordered, duplicated, unparseable)."""


def feature_name(sensor: str, statistic: str) -> str:
    """``Volume Flow RateRMS`` + ``mean`` -> ``volume_flow_raterms_mean`` (safe for every library)."""
    return f"{re.sub(r'[^0-9a-zA-Z]+', '_', sensor).strip('_').lower()}_{statistic}"


def check_time_order(frame: pd.DataFrame, group: str, time: str) -> None:
    """Raise TimeSeriesError naming the group and timestamp if readings are unparseable,
    duplicated or out of order within a group. Sorting silently would hide a broken export."""
    try:
        stamps = pd.to_datetime(frame[time], errors="raise")
    except (ValueError, TypeError) as exc:
        raise TimeSeriesError(f"column '{time}' has a value that is not a timestamp: {exc}") from exc
    for name, values in stamps.groupby(frame[group], sort=False):
        steps = values.diff().iloc[1:]
        duplicated = steps == pd.Timedelta(0)
        if duplicated.any():
            at = steps.index[duplicated.to_numpy()][0]
            raise TimeSeriesError(f"group '{name}': timestamp {values[at]} is duplicated (row {at})")
        backwards = steps < pd.Timedelta(0)
        if backwards.any():
            at = steps.index[backwards.to_numpy()][0]
            previous = values.loc[:at].iloc[-2]
            raise TimeSeriesError(
                f"group '{name}': timestamps out of order, {values[at]} (row {at}) comes after {previous}"
            )


def split_groups(groups: Iterable[str], test: int, validation: int, random_state: int,
                 always_train: Sequence[str] = ()) -> Dict[str, List[str]]:
    """Seeded assignment of whole groups to train, validation and test."""
    unique = sorted(set(groups))
    unknown = sorted(set(always_train) - set(unique))
    if unknown:
        raise ValueError(f"always_train names groups that are not in the data: {unknown}")
    eligible = [g for g in unique if g not in set(always_train)]
    if test + validation >= len(eligible):
        raise ValueError(
            f"cannot take {test} test and {validation} validation groups from {len(eligible)}: no group left to train on"
        )
    order = [eligible[i] for i in np.random.default_rng(random_state).permutation(len(eligible))]
    return {
        "test": sorted(order[:test]),
        "validation": sorted(order[test:test + validation]),
        "train": sorted(order[test + validation:] + list(always_train)),
    }


def _smooth(windows: np.ndarray, method: str, length: int, polyorder: int) -> np.ndarray:
    """Smooth each window along its last axis, using only readings inside that window."""
    if method == "none" or length <= 1:
        return windows
    if method == "savgol":
        from scipy.signal import savgol_filter

        return savgol_filter(windows, window_length=length, polyorder=polyorder, axis=-1, mode="interp")
    # Causal moving average inside the window; the first readings average what they have.
    size = windows.shape[-1]
    sums = np.cumsum(windows, axis=-1)
    lagged = np.concatenate([np.zeros(windows.shape[:-1] + (min(length, size),)), sums[..., : size - length]], axis=-1)
    counts = np.minimum(np.arange(1, size + 1), length)
    return (sums - lagged) / counts


def _group_features(values: np.ndarray, length: int, stride: int, smoothing) -> np.ndarray:
    """(windows, sensors * statistics) for one group's (readings, sensors) array."""
    windows = np.lib.stride_tricks.sliding_window_view(values, length, axis=0)[::stride]  # (w, sensors, length)
    smoothed = _smooth(windows.astype(float), smoothing.method, smoothing.length, smoothing.polyorder)
    steps = np.arange(length, dtype=float) - (length - 1) / 2
    slope = (smoothed * steps).sum(axis=-1) / (steps**2).sum()
    stats = {
        "mean": smoothed.mean(axis=-1),
        "std": smoothed.std(axis=-1),
        "slope": slope,
        "range": smoothed.max(axis=-1) - smoothed.min(axis=-1),
        "last": smoothed[..., -1],
    }
    return np.concatenate([stats[name] for name in STATISTICS], axis=1)


def window_features(frame: pd.DataFrame, group: str, time: str, sensors: Sequence[str], target: str,
                    length: int, stride: int, smoothing) -> pd.DataFrame:
    """One row per window: group, the end reading's time and label, and the window features.

    Readings must already be in time order within each group (see ``check_time_order``).
    Groups shorter than ``length`` give no window.
    """
    names = [feature_name(sensor, statistic) for statistic in STATISTICS for sensor in sensors]
    parts = []
    for name, rows in frame.groupby(group, sort=False):
        if len(rows) < length:
            continue
        features = _group_features(rows[list(sensors)].to_numpy(dtype=float), length, stride, smoothing)
        ends = np.arange(length - 1, len(rows), stride)
        part = pd.DataFrame(features, columns=names)
        part.insert(0, target, rows[target].to_numpy()[ends])
        part.insert(0, time, rows[time].to_numpy()[ends])
        part.insert(0, group, name)
        parts.append(part)
    if not parts:
        raise TimeSeriesError(f"no group has the {length} readings one window needs")
    return pd.concat(parts, ignore_index=True)
