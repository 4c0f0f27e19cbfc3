"""Slice discovery on data where the weak slices are planted and known."""

import itertools

import numpy as np
import pandas as pd
import pytest

from materializers.slice_report import render_slice_report
from steps.slices.report import build_report
from steps.slices.search import (
    SliceSearchSettings,
    condition_mask,
    describe,
    error_indicator,
    error_rate_lower_bounds,
    find_slices,
    scan_statistic,
)
from steps.slices.search import _numeric_candidates


def planted_rates(seed: int = 0, n: int = 5000):
    """A table, each row's planted error probability, and error flags drawn from it."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "pressure": rng.uniform(0, 1, n),
        "temperature": rng.normal(60, 10, n),
        "valve": rng.choice(["a", "b", "c", "d"], n),
        "noise": rng.normal(size=n),
    })
    rate = np.full(n, 0.05)
    rate[(frame.pressure >= 0.3) & (frame.pressure <= 0.5)] = 0.5
    rate[frame.valve == "c"] = np.maximum(rate[frame.valve == "c"], 0.3)
    rate[(frame.temperature > 75) & (frame.noise < -0.5)] = 0.8
    return frame, rate, rng.uniform(size=n) < rate


def planted(seed: int = 0, n: int = 5000):
    frame, _, errors = planted_rates(seed, n)
    return frame, errors


@pytest.fixture(scope="module")
def result():
    frame, errors = planted()
    return frame, errors, find_slices(frame, errors, SliceSearchSettings(min_support=0.02, min_lift=1.5))


def _find(result, features):
    return [s for s in result.slices if set(s.features) == set(features)]


def test_planted_interval_is_found_with_its_bounds(result) -> None:
    _, _, found = result
    (pressure,) = _find(found, ["pressure"])
    condition = pressure.conditions[0]
    assert condition["low"] == pytest.approx(0.3, abs=0.01)
    assert condition["high"] == pytest.approx(0.5, abs=0.01)
    assert pressure.error_rate == pytest.approx(0.5, abs=0.06)


def test_interval_ends_are_refined_inside_their_quantile_bins() -> None:
    """With 5 quantile bins of a uniform feature the edges lie near 0.2, 0.4, ...: a planted
    interval between them is still found to within 0.01 at both ends, not widened or cut to
    the nearest edges."""
    rng = np.random.default_rng(3)
    n = 6000
    frame = pd.DataFrame({"x": rng.uniform(0, 1, n), "noise": rng.normal(size=n)})
    errors = rng.uniform(size=n) < np.where((frame.x >= 0.33) & (frame.x <= 0.47), 0.5, 0.05)
    found = find_slices(frame, errors, SliceSearchSettings(bins=5, min_support=0.02))
    (x,) = _find(found, ["x"])
    assert x.conditions[0]["low"] == pytest.approx(0.33, abs=0.01)
    assert x.conditions[0]["high"] == pytest.approx(0.47, abs=0.01)
    assert x.error_rate == pytest.approx(0.5, abs=0.04)
    assert condition_mask(frame, x.conditions).sum() == x.size


def test_the_refinement_counts_only_intervals_the_bins_do_not_have() -> None:
    """Every interval tried counts in the multiple-testing correction, but not twice: with no
    more distinct values than bins, each bin is one value and the binned intervals are all there
    is (on 268 medical-cost rows, double counting pushed both real slices past alpha)."""
    rng = np.random.default_rng(5)
    n = 3000
    few = pd.Series(rng.integers(0, 6, n).astype(float))
    errors = rng.uniform(size=n) < np.where(few.between(2, 3), 0.4, 0.05)
    candidates, sizes, _, tried = _numeric_candidates("few", few, errors, bins=20, min_size=60, min_lift=1.5)
    assert candidates and tried == 0
    assert len(sizes) == 6 * 7 // 2 - 1  # every run of the 6 values but the whole range
    many = pd.Series(rng.uniform(0, 1, n))
    errors = rng.uniform(size=n) < np.where(many.between(0.33, 0.47), 0.4, 0.05)
    candidates, _, _, tried = _numeric_candidates("many", many, errors, bins=5, min_size=60, min_lift=1.5)
    binned_lows = {c.conditions[0].get("low") for c in candidates[:-1]}
    refined = candidates[-1].conditions[0]
    assert tried > 0 and refined["low"] not in binned_lows and refined["low"] == pytest.approx(0.33, abs=0.01)


def test_planted_category_and_pair_are_found(result) -> None:
    _, _, found = result
    (valve,) = _find(found, ["valve"])
    assert valve.conditions == [{"feature": "valve", "categories": ["c"]}]
    (pair,) = _find(found, ["temperature", "noise"])
    by_feature = {c["feature"]: c for c in pair.conditions}
    assert by_feature["temperature"]["low"] == pytest.approx(75, abs=2.5)
    assert by_feature["noise"]["high"] == pytest.approx(-0.5, abs=0.25)
    assert pair.error_rate > 0.6


def test_every_slice_meets_the_thresholds_and_its_description_selects_its_rows(result) -> None:
    frame, errors, found = result
    assert found.slices and found.candidates_tested > 100
    overall = found.overall_error_rate
    for finding in found.slices:
        mask = condition_mask(frame, finding.conditions)
        assert mask.sum() == finding.size >= 0.02 * len(frame)
        assert errors[mask].sum() == finding.errors
        assert finding.error_rate >= 1.5 * overall
        assert finding.adjusted_p_value <= 0.05
    assert max(found.slices, key=lambda s: s.scan_statistic).features == ("pressure",)  # many rows, high rate
    rates = [s.error_rate for s in found.slices]
    assert rates == sorted(rates, reverse=True)  # reported worst first
    assert not _find(found, ["noise"])  # noise alone carries no planted effect


def test_random_errors_give_no_slices() -> None:
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({"a": rng.normal(size=3000), "b": rng.uniform(size=3000), "c": rng.choice(list("xyz"), 3000)})
    errors = rng.uniform(size=3000) < 0.2
    found = find_slices(frame, errors, SliceSearchSettings())
    assert found.slices == [], [describe(s.conditions) for s in found.slices]


def test_no_errors_and_all_errors_report_nothing() -> None:
    frame = pd.DataFrame({"a": np.arange(100.0)})
    none = find_slices(frame, np.zeros(100, dtype=bool), SliceSearchSettings())
    assert none.slices == [] and "no errors" in none.notes[0]
    every = find_slices(frame, np.ones(100, dtype=bool), SliceSearchSettings())
    assert every.slices == [] and "every row" in every.notes[0]


def test_single_class_labels() -> None:
    y_true = np.zeros(200, dtype=int)
    frame = pd.DataFrame({"x": np.arange(200.0)})
    errors, definition = error_indicator(y_true, np.zeros(200, dtype=int), "classification")
    assert definition == "misclassified" and not errors.any()
    assert find_slices(frame, errors, SliceSearchSettings()).slices == []
    wrong_at_the_end = np.where(np.arange(200) >= 170, 1, 0)
    errors, _ = error_indicator(y_true, wrong_at_the_end, "classification")
    (found,) = find_slices(frame, errors, SliceSearchSettings(pair_depth=0, bins=20)).slices
    (condition,) = found.conditions
    assert set(condition) == {"feature", "low"} and condition["low"] == pytest.approx(170, abs=200 / 20)
    assert found.error_rate == 1.0


def test_regression_error_indicator_uses_the_quantile() -> None:
    y_true = np.arange(100.0)
    y_pred = y_true + np.arange(100.0) / 10  # error grows with the index
    errors, definition = error_indicator(y_true, y_pred, "regression", 0.9)
    assert errors.sum() == 10 and errors[-10:].all()
    assert "90% quantile" in definition


def test_min_support_counts_and_unknown_features() -> None:
    frame, errors = planted(seed=1, n=2000)
    found = find_slices(frame, errors, SliceSearchSettings(min_support=300, pair_depth=0))
    assert all(s.size >= 300 for s in found.slices)
    with pytest.raises(ValueError, match="not in the data"):
        find_slices(frame, errors, SliceSearchSettings(features=["humidity"]))


def test_refinements_by_irrelevant_features_and_shifted_copies_are_pruned(result) -> None:
    _, _, found = result
    assert sum(s.features == ("pressure",) for s in found.slices) == 1  # no widened or shifted copy

    def refines_the_window(finding) -> bool:  # the planted pressure window, cut down by noise
        pressure = [c for c in finding.conditions if c["feature"] == "pressure"]
        return "noise" in finding.features and bool(pressure) and {"low", "high"} <= set(pressure[0])

    assert not [s for s in found.slices if refines_the_window(s)]


def test_scan_statistic_prefers_the_true_region_to_a_lucky_part() -> None:
    # 1000 rows at 50% inside the region vs a 100-row part of it at 60%, overall 2000/10000 errors.
    whole, part = scan_statistic(np.array([1000, 100]), np.array([500, 60]), 10000, 2000)
    assert whole > part > 0
    assert scan_statistic(np.array([100]), np.array([5]), 10000, 2000)[0] == 0


def test_report_and_its_visualization(result) -> None:
    frame, errors, found = result
    report = build_report(found, {"alpha": 0.05, "correction": "fdr_bh"}, "m", "3")
    html = render_slice_report(report)
    assert "<svg" in html and "pressure in [0.3" in html and "m version 3" in html
    assert report.slices[0].lift == pytest.approx(report.slices[0].error_rate / found.overall_error_rate)
    assert 1 < report.slices[0].lift_lower_bound < report.slices[0].lift and "lift at least" in html
    assert html.count('class="lower-bound"') == len(report.slices)
    assert report.slices[0].lift_lower_bound == pytest.approx(
        found.slices[0].error_rate_lower_bound / found.overall_error_rate)


def test_lower_bounds_are_exact_and_hold_for_the_slices_picked() -> None:
    """The bound is the exact (Clopper-Pearson) one at the Bonferroni level over every candidate
    tested, and it stays below each reported slice's planted error rate across searches (the
    observed rates of the slices picked as worst are inflated; the bounds must not be)."""
    from scipy.stats import binomtest

    bounds = error_rate_lower_bounds(np.array([66, 773, 40]), np.array([33, 297, 0]), 0.05, 5470)
    for bound, (k, n) in zip(bounds[:2], [(33, 66), (297, 773)]):
        assert bound == pytest.approx(binomtest(k, n).proportion_ci(1 - 2 * 0.05 / 5470, "exact").low, rel=1e-9)
    assert bounds[2] == 0.0
    checked = 0
    for seed in range(8):
        frame, rate, errors = planted_rates(seed=10 + seed, n=3000)
        found = find_slices(frame, errors, SliceSearchSettings(min_support=0.02))
        for finding in found.slices:
            mask = condition_mask(frame, finding.conditions)
            assert finding.error_rate_lower_bound < finding.error_rate
            assert finding.error_rate_lower_bound <= rate[mask].mean(), describe(finding.conditions)
            checked += 1
    assert checked >= 16


def test_close_bounds_are_not_confused() -> None:
    """Bounds that read the same when rounded (4 significant digits) are still different rows."""
    frame = pd.DataFrame({"x": [1.00001, 1.00002, 1.00003, 5.0]})
    from steps.slices.search import _MaskCache

    masks = _MaskCache(frame, np.zeros(len(frame), dtype=bool))
    low = masks.condition({"feature": "x", "high": 1.00001})
    high = masks.condition({"feature": "x", "high": 1.00002})
    assert describe([{"feature": "x", "high": 1.00001}]) == describe([{"feature": "x", "high": 1.00002}])
    assert low.sum() == 1 and high.sum() == 2


def test_pair_trees_are_grown_only_around_features_with_a_signal(monkeypatch) -> None:
    from steps.slices import search

    frame, errors = planted()
    rng = np.random.default_rng(1)
    for index in range(8):  # noise columns: 8 more features, 36 more pairs
        frame[f"extra{index}"] = rng.normal(size=len(frame))
    grown = []
    original = search._pair_candidates
    monkeypatch.setattr(search, "_pair_candidates", lambda names, *rest: grown.append(names) or original(names, *rest))
    result = find_slices(frame, errors, SliceSearchSettings(min_support=0.02, min_lift=1.5))
    signal = {"pressure", "temperature", "valve", "noise"}  # noise is half of the planted pair
    assert grown and all(set(pair) & signal for pair in grown)
    assert len(grown) < len(list(itertools.combinations(frame.columns, 2)))
    assert any(set(s.features) == {"temperature", "noise"} for s in result.slices)  # still found


def test_tail_shortcuts_answer_as_the_exact_test_does() -> None:
    """The bounds in ``tails`` decide most significance questions without Boost's exact tail;
    every answer must still be the exact test's, at the thresholds the search uses and at
    p-values that equal the threshold exactly."""
    from scipy.stats import hypergeom

    from steps.slices.tails import chernoff_bound, upper_tail_at_most, upper_tail_p_values

    rng = np.random.default_rng(7)
    population = rng.integers(1, 2000, 50_000)
    population_errors = np.minimum((rng.uniform(size=population.size) * (population + 1)).astype(int), population)
    draws = np.minimum((rng.uniform(size=population.size) * (population + 1)).astype(int), population)
    low, high = np.maximum(0, draws + population_errors - population), np.minimum(draws, population_errors)
    hits = np.minimum(low + (rng.uniform(size=population.size) * (high - low + 1)).astype(int), high)
    exact = hypergeom.sf(hits - 1, population, population_errors, draws)
    assert np.allclose(upper_tail_p_values(hits, population, population_errors, draws), exact)
    assert np.all(chernoff_bound(hits, population, population_errors, draws) >= exact * (1 - 1e-9))
    for alpha in (1e-6, 0.05, 0.3, 0.7):
        assert np.array_equal(upper_tail_at_most(hits, population, population_errors, draws, alpha), exact <= alpha)
    # P(X >= 14) = 0.3 exactly for X ~ Hypergeom(20, 19, 14): the boundary counts as significant.
    assert upper_tail_at_most([14], [20], [19], [14], 0.3)[0]


def test_the_summed_tail_agrees_with_boost_on_large_tables() -> None:
    """The p-values for the multiple-testing correction are summed as a series (``tails``):
    they must agree with Boost's tail to a tiny relative error, far into the tail, at 50,000 rows."""
    from scipy.stats import hypergeom

    from steps.slices.tails import upper_tail_p_values

    rng = np.random.default_rng(11)
    population, population_errors = 50_000, 7_300
    draws = rng.integers(1, population, 20_000)
    mean = draws * population_errors / population
    hits = np.minimum(np.floor(mean * rng.uniform(0.5, 3.0, draws.size)).astype(int), np.minimum(draws, population_errors))
    exact = hypergeom.sf(hits - 1, population, population_errors, draws)
    summed = upper_tail_p_values(hits, population, population_errors, draws)
    representable = exact > 1e-290
    assert representable.sum() > 5000 and (exact < 1e-20).sum() > 1000  # deep tails are in the sample
    assert np.all(np.abs(summed - exact)[representable] <= 1e-8 * exact[representable])
    assert np.all(summed[~representable] < 1e-280)


