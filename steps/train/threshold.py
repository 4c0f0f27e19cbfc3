"""A decision threshold tuned on validation data, carried inside the model.

The threshold is part of the registered model (``ThresholdClassifier``), so whoever loads it,
from the artifact store or from the MLflow registry, predicts exactly what was evaluated.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin


def tune_threshold(y_true: np.ndarray, scores: np.ndarray, metric: str = "f1") -> float:
    """The score cut-off that maximises ``metric`` (f1) on validation data.

    Candidates are the midpoints between distinct scores; ties go to the highest threshold,
    which raises fewer false alarms. Validation without any positive cannot tune: 0.5 is kept.
    """
    from sklearn.metrics import f1_score

    if metric != "f1":
        raise ValueError(f"threshold tuning supports f1, not {metric!r}")
    y_true = np.asarray(y_true).astype(int)
    if y_true.sum() == 0 or y_true.sum() == len(y_true):
        return 0.5
    distinct = np.unique(np.asarray(scores, dtype=float))
    if len(distinct) > 512:  # a fine quantile grid is as good and keeps this fast
        distinct = np.unique(np.quantile(distinct, np.linspace(0, 1, 513)))
    candidates = np.concatenate([(distinct[:-1] + distinct[1:]) / 2, [0.5]])
    best_threshold, best_score = 0.5, -1.0
    for threshold in np.sort(candidates):
        score = f1_score(y_true, scores >= threshold, zero_division=0)
        if score >= best_score:
            best_threshold, best_score = float(threshold), score
    return best_threshold


class ThresholdClassifier(ClassifierMixin, BaseEstimator):
    """A fitted binary classifier whose positive class is predicted at ``threshold``."""

    def __init__(self, model=None, threshold: float = 0.5):
        self.model = model
        self.threshold = threshold

    def fit(self, X, y):  # noqa: N803 - sklearn's signature
        raise TypeError("ThresholdClassifier wraps an already fitted model; fit the model itself")

    @property
    def classes_(self):
        return self.model.classes_

    @property
    def feature_names_in_(self):
        return self.model.feature_names_in_

    def predict_proba(self, X):  # noqa: N803
        return self.model.predict_proba(X)

    def predict(self, X):  # noqa: N803
        positive = self.predict_proba(X)[:, 1] >= self.threshold
        return self.classes_[positive.astype(int)]
