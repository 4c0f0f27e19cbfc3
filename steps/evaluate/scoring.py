"""Scoring a fitted model on a table, and choosing between models, as plain functions."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

from steps.evaluate.metrics import METRICS, classification_metrics, is_better, regression_metrics


def model_inputs(model, frame: pd.DataFrame) -> pd.DataFrame:
    """The columns the fitted model was trained on, in its order; extra columns are ignored."""
    columns = list(model.feature_names_in_)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"the table lacks the model's input column(s) {missing}")
    return frame[columns]


def score_model(model, frame: pd.DataFrame, target: str, task: str) -> Dict[str, float]:
    """Held-out metrics of ``model`` on ``frame`` for the task."""
    inputs = model_inputs(model, frame)
    predictions = model.predict(inputs)
    if task == "regression":
        return regression_metrics(frame[target].to_numpy(), predictions)
    scores: Optional[np.ndarray] = None
    if hasattr(model, "predict_proba"):
        scores = model.predict_proba(inputs)[:, 1]
    return classification_metrics(frame[target].to_numpy(), predictions, scores)


def rank_candidates(evaluations: Sequence[Dict[str, Any]], task: str, metric: str) -> List[int]:
    """Indexes of ``evaluations`` from best to worst on ``metric``; NaN ranks last, ties keep
    config order."""
    sign = -1.0 if METRICS[task][metric] == "max" else 1.0

    def key(index: int) -> Tuple[bool, float, int]:
        value = float(evaluations[index]["metrics"][metric])
        return (bool(np.isnan(value)), sign * value if not np.isnan(value) else 0.0, index)

    return sorted(range(len(evaluations)), key=key)


def promotion_decision(
    task: str, metric: str, candidate: float, production: Optional[float], min_improvement: float
) -> Tuple[bool, str]:
    """Whether a candidate replaces production, and why, in one sentence."""
    if production is None:
        return True, "no production model yet: the first model that passes the quality gate is promoted"
    if is_better(task, metric, candidate, production, min_improvement):
        return True, f"{metric} {candidate:.4f} beats production's {production:.4f} (margin {min_improvement})"
    return False, f"{metric} {candidate:.4f} does not beat production's {production:.4f} (margin {min_improvement})"
