"""The project API as users reach it: a real uvicorn server on loopback, answering from the
session's ZenML store and MLflow, after a housing training run and a housing data run; checked
against what the ZenML client and the model say, and fuzzed from its own OpenAPI schema."""

from __future__ import annotations

import itertools
import uuid

import pandas as pd
import pytest
import requests
import schemathesis
import yaml
from hypothesis import HealthCheck, given, settings

from core.config import RunConfig, load_config
from tests.conftest import PROJECT_ROOT, serve_in_thread

pytestmark = pytest.mark.pipeline

CONFIGS = [PROJECT_ROOT / "configs" / name for name in ("housing.yaml", "insurance.yaml", "skab.yaml")]
RECORD = {"longitude": -122.23, "latitude": 37.88, "housing_median_age": 41.0, "total_rooms": 880.0,
          "total_bedrooms": 129.0, "population": 322.0, "households": 126.0, "median_income": 8.3252,
          "ocean_proximity": "NEAR BAY"}


def _client():
    from zenml.client import Client

    return Client()


def _never_trained():
    """The housing config under a model name that no run ever trained."""
    raw = yaml.safe_load(CONFIGS[0].read_text())
    raw["model"]["name"] = "housing_never_trained"
    raw["parameters"]["use_case"] = "housing_never_trained"
    return RunConfig.model_validate(raw)


@pytest.fixture(scope="module")
def api(housing_run, housing_data_run):
    from serving.project_api import create_project_api

    yield from serve_in_thread(create_project_api([*(load_config(path) for path in CONFIGS), _never_trained()]))


def test_pipelines_list_their_latest_run_with_status_and_duration(api, housing_data_run) -> None:
    listed = {item["name"]: item["latest_run"] for item in requests.get(f"{api}/pipelines", timeout=30).json()}
    latest = _client().list_pipeline_runs(pipeline_name="data", sort_by="desc:created", size=1).items[0]
    assert listed["data"]["id"] == str(latest.id) and listed["data"]["status"] == latest.status.value
    assert listed["training"] is not None
    runs = requests.get(f"{api}/pipelines/data/runs", params={"limit": 50}, timeout=30).json()
    ours = next(run for run in runs if run["id"] == str(housing_data_run.id))
    assert ours["status"] == "completed" and ours["pipeline"] == "data" and {"housing", "data"} <= set(ours["tags"])
    stored = _client().get_pipeline_run(housing_data_run.id)
    assert ours["duration_seconds"] == pytest.approx((stored.end_time - stored.start_time).total_seconds())
    assert requests.get(f"{api}/pipelines/no_such_pipeline/runs", timeout=30).status_code == 404


def test_a_run_and_its_metrics_come_from_zenml_and_mlflow(api, housing_run) -> None:
    run = requests.get(f"{api}/runs/{housing_run.id}", timeout=30).json()
    assert run["status"] == "completed" and run["steps"]["train_lightgbm"] in ("completed", "cached")
    metrics = requests.get(f"{api}/runs/{housing_run.id}/metrics", timeout=30).json()
    evaluation = _client().get_pipeline_run(housing_run.id).steps["select_best_model"].outputs[
        "model_evaluation"][0].load()
    assert metrics["metadata"]["select_best_model.test_rmse"] == pytest.approx(evaluation["metrics"]["rmse"])
    assert metrics["mlflow_run_id"] and metrics["mlflow"]["test_rmse"] == pytest.approx(evaluation["metrics"]["rmse"])
    assert requests.get(f"{api}/runs/{uuid.uuid4()}", timeout=30).status_code == 404
    assert requests.get(f"{api}/runs/{uuid.uuid4()}/metrics", timeout=30).status_code == 404
    assert requests.get(f"{api}/runs/not-a-run-id", timeout=30).status_code == 422


def test_model_versions_show_their_stage_metrics_and_registry_entries(api, housing_run) -> None:
    model = requests.get(f"{api}/models/housing_prices", timeout=30).json()
    production = [v for v in model["versions"] if v["stage"] == "production"]
    assert len(production) == 1 and production[0]["metrics"]["rmse"] < 47_000
    stored = _client().get_model_version("housing_prices", "production")
    assert production[0]["number"] == stored.number
    assert str(stored.number) in {entry["version"] for entry in model["registry"]}
    assert "housing_prices" in {m["name"] for m in requests.get(f"{api}/models", timeout=30).json()}
    assert requests.get(f"{api}/models/no_such_model", timeout=30).status_code == 404


