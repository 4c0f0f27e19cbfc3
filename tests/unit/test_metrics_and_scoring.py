"""Metrics, gates, candidate ranking and the promotion rule."""

import math
from types import SimpleNamespace

import numpy as np
import pytest

from steps.evaluate.metrics import classification_metrics, is_better, regression_metrics, threshold_failures
from steps.evaluate.scoring import promotion_decision, rank_candidates
from steps.train.factory import make_estimator


def test_regression_metrics_known_values() -> None:
    metrics = regression_metrics(np.array([100.0, 200.0, 300.0]), np.array([110.0, 190.0, 330.0]))
    assert metrics["mae"] == pytest.approx(50 / 3)
    assert metrics["rmse"] == pytest.approx(math.sqrt((100 + 100 + 900) / 3))
    assert metrics["mape"] == pytest.approx((0.1 + 0.05 + 0.1) / 3)
    assert metrics["r2"] == pytest.approx(1 - 1100 / 20000)


def test_classification_metrics() -> None:
    metrics = classification_metrics(np.array([0, 1, 1, 0]), np.array([0, 1, 0, 0]), np.array([0.1, 0.9, 0.4, 0.3]))
    assert metrics["precision"] == 1.0 and metrics["recall"] == 0.5 and metrics["roc_auc"] == 1.0


def test_threshold_failures() -> None:
    gate = {"r2": SimpleNamespace(min=0.85, max=None), "rmse": SimpleNamespace(min=None, max=5000)}
    assert threshold_failures({"r2": 0.9, "rmse": 4000}, gate) == []
    failures = threshold_failures({"r2": 0.8, "rmse": 6000}, gate)
    assert any("r2=0.8000 is below the minimum 0.85" in f for f in failures)
    assert any("rmse" in f and "above" in f for f in failures)
    assert threshold_failures({"r2": float("nan")}, {"r2": SimpleNamespace(min=0.1, max=None)})


def test_rank_candidates_by_direction_and_nan_last() -> None:
    evaluations = [{"metrics": {"r2": 0.8, "rmse": 10}}, {"metrics": {"r2": float("nan"), "rmse": 5}},
                   {"metrics": {"r2": 0.9, "rmse": 7}}]
    assert rank_candidates(evaluations, "regression", "r2") == [2, 0, 1]
    assert rank_candidates(evaluations, "regression", "rmse") == [1, 2, 0]


def test_promotion_rule() -> None:
    assert promotion_decision("regression", "r2", 0.8, None, 0.0)[0]
    assert promotion_decision("regression", "r2", 0.90, 0.89, 0.0)[0]
    assert not promotion_decision("regression", "r2", 0.89, 0.89, 0.0)[0]
    assert not promotion_decision("regression", "r2", 0.90, 0.89, 0.02)[0]
    assert is_better("regression", "rmse", 4.0, 5.0)


def test_estimator_factory_names_bad_parameters() -> None:
    assert make_estimator("ridge", {"alpha": 2.0}).alpha == 2.0
    with pytest.raises(ValueError, match=r"no parameter\(s\) \['depth'\]"):
        make_estimator("random_forest_regressor", {"depth": 3})
    with pytest.raises(ValueError, match="unknown estimator"):
        make_estimator("nope", {})
