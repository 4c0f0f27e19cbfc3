"""The pipelines on the `containers` stack: the services stack's servers, with every step in its
own container, built by ZenML's image builder through podman and started by the local_docker
orchestrator (``stacks/containers/up`` prepares it; ``make test`` runs it first).

The runs are `python run.py ...` subprocesses, as a user would type them, started together where
they are independent (most of a run waits on the servers or on a container's start). The
containers stack shares every component but the orchestrator with the services stack, so these
runs also carry the checks of churn's and the stock view's components (S3 lake, PostgreSQL
feature table, Feast on PostgreSQL and Redis, MLflow server) that the services stack's own
module would otherwise repeat with the same servers.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict

import pytest
import yaml

from tests.conftest import INSURANCE_CONFIG, PROJECT_ROOT, require_service
from tests.services import clients

pytestmark = pytest.mark.services

CHURN_CONFIG = PROJECT_ROOT / "configs" / "churn.yaml"
STOCKS_CONFIG = PROJECT_ROOT / "configs" / "stocks.yaml"
KILLED_STEP = "analyze_slices"  # late in training, before anything is registered or promoted
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture(scope="module")
def services() -> Dict[str, str]:
    return clients.services_credentials()


@pytest.fixture(scope="module")
def containers_env(services, session_dir: Path) -> Dict[str, str]:
    from stacks.containers import engine

    if not (engine.api_answers() and engine.registry_answers()):
        require_service("containers stack", "podman's API or the image registry is not running: start them with "
                                            "stacks/containers/up")
    return clients.stack_client_env(services, session_dir, "containers")


@pytest.fixture(scope="module")
def step_environment(containers_env, services):
    """What the step containers read from the environment, in the stack's ZenML secret for this
    module (the billing API on loopback, the test database for churn's feature table); the
    secret's earlier values are put back afterwards."""
    from serving.billing_api import billing_records, create_app
    from stacks.containers.control import source_database_url
    from stacks.containers.settings import STEP_ENV_SECRET
    from tests.conftest import serve_in_thread
    from tests.services.test_postgres import POSTGRES_URL

    server = serve_in_thread(create_app(billing_records(str(PROJECT_ROOT / "data" / "churn" /
                                                            "Telco-Customer-Churn.csv")), "containers-token"))
    values = {"INSURANCE_DB_URL": source_database_url(services), "CHURN_API_URL": next(server),
              "CHURN_API_TOKEN": "containers-token", "CHURN_FEATURES_DB_URL": POSTGRES_URL}
    before = clients.query(containers_env, f"""
        secret = Client().get_secret("{STEP_ENV_SECRET}", allow_partial_name_match=False)
        result = secret.secret_values
        Client().update_secret(secret.id, add_or_update_values={values!r})
    """)
    try:
        yield values
    finally:
        next(server, None)
        clients.query(containers_env, f"""
            secret = Client().get_secret("{STEP_ENV_SECRET}", allow_partial_name_match=False)
            Client().update_secret(secret.id, add_or_update_values={before!r},
                                   remove_values=[k for k in {sorted(values)!r} if k not in {before!r}])
            result = sorted(Client().get_secret(secret.id).secret_values)
        """)


def _start(env: Dict[str, str], logs: Path, name: str, *arguments: str) -> subprocess.Popen:
    """A `run.py` subprocess with its own client configuration, its output in files (a full pipe
    would stall it while the test waits on another run), and ZenML's INFO lines in it (the
    orchestrator's "Running step ... in Docker", the build's reuse), which the suite otherwise mutes."""
    with open(logs / f"{name}.out", "w") as out, open(logs / f"{name}.err", "w") as err:
        return subprocess.Popen([sys.executable, "run.py", *arguments],
                                env={**clients.own_config(env, name), "ZENML_LOGGING_VERBOSITY": "INFO"},
                                cwd=PROJECT_ROOT, stdout=out, stderr=err, text=True)


def _finish(process: subprocess.Popen, logs: Path, name: str, timeout: float = 1800) -> subprocess.CompletedProcess:
    try:
        process.wait(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
    return subprocess.CompletedProcess(process.args, process.returncode,
                                       ANSI.sub("", (logs / f"{name}.out").read_text()),
                                       ANSI.sub("", (logs / f"{name}.err").read_text()))


def _kill_step_container(env: Dict[str, str], since: float, step: str, process: subprocess.Popen) -> str:
    """Wait for the medical-cost training run started after ``since`` to reach ``step``, then
    `podman kill` that step's container; returns the run's name."""
    import docker

    from stacks.containers.engine import environment

    run = None
    client = docker.DockerClient(base_url=environment()["DOCKER_HOST"], timeout=30)
    try:
        deadline = time.monotonic() + 1500
        while time.monotonic() < deadline and process.poll() is None:
            if run is None:
                found = clients.query(env, f"""
                    runs = Client().list_pipeline_runs(sort_by="desc:created", size=10).items
                    run = next((r for r in runs if r.name.startswith("insurance_training")
                                and r.created.timestamp() >= {since}), None)
                    result = {{"name": run.name, "snapshot": str(run.snapshot.id)}} if run else None
                """)
                run = found
                time.sleep(2)
                continue
            for container in client.containers.list():
                command = container.attrs["Config"]["Cmd"] or []
                # Once the step itself has started (ZenML recorded its step run), not while its
                # container is still setting up.
                if step in command and run["snapshot"] in command and b"has started" in container.logs():
                    killed = subprocess.run(["podman", "kill", container.id], env=environment(), capture_output=True,
                                            text=True, timeout=60)
                    assert killed.returncode == 0, killed.stderr
                    return run["name"]
            time.sleep(1)
    finally:
        client.close()
    raise AssertionError(f"the run never reached {step} (exit status {process.poll()})")


@pytest.fixture(scope="module")
def runs(containers_env, step_environment, services, session_dir: Path) -> Dict[str, object]:
    """Every pipeline run of the module. Together: the medical-cost training (its `analyze_slices`
    container is killed mid-run), churn's feature engineering and training, and the stock
    training, each with every step run (`--no-cache`: on a server that holds earlier runs, steps
    would otherwise be reused instead of run in a container). Then the medical-cost training again
    (it completes, reusing the killed run's cached steps) and the medical-cost batch inference
    with the model it promoted."""
    logs = session_dir / "containers-runs"
    logs.mkdir(exist_ok=True)
    env = containers_env
    production_before = _production_version(env)
    since = time.time()
    every_step = ("--no-cache",)
    started = {
        "insurance_killed": _start(env, logs, "insurance_killed", "training", "--config", str(INSURANCE_CONFIG),
                                   *every_step),
        "churn_features": _start(env, logs, "churn_features", "feature_engineering", "--config", str(CHURN_CONFIG),
                                 *every_step),
        "churn_training": _start(env, logs, "churn_training", "training", "--config", str(CHURN_CONFIG), *every_step),
        "stocks_training": _start(env, logs, "stocks_training", "training", "--config", str(STOCKS_CONFIG),
                                  *every_step),
    }
    try:
        killed_run = _kill_step_container(env, since, KILLED_STEP, started["insurance_killed"])
        done: Dict[str, object] = {"killed_run": killed_run, "production_before": production_before}
        done["insurance_killed"] = _finish(started["insurance_killed"], logs, "insurance_killed")
        done["production_after_kill"] = _production_version(env)
        rerun = _start(env, logs, "insurance_training", "training", "--config", str(INSURANCE_CONFIG))
        done["insurance_training"] = _finish(rerun, logs, "insurance_training")
        inference = _start(env, logs, "insurance_inference", "batch_inference", "--config", str(INSURANCE_CONFIG))
        done["insurance_inference"] = _finish(inference, logs, "insurance_inference")
        for name in ("churn_features", "churn_training", "stocks_training"):
            done[name] = _finish(started[name], logs, name)
        return done
    finally:
        for process in started.values():
            if process.poll() is None:
                process.kill()


def _production_version(env: Dict[str, str]):
    return clients.query(env, """
        from zenml.enums import ModelStages
        try:
            result = Client().get_model_version("medical_cost", ModelStages.PRODUCTION).number
        except KeyError:
            result = None
    """)


def _registered_metrics(services: Dict[str, str], model: str, run_name: str) -> Dict[str, float]:
    """The metrics logged with the MLflow server's version of ``model`` that ``run_name`` registered."""
    from mlflow.tracking import MlflowClient

    from stacks.services import settings

    os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"] = (
        settings.ADMIN, services["mlflow_admin_password"])
    try:
        mlflow = MlflowClient(tracking_uri=settings.MLFLOW_URI, registry_uri=settings.MLFLOW_URI)
        [registered] = [v for v in mlflow.search_model_versions(f"name='{model}'")
                        if v.tags.get("zenml_run_name") == run_name]
        return mlflow.get_run(registered.run_id).data.metrics
    finally:
        os.environ.pop("MLFLOW_TRACKING_USERNAME")
        os.environ.pop("MLFLOW_TRACKING_PASSWORD")


def _assert_completed(completed: subprocess.CompletedProcess) -> None:
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]


