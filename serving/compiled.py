"""A compiled single-row predictor for the API, checked against the registered model at load.

Why: the registered model is a sklearn Pipeline (ColumnTransformer + estimator). Predicting one
row through it costs milliseconds of input validation and per-tree Python calls (about 5 ms for
the stock model's 100-tree forest), which alone breaks the API's 2 ms p50 target. Treelite
compiles the trees into one C++ model whose ``gtil.predict`` takes tens of microseconds for a
row, with the same float64 thresholds and leaf values, and the numeric preprocessing
(median imputation, standard scaling) is two array operations on the fitted statistics.

Only that shape is compiled: a Pipeline of a ColumnTransformer whose single transformer is
``SimpleImputer`` + ``StandardScaler`` over the numeric columns, followed by a tree ensemble
that treelite imports (sklearn forests and boosting, LightGBM). Any other model is served
through sklearn as it is. A compiled predictor is used only if it reproduces the sklearn
model on a probe set (relative difference at most ``TOLERANCE``); otherwise the API says why
and falls back, so a compilation bug can cost speed but never a wrong prediction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

logger = logging.getLogger(__name__)

TOLERANCE = 1e-9
PROBE_ROWS = 2000


@dataclass
class CompiledPredictor:
    columns: List[str]
    medians: np.ndarray
    means: np.ndarray
    scales: np.ndarray
    forest: Any  # treelite.Model

    def predict_rows(self, rows: np.ndarray) -> np.ndarray:
        import treelite.gtil

        values = np.where(np.isnan(rows), self.medians, rows)
        scaled = (values - self.means) / self.scales
        return treelite.gtil.predict(self.forest, np.ascontiguousarray(scaled), nthread=1).reshape(len(rows))


def _numeric_preprocessing(preprocessor: Any) -> Optional[Tuple[List[str], np.ndarray, np.ndarray, np.ndarray]]:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    if not isinstance(preprocessor, ColumnTransformer):
        return None
    fitted = [(name, step, columns) for name, step, columns in preprocessor.transformers_
              if not (name == "remainder" and step == "drop")]
    if len(fitted) != 1:
        return None
    _, inner, columns = fitted[0]
    if not (isinstance(inner, Pipeline) and len(inner.steps) == 2
            and isinstance(inner.steps[0][1], SimpleImputer) and isinstance(inner.steps[1][1], StandardScaler)):
        return None
    imputer, scaler = inner.steps[0][1], inner.steps[1][1]
    if imputer.add_indicator or not scaler.with_mean or not scaler.with_std:
        return None
    return list(columns), imputer.statistics_.astype(float), scaler.mean_.astype(float), scaler.scale_.astype(float)


def _import_forest(estimator: Any) -> Optional[Any]:
    import treelite

    if type(estimator).__module__.startswith("lightgbm"):
        return treelite.frontend.from_lightgbm(estimator.booster_)
    if type(estimator).__name__ in {"RandomForestRegressor", "ExtraTreesRegressor", "GradientBoostingRegressor",
                                    "HistGradientBoostingRegressor"}:
        return treelite.sklearn.import_model(estimator)
    return None


def probe_rows(predictor: CompiledPredictor, bounds: Dict[str, Tuple[Optional[float], Optional[float]]],
               count: int = PROBE_ROWS, seed: int = 0) -> np.ndarray:
    """Rows spread like the training data (the scaler's mean and scale), within the API's bounds."""
    rng = np.random.default_rng(seed)
    rows = predictor.means + predictor.scales * rng.standard_normal((count, len(predictor.columns))) * 2
    for index, column in enumerate(predictor.columns):
        low, high = bounds.get(column, (None, None))
        rows[:, index] = np.clip(rows[:, index], low if low is not None else -np.inf,
                                 high if high is not None else np.inf)
    return np.vstack([predictor.means, rows])


def compile_model(model: Any, feature_order: Sequence[str],
                  bounds: Dict[str, Tuple[Optional[float], Optional[float]]]) -> Tuple[Optional[CompiledPredictor], str]:
    """The compiled predictor and why, or None and why not."""
    import pandas as pd
    from sklearn.pipeline import Pipeline

    if not (isinstance(model, Pipeline) and len(model.steps) == 2):
        return None, f"{type(model).__name__} is not a preprocessor + estimator Pipeline"
    preprocessing = _numeric_preprocessing(model.steps[0][1])
    if preprocessing is None:
        return None, "the preprocessor is not numeric imputation + scaling only"
    columns, medians, means, scales = preprocessing
    if list(columns) != list(feature_order):
        return None, f"the model's columns {columns} are not the API's parameters {list(feature_order)}"
    try:
        forest = _import_forest(model.steps[1][1])
        if forest is None:
            return None, f"treelite does not import {type(model.steps[1][1]).__name__}"
        predictor = CompiledPredictor(list(columns), medians, means, scales, forest)
        rows = probe_rows(predictor, bounds)
        expected = np.asarray(model.predict(pd.DataFrame(rows, columns=columns)), dtype=float).ravel()
        compiled = predictor.predict_rows(rows)
    except Exception as exc:  # a compiler problem costs speed, never the API
        return None, f"compiling failed: {type(exc).__name__}: {exc}"
    difference = float(np.max(np.abs(compiled - expected) / np.maximum(np.abs(expected), 1e-12)))
    if not difference <= TOLERANCE:
        return None, f"the compiled model differs from the registered one by {difference:.3g} (relative) on probe rows"
    return predictor, f"treelite, equal to the registered model on {len(rows)} probe rows (max relative difference {difference:.1g})"
