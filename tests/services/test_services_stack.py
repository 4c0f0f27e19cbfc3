"""The same pipelines on the `services` stack, against the real servers that
`stacks/services/up` starts: a ZenML server on MariaDB with authentication, an S3 server with
credentials enforced, an MLflow tracking server on PostgreSQL with basic authentication.
(Churn's pipelines and the stock view run on the `containers` stack, which has the same servers:
tests/services/test_containers_stack.py.)

Each run is a `python run.py ...` subprocess, as a user would type it, with its own ZenML client
configuration that reaches the server through ``ZENML_STORE_URL`` and the service account's API
key, and selects the stack with `zenml stack set services`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Dict

import pytest

from tests.conftest import INSURANCE_CONFIG, PROJECT_ROOT
from tests.services import clients

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def services() -> Dict[str, str]:
    return clients.services_credentials()


@pytest.fixture(scope="module")
def client_env(services, session_dir: Path, insurance_db: str) -> Dict[str, str]:
    """A fresh client configuration logged in with the API key, the `services` stack active."""
    return clients.stack_client_env(services, session_dir, "services")


@pytest.fixture(scope="module")
def training(client_env) -> subprocess.CompletedProcess:
    return clients.run(client_env, "training", "--config", str(INSURANCE_CONFIG))


def test_the_server_refuses_clients_without_credentials(services) -> None:
    from stacks.services.settings import ZENML_URL

    for path in ("/api/v1/pipelines", "/api/v1/stacks", "/api/v1/runs"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(ZENML_URL + path, timeout=10)
        assert refused.value.code == 401
    env = {**os.environ, "ZENML_CONFIG_PATH": str(Path(os.environ["ZENML_CONFIG_PATH"]).parent / "zenml-bad-key")}
    env.pop("ZENML_STORE_URL", None)
    login = clients.zenml(env, "login", ZENML_URL, "--api-key", stdin="ZENKEY_not-a-real-key\n")
    assert login.returncode != 0


def test_training_runs_on_the_services_stack(training, client_env, services) -> None:
    import boto3
    from mlflow.tracking import MlflowClient

    from stacks.services import settings

    assert training.returncode == 0, training.stdout[-3000:] + training.stderr[-3000:]
    run_name = clients.run_name(training)
    assert f"Dashboard: {settings.ZENML_URL}/projects/default/runs/" in training.stdout
    found = clients.query(client_env, f"""
        run = Client().get_pipeline_run("{run_name}")
        result = {{"status": run.status.value, "stack": run.stack.name,
                   "uris": {{f"{{step}}/{{name}}": [a.uri for a in artifacts]
                            for step, s in run.steps.items() for name, artifacts in s.outputs.items()}}}}
    """)
    assert found["status"] == "completed" and found["stack"] == "services"
    uris = [uri for values in found["uris"].values() for uri in values]
    assert {"extract_source/training_raw_data", "select_best_model/model", "analyze_slices/slice_report",
            "validate_expectations/validation_report"} <= set(found["uris"])
    assert uris and all(uri.startswith(f"s3://{settings.ARTIFACT_BUCKET}/") for uri in uris)

    s3 = boto3.client("s3", endpoint_url=settings.S3_ENDPOINT, region_name="us-east-1",
                      aws_access_key_id=services["aws_access_key_id"],
                      aws_secret_access_key=services["aws_secret_access_key"])
    model_uri = found["uris"]["select_best_model/model"][0]
    stored = s3.list_objects_v2(Bucket=settings.ARTIFACT_BUCKET,
                                Prefix=model_uri.removeprefix(f"s3://{settings.ARTIFACT_BUCKET}/"))
    assert stored["KeyCount"] > 0

    os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"] = (
        settings.ADMIN, services["mlflow_admin_password"])
    try:
        mlflow = MlflowClient(tracking_uri=settings.MLFLOW_URI, registry_uri=settings.MLFLOW_URI)
        versions = mlflow.search_model_versions("name='medical_cost'")
        mine = [v for v in versions if v.tags.get("zenml_run_name") == run_name]
        assert len(mine) == 1, [v.tags for v in versions]
        run = mlflow.get_run(mine[0].run_id)
        assert float(run.data.metrics["test_r2"]) > 0.8  # held-out R², logged on the server
        artifacts = s3.list_objects_v2(Bucket=settings.MLFLOW_BUCKET)
        assert artifacts["KeyCount"] > 0  # the server keeps MLflow's artifacts in S3 too
    finally:
        os.environ.pop("MLFLOW_TRACKING_USERNAME")
        os.environ.pop("MLFLOW_TRACKING_PASSWORD")


def test_medical_cost_features_are_published_to_postgres_and_served_from_redis(training, client_env) -> None:
    assert training.returncode == 0
    found = clients.query(client_env, f"""
        run = Client().get_pipeline_run("{clients.run_name(training)}")
        published = run.steps["publish_feature_view"].outputs["feature_view"][0].load()
        rows = run.steps["retrieve_training_features"].outputs["training_features"][0].load()
        result = {{"published": published, "rows": len(rows),
                   "sample": rows[["client_id", "bmi", "smoker"]].tail(5).to_dict(orient="list")}}
    """)
    assert found["published"]["feature_views"] == ["client_profile"] and found["rows"] == 1337
    clients.assert_medical_cost_served_from_redis(found["sample"])


def test_a_stopped_tracking_server_fails_the_run_before_any_step(client_env) -> None:
    from stacks.services import control

    credentials = control.cfg.load_credentials()
    control.stop("mlflow")
    try:
        completed = clients.run(client_env, "training", "--config", str(INSURANCE_CONFIG), timeout=120)
    finally:
        control.start("mlflow", credentials)
    assert completed.returncode != 0
    assert "experiment tracker 'services_mlflow_tracker' at http://127.0.0.1" in completed.stderr
    assert "nothing was run" in completed.stderr
    assert "Step " not in completed.stdout  # no step started


def test_a_client_left_on_a_stopped_zenml_server_is_told_so_and_down_logs_it_out(services, session_dir) -> None:
    import yaml

    from stacks.services import control

    env = {key: value for key, value in os.environ.items() if not key.startswith("ZENML_STORE_")}
    env.update(ZENML_CONFIG_PATH=str(session_dir / "zenml-logged-in-client"),
               ZENML_REPOSITORY_PATH=str(session_dir / "repo-logged-in"))
    Path(env["ZENML_REPOSITORY_PATH"]).mkdir(parents=True, exist_ok=True)
    login = clients.zenml(env, "login", control.cfg.ZENML_URL, "--api-key", stdin=services["zenml_api_key"] + "\n")
    assert login.returncode == 0, login.stdout + login.stderr
    control.stop("zenml")
    try:
        completed = clients.run(env, "training", "--config", str(INSURANCE_CONFIG), timeout=300)
        stopped = subprocess.run([sys.executable, "-m", "stacks.services.control", "down", "--only", "zenml"],
                                 env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    finally:
        control.start("zenml", services)
    assert completed.returncode != 0
    assert f"the ZenML server {control.cfg.ZENML_URL} that the client is logged in to does not answer" \
        in completed.stderr, completed.stderr[-3000:]
    assert "Traceback" not in completed.stderr
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert "logged out" in stopped.stdout
    store = yaml.safe_load((Path(env["ZENML_CONFIG_PATH"]) / "config.yaml").read_text())["store"]
    assert store["type"] == "sql", store  # back on its own local store: the next command works


def test_wrong_s3_credentials_name_the_artifact_store_and_hide_the_secret(client_env, services) -> None:
    """A copy of the services stack whose artifact store's secret holds a wrong key."""
    wrong_secret = "wrong-secret-value-that-must-not-be-logged"
    setup = clients.query(client_env, f"""
        import uuid
        from zenml.enums import StackComponentType
        client = Client()
        name = "wrong_keys_" + uuid.uuid4().hex[:6]
        client.create_secret(name, values={{"aws_access_key_id": "{services['aws_access_key_id']}",
                                          "aws_secret_access_key": "{wrong_secret}"}})
        good = client.get_stack("services")
        store = good.components[StackComponentType.ARTIFACT_STORE][0]
        configuration = {{**store.configuration, "key": "{{{{" + name + ".aws_access_key_id}}}}",
                         "secret": "{{{{" + name + ".aws_secret_access_key}}}}"}}
        bad_store = client.create_stack_component(name=name, flavor="s3",
                                                  component_type=StackComponentType.ARTIFACT_STORE,
                                                  configuration=configuration)
        components = {{kind: members[0].id for kind, members in good.components.items()}}
        components[StackComponentType.ARTIFACT_STORE] = bad_store.id
        client.create_stack(name=name, components=components)
        result = {{"stack": name}}
    """)
    env = dict(client_env)
    switched = clients.zenml(env, "stack", "set", setup["stack"])
    assert switched.returncode == 0, switched.stderr
    try:
        completed = clients.run(env, "training", "--config", str(INSURANCE_CONFIG), timeout=300)
    finally:
        assert clients.zenml(env, "stack", "set", "services").returncode == 0
    assert completed.returncode != 0
    assert f"artifact store '{setup['stack']}' (s3://" in completed.stderr
    assert "nothing was run" in completed.stderr
    assert wrong_secret not in completed.stdout + completed.stderr


