"""California housing through the shared training pipeline, configured only (configs/housing.yaml):
the RMSE target on the seeded 70/30 held-out split, the metrics of each model, and the bad
inputs the housing issue names, each stopped at validation with its column named."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from core.config import RunConfig
from core.launch import PipelineFailed, run_training
from steps.evaluate.metrics import regression_metrics
from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.pipeline

HOUSING_CONFIG = PROJECT_ROOT / "configs" / "housing.yaml"
HOUSING_CSV = PROJECT_ROOT / "data" / "housing" / "housing.csv"
RMSE_TARGET = 47_000


def _output(run, step: str, name: str):
    from zenml.client import Client

    return Client().get_pipeline_run(run.id).steps[step].outputs[name][0].load()


def test_the_better_model_meets_the_rmse_target_on_held_out_districts(housing_run) -> None:
    model = _output(housing_run, "select_best_model", "model")
    test_data = _output(housing_run, "split_dataset", "test_data")
    assert len(test_data) == pytest.approx(0.3 * 20_640, abs=2)
    recomputed = regression_metrics(test_data["median_house_value"],
                                    model.predict(test_data[list(model.feature_names_in_)]))
    assert recomputed["rmse"] <= RMSE_TARGET, recomputed
    evaluation = _output(housing_run, "select_best_model", "model_evaluation")
    assert evaluation["candidate"] == "lightgbm"
    assert evaluation["metrics"]["rmse"] == pytest.approx(recomputed["rmse"])


def test_each_model_is_evaluated_on_rmse_mae_r2_and_mape(housing_run) -> None:
    from zenml.client import Client

    run = Client().get_pipeline_run(housing_run.id)
    evaluations = {name: run.steps[f"train_{name}"].outputs["candidate_evaluation"][0].load()
                   for name in ("ridge", "lightgbm")}
    for evaluation in evaluations.values():
        assert {"rmse", "mae", "r2", "mape"} <= set(evaluation["metrics"])
    assert evaluations["lightgbm"]["metrics"]["rmse"] < evaluations["ridge"]["metrics"]["rmse"]


def _config_on(path: Path) -> RunConfig:
    raw = yaml.safe_load(HOUSING_CONFIG.read_text())
    raw["parameters"]["source"] = {"kind": "csv", "path": str(path)}
    return RunConfig.model_validate(raw)


BAD_INPUTS = {
    "unseen_ocean_proximity": (lambda f: f.assign(ocean_proximity=f["ocean_proximity"].where(f.index != 5, "LAKESIDE")),
                               ["ocean_proximity", "expect_column_values_to_be_in_set", "LAKESIDE"]),
    "all_missing_column": (lambda f: f.assign(median_income=float("nan")),
                           ["median_income", "expect_column_values_to_not_be_null"]),
    "negative_population": (lambda f: f.assign(population=f["population"].where(f.index != 7, -40.0)),
                            ["population", "expect_column_values_to_be_between", "-40"]),
    "header_only": (lambda f: f.head(0), ["empty table"]),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_housing_input_stops_at_validation(case, housing_run, tmp_path) -> None:
    edit, expected = BAD_INPUTS[case]
    path = tmp_path / "housing.csv"
    edit(pd.read_csv(HOUSING_CSV).head(2000)).to_csv(path, index=False)
    with pytest.raises(PipelineFailed) as error:
        run_training(_config_on(path))
    message = str(error.value)
    assert all(part in message for part in expected), message
    assert set(error.value.failures) <= {"extract_source", "validation_gate"}
