"""Cleaning: exact duplicates go, ids are unique, stable and content-derived."""

from datetime import datetime, timezone

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from steps.prepare.cleaning import CLIENT_ID, LOADED_AT, clean_records


def test_real_data_has_one_duplicate(insurance_frame: pd.DataFrame) -> None:
    cleaned, summary = clean_records(insurance_frame, "insurance")
    assert summary.rows_in == 1338
    assert summary.duplicates_removed == 1
    assert len(cleaned) == 1337
    assert cleaned[CLIENT_ID].is_unique
    assert list(cleaned.columns) == [CLIENT_ID, *insurance_frame.columns, LOADED_AT]


def test_ids_are_stable_across_loads(insurance_frame: pd.DataFrame) -> None:
    first, _ = clean_records(insurance_frame, "insurance", datetime(2024, 1, 1, tzinfo=timezone.utc))
    second, _ = clean_records(insurance_frame.sample(frac=1, random_state=3), "insurance")
    assert set(first[CLIENT_ID]) == set(second[CLIENT_ID])
    other_scope, _ = clean_records(insurance_frame, "another_use_case")
    assert not set(first[CLIENT_ID]) & set(other_scope[CLIENT_ID])


def test_reserved_column_is_rejected() -> None:
    with pytest.raises(ValueError, match="client_id"):
        clean_records(pd.DataFrame({"client_id": [1]}), "x")


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.sampled_from(["a", "b"])), min_size=1, max_size=40))
def test_dedup_property(rows) -> None:
    frame = pd.DataFrame(rows, columns=["n", "s"])
    cleaned, summary = clean_records(frame, "prop")
    assert len(cleaned) == len(set(rows))
    assert summary.duplicates_removed == len(rows) - len(set(rows))
    assert cleaned[CLIENT_ID].is_unique
