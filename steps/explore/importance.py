"""Which features a fitted model relies on: sklearn's permutation importance (the drop in the
held-out score when one feature's values are shuffled), for a quick gradient-boosting model
fitted on a seeded sample. It ranks the features for exploration; it is not the trained model."""

from __future__ import annotations

from typing import List, Tuple

import pandas as pd

from steps.explore.report import Importance


def permutation_importances(frame: pd.DataFrame, numeric: List[str], categorical: List[str], target: str,
                            task: str, rows: int, repeats: int, random_state: int
                            ) -> Tuple[List[Importance], str, str]:
    """(importances, model description, scoring): most important first. Rows missing the target
    are left out; missing feature values are handled by the model itself."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.inspection import permutation_importance
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    usable = frame[frame[target].notna()]
    if len(usable) > rows:
        usable = usable.sample(rows, random_state=random_state)
    if len(usable) < 20:
        raise ValueError(f"permutation importance needs at least 20 rows with a target, the table has {len(usable)}")
    features = [*numeric, *categorical]
    encode = ColumnTransformer(
        [("categorical", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1,
                                        encoded_missing_value=-1), categorical)],
        remainder="passthrough", verbose_feature_names_out=False)
    classify = task == "classification"
    estimator = (HistGradientBoostingClassifier if classify else HistGradientBoostingRegressor)(
        random_state=random_state, categorical_features=list(range(len(categorical))) or None)
    model = Pipeline([("encode", encode), ("model", estimator)])
    train, test = train_test_split(usable, test_size=0.3, random_state=random_state)
    model.fit(train[features], train[target])
    scoring = "roc_auc" if classify and usable[target].nunique() == 2 else ("accuracy" if classify else "r2")
    result = permutation_importance(model, test[features], test[target], scoring=scoring, n_repeats=repeats,
                                    random_state=random_state, n_jobs=1)
    ranked = sorted(zip(features, result.importances_mean, result.importances_std), key=lambda item: -item[1])
    found = [Importance(feature=name, mean=float(mean), std=float(std)) for name, mean, std in ranked]
    description = f"{type(estimator).__name__} on {len(train)} sampled rows, scored on {len(test)}"
    return found, description, scoring
