"""The stock-volume data path at full scale: the project's polars path against naive pandas.

    python benchmarks/stocks_scale.py [--rows 28000000] [--symbols 8000] [--train]

Generates (or reuses) a synthetic data set in the exact Kaggle layout (benchmarks/
synthetic_stocks.py), then runs each path in its own process, so that each one's peak RSS is its
own, and times four stages: reading all files, the schema transform, the rolling features and
the Parquet write. Before each path the files are read once, untimed, so that both start with
a warm page cache (2.9 GB of CSV for 28 M rows): the figures are parsing and computing, not
the disk of the day.

- ``polars``: the functions the pipeline runs (steps/ingest/stock_market.py,
  steps/prepare/rolling.py, materializers/partitioned_parquet.write_dataset), with the window,
  features and required columns of configs/stocks.yaml.
- ``pandas``: the naive implementation: a ``pd.read_csv`` loop over the files, ``merge``,
  ``groupby().rolling()``, ``to_parquet(partition_cols=...)``.

Both produce the same feature table; the script checks that (row count and feature sums).
``--train`` also fits configs/stocks.yaml's gradient-boosting candidate on every train row of
the polars feature table and its random forest on its seeded sample, timing each and scoring
R² on the held-out 20 %.

Issue targets (2 cores, 24 GiB): read + transform + features of 28 M rows in 8,000 files in
at most 20 s with peak RSS at most 6 GiB, at least 3x faster than pandas; gradient boosting on
all 28 M rows in at most 120 s. One JSON line of figures is printed and written to --output.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CONFIG = ROOT / "configs" / "stocks.yaml"


def _peak_rss_gib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2, 2)  # kB on Linux


def _rolling_spec():
    from core.config import load_config

    rolling = load_config(CONFIG).parameters.rolling
    features = {name: (spec.column, spec.statistic) for name, spec in rolling.features.items()}
    return rolling, features


def _target() -> str:
    from core.config import load_config

    return load_config(CONFIG).parameters.schema_.target


def _summary(frame_len: int, sums: dict) -> dict:
    return {"rows_out": frame_len, "feature_sums": sums}


def run_polars(data: Path, output: Path) -> dict:

    from materializers.partitioned_parquet import write_dataset
    from steps.ingest.stock_market import price_quality, read_metadata, scan_prices, to_schema, zero_prices_to_missing
    from steps.prepare.rolling import PARTITION_COLUMN, build_feature_table

    rolling, features = _rolling_spec()
    target = _target()
    times = {}
    started = time.perf_counter()
    prices = scan_prices(str(data)).collect()
    times["read"] = time.perf_counter() - started

    started = time.perf_counter()
    table = to_schema(prices.lazy(), read_metadata(str(data))).collect()
    del prices
    quality = price_quality(table)
    table = zero_prices_to_missing(table)
    times["transform"] = time.perf_counter() - started

    started = time.perf_counter()
    feature_table, counts = build_feature_table(table, rolling.window, rolling.group_column, rolling.order_column,
                                                features, rolling.require, keep=[target])
    del table
    times["features"] = time.perf_counter() - started

    started = time.perf_counter()
    write_dataset(feature_table, str(output), PARTITION_COLUMN)
    times["write"] = time.perf_counter() - started
    sums = {name: float(feature_table[name].sum()) for name in features}
    return {"seconds": times, "quality": quality, "counts": counts, **_summary(feature_table.height, sums)}


def run_pandas(data: Path, output: Path) -> dict:
    import numpy as np
    import pandas as pd

    rolling, features = _rolling_spec()
    prices_columns = ["Open", "High", "Low", "Close", "Adj Close"]
    times = {}
    started = time.perf_counter()
    frames = []
    for kind in ("stocks", "etfs"):
        for path in sorted((data / kind).glob("*.csv")):
            frame = pd.read_csv(path, dtype={"Date": str})
            frame["Symbol"] = path.stem
            frames.append(frame)
    prices = pd.concat(frames, ignore_index=True)
    del frames
    times["read"] = time.perf_counter() - started

    started = time.perf_counter()
    meta = pd.read_csv(data / "symbols_valid_meta.csv", dtype=str)[["Symbol", "Security Name"]]
    table = prices.merge(meta.drop_duplicates("Symbol"), on="Symbol", how="left")
    del prices
    valid_date = pd.to_datetime(table["Date"], format="%Y-%m-%d", errors="coerce").notna()
    table["Date"] = table["Date"].where(valid_date)
    table[prices_columns] = table[prices_columns].replace(0.0, np.nan)
    table = table[["Symbol", "Security Name", "Date", *prices_columns, "Volume"]]
    times["transform"] = time.perf_counter() - started

    started = time.perf_counter()
    sources = [column for column, _ in features.values()]
    target = _target()
    table = table[list(dict.fromkeys([rolling.group_column, rolling.order_column, *rolling.require, *sources, target]))]
    table = table.dropna(subset=list(rolling.require)).sort_values([rolling.group_column, rolling.order_column],
                                                                   ignore_index=True)
    groups = table.groupby(rolling.group_column, sort=False)
    for name, (column, statistic) in features.items():
        windows = groups[column].rolling(rolling.window)
        values = windows.mean() if statistic == "mean" else windows.median()
        table[name] = values.reset_index(level=0, drop=True)
    table = table.dropna(subset=list(features))
    table["year"] = table[rolling.order_column].str.slice(0, 4)
    times["features"] = time.perf_counter() - started

    started = time.perf_counter()
    table.to_parquet(output, partition_cols=["year"], index=False)
    times["write"] = time.perf_counter() - started
    sums = {name: float(table[name].sum()) for name in features}
    return {"seconds": times, **_summary(len(table), sums)}


def run_training(feature_dataset: Path) -> dict:
    import polars as pl
    from sklearn.metrics import r2_score
    from sklearn.model_selection import train_test_split

    from core.config import load_config
    from steps.train.factory import make_estimator
    from steps.train.steps import SAMPLE_SEED

    parameters = load_config(CONFIG).parameters
    features = list(parameters.rolling.features)
    target = parameters.schema_.target
    table = pl.read_parquet(feature_dataset, columns=[*features, target], hive_partitioning=True).to_pandas()
    train, test = train_test_split(table, test_size=parameters.split.test_size,
                                   random_state=parameters.split.random_state)
    del table
    figures = {"train_rows": len(train), "test_rows": len(test)}
    for candidate in parameters.training.candidates:
        fit_rows = train
        if candidate.sample_rows is not None and len(train) > candidate.sample_rows:
            fit_rows = train.sample(n=candidate.sample_rows, random_state=SAMPLE_SEED)
        estimator = make_estimator(candidate.estimator, candidate.params)
        started = time.perf_counter()
        estimator.fit(fit_rows[features], fit_rows[target])
        seconds = time.perf_counter() - started
        r2 = r2_score(test[target], estimator.predict(test[features]))
        figures[candidate.name] = {"fit_rows": len(fit_rows), "fit_seconds": round(seconds, 1), "test_r2": round(r2, 4),
                                   "params": candidate.params}
    return figures


def _child(path: str, data: Path, output: Path) -> dict:
    runners = {"polars": run_polars, "pandas": run_pandas}
    if path == "train":
        result = run_training(data)
    else:
        result = runners[path](data, output)
        result["seconds"] = {k: round(v, 2) for k, v in result["seconds"].items()}
        result["seconds"]["read_transform_features"] = round(
            sum(result["seconds"][k] for k in ("read", "transform", "features")), 2)
    result["peak_rss_gib"] = _peak_rss_gib()
    return result


def warm_page_cache(folder: Path) -> float:
    """Read every file once, untimed, so that each path starts with the files in the page cache
    and the figures measure parsing and computing rather than this machine's disk."""
    started = time.perf_counter()
    for directory, _, names in os.walk(folder):
        for name in names:
            with open(os.path.join(directory, name), "rb") as handle:
                while handle.read(1 << 24):
                    pass
    return round(time.perf_counter() - started, 1)