def _run_steps(env: Dict[str, str], name: str) -> dict:
    return clients.query(env, f"""
        run = Client().get_pipeline_run("{name}")
        result = {{"status": run.status.value, "stack": run.stack.name,
                   "orchestrator": run.stack.components["orchestrator"][0].flavor_name,
                   "steps": {{n: s.status.value for n, s in run.steps.items()}},
                   "uris": [a.uri for s in run.steps.values() for values in s.outputs.values() for a in values]}}
    """)


def _assert_each_step_in_a_container(completed: subprocess.CompletedProcess, found: dict) -> None:
    """Every step the run executed was started in its own container by the local_podman
    orchestrator (ZenML's local_docker) (its log line for each), on the containers stack, with its outputs in S3."""
    assert (found["status"], found["stack"], found["orchestrator"]) == ("completed", "containers", "local_podman")
    executed = [name for name, status in found["steps"].items() if status == "completed"]
    assert executed
    started = set(re.findall(r"Running step `?(\w+)`? in Docker", completed.stdout + completed.stderr))
    assert set(executed) <= started, sorted(set(executed) - started)
    assert found["uris"] and all(uri.startswith("s3://zenml-artifacts/") for uri in found["uris"])


def test_a_killed_step_container_fails_the_run_and_promotes_nothing(runs, containers_env) -> None:
    killed = runs["insurance_killed"]
    assert killed.returncode != 0
    assert KILLED_STEP in killed.stderr, killed.stderr[-3000:]
    found = _run_steps(containers_env, runs["killed_run"])
    assert found["status"] == "failed" and found["steps"][KILLED_STEP] in ("failed", "running"), found
    # The steps that do not need the killed one go on (the orchestrator's continue-on-failure):
    # the version may be registered, but promotion waits for every step and is skipped.
    assert found["steps"].get("promote_model") is None, found
    assert runs["production_after_kill"] == runs["production_before"]


