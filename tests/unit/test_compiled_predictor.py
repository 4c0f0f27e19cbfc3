"""The API's compiled predictor: equal to the sklearn model it replaces, or not used at all."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import Pipeline

from serving.compiled import CompiledPredictor, compile_model
from steps.prepare.preprocess import build_preprocessor
from steps.train.factory import make_estimator

COLUMNS = ["vol_moving_avg", "adj_close_rolling_med"]
BOUNDS = {name: (0.0, None) for name in COLUMNS}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"vol_moving_avg": rng.lognormal(13, 1, 3000), "adj_close_rolling_med": rng.lognormal(3, 1, 3000)})
    target = frame["vol_moving_avg"] * rng.lognormal(0, 0.3, 3000) + 1000 * frame["adj_close_rolling_med"]
    return frame, target


def _pipeline(data, estimator, categorical=()):
    frame, target = data
    preprocessor = build_preprocessor(COLUMNS, list(categorical)).fit(frame)
    fitted = estimator.fit(preprocessor.transform(frame), target)
    return Pipeline([("preprocess", preprocessor), ("model", fitted)])


@pytest.mark.parametrize("name, params", [
    ("random_forest_regressor", {"n_estimators": 20, "max_depth": 5, "random_state": 0}),
    ("lightgbm_regressor", {"n_estimators": 50, "num_leaves": 15, "random_state": 0, "verbosity": -1}),
    ("hist_gradient_boosting_regressor", {"max_iter": 50, "random_state": 0}),
    ("gradient_boosting_regressor", {"n_estimators": 30, "random_state": 0}),
])
def test_tree_models_compile_and_predict_what_sklearn_predicts(data, name, params) -> None:
    model = _pipeline(data, make_estimator(name, params))
    compiled, why = compile_model(model, COLUMNS, BOUNDS)
    assert compiled is not None, why
    frame = data[0].sample(500, random_state=1)
    expected = model.predict(frame)
    # Same thresholds and leaf values in float64; boosting may sum its trees in another order.
    np.testing.assert_allclose(compiled.predict_rows(frame.to_numpy()), expected, rtol=1e-12)
    one = compiled.predict_rows(frame.to_numpy()[:1])
    assert one.shape == (1,) and one[0] == pytest.approx(expected[0], rel=1e-12)


def test_other_models_are_served_through_sklearn_with_the_reason(data) -> None:
    linear = _pipeline(data, LinearRegression())
    compiled, why = compile_model(linear, COLUMNS, BOUNDS)
    assert compiled is None and "treelite does not import LinearRegression" in why
    forest = _pipeline(data, make_estimator("random_forest_regressor", {"n_estimators": 5, "random_state": 0}))
    compiled, why = compile_model(forest, list(reversed(COLUMNS)), BOUNDS)
    assert compiled is None and "are not the API's parameters" in why


def test_a_compiled_model_that_disagrees_is_refused(data, monkeypatch) -> None:
    forest = _pipeline(data, make_estimator("random_forest_regressor", {"n_estimators": 5, "random_state": 0}))
    original = CompiledPredictor.predict_rows
    monkeypatch.setattr(CompiledPredictor, "predict_rows", lambda self, rows: original(self, rows) * (1 + 1e-6))
    compiled, why = compile_model(forest, COLUMNS, BOUNDS)
    assert compiled is None and "differs from the registered one" in why


def test_a_compiler_failure_falls_back_instead_of_stopping_the_api(data, monkeypatch) -> None:
    import serving.compiled as compiled_module

    forest = _pipeline(data, make_estimator("random_forest_regressor", {"n_estimators": 5, "random_state": 0}))

    def broken(estimator):
        raise RuntimeError("treelite exploded")

    monkeypatch.setattr(compiled_module, "_import_forest", broken)
    compiled, why = compile_model(forest, COLUMNS, BOUNDS)
    assert compiled is None and why == "compiling failed: RuntimeError: treelite exploded"
