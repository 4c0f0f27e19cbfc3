"""The regression check of model monitoring (steps/evaluate/monitoring.py)."""

import pytest

from steps.evaluate.monitoring import check_metric, describe_check


def test_the_baseline_is_the_latest_earlier_version() -> None:
    check = check_metric([(3, 0.80), (1, 0.95), (2, 0.90)], "r2", 0.78, lower_is_better=False, tolerance=0.05)
    assert (check.baseline_version, check.baseline) == (3, 0.80)
    assert check.worse_by == pytest.approx(0.025) and not check.regressed


def test_direction_and_tolerance() -> None:
    assert check_metric([(1, 40_000.0)], "rmse", 44_000.0, lower_is_better=True, tolerance=0.05).regressed
    assert not check_metric([(1, 40_000.0)], "rmse", 41_000.0, lower_is_better=True, tolerance=0.05).regressed
    improved = check_metric([(1, 40_000.0)], "rmse", 30_000.0, lower_is_better=True, tolerance=0.0)
    assert improved.worse_by == pytest.approx(-0.25) and not improved.regressed
    assert check_metric([(1, 0.9)], "f1", 0.8, lower_is_better=False, tolerance=0.05).regressed


def test_no_history_and_a_zero_baseline() -> None:
    first = check_metric([], "mae", 10.0, lower_is_better=True, tolerance=0.05)
    assert first.baseline is None and first.worse_by is None and not first.regressed
    assert check_metric([(1, 0.0)], "mae", 0.1, lower_is_better=True, tolerance=0.05).regressed
    assert not check_metric([(1, 0.0)], "mae", 0.0, lower_is_better=True, tolerance=0.05).regressed


def test_the_verdict_line_names_baseline_and_outcome() -> None:
    check = check_metric([(4, 0.90)], "r2", 0.75, lower_is_better=False, tolerance=0.05)
    assert describe_check(check, 5, 0.05) == ("version 5: r2 0.75 against 0.9 (version 4), worse by 16.7%: "
                                              "REGRESSION beyond the tolerance of 5%")
    first = check_metric([], "r2", 0.9, lower_is_better=False, tolerance=0.05)
    assert describe_check(first, 1, 0.05) == "version 1: r2 0.9, the model's first version with it"
