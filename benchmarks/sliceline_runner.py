"""Runs sliceline's Slicefinder on a table of features and error flags; prints JSON.

Executed by benchmarks/slices.py with the interpreter of .venv-sliceline (see
requirements-sliceline.txt), because sliceline needs a newer scikit-learn than the project can
use. Input: a Parquet file with the feature columns and a boolean ``__error__`` column, and JSON
settings (``repeats``: at most how many timed runs, ``repeat_budget_s``: no new run after
that many seconds; the median is reported), and optionally a second Parquet file of replication
rows (the same feature columns and ``__error__``): each top slice, with the bins it was found
with, is also counted there. The timing covers what sliceline needs beyond the data: binning
numeric features into quantile bins (it only takes categorical values) and the search.
"""

from __future__ import annotations

import json
import statistics
import sys
import time

import numpy as np
import pandas as pd
from sliceline.slicefinder import Slicefinder


def binned(frame: pd.DataFrame, bins: int, other: pd.DataFrame = None):
    """``frame`` with numeric columns cut into quantile bins (as text), and ``other`` cut into
    the same bins (a value beyond the outer edges goes to the outer bin), or None."""
    out, other_out = {}, {}
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_numeric_dtype(values) and values.nunique() > bins:
            codes, edges = pd.qcut(values, bins, duplicates="drop", retbins=True)
            out[column] = codes.astype(str)
            if other is not None:
                labels = np.asarray(codes.cat.categories.astype(str))
                index = np.clip(np.searchsorted(edges[1:-1], other[column].to_numpy(dtype=float), side="left"),
                                0, len(labels) - 1)
                other_out[column] = np.where(other[column].isna().to_numpy(), "nan", labels[index])
        else:
            out[column] = values.astype(str)
            if other is not None:
                other_out[column] = other[column].astype(str).to_numpy()
    return pd.DataFrame(out), (pd.DataFrame(other_out) if other is not None else None)


def main() -> None:
    data_path, settings = sys.argv[1], json.loads(sys.argv[2])
    table = pd.read_parquet(data_path)
    errors = table.pop("__error__").to_numpy(dtype=float)
    timings = []
    while len(timings) < settings.get("repeats", 1) and sum(timings) < settings.get("repeat_budget_s", float("inf")):
        started = time.perf_counter()
        categorical, _ = binned(table, settings["bins"])
        finder = Slicefinder(alpha=settings["alpha"], k=settings["k"], max_l=settings["max_l"],
                             min_sup=settings["min_sup"], verbose=False)
        finder.fit(categorical.to_numpy(), errors)
        timings.append(time.perf_counter() - started)
    seconds = statistics.median(timings)
    masks = finder.transform(categorical.to_numpy()) if len(finder.top_slices_) else np.zeros((len(table), 0))
    replication = None
    if len(sys.argv) > 3 and len(finder.top_slices_):
        other = pd.read_parquet(sys.argv[3])
        other_errors = other.pop("__error__").to_numpy(dtype=bool)
        _, other_binned = binned(table, settings["bins"], other[table.columns])
        other_masks = finder.transform(other_binned.to_numpy()).astype(bool)
        replication = [{"size": int(m.sum()), "errors": int(other_errors[m].sum())} for m in other_masks.T]
    slices = []
    for index, definition in enumerate(finder.top_slices_):
        conditions = {str(table.columns[j]): str(value) for j, value in enumerate(definition) if value is not None}
        mask = masks[:, index].astype(bool)
        slices.append({"description": " and ".join(f"{k} = {v}" for k, v in conditions.items()),
                       "size": int(mask.sum()), "errors": int(errors[mask].sum()),
                       "rows": np.flatnonzero(mask).tolist(),
                       **({"replication": replication[index]} if replication else {})})
    print(json.dumps({"seconds": seconds, "timings": timings, "slices": slices}))


if __name__ == "__main__":
    main()