def test_the_dashboard_shows_the_run_after_logging_in(training, client_env, services, browser) -> None:
    """Log in on the server's dashboard as a user would, then open the training run's page."""
    from tests.dashboard_checks import check_server_run_page

    assert training.returncode == 0
    run_id = clients.query(client_env, f"""
        result = str(Client().get_pipeline_run("{clients.run_name(training)}").id)
    """)
    check_server_run_page(browser, services, run_id, "services")


def test_an_s3_outage_mid_run_fails_it_and_a_rerun_after_the_restart_completes(client_env, services) -> None:
    """Stop the S3 server while a training run is under way: the run fails with the S3 error, no
    output of a failed step is registered, what was stored before the stop is still there after
    the restart (the server keeps its buckets on disk), and the same command then completes,
    reusing the cached steps."""
    import time

    import boto3

    from stacks.services import control, settings

    credentials = control.cfg.load_credentials()
    latest = """
        runs = Client().list_pipeline_runs(sort_by="desc:created", size=20)
        run = next((r for r in runs.items if r.name.startswith("insurance_training")), None)
        result = {"name": run.name if run else None,
                  "done": [n for n, s in (run.steps.items() if run else []) if s.status.value == "completed"]}
    """
    before = clients.query(client_env, latest)["name"]
    # --no-cache: every step of this run really runs (and writes to S3) until the outage. One
    # attempt per S3 request: botocore's default 5, with backoff, only delay the same failure
    # (about a minute on this run) and the test is about what the failure leaves behind. The same
    # for MLflow's client, whose artifact uploads go through the tracking server to the stopped S3:
    # its default 7 retries with exponential backoff held a failing step for minutes (a 503 s test).
    process = subprocess.Popen([sys.executable, "run.py", "training", "--config", str(INSURANCE_CONFIG), "--no-cache"],
                               env={**clients.own_config(client_env, "outage-run"), "AWS_MAX_ATTEMPTS": "1",
                                    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"},
                               cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        run_name = None
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and process.poll() is None:
            found = clients.query(client_env, latest)
            if found["name"] != before and "split_dataset" in found["done"]:
                run_name = found["name"]
                break
            time.sleep(2)
        if not run_name and process.poll() is not None:
            stdout, stderr = process.communicate()
            pytest.fail(f"the run ended before reaching split_dataset:\n{stdout[-2000:]}\n{stderr[-3000:]}")
        assert run_name, "the run never reached split_dataset"
        control.stop("s3")
        stdout, stderr = process.communicate(timeout=600)
    finally:
        if process.poll() is None:
            process.kill()
        control.start("s3", credentials)
    assert process.returncode != 0, stdout[-2000:]
    assert f"pipeline run '{run_name}' failed" in stderr, stderr[-3000:]
    assert "artifact store 'services_s3_store' (s3://zenml-artifacts)" in stderr and "127.0.0.1:9300" in stderr

    found = clients.query(client_env, f"""
        run = Client().get_pipeline_run("{run_name}")
        result = {{"status": run.status.value,
                   "failed_outputs": sum(len(a) for s in run.steps.values() if s.status.value == "failed"
                                         for a in s.outputs.values()),
                   "completed": [n for n, s in run.steps.items() if s.status.value == "completed"],
                   "stored": [a.uri for s in run.steps.values() if s.status.value == "completed"
                              for values in s.outputs.values() for a in values]}}
    """)
    assert found["status"] == "failed" and found["failed_outputs"] == 0
    s3 = boto3.client("s3", endpoint_url=settings.S3_ENDPOINT, region_name="us-east-1",
                      aws_access_key_id=services["aws_access_key_id"],
                      aws_secret_access_key=services["aws_secret_access_key"])
    for uri in found["stored"]:  # written before the stop, still there after the restart
        listed = s3.list_objects_v2(Bucket=settings.ARTIFACT_BUCKET,
                                    Prefix=uri.removeprefix(f"s3://{settings.ARTIFACT_BUCKET}/"))
        assert listed["KeyCount"] > 0, uri

    rerun = clients.run(client_env, "training", "--config", str(INSURANCE_CONFIG))
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    steps = clients.query(client_env, f"""
        run = Client().get_pipeline_run("{clients.run_name(rerun)}")
        result = {{name: [step.status.value, step.config.enable_cache] for name, step in run.steps.items()}}
    """)
    # The source is read again; each cacheable step that the failed run completed before the
    # outage is reused from S3 (its inputs have the same content), and the rest runs.
    assert steps["extract_source"][0] == "completed" and steps["promote_model"][0] == "completed"
    reusable = {name for name in found["completed"] if steps[name][1] is not False}
    cached = {name for name, (status, _) in steps.items() if status == "cached"}
    assert "split_dataset" in reusable and reusable <= cached, steps


def test_the_housing_data_pipeline_and_the_project_api_run_on_the_services_stack(training, client_env) -> None:
    """The data pipeline writes its reports to S3; the project API answers from the ZenML server,
    the MLflow server (with the tracker's credentials) and models loaded from S3."""
    import requests

    from tests.conftest import free_port

    completed = clients.run(client_env, "data", "--config", str(PROJECT_ROOT / "configs" / "housing.yaml"))
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    found = clients.query(client_env, f"""
        run = Client().get_pipeline_run("{clients.run_name(completed)}")
        report = run.steps["explore_data"].outputs["eda_report"][0]
        result = {{"uri": report.uri, "charts": len(report.load().charts),
                   "activity": run.run_metadata["data_activity"]}}
    """)
    assert found["uri"].startswith("s3://") and found["charts"] >= 7
    assert found["activity"]["rows"] == 20_640 and found["activity"]["outcome"] == "completed"

    port = free_port()
    server = subprocess.Popen([sys.executable, "run.py", "api", "--config", str(INSURANCE_CONFIG), "--config",
                               str(PROJECT_ROOT / "configs" / "housing.yaml"), "--port", str(port),
                               "--log-level", "warning"], env=client_env, cwd=PROJECT_ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    api = f"http://127.0.0.1:{port}"
    try:
        _wait_for(f"{api}/health", server)
        training_id = clients.query(client_env, f'result = str(Client().get_pipeline_run("{clients.run_name(training)}").id)')
        metrics = requests.get(f"{api}/runs/{training_id}/metrics", timeout=60).json()
        assert metrics["mlflow"]["test_r2"] > 0.8  # read from the MLflow server, which requires a login
        quality = requests.get(f"{api}/data-quality/housing", timeout=60).json()
        assert quality["validation"]["success"] and quality["profile"]["rows"] == 20_640
        record = {"age": 40, "sex": "female", "bmi": 31.5, "children": 2, "smoker": "yes", "region": "southeast"}
        prediction = requests.post(f"{api}/predict/insurance", json=record, timeout=120)
        assert prediction.status_code == 200 and prediction.json()["predicted_charges"] > 20_000, prediction.text
    finally:
        server.terminate()
        server.wait(timeout=30)


def _wait_for(url: str, server: subprocess.Popen, seconds: float = 120) -> None:
    import time

    import requests

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"the server exited: {server.communicate()[0][-3000:]}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {seconds} s")
