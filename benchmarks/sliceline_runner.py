"""Runs sliceline's Slicefinder on a table of features and error flags; prints JSON.

Executed by benchmarks/slices.py with the interpreter of .venv-sliceline (see
requirements-sliceline.txt), because sliceline needs a newer scikit-learn than the project can
use. Input: a Parquet file with the feature columns and a boolean ``__error__`` column, and JSON
settings (``repeats``: at most how many timed runs, ``repeat_budget_s``: no new run after
that many seconds; the median is reported). The timing covers what
sliceline needs beyond the data: binning numeric features into quantile bins (it only takes
categorical values) and the search.
"""

from __future__ import annotations

import json
import statistics
import sys
import time

import numpy as np
import pandas as pd
from sliceline.slicefinder import Slicefinder


def binned(frame: pd.DataFrame, bins: int) -> pd.DataFrame:
    out = {}
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_numeric_dtype(values) and values.nunique() > bins:
            out[column] = pd.qcut(values, bins, duplicates="drop").astype(str)
        else:
            out[column] = values.astype(str)
    return pd.DataFrame(out)


def main() -> None:
    data_path, settings = sys.argv[1], json.loads(sys.argv[2])
    table = pd.read_parquet(data_path)
    errors = table.pop("__error__").to_numpy(dtype=float)
    timings = []
    while len(timings) < settings.get("repeats", 1) and sum(timings) < settings.get("repeat_budget_s", float("inf")):
        started = time.perf_counter()
        categorical = binned(table, settings["bins"])
        finder = Slicefinder(alpha=settings["alpha"], k=settings["k"], max_l=settings["max_l"],
                             min_sup=settings["min_sup"], verbose=False)
        finder.fit(categorical.to_numpy(), errors)
        timings.append(time.perf_counter() - started)
    seconds = statistics.median(timings)
    masks = finder.transform(categorical.to_numpy()) if len(finder.top_slices_) else np.zeros((len(table), 0))
    slices = []
    for index, definition in enumerate(finder.top_slices_):
        conditions = {str(table.columns[j]): str(value) for j, value in enumerate(definition) if value is not None}
        mask = masks[:, index].astype(bool)
        slices.append({"description": " and ".join(f"{k} = {v}" for k, v in conditions.items()),
                       "size": int(mask.sum()), "errors": int(errors[mask].sum()),
                       "rows": np.flatnonzero(mask).tolist()})
    print(json.dumps({"seconds": seconds, "timings": timings, "slices": slices}))


if __name__ == "__main__":
    main()
