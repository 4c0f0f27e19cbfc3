"""The DataFrame content hash that ZenML's cache keys use (materializers/dataframe.py)."""

from __future__ import annotations

import pandas as pd

from materializers.dataframe import HashedPandasMaterializer


def _hash(frame: pd.DataFrame) -> str:
    return HashedPandasMaterializer(uri="/unused").compute_content_hash(frame)


def test_equal_tables_hash_equal_and_any_change_shows() -> None:
    frame = pd.DataFrame({"age": [19, 18], "bmi": [27.9, 33.77], "smoker": ["yes", "no"]})
    assert _hash(frame) == _hash(frame.copy())
    assert _hash(frame) != _hash(frame.assign(bmi=[27.9, 33.78]))            # one value
    assert _hash(frame) != _hash(frame.astype({"age": "float64"}))           # same numbers, other dtype
    assert _hash(frame) != _hash(frame.rename(columns={"bmi": "BMI"}))       # a renamed column
    assert _hash(frame) != _hash(frame.iloc[::-1])                           # row order
    assert _hash(frame) != _hash(frame.iloc[:1])                             # a dropped row


def test_the_materializer_is_the_default_for_dataframes() -> None:
    from zenml.materializers.materializer_registry import materializer_registry

    assert materializer_registry[pd.DataFrame] is HashedPandasMaterializer
