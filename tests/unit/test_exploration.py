"""The data pipeline's pure logic (steps/explore), without ZenML: association measures on data
whose answer is known, bins, normalization, the profile's issues, permutation importance on a
planted signal, and the activity line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from core.config import BinSpec, SchemaSpec
from steps.explore.activity import Activity, activity_log_path, append_activity
from steps.explore.associations import associations, correlation_ratio, cramers_v
from steps.explore.importance import permutation_importances
from steps.explore.preparation import add_bins, normalize_table
from steps.explore.profile import profile_table

RNG = np.random.default_rng(7)


def test_the_correlation_ratio_is_one_when_the_category_decides_and_zero_when_it_does_not() -> None:
    categories = pd.Series(["a", "b", "c"] * 100)
    decided = categories.map({"a": 1.0, "b": 5.0, "c": 9.0})
    assert correlation_ratio(categories, decided) == pytest.approx(1.0)
    same_means = pd.Series(np.repeat([1.0, 3.0], 150))  # each category: half 1s, half 3s
    balanced = pd.Series((["a", "b", "c"] * 50) * 2)
    assert correlation_ratio(balanced, same_means) == pytest.approx(0.0, abs=1e-12)
    assert correlation_ratio(categories, pd.Series(np.ones(300))) == 0.0  # no variance at all


def test_cramers_v_is_one_for_a_relabelling_and_near_zero_for_independent_columns() -> None:
    first = pd.Series(RNG.choice(["x", "y", "z"], 3000))
    assert cramers_v(first, first.map({"x": 1, "y": 2, "z": 3})) == pytest.approx(1.0)
    assert cramers_v(first, pd.Series(RNG.choice(["p", "q"], 3000))) < 0.06
    assert cramers_v(first, pd.Series(["only"] * 3000)) == 0.0


def test_each_pair_gets_the_measure_for_its_types_strongest_first() -> None:
    x = RNG.normal(size=500)
    frame = pd.DataFrame({"x": x, "y": -2 * x + RNG.normal(scale=0.1, size=500), "noise": RNG.normal(size=500),
                          "group": np.where(x > 0, "up", "down"), "colour": RNG.choice(["r", "g"], 500)})
    found = associations(frame, ["x", "y", "noise"], ["group", "colour"])
    measures = {(a.first, a.second): a.measure for a in found}
    assert measures[("x", "y")] == "pearson_r" and measures[("group", "x")] == "correlation_ratio"
    assert measures[("group", "colour")] == "cramers_v"
    assert len(found) == 3 + 2 * 3 + 1
    assert (found[0].first, found[0].second) == ("x", "y") and found[0].value < -0.99
    assert [abs(a.value) for a in found] == sorted((abs(a.value) for a in found), reverse=True)


def test_bins_are_open_ended_right_closed_and_keep_missing_values_missing() -> None:
    spec = BinSpec(column="income", edges=[1.5, 3.0], labels=["low", "mid", "high"])
    binned = add_bins(pd.DataFrame({"income": [0.2, 1.5, 1.6, 3.0, 9.0, None]}), {"band": spec})
    assert binned["band"].tolist() == ["low", "low", "mid", "mid", "high", None]
    assert BinSpec(column="c", edges=[1, 2]).bin_labels == ["<= 1", "(1, 2]", "> 2"]
    with pytest.raises(ValidationError, match="finite and increasing"):
        BinSpec(column="c", edges=[2, 1])
    with pytest.raises(ValidationError, match="finite and increasing"):
        BinSpec(column="c", edges=[1, float("inf")])
    with pytest.raises(ValidationError, match="need as many labels"):
        BinSpec(column="c", edges=[1], labels=["a"])


SCHEMA = SchemaSpec(columns={"size": {"type": "float", "nullable": True}, "kind": {"type": "string"},
                             "price": {"type": "float"}}, target="price")


def test_normalization_imputes_standardizes_encodes_and_leaves_the_target_alone() -> None:
    frame = pd.DataFrame({"size": [1.0, None, 3.0, 5.0], "kind": ["a", "b", "a", "a"], "price": [10, 20, 30, 40.0]})
    normalized, encoded, imputed = normalize_table(frame, SCHEMA, {"band": BinSpec(column="size", edges=[2.0])})
    assert imputed == {"size": 1, "band": 1}  # a missing size has no band either
    assert normalized["size"].tolist() == pytest.approx(
        list((np.array([1, 3, 3, 5]) - 3) / np.std([1, 3, 3, 5])))  # the missing size became the median, 3
    assert encoded == {"kind": ["kind_a", "kind_b"], "band": ["band_<= 2", "band_> 2"]}
    assert normalized["kind_b"].tolist() == [0, 1, 0, 0]
    assert normalized["price"].tolist() == [10, 20, 30, 40]


def test_the_profile_names_missing_values_mistyped_columns_and_duplicates_with_their_resolution() -> None:
    frame = pd.DataFrame({"size": ["1", " ", "3", "3"], "kind": ["a", "b", "a", "a"], "price": [1.0, 2.0, 3.0, 3.0]})
    profile = profile_table(frame, SCHEMA, "demo")
    issues = {(i.column, i.issue): (i.count, i.resolution) for i in profile.issues}
    assert issues[("size", "stored as object, declared float")][0] == 1  # the blank cannot be a number
    assert issues[("(table)", "exact duplicate rows")][0] == 1 and profile.duplicate_rows == 1
    kind = next(c for c in profile.columns if c.name == "kind")
    assert (kind.top, kind.top_count, kind.unique) == ("a", 3, 2)
    missing = profile_table(frame.assign(size=[1.0, None, 3.0, 4.0]), SCHEMA, "demo")
    assert missing.missing_values == {"size": 1}
    assert "imputed with the median" in missing.issues[0].resolution


def test_numbers_sent_as_text_are_an_issue_with_their_blanks_counted() -> None:
    schema = SchemaSpec(columns={"total": {"type": "float", "nullable": True, "numbers_as_text": True},
                                 "price": {"type": "float"}}, target="price")
    profile = profile_table(pd.DataFrame({"total": ["1.5", " ", "", "7"], "price": [1.0, 2, 3, 4]}), schema, "demo")
    [issue] = profile.issues
    assert (issue.column, issue.issue, issue.count) == ("total", "numbers sent as text, 2 blank", 2)
    assert "parsed to numbers before validation" in issue.resolution


def test_permutation_importance_ranks_the_planted_signal_first() -> None:
    frame = pd.DataFrame({"signal": RNG.normal(size=800), "noise": RNG.normal(size=800),
                          "kind": RNG.choice(["a", "b"], 800)})
    frame["price"] = 3 * frame["signal"] + RNG.normal(scale=0.1, size=800)
    found, model, scoring = permutation_importances(frame, ["signal", "noise"], ["kind"], "price", "regression",
                                                    rows=800, repeats=3, random_state=0)
    assert found[0].feature == "signal" and found[0].mean > 0.5
    assert all(item.mean < 0.05 for item in found[1:])
    assert scoring == "r2" and "HistGradientBoostingRegressor" in model


def test_an_activity_line_holds_rows_issues_duration_and_a_multi_line_error_on_one_line(tmp_path) -> None:
    path = activity_log_path(tmp_path, "demo")
    append_activity(path, Activity(run="r1", outcome="completed", duration_seconds=3.21, rows=10,
                                   issues={"size: missing values": 2}, validation="5/5"))
    append_activity(path, Activity(run="r2", outcome="failed in step 'gate'", duration_seconds=1,
                                   error="Boom:\n  - column 'x'\n"))
    first, second = path.read_text().splitlines()
    assert first.endswith("| r1 | completed | duration=3.2s | rows=10 | validation=5/5 | issues=1 (size: missing values=2)")
    assert second.endswith("| r2 | failed in step 'gate' | duration=1.0s | error=Boom: / - column 'x'")