def test_data_quality_is_the_latest_validation_of_the_use_case(api, housing_data_run) -> None:
    answer = requests.get(f"{api}/data-quality/housing", timeout=30).json()
    for run in _client().list_pipeline_runs(tags=["housing"], sort_by="desc:created", size=50).items:
        step = run.steps.get("validate_expectations")
        if step is not None and step.status.value in ("completed", "cached"):
            break
    report = step.outputs["validation_report"][0].load()
    assert answer["run"]["id"] == str(run.id)
    assert answer["validation"]["success"] == report.success and answer["validation"]["evaluated"] == report.evaluated
    assert requests.get(f"{api}/data-quality/no_such_use_case", timeout=30).status_code == 404


def test_predict_housing_scores_a_record_with_the_production_model(api) -> None:
    response = requests.post(f"{api}/predict/housing", json=RECORD, timeout=60)
    assert response.status_code == 200, response.text
    body = response.json()
    production = _client().get_model_version("housing_prices", "production")
    model = production.get_model_artifact("model").load()
    expected = model.predict(pd.DataFrame([RECORD])[list(model.feature_names_in_)])[0]
    assert body["predicted_median_house_value"] == pytest.approx(float(expected))
    assert body["model_version"] == str(production.number)
    missing_bedrooms = requests.post(f"{api}/predict/housing", json={**RECORD, "total_bedrooms": None}, timeout=60)
    assert missing_bedrooms.status_code == 200  # nullable in the schema: imputed like in training


def test_a_model_without_a_production_version_is_a_404_that_says_what_to_do(api) -> None:
    response = requests.post(f"{api}/predict/housing_never_trained", json=RECORD, timeout=30)
    assert response.status_code == 404
    assert "'housing_never_trained' has no production version yet: train one" in response.json()["detail"]


@pytest.mark.parametrize("body, field", [
    ({**RECORD, "ocean_proximity": "LAKESIDE"}, "ocean_proximity"),
    ({**RECORD, "population": -40}, "population"),
    ({key: value for key, value in RECORD.items() if key != "median_income"}, "median_income"),
    ({**RECORD, "rooms": 3}, "rooms"),
    ({**RECORD, "latitude": "north"}, "latitude"),
    ({**RECORD, "total_bedrooms": False}, "total_bedrooms"),  # a boolean is not a number (found by schemathesis)
    ({**RECORD, "households": "126"}, "households"),  # nor is a numeric string
])
def test_a_bad_housing_record_is_a_422_naming_the_field(api, body, field) -> None:
    response = requests.post(f"{api}/predict/housing", json=body, timeout=30)
    assert response.status_code == 422
    assert field in {location for error in response.json()["detail"] for location in error["loc"]}


@pytest.mark.parametrize("children, accepted", [(2, True), (2.0, True), (1.5, False), (True, False), ("2", False)])
def test_an_integer_column_takes_whole_numbers_only(api, children, accepted) -> None:
    """insurance's `children` is an int column: 2 and 2.0 are whole numbers (JSON Schema counts
    both as integers); 1.5, true and "2" are a 422 naming it. An accepted record is scored, or is
    a 404 if no insurance model is in production yet: either way it passed validation."""
    record = {"age": 40, "sex": "female", "bmi": 31.5, "children": children, "smoker": "yes", "region": "southeast"}
    response = requests.post(f"{api}/predict/insurance", json=record, timeout=30)
    if accepted:
        assert response.status_code in (200, 404), response.text
    else:
        assert response.status_code == 422
        assert any(error["loc"][-1] == "children" for error in response.json()["detail"])


def test_a_malformed_body_is_a_422(api) -> None:
    response = requests.post(f"{api}/predict/housing", data="{not json", timeout=30,
                             headers={"content-type": "application/json"})
    assert response.status_code == 422


def test_api_fuzzing_from_the_openapi_schema(api) -> None:
    """Every request the schema allows, valid or not, gets a documented answer, never a 500."""
    schema = schemathesis.openapi.from_url(f"{api}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    paths = {f"{op.method.upper()} {op.path}" for op in operations}
    assert {"GET /pipelines", "GET /runs/{run_id}/metrics", "GET /models/{name}", "GET /data-quality/{use_case}",
            "POST /predict/housing", "POST /predict/insurance"} <= paths
    assert not any("skab" in path for path in paths)  # windows of sensor series are not one JSON record
    calls = []
    for operation, mode in itertools.product(operations, schemathesis.GenerationMode):
        takes_input = len(operation.query) or len(operation.path_parameters) or len(operation.body)
        if mode == schemathesis.GenerationMode.NEGATIVE and not takes_input:
            continue  # no parameters and no body: there is no invalid request to make
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case) -> None:
            calls.append(case.call_and_validate().status_code)

        check()
    assert 500 not in calls and 200 in calls and 404 in calls and 422 in calls, sorted(set(calls))
