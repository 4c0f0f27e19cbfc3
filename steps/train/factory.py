"""Estimators by name, so that configs choose models without importing arbitrary code.

An allow-list rather than a dotted import path: a config is data, and loading any class a YAML
file names would make it code. Adding an estimator is one line here.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any, Dict

ESTIMATORS: Dict[str, tuple[str, str]] = {
    # regression
    "linear_regression": ("sklearn.linear_model", "LinearRegression"),
    "ridge": ("sklearn.linear_model", "Ridge"),
    "random_forest_regressor": ("sklearn.ensemble", "RandomForestRegressor"),
    "gradient_boosting_regressor": ("sklearn.ensemble", "GradientBoostingRegressor"),
    "hist_gradient_boosting_regressor": ("sklearn.ensemble", "HistGradientBoostingRegressor"),
    "lightgbm_regressor": ("lightgbm", "LGBMRegressor"),
    # classification
    "logistic_regression": ("sklearn.linear_model", "LogisticRegression"),
    "random_forest_classifier": ("sklearn.ensemble", "RandomForestClassifier"),
    "gradient_boosting_classifier": ("sklearn.ensemble", "GradientBoostingClassifier"),
    "hist_gradient_boosting_classifier": ("sklearn.ensemble", "HistGradientBoostingClassifier"),
    "lightgbm_classifier": ("lightgbm", "LGBMClassifier"),
}


# MLflow 3.17 stores sklearn models with skops, which refuses to load types it has not been told
# to trust. These are the internals of the estimators above; the models are trained by this
# pipeline, not downloaded, so trusting them is sound. A new estimator that needs another type
# fails loudly at log time with the type's name: review it, then add it here.
SKOPS_TRUSTED_TYPES = [
    "numpy.dtype",
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn._loss.loss.HalfSquaredError",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn._loss.link.IdentityLink",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss._loss.CyHalfSquaredError",
    "sklearn._loss._loss.CyHalfBinomialLoss",
    "sklearn.ensemble._gb_losses.LeastSquaresError",
    "sklearn.ensemble._gb_losses.BinomialDeviance",
    "lightgbm.sklearn.LGBMRegressor",
    "lightgbm.sklearn.LGBMClassifier",
    "lightgbm.basic.Booster",
    "collections.OrderedDict",
    "steps.train.threshold.ThresholdClassifier",
]


def make_estimator(name: str, params: Dict[str, Any]):
    """An unfitted estimator; unknown names and parameters raise ValueError naming them.

    Estimators whose constructor takes ``**kwargs`` (LightGBM's pass-through to its native
    parameters, such as ``verbosity``) accept extra names; LightGBM itself warns on unknown ones.
    """
    if name not in ESTIMATORS:
        raise ValueError(f"unknown estimator '{name}', expected one of {sorted(ESTIMATORS)}")
    module_name, class_name = ESTIMATORS[name]
    estimator_class = getattr(importlib.import_module(module_name), class_name)
    estimator = estimator_class()
    takes_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD
                       for p in inspect.signature(estimator_class.__init__).parameters.values())
    unknown = sorted(set(params) - set(estimator.get_params()))
    if unknown and not takes_kwargs:
        raise ValueError(f"estimator '{name}' has no parameter(s) {unknown}")
    return estimator.set_params(**params)