def test_medical_cost_training_completes_on_the_containers_stack_reusing_the_killed_runs_steps(
        runs, containers_env, services) -> None:


    completed = runs["insurance_training"]
    _assert_completed(completed)
    name = clients.run_name(completed)
    found = _run_steps(containers_env, name)
    _assert_each_step_in_a_container(completed, found)
    assert "Reusing existing build" in completed.stdout + completed.stderr  # the killed run's image
    killed = _run_steps(containers_env, runs["killed_run"])["steps"]
    cacheable_before = {"validate_expectations", "clean_dataset", "split_dataset", "select_features",
                        "fit_preprocessor", "train_linear", "train_random_forest", "train_gradient_boosting"}
    assert all(killed[step] == "completed" and found["steps"][step] == "cached" for step in cacheable_before), found
    assert found["steps"][KILLED_STEP] == "completed" and found["steps"]["promote_model"] == "completed"
    assert "Promotion: promoted to production" in completed.stdout or "Promotion: not promoted" in completed.stdout

    assert float(_registered_metrics(services, "medical_cost", name)["test_r2"]) > 0.85


def test_medical_cost_batch_inference_on_the_containers_stack(runs, containers_env, step_environment) -> None:
    from sqlalchemy import create_engine, text

    completed = runs["insurance_inference"]
    _assert_completed(completed)
    name = clients.run_name(completed)
    _assert_each_step_in_a_container(completed, _run_steps(containers_env, name))
    assert "Predictions: 100 rows appended to sql:postgresql" in completed.stdout
    served = clients.query(containers_env, f"""
        served = Client().get_pipeline_run("{name}").steps["serve_online_features"].outputs["online_features"][0].load()
        result = served[["client_id", "bmi", "smoker"]].head(5).to_dict(orient="list")
    """)
    clients.assert_medical_cost_served_from_redis(served)  # what the step containers scored came from Redis
    engine = create_engine(step_environment["INSURANCE_DB_URL"])  # the source database the containers read
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SELECT COUNT(*) FROM predictions")).scalar_one() >= 100
    finally:
        engine.dispose()