def test_a_long_frontier_keeps_its_knees() -> None:
    """With more frontier slices than places, the ones that dominate the most (size, error
    rate) area are reported: a knee between two evenly spaced picks is kept."""
    from steps.slices.search import Candidate, _spread_over_frontier, excess_error_area

    overall = 0.05
    points = [(3000, 0.08), (2000, 0.09), (900, 0.1), (540, 0.13), (200, 0.25), (180, 0.26), (110, 0.3)]
    frontier = [Candidate(("x",), [], size, round(rate * size)) for size, rate in points]
    chosen = _spread_over_frontier(frontier, 3, overall)
    # Evenly spaced picks would be 3000, 540 and 110; the knee at 200 rows beats both of the last.
    assert {c.size for c in chosen} == {3000, 2000, 200}
    assert excess_error_area([(200, 0.25)], overall) == pytest.approx(200 * 0.2)
    assert excess_error_area([(200, 0.25), (100, 0.2)], overall) == pytest.approx(200 * 0.2)
    best_three = max(itertools.combinations(points, 3), key=lambda trio: excess_error_area(trio, overall))
    assert excess_error_area([(c.size, c.error_rate) for c in chosen], overall) == pytest.approx(
        excess_error_area(best_three, overall))


def test_a_lift_no_slice_reaches_is_said_and_the_slices_are_still_counted() -> None:
    frame, errors = planted(seed=2, n=2000)
    numeric = frame[["pressure", "temperature", "noise"]]  # numeric intervals become objects only if reportable
    found = find_slices(numeric, errors, SliceSearchSettings(min_lift=50, pair_depth=0))
    assert found.slices == [] and found.candidates_tested > 100
    assert found.notes == ["no candidate slice of 100 rows or more has 50 times the overall error rate"]
