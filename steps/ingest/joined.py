"""Records held by several systems, joined one-to-one on their key (for churn: the customer
master data from a CSV export and billing from a REST API, on ``customerID``).

A join must not hide a disagreement between the systems, so each of these stops the run with
an error that names the source and shows examples: a source without the key column, a blank
key, a key that a source holds twice (a duplicated customer), keys that only some sources
hold (the sources disagree on who the customers are), and a column that two sources both
deliver (which one is right?)."""

from __future__ import annotations

from typing import Dict, List

import pandas as pd

from core.database import SourceError

EXAMPLES = 5


def _examples(values) -> str:
    values = sorted(map(str, values))
    shown = ", ".join(values[:EXAMPLES])
    return shown + (f", ... ({len(values)} in all)" if len(values) > EXAMPLES else "")


def join_on_key(frames: Dict[str, pd.DataFrame], key: str) -> pd.DataFrame:
    """One row per key with every source's columns, in the first source's row order."""
    keys: Dict[str, pd.Series] = {}
    for name, frame in frames.items():
        if key not in frame.columns:
            raise SourceError(f"source '{name}' has no key column '{key}' (its columns: {list(frame.columns)})")
        values = frame[key].astype("string").str.strip()
        blank = values.isna() | (values == "")
        if blank.any():
            raise SourceError(f"source '{name}' has {int(blank.sum())} row(s) with a blank '{key}'")
        duplicated = values[values.duplicated(keep=False)].unique()
        if len(duplicated):
            raise SourceError(f"source '{name}' holds {len(duplicated)} {key} value(s) more than once (duplicated "
                              f"records): {_examples(duplicated)}")
        keys[name] = values
    every = set().union(*(set(values) for values in keys.values()))
    disagreements: List[str] = []
    for name, values in keys.items():
        missing = every - set(values)
        if missing:
            disagreements.append(f"{len(missing)} {key} value(s) missing from '{name}': {_examples(missing)}")
    if disagreements:
        raise SourceError(f"the sources disagree on the {key} values they hold: " + "; ".join(disagreements))
    seen: Dict[str, str] = {}
    for name, frame in frames.items():
        for column in frame.columns:
            if column != key and column in seen:
                raise SourceError(f"column '{column}' comes from both '{seen[column]}' and '{name}': configure one "
                                  "owner per column")
            seen.setdefault(column, name)
    names = list(frames)
    joined = frames[names[0]].assign(**{key: keys[names[0]].to_numpy()})
    for name in names[1:]:
        other = frames[name].assign(**{key: keys[name].to_numpy()})
        joined = joined.merge(other, on=key, how="inner", validate="one_to_one", sort=False)
    return joined.reset_index(drop=True)