def test_churn_feature_engineering_and_training_on_the_containers_stack(runs, containers_env, services,
                                                                        step_environment) -> None:
    """The sources land in the S3 bucket's raw lake (the billing API reached from the step
    containers), the engineered features in a PostgreSQL feature table and in the Feast view
    (PostgreSQL offline store, Redis online store), and the model on the MLflow server."""
    import boto3
    import redis
    from feast import FeatureStore
    from sqlalchemy import create_engine, text

    from stacks.services import settings

    engineered, trained = runs["churn_features"], runs["churn_training"]
    for completed in (engineered, trained):
        _assert_completed(completed)
    found = clients.query(containers_env, f"""
        run = Client().get_pipeline_run("{clients.run_name(engineered)}")
        result = {{"id": str(run.id), "lake": run.steps["extract_source"].run_metadata["lake_partitions"]}}
    """)
    _assert_each_step_in_a_container(engineered, _run_steps(containers_env, clients.run_name(engineered)))
    s3 = boto3.client("s3", endpoint_url=settings.S3_ENDPOINT, region_name="us-east-1",
                      aws_access_key_id=services["aws_access_key_id"],
                      aws_secret_access_key=services["aws_secret_access_key"])
    for partition in found["lake"]:
        assert partition["path"].startswith(f"s3://{settings.ARTIFACT_BUCKET}/")
        key = partition["path"].removeprefix(f"s3://{settings.ARTIFACT_BUCKET}/")
        assert "/raw/" in f"/{key}" and s3.head_object(Bucket=settings.ARTIFACT_BUCKET, Key=key)["ContentLength"] == \
            partition["bytes"]
    engine = create_engine(step_environment["CHURN_FEATURES_DB_URL"])
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT COUNT(*) FROM churn_features WHERE feature_version = :v"),
                                      {"v": found["id"]}).scalar_one()
    finally:
        engine.dispose()
    assert rows == 7043

    run_name = clients.run_name(trained)
    _assert_each_step_in_a_container(trained, _run_steps(containers_env, run_name))
    model = clients.query(containers_env, f"""
        run = Client().get_pipeline_run("{run_name}")
        evaluation = run.steps["select_best_model"].outputs["model_evaluation"][0].load()
        rows = run.steps["retrieve_training_features"].outputs["training_features"][0].load()
        result = {{"metrics": evaluation["metrics"],
                   "sample": rows[["customerID", "services_count", "tenure_bucket"]].tail(5).to_dict(orient="list")}}
    """)
    assert model["metrics"]["roc_auc"] >= 0.84 and model["metrics"]["f1"] >= 0.60, model["metrics"]
    store = FeatureStore(repo_path=str(settings.SERVICES_DIR / "feast"))  # the same registry, read from here
    assert (store.config.offline_store.type, store.config.online_store.type) == ("postgres", "redis")
    online = store.get_online_features(
        features=["customer_features:services_count", "customer_features:tenure_bucket"],
        entity_rows=[{"customerID": key} for key in model["sample"]["customerID"]]).to_dict()
    assert online["services_count"] == model["sample"]["services_count"]
    assert online["tenure_bucket"] == model["sample"]["tenure_bucket"]
    assert redis.Redis(host=settings.HOST, port=settings.PORTS.redis, db=settings.REDIS_DB).dbsize() > 0
    logged = _registered_metrics(services, "customer_churn", run_name)
    assert float(logged["test_roc_auc"]) == pytest.approx(model["metrics"]["roc_auc"])


def test_stock_training_publishes_its_view_to_redis_through_the_postgres_offline_store(runs, containers_env) -> None:
    """The stock pipeline's feature view from the step containers: Feast's SQL registry and
    offline store in PostgreSQL, the online store in Redis; online values are each symbol's last row."""
    import pandas as pd
    import redis
    from feast import FeatureStore
    from sqlalchemy import create_engine

    from stacks.services import settings

    completed = runs["stocks_training"]
    _assert_completed(completed)
    name = clients.run_name(completed)
    _assert_each_step_in_a_container(completed, _run_steps(containers_env, name))
    found = clients.query(containers_env, f"""
        run = Client().get_pipeline_run("{name}")
        result = run.steps["publish_feature_view"].outputs["feature_view"][0].load()
    """)
    assert found["feature_views"] == ["stock_rolling_features"]
    store = FeatureStore(repo_path=str(settings.SERVICES_DIR / "feast"))
    assert store.config.online_store.type == "redis" and store.config.offline_store.type == "postgres"
    features = ["stock_rolling_features:vol_moving_avg", "stock_rolling_features:adj_close_rolling_med"]
    online = store.get_online_features(features=features,
                                       entity_rows=[{"Symbol": "AAPL"}, {"Symbol": "NONE"}]).to_dict()
    source = store.get_feature_view("stock_rolling_features").batch_source
    config = store.config.offline_store
    engine = create_engine(f"postgresql+psycopg2://{config.user}@{config.host}:{config.port}/{config.database}")
    try:
        rows = pd.read_sql(f"SELECT * FROM {source.get_table_query_string()} WHERE \"Symbol\" = 'AAPL' "
                           f"ORDER BY event_timestamp DESC LIMIT 1", engine)
    finally:
        engine.dispose()
    assert online["vol_moving_avg"] == [pytest.approx(rows["vol_moving_avg"].iloc[0]), None]
    assert online["adj_close_rolling_med"][0] == pytest.approx(rows["adj_close_rolling_med"].iloc[0])
    assert redis.Redis(host=settings.HOST, port=settings.PORTS.redis, db=settings.REDIS_DB).dbsize() > 0


