"""Held-out metrics, and which direction of each one is better.

The direction table is imported by the config loader (to reject unknown metric names) and by
the gates, so it must stay free of heavy imports; sklearn is imported inside the functions.
"""

from __future__ import annotations

from typing import Dict, Literal, Mapping, Optional

import numpy as np

Direction = Literal["max", "min"]

METRICS: Dict[str, Dict[str, Direction]] = {
    "regression": {"r2": "max", "rmse": "min", "mse": "min", "mae": "min", "mape": "min"},
    "classification": {
        "accuracy": "max",
        "precision": "max",
        "recall": "max",
        "f1": "max",
        "roc_auc": "max",
        "far": "min",
        "mar": "min",
    },
}


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> Dict[str, float]:
    """R², RMSE, MSE, MAE and MAPE (as a fraction, not a percentage)."""
    from sklearn.metrics import (
        mean_absolute_error,
        mean_absolute_percentage_error,
        mean_squared_error,
        r2_score,
    )

    y_true = np.asarray(y_true, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float)
    mse = float(mean_squared_error(y_true, y_pred))
    return {
        "r2": float(r2_score(y_true, y_pred)),
        "rmse": float(np.sqrt(mse)),
        "mse": mse,
        "mae": float(mean_absolute_error(y_true, y_pred)),
        "mape": float(mean_absolute_percentage_error(y_true, y_pred)),
    }


def classification_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, y_score: Optional[np.ndarray] = None
) -> Dict[str, float]:
    """Accuracy, precision, recall and F1 of the positive class; FAR (false alarm rate,
    FP / negatives) and MAR (missing alarm rate, FN / positives) as SKAB reports them; and
    ROC-AUC when scores exist."""
    from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

    metrics = {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "precision": float(precision_score(y_true, y_pred, zero_division=0)),
        "recall": float(recall_score(y_true, y_pred, zero_division=0)),
        "f1": float(f1_score(y_true, y_pred, zero_division=0)),
    }
    truth, predicted = np.asarray(y_true).astype(bool), np.asarray(y_pred).astype(bool)
    negatives, positives = (~truth).sum(), truth.sum()
    metrics["far"] = float((predicted & ~truth).sum() / negatives) if negatives else 0.0
    metrics["mar"] = float((~predicted & truth).sum() / positives) if positives else 0.0
    if y_score is not None and len(np.unique(y_true)) == 2:
        metrics["roc_auc"] = float(roc_auc_score(y_true, y_score))
    return metrics


def is_better(task: str, metric: str, candidate: float, reference: float, margin: float = 0.0) -> bool:
    """True when ``candidate`` beats ``reference`` by more than ``margin`` in the metric's direction."""
    if METRICS[task][metric] == "max":
        return candidate > reference + margin
    return candidate < reference - margin


def threshold_failures(metrics: Mapping[str, float], gate: Mapping[str, "object"]) -> list[str]:
    """Human-readable reasons why ``metrics`` miss the gate's bounds (empty when they pass).

    ``gate`` maps a metric name to an object with optional ``min`` and ``max`` attributes.
    """
    failures = []
    for name, bounds in gate.items():
        if name not in metrics:
            failures.append(f"{name}: not computed")
            continue
        value = metrics[name]
        low, high = getattr(bounds, "min", None), getattr(bounds, "max", None)
        if low is not None and not value >= low:
            failures.append(f"{name}={value:.4f} is below the minimum {low}")
        if high is not None and not value <= high:
            failures.append(f"{name}={value:.4f} is above the maximum {high}")
    return failures
