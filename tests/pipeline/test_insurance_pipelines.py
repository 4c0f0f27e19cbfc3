"""The medical-cost use case end to end on the `local` stack: training, lineage, registry,
promotion, batch inference, and every kind of bad input stopping the run with a clear error
while the production model and earlier predictions stay untouched."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from core.launch import LaunchError, PipelineFailed, run_batch_inference, run_training
from steps.evaluate.metrics import regression_metrics
from steps.store.predictions import count_predictions
from tests.conftest import INSURANCE_CONFIG, INSURANCE_CSV, PROJECT_ROOT

pytestmark = pytest.mark.pipeline

MODEL = "medical_cost"
TRAINING_ARTIFACTS = {
    "training_raw_data", "validation_report", "data_integrity_report", "training_dataset", "train_data",
    "test_data", "train_test_drift_report", "selected_features", "feature_selection_report", "preprocessor",
    "candidate_model", "candidate_evaluation", "model", "model_evaluation", "candidate_comparison",
    "registry_entry", "promotion_decision", "slice_report", "feature_view", "training_features",
}


def _client():
    from zenml.client import Client

    return Client()


def _production_number():
    from zenml.enums import ModelStages

    try:
        return _client().get_model_version(MODEL, ModelStages.PRODUCTION).number
    except KeyError:
        return None


def _output(run, step: str, name: str):
    return _client().get_pipeline_run(run.id).steps[step].outputs[name][0]


def _sink(make_config):
    return make_config().parameters.inference.predictions.as_source()


def test_batch_inference_without_production_model_is_refused(local_stack, make_config) -> None:
    config = make_config(lambda raw: raw["model"].update(name="never_trained"))
    with pytest.raises(LaunchError, match="model 'never_trained' has no production version yet"):
        run_batch_inference(config)


def test_training_run_produces_named_artifacts(trained_run) -> None:
    from zenml.enums import ExecutionStatus

    run = _client().get_pipeline_run(trained_run.id)
    assert run.status == ExecutionStatus.COMPLETED
    produced = {name for step in run.steps.values() for name in step.outputs}
    assert TRAINING_ARTIFACTS <= produced, TRAINING_ARTIFACTS - produced
    assert {f"train_{c}" for c in ("linear", "random_forest", "gradient_boosting")} <= set(run.steps)
    dedup = run.steps["clean_dataset"].run_metadata
    assert dedup["duplicates_removed"] == 1 and dedup["rows_out"] == 1337


def test_training_rows_come_back_from_the_feature_store(trained_run) -> None:
    from feast import FeatureStore

    dataset = _output(trained_run, "clean_dataset", "training_dataset").load()
    served = _output(trained_run, "retrieve_training_features", "training_features")
    pd.testing.assert_frame_equal(served.load(), dataset.reset_index(drop=True))
    # Lineage: the split (and so every model) reads the rows the feature store gave back.
    run = _client().get_pipeline_run(trained_run.id)
    assert run.steps["split_dataset"].inputs["dataset"][0].id == served.id
    published = _output(trained_run, "publish_feature_view", "feature_view").load()
    assert published["feature_views"] == ["client_profile"] and published["rows"] == 1337
    store = FeatureStore(repo_path=_client().active_stack.feature_store.config.feast_repo)
    fields = {field.name: field for field in store.get_feature_view("client_profile").features}
    assert sorted(fields) == ["age", "bmi", "children", "region", "sex", "smoker"]
    assert fields["bmi"].description == "Body mass index (kg/m^2)"
    assert fields["smoker"].tags == {"owner": "pricing-analytics", "source": "sql table insurance", "version": "v1"}


def test_selected_model_meets_quality_on_held_out_split(trained_run) -> None:
    model = _output(trained_run, "select_best_model", "model").load()
    test_data = _output(trained_run, "split_dataset", "test_data").load()
    train_data = _output(trained_run, "split_dataset", "train_data").load()
    assert not set(test_data["client_id"]) & set(train_data["client_id"])
    recomputed = regression_metrics(test_data["charges"], model.predict(test_data[list(model.feature_names_in_)]))
    assert recomputed["r2"] >= 0.85, recomputed
    recorded = _output(trained_run, "select_best_model", "model_evaluation").load()
    assert recorded["metrics"]["r2"] == pytest.approx(recomputed["r2"])
    assert recorded["candidate"] in {"random_forest", "gradient_boosting"}


def test_model_version_lineage_and_promotion(trained_run) -> None:
    decision = _output(trained_run, "promote_model", "promotion_decision").load()
    assert decision["promoted"] and decision["production_score"] is None
    version = _client().get_model_version(MODEL, decision["model_version"])
    assert _production_number() == version.number
    dataset = version.get_data_artifact("training_dataset")
    assert dataset is not None and dataset.producer_pipeline_run_id == trained_run.id
    for name in ("training_raw_data", "train_data", "test_data", "preprocessor", "validation_report"):
        assert version.get_artifact(name) is not None, name
    assert version.get_model_artifact("model").producer_pipeline_run_id == trained_run.id
    assert version.run_metadata["metrics"]["r2"] >= 0.85


def test_mlflow_tracks_every_candidate_and_registers_the_model(trained_run) -> None:
    import mlflow
    from mlflow.tracking import MlflowClient

    tracker = _client().active_stack.experiment_tracker
    mlflow.set_tracking_uri(tracker.get_tracking_uri())
    client = MlflowClient()
    experiment = client.get_experiment_by_name(MODEL)
    runs = client.search_runs([experiment.experiment_id], "params.candidate != ''")
    assert {r.data.params["candidate"] for r in runs} >= {"linear", "random_forest", "gradient_boosting"}
    assert all("test_r2" in r.data.metrics for r in runs)
    entry = _output(trained_run, "register_model", "registry_entry").load()
    registered = client.get_model_version(MODEL, entry["registry_version"])
    assert registered.tags.get("zenml_model_version") == str(entry["zenml_model_version"])
    assert registered.tags.get("zenml_run_name") == trained_run.name
    assert "champion" in registered.aliases  # ZenML's MLflow registry maps stage production to this alias
    assert str(Path(tracker.get_tracking_uri().removeprefix("sqlite:///")).parent).startswith(
        str(Path(_client().active_stack.artifact_store.path))
    )


def test_validation_report_has_dashboard_visualization(trained_run) -> None:
    from zenml.enums import VisualizationType

    artifact = _output(trained_run, "validate_expectations", "validation_report")
    report = artifact.load()
    assert report.success and report.evaluated >= 15
    assert artifact.visualizations and artifact.visualizations[0].type == VisualizationType.HTML
    html = Path(artifact.visualizations[0].uri).read_text()
    assert "expect_column_values_to_be_between" in html and "PASS" in html
    integrity = _client().get_pipeline_run(trained_run.id).steps["check_data_integrity"].run_metadata
    assert integrity["conditions"]["Data Duplicates"] == "PASS"


def test_slice_report_is_computed_visualised_and_logged(trained_run) -> None:
    import mlflow
    from mlflow.tracking import MlflowClient

    artifact = _output(trained_run, "analyze_slices", "slice_report")
    report = artifact.load()
    assert report.rows == 268 and report.overall_error_rate == pytest.approx(0.2, abs=0.01)
    assert report.model_name == MODEL and report.candidates_tested > 100
    for finding in report.slices:
        assert finding.lift >= 1.5 and finding.adjusted_p_value <= 0.05 and finding.size >= 0.05 * 268
    html = Path(next(v.uri for v in artifact.visualizations if v.uri.endswith(".html"))).read_text()
    assert "Under-performing data slices" in html
    mlflow.set_tracking_uri(_client().active_stack.experiment_tracker.get_tracking_uri())
    run_id = _client().get_pipeline_run(trained_run.id).steps["analyze_slices"].run_metadata["mlflow_run_id"]
    logged = MlflowClient().get_run(run_id).data
    assert logged.metrics["weak_slices_found"] == len(report.slices)


def test_batch_inference_stores_predictions_with_model_version(inference_run, make_config) -> None:
    from sqlalchemy import create_engine, text

    stored = _output(inference_run, "store_predictions", "prediction_store").load()
    assert stored["rows_written"] == 100
    sink = _sink(make_config)
    engine = create_engine(sink.database_url())
    with engine.connect() as connection:
        rows = pd.read_sql(text(f"SELECT * FROM {sink.table}"), connection)
    engine.dispose()
    assert len(rows) == 100 and set(rows["model_version"]) == {str(_production_number())}
    assert rows["prediction"].between(500, 80000).all()
    predictions = _output(inference_run, "predict_batch", "predictions").load()
    assert predictions["client_id"].is_unique


def test_the_batch_is_scored_on_what_the_online_store_serves(inference_run) -> None:
    from feast import FeatureStore

    batch = _output(inference_run, "clean_dataset", "batch_dataset").load()
    served = _output(inference_run, "serve_online_features", "online_features")
    pd.testing.assert_frame_equal(served.load(), batch.reset_index(drop=True))
    run = _client().get_pipeline_run(inference_run.id)
    assert run.steps["predict_batch"].inputs["batch_dataset"][0].id == served.id
    store = FeatureStore(repo_path=_client().active_stack.feature_store.config.feast_repo)
    first = batch.iloc[0]
    online = store.get_online_features(features=["client_profile:bmi", "client_profile:smoker"],
                                       entity_rows=[{"client_id": first["client_id"]}]).to_dict()
    assert online["bmi"] == [pytest.approx(first["bmi"])] and online["smoker"] == [first["smoker"]]


def test_retraining_on_same_data_does_not_replace_production(inference_run, make_config) -> None:
    before = _production_number()
    run = run_training(make_config())
    decision = _output(run, "promote_model", "promotion_decision").load()
    assert not decision["promoted"], decision
    assert decision["previous_production_version"] == before
    assert decision["production_score"] == pytest.approx(decision["candidate_score"])
    assert _production_number() == before


def _csv_source(path: Path):
    def mutate(raw: dict) -> None:
        raw["parameters"]["source"] = {"kind": "csv", "path": str(path)}
    return mutate


def _bad_csv(tmp_path: Path, edit) -> Path:
    frame = pd.read_csv(INSURANCE_CSV)
    frame = edit(frame)
    path = tmp_path / "bad.csv"
    frame.to_csv(path, index=False)
    return path


BAD_INPUTS = {
    "missing_column": (lambda f: f.drop(columns=["bmi"]), ["expect_table_columns_to_match_set", "bmi"]),
    "non_numeric_bmi": (lambda f: f.astype({"bmi": object}).assign(bmi=lambda d: d["bmi"].where(d.index != 4, "heavy")),
                        ["bmi", "expect_column_values_to_be_in_type_list"]),
    "negative_age": (lambda f: f.assign(age=f["age"].where(f.index != 2, -7)),
                     ["age", "expect_column_values_to_be_between", "-7"]),
    "unknown_region": (lambda f: f.assign(region=f["region"].where(f.index != 9, "atlantis")),
                       ["region", "expect_column_values_to_be_in_set", "atlantis"]),
    "empty_table": (lambda f: f.head(0), ["empty table"]),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_training_input_stops_before_anything_is_promoted(case, inference_run, make_config, tmp_path) -> None:
    edit, expected = BAD_INPUTS[case]
    production, predictions = _production_number(), count_predictions(_sink(make_config))
    config = make_config(_csv_source(_bad_csv(tmp_path, edit)))
    with pytest.raises(PipelineFailed) as error:
        run_training(config)
    message = str(error.value)
    assert all(part in message for part in expected), message
    failed_steps = set(error.value.failures)
    assert failed_steps <= {"extract_source", "validation_gate"}, failed_steps
    assert _production_number() == production
    assert count_predictions(_sink(make_config)) == predictions


def test_unreachable_database_stops_the_run(inference_run, make_config) -> None:
    production = _production_number()

    def mutate(raw: dict) -> None:
        raw["parameters"]["source"] = {"kind": "sql", "url": "postgresql+psycopg2://etl@127.0.0.1:1/crm",
                                       "table": "insurance"}

    with pytest.raises(PipelineFailed, match="cannot reach the source database .*127.0.0.1:1"):
        run_training(make_config(mutate))
    assert _production_number() == production


def test_quality_gate_blocks_registration_and_promotion(inference_run, make_config) -> None:
    from zenml.enums import ExecutionStatus

    production = _production_number()

    def mutate(raw: dict) -> None:
        raw["parameters"]["training"]["quality_gate"] = {"r2": {"min": 0.99}}

    with pytest.raises(PipelineFailed) as error:
        run_training(make_config(mutate))
    assert "fails the quality gate" in str(error.value) and "r2=" in str(error.value)
    run = _client().get_pipeline_run(error.value.run_name)
    assert run.steps["model_quality_gate"].status == ExecutionStatus.FAILED
    assert "register_model" not in run.steps or run.steps["register_model"].status != ExecutionStatus.COMPLETED
    assert _production_number() == production


def test_bad_batch_leaves_earlier_predictions_untouched(inference_run, make_config, tmp_path) -> None:
    before = count_predictions(_sink(make_config))
    batch = pd.read_csv(PROJECT_ROOT / "data" / "insurance" / "new_batch.csv")
    batch.loc[0, "region"] = "atlantis"
    path = tmp_path / "batch.csv"
    batch.to_csv(path, index=False)

    def mutate(raw: dict) -> None:
        raw["parameters"]["inference"]["source"] = {"kind": "csv", "path": str(path)}

    with pytest.raises(PipelineFailed, match="region"):
        run_batch_inference(make_config(mutate))
    assert count_predictions(_sink(make_config)) == before


def test_cli_rejects_unknown_config_key(tmp_path) -> None:
    text = INSURANCE_CONFIG.read_text().replace("  use_case: insurance", "  use_case: insurance\n  use_cse: typo")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    result = subprocess.run([sys.executable, "run.py", "training", "--config", str(bad)], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "parameters.use_cse: unknown key" in result.stderr


def test_a_schedule_on_the_local_orchestrator_runs_in_the_foreground(inference_run, session_dir) -> None:
    """`--schedule` on the local orchestrator: APScheduler in the command's own process; each
    run is a normal ZenML run tagged `scheduled`, logged to the state folder's schedule log."""
    before = {run.id for run in _client().list_pipeline_runs(tags=["scheduled"], size=50).items}
    result = subprocess.run([sys.executable, "run.py", "training", "--config", str(INSURANCE_CONFIG),
                             "--schedule", "every 2s", "--max-runs", "2"],
                            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "the active orchestrator cannot schedule" in result.stdout
    runs = [run for run in _client().list_pipeline_runs(tags=["scheduled"], size=50).items if run.id not in before]
    assert len(runs) == 2 and {run.status.value for run in runs} == {"completed"}
    assert all({"insurance", "training", "scheduled"} <= {tag.name for tag in run.tags} for run in runs)
    log = session_dir / "state" / "logs" / "schedule_insurance_training.log"
    assert sorted(line.split("\t")[2] for line in log.read_text().splitlines()[-2:]) == sorted(r.name for r in runs)


def test_a_bad_schedule_is_refused_before_anything_runs() -> None:
    result = subprocess.run([sys.executable, "run.py", "training", "--config", str(INSURANCE_CONFIG),
                             "--schedule", "every day"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "schedule 'every day' is neither a five-field cron expression" in result.stderr


def test_cli_help_lists_pipelines() -> None:
    result = subprocess.run([sys.executable, "run.py", "--help"], cwd=PROJECT_ROOT, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0
    for command in ("training", "batch_inference", "seed"):
        assert command in result.stdout


def test_stack_without_tracker_is_refused_before_running(local_stack, make_config, monkeypatch) -> None:
    default_stack = _client().get_stack("default")
    monkeypatch.setenv("ZENML_ACTIVE_STACK_ID", str(default_stack.id))
    runs_before = _client().list_pipeline_runs(size=1).total
    with pytest.raises(LaunchError, match="active stack 'default' has no experiment tracker"):
        run_training(make_config())
    assert _client().list_pipeline_runs(size=1).total == runs_before


def test_monitoring_flags_a_version_worse_than_the_last_beyond_the_tolerance(inference_run, make_config) -> None:
    """Runs last in this module: a ridge-only retraining (no quality gate) is worse than the
    gradient-boosting versions before it, so monitoring flags it; production stays as it is."""
    production = _production_number()

    def ridge_only(raw: dict) -> None:
        training = raw["parameters"]["training"]
        training["candidates"] = [c for c in training["candidates"] if c["name"] == "linear"]
        training["quality_gate"] = {}

    run = run_training(make_config(ridge_only))
    steps = _client().get_pipeline_run(run.id).steps
    check = steps["monitor_model_metrics"].run_metadata["monitoring"]
    assert check["metric"] == "r2" and check["regressed"] is True, check
    assert check["baseline_version"] == steps["promote_model"].outputs["promotion_decision"][0].load()[
        "model_version"] - 1
    assert check["worse_by"] > 0.05 and check["baseline"] > check["value"]
    page = steps["monitor_model_metrics"].outputs["metric_history"][0].load()
    assert "REGRESSION beyond the tolerance of 5%" in page and "data:image/png;base64," in page
    assert _production_number() == production  # promotion keeps the worse model out anyway
    version = _client().get_model_version(MODEL, check["baseline_version"] + 1)
    assert version.run_metadata["monitoring"]["regressed"] is True


def test_a_first_version_has_no_baseline(trained_run) -> None:
    check = _client().get_pipeline_run(trained_run.id).steps["monitor_model_metrics"].run_metadata["monitoring"]
    assert check["baseline"] is None and check["regressed"] is False