def test_a_failed_image_build_stops_before_any_step(containers_env, session_dir: Path) -> None:
    """A system package that no index has: the build fails with apt's own error, and no step runs."""
    raw = yaml.safe_load(INSURANCE_CONFIG.read_text())
    raw["settings"] = {"docker": {"apt_packages": ["libgomp1", "mlops-no-such-package"]}}
    config = session_dir / "insurance-unbuildable.yaml"
    config.write_text(yaml.safe_dump(raw))
    since = time.time()
    completed = clients.run({**containers_env, "ZENML_LOGGING_VERBOSITY": "INFO"}, "training", "--config",
                            str(config), timeout=900)
    assert completed.returncode != 0
    assert "Unable to locate package mlops-no-such-package" in completed.stdout + completed.stderr
    assert "the step image could not be built, no step was run" in completed.stderr, completed.stderr[-3000:]
    assert "Building Docker image" in completed.stdout + completed.stderr  # INFO lines are shown
    assert "Running step" not in completed.stdout + completed.stderr
    steps = clients.query(containers_env, f"""
        runs = Client().list_pipeline_runs(sort_by="desc:created", size=10).items
        result = sum(len(r.steps) for r in runs if r.created.timestamp() >= {since}
                     and r.name.startswith("insurance_training"))
    """)
    assert steps == 0


def test_no_secret_or_ca_bundle_is_in_any_layer_of_the_step_image(runs, containers_env, services,
                                                                  session_dir: Path) -> None:
    """Every layer of the image the runs used, parent included, read byte by byte: no credential
    of the stack (ZenML API key, S3 and MLflow passwords, the registry's password), no value the
    steps take from the stack's secret, and none of the host's own CA certificates that pip
    trusted during the build (those the image's Debian bundle lacks)."""
    import tarfile

    from stacks.containers.engine import podman

    image = clients.query(containers_env, """
        from zenml.enums import StackComponentType
        stack = Client().get_stack("containers")
        builds = Client().list_builds(stack_id=stack.id, sort_by="desc:created", size=1).items
        result = [item.image for item in builds[0].images.values()][0]
    """)
    secrets = {services[k] for k in ("zenml_api_key", "aws_secret_access_key", "mlflow_admin_password",
                                     "registry_password")} | {"containers-token"}
    host_bundle = Path("/etc/ssl/certs/ca-certificates.crt").read_text() if Path(
        "/etc/ssl/certs/ca-certificates.crt").is_file() else ""
    image_bundle = podman("run", "--rm", image, "cat", "/etc/ssl/certs/ca-certificates.crt").stdout
    extra_certificates = {block.split("-----BEGIN CERTIFICATE-----")[-1].strip()[:200]
                          for block in host_bundle.split("-----END CERTIFICATE-----") if "BEGIN" in block}
    extra_certificates -= {block.split("-----BEGIN CERTIFICATE-----")[-1].strip()[:200]
                           for block in image_bundle.split("-----END CERTIFICATE-----") if "BEGIN" in block}
    needles = [value.encode() for value in secrets | extra_certificates if value]
    archive = session_dir / "step-image.tar"
    podman("save", "--format", "docker-archive", "-o", str(archive), image, timeout=900)
    try:
        layers = 0
        with tarfile.open(archive) as outer:
            for member in outer:
                if not member.name.endswith(".tar"):
                    continue
                layers += 1
                with tarfile.open(fileobj=outer.extractfile(member)) as layer:
                    for entry in layer:
                        if entry.isfile() and entry.size < 50_000_000:
                            content = layer.extractfile(entry).read()
                            found = [needle[:12] for needle in needles if needle in content]
                            assert not found, (entry.name, found)
        assert layers > 5
    finally:
        archive.unlink(missing_ok=True)