def _run_child(path: str, data: Path, output: Path) -> dict:
    if path != "train":
        warm_page_cache(data)
    command = [sys.executable, __file__, "--child", path, "--data-dir", str(data), "--child-output", str(output)]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise SystemExit(f"the {path} run failed:\n{completed.stderr[-4000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _machine() -> dict:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024 ** 3
    return {"cpus": os.cpu_count(), "memory_gib": round(memory, 1), "python": platform.python_version(),
            "platform": platform.platform()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=28_000_000)
    parser.add_argument("--symbols", type=int, default=8_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", type=Path, help="where the synthetic data set is kept (default: a temporary "
                        "folder under benchmarks/results, reused by later runs of the same size)")
    parser.add_argument("--skip-pandas", action="store_true", help="only the project's path")
    parser.add_argument("--train", action="store_true", help="also time training on the feature table")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "stocks_scale.json")
    parser.add_argument("--child", choices=["polars", "pandas", "train"], help=argparse.SUPPRESS)
    parser.add_argument("--child-output", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        print(json.dumps(_child(args.child, args.data_dir, args.child_output)))
        return

    from benchmarks.synthetic_stocks import folder_size, generate

    data = args.data_dir or ROOT / "benchmarks" / "results" / f"stocks_{args.rows}_{args.symbols}_{args.seed}"
    started = time.perf_counter()
    manifest = generate(data, args.rows, args.symbols, args.seed)
    figures = {"benchmark": "stocks_scale", "machine": _machine(), "data": {
        **manifest, "csv_gib": round(folder_size(data) / 1024 ** 3, 2),
        "generate_or_reuse_seconds": round(time.perf_counter() - started, 1)}}
    with tempfile.TemporaryDirectory(dir=args.output.parent if args.output.parent.exists() else None) as scratch:
        polars_out = Path(scratch) / "polars_features"
        figures["polars"] = _run_child("polars", data, polars_out)
        if not args.skip_pandas:
            figures["pandas"] = _run_child("pandas", data, Path(scratch) / "pandas_features")
            ours, naive = figures["polars"], figures["pandas"]
            figures["same_feature_table"] = ours["rows_out"] == naive["rows_out"] and all(
                abs(ours["feature_sums"][k] - naive["feature_sums"][k]) <= 1e-9 * abs(naive["feature_sums"][k])
                for k in ours["feature_sums"])
            figures["speedup_read_transform_features"] = round(
                naive["seconds"]["read_transform_features"] / ours["seconds"]["read_transform_features"], 2)
        if args.train:
            figures["training"] = _run_child("train", polars_out, polars_out)
    targets = {"read_transform_features_seconds_max": 20, "peak_rss_gib_max": 6, "speedup_min": 3,
               "gradient_boosting_fit_seconds_max": 120}
    figures["targets"] = targets
    figures["meets_targets"] = {
        "time": figures["polars"]["seconds"]["read_transform_features"] <= targets["read_transform_features_seconds_max"],
        "memory": figures["polars"]["peak_rss_gib"] <= targets["peak_rss_gib_max"],
    }
    if "speedup_read_transform_features" in figures:
        figures["meets_targets"]["speedup"] = figures["speedup_read_transform_features"] >= targets["speedup_min"]
    if "training" in figures:
        figures["meets_targets"]["training"] = (
            figures["training"]["lightgbm"]["fit_seconds"] <= targets["gradient_boosting_fit_seconds_max"])
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
