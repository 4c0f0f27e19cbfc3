"""The prediction API as users reach it: a real uvicorn server on loopback, serving the
production model of the stock-volume use case, fuzzed from its own OpenAPI schema."""

from __future__ import annotations

import itertools
import time

import pandas as pd
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.conftest import free_port, serve_in_thread
from tests.pipeline.conftest import stocks_config

pytestmark = pytest.mark.pipeline

PARAMS = {"vol_moving_avg": 2_500_000.0, "adj_close_rolling_med": 120.0}


@pytest.fixture(scope="module")
def api(stocks_run):
    from serving.app import app_for_config

    config = stocks_config(lambda raw: raw["parameters"]["serving"].update(reload_interval_seconds=0.5))
    yield from serve_in_thread(app_for_config(config))


def _production():
    from zenml.client import Client
    from zenml.enums import ModelStages

    return Client().get_model_version("stock_volume", ModelStages.PRODUCTION)


def test_predict_answers_the_original_url_with_the_production_model(api) -> None:
    response = requests.get(f"{api}/predict", params=PARAMS, timeout=10)
    assert response.status_code == 200
    body = response.json()
    production = _production()
    assert body["model_name"] == "stock_volume" and body["model_version"] == str(production.number)
    model = production.get_model_artifact("model").load()
    expected = model.predict(pd.DataFrame([PARAMS]))[0]
    assert body["predicted_volume"] == pytest.approx(float(expected), rel=1e-12)  # compiled, same trees
    health = requests.get(f"{api}/health", timeout=10).json()
    assert health["status"] == "ok" and health["model_version"] == body["model_version"]
    assert health["predictor"].startswith("treelite"), health["predictor"]
    assert requests.get(f"{api}/docs", timeout=10).status_code == 200


@pytest.mark.parametrize(
    "query, parameter",
    [
        ({"vol_moving_avg": "1"}, "adj_close_rolling_med"),
        ({"vol_moving_avg": "lots", "adj_close_rolling_med": "1"}, "vol_moving_avg"),
        ({"vol_moving_avg": "NaN", "adj_close_rolling_med": "1"}, "vol_moving_avg"),
        ({"vol_moving_avg": "1", "adj_close_rolling_med": "inf"}, "adj_close_rolling_med"),
        ({"vol_moving_avg": "-3", "adj_close_rolling_med": "1"}, "vol_moving_avg"),
    ],
    ids=["missing", "not_a_number", "nan", "infinity", "negative"],
)
def test_bad_requests_name_the_parameter(api, query, parameter) -> None:
    response = requests.get(f"{api}/predict", params=query, timeout=10)
    assert response.status_code == 422
    assert any(error["loc"] == ["query", parameter] for error in response.json()["detail"])


def test_a_new_promotion_is_picked_up(api) -> None:
    """Train another version and promote it (as the pipeline would); the API follows."""
    from zenml.client import Client
    from zenml.enums import ModelStages

    from core.launch import run_training

    def lighter(raw: dict) -> None:
        raw["parameters"]["training"]["candidates"] = [
            {"name": "lightgbm", "estimator": "lightgbm_regressor",
             "params": {"n_estimators": 50, "random_state": 1, "n_jobs": 1, "verbosity": -1}}]

    before = requests.get(f"{api}/health", timeout=10).json()["model_version"]
    run = run_training(stocks_config(lighter))
    new_version = Client().get_pipeline_run(run.id).model_version.number
    Client().get_model_version("stock_volume", new_version).set_stage(ModelStages.PRODUCTION, force=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if requests.get(f"{api}/health", timeout=10).json()["model_version"] == str(new_version):
            break
        time.sleep(0.25)
    assert requests.get(f"{api}/health", timeout=10).json()["model_version"] == str(new_version) != before
    assert requests.get(f"{api}/predict", params=PARAMS, timeout=10).json()["model_version"] == str(new_version)
    assert requests.post(f"{api}/reload", timeout=30).json()["model_version"] == str(new_version)


def test_api_fuzzing_from_the_openapi_schema(api) -> None:
    """Every request the schema allows, valid or not, gets a documented answer, never a 500.

    schemathesis drives each operation of the live /openapi.json with Hypothesis, in both its
    positive (valid requests) and negative (invalid requests) modes. Its pytest fixture
    integration does not support pytest 9 yet, so the strategies are run directly.
    """
    schema = schemathesis.openapi.from_url(f"{api}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {f"{op.method.upper()} {op.path}" for op in operations} >= {"GET /predict", "GET /health", "POST /reload"}
    calls = []
    for operation, mode in itertools.product(operations, schemathesis.GenerationMode):
        if mode == schemathesis.GenerationMode.NEGATIVE and not len(operation.query):
            continue  # no parameters: there is no invalid request to make
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case) -> None:
            calls.append(case.call_and_validate().status_code)

        check()
    assert len(calls) >= 120 and 422 in calls and 200 in calls, calls


def test_run_py_serve_with_two_workers_answers_like_the_single_process_api(api) -> None:
    import subprocess
    import sys

    from tests.conftest import PROJECT_ROOT

    port = free_port()
    server = subprocess.Popen([sys.executable, "run.py", "serve", "--config", "configs/stocks.yaml", "--port", str(port),
                               "--workers", "2", "--log-level", "warning"], cwd=PROJECT_ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and server.poll() is None:
            try:
                if requests.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.5)
        assert server.poll() is None, server.communicate()[0][-3000:]
        expected = requests.get(f"{api}/predict", params=PARAMS, timeout=10).json()
        answers = [requests.get(f"http://127.0.0.1:{port}/predict", params=PARAMS, timeout=10) for _ in range(40)]
        assert all(answer.status_code == 200 and answer.json() == expected for answer in answers)
        assert requests.get(f"http://127.0.0.1:{port}/health", timeout=10).json()["predictor"].startswith("treelite")
    finally:
        server.terminate()
        server.wait(timeout=30)
