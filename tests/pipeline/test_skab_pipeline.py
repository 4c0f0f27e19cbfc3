"""SKAB end to end on the `local` stack: split by experiment, windows, tuned LightGBM, SKAB's
per-reading metrics on unseen experiments, slices, and the registry round trip."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
import yaml

from core.config import RunConfig
from core.launch import PipelineFailed, run_training
from steps.evaluate.metrics import classification_metrics
from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.pipeline

SKAB_CONFIG = PROJECT_ROOT / "configs" / "skab.yaml"


def _client():
    from zenml.client import Client

    return Client()


def _output(run, step: str, name: str):
    return _client().get_pipeline_run(run.id).steps[step].outputs[name][0].load()


def test_split_is_by_experiment(skab_run) -> None:
    train = _output(skab_run, "make_windows", "train_data")
    validation = _output(skab_run, "make_windows", "validation_data")
    test = _output(skab_run, "make_windows", "test_data")
    sides = [set(frame["experiment"]) for frame in (train, validation, test)]
    assert len(sides[2]) == 5 and len(sides[1]) == 4
    assert not (sides[0] & sides[1] or sides[0] & sides[2] or sides[1] & sides[2])
    assert "anomaly-free/anomaly-free.csv" in sides[0]


def test_f1_on_unseen_experiments_meets_the_leaderboard_best(skab_run) -> None:
    model = _output(skab_run, "select_best_model", "model")
    test = _output(skab_run, "make_windows", "test_data")
    predictions = model.predict(test[list(model.feature_names_in_)])
    metrics = classification_metrics(test["anomaly"].to_numpy(), predictions)
    assert metrics["f1"] >= 0.78, metrics
    assert metrics["far"] < 0.1 and metrics["mar"] < 0.3
    evaluation = _output(skab_run, "select_best_model", "model_evaluation")
    assert evaluation["metrics"]["f1"] == pytest.approx(metrics["f1"])
    assert 0 < evaluation["decision_threshold"] < 1 and model.threshold == evaluation["decision_threshold"]


def test_registry_round_trip_reproduces_predictions(skab_run) -> None:
    import mlflow

    check = _output(skab_run, "verify_registry_roundtrip", "registry_check")
    assert check["verified"] and check["rows_compared"] > 1000
    entry = _output(skab_run, "register_model", "registry_entry")
    mlflow.set_tracking_uri(_client().active_stack.experiment_tracker.get_tracking_uri())
    loaded = mlflow.sklearn.load_model(f"models:/{entry['zenml_model']}/{entry['registry_version']}")
    model = _output(skab_run, "select_best_model", "model")
    test = _output(skab_run, "make_windows", "test_data")
    inputs = test[list(model.feature_names_in_)]
    np.testing.assert_array_equal(loaded.predict(inputs), model.predict(inputs))


def test_slice_report_on_sensors(skab_run) -> None:
    report = _output(skab_run, "analyze_slices", "slice_report")
    assert report.error_definition == "misclassified" and report.rows > 1000
    assert report.slices, "expected at least one weak slice on SKAB's test experiments"
    for finding in report.slices:
        assert all(feature.endswith("_last") for feature in finding.features)
        assert finding.lift >= 1.5 and finding.adjusted_p_value <= 0.05


def _small_skab(tmp_path, edit_file=None, edit=None) -> RunConfig:
    for name in ("valve1/0.csv", "valve1/1.csv", "valve2/0.csv"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        shutil.copy(PROJECT_ROOT / "data" / "skab" / name, tmp_path / name)
    if edit_file:
        frame = pd.read_csv(tmp_path / edit_file, sep=";", dtype=str)
        edit(frame).to_csv(tmp_path / edit_file, sep=";", index=False)
    raw = yaml.safe_load(SKAB_CONFIG.read_text())
    raw["parameters"]["source"]["path"] = str(tmp_path)
    raw["parameters"]["timeseries"]["split"].update(test_groups=1, validation_groups=1, always_train=[])
    raw["parameters"]["schema"]["min_rows"] = 100
    return RunConfig.model_validate(raw)


def test_non_numeric_reading_stops_at_the_gate(local_stack, tmp_path) -> None:
    config = _small_skab(tmp_path, "valve1/1.csv", lambda f: f.assign(Current=f["Current"].where(f.index != 7, "overload")))
    with pytest.raises(PipelineFailed) as error:
        run_training(config)
    assert "validation_gate" in error.value.failures
    assert "Current" in str(error.value) and "expect_column_values_to_be_in_type_list" in str(error.value)


def test_timestamps_out_of_order_stop_before_windows(local_stack, tmp_path) -> None:
    def swap(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[[20, 21], "datetime"] = frame.loc[[21, 20], "datetime"].to_numpy()
        return frame

    with pytest.raises(PipelineFailed) as error:
        run_training(_small_skab(tmp_path, "valve2/0.csv", swap))
    assert set(error.value.failures) == {"split_by_group"}
    assert "group 'valve2/0.csv': timestamps out of order" in str(error.value)
