"""Customer churn through the shared training pipeline, from two real sources: the customer
master data CSV and the billing API (a real uvicorn server on loopback), joined on customerID.
The model targets on the stratified held-out split, the parsed TotalCharges, the confusion
matrix, and bad input from either source stopping the run with the records named."""

from __future__ import annotations

import os

import pandas as pd
import pytest
import yaml

from core.config import RunConfig, load_config
from core.launch import PipelineFailed, run_training
from steps.evaluate.metrics import classification_metrics
from tests.conftest import PROJECT_ROOT, serve_in_thread

pytestmark = pytest.mark.pipeline

CHURN_CONFIG = PROJECT_ROOT / "configs" / "churn.yaml"
TELCO_CSV = PROJECT_ROOT / "data" / "churn" / "Telco-Customer-Churn.csv"
CUSTOMERS_CSV = PROJECT_ROOT / "data" / "churn" / "customers.csv"
TOKEN = "pipeline-test-token"


def _step(run, name: str):
    from zenml.client import Client

    return Client().get_pipeline_run(run.id).steps[name]


@pytest.fixture(scope="module")
def billing_api():
    """The billing API on loopback, named by the environment as the config expects."""
    from serving.billing_api import billing_records, create_app

    server = serve_in_thread(create_app(billing_records(str(TELCO_CSV)), TOKEN))
    url = next(server)
    saved = {name: os.environ.get(name) for name in ("CHURN_API_URL", "CHURN_API_TOKEN")}
    os.environ.update(CHURN_API_URL=url, CHURN_API_TOKEN=TOKEN)
    yield url
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    next(server, None)


@pytest.fixture(scope="module")
def churn_run(local_stack, billing_api):
    return run_training(load_config(CHURN_CONFIG))


def test_the_model_meets_the_roc_auc_and_f1_targets_on_held_out_customers(churn_run) -> None:
    model = _step(churn_run, "select_best_model").outputs["model"][0].load()
    test_data = _step(churn_run, "split_dataset").outputs["test_data"][0].load()
    assert len(test_data) == pytest.approx(0.2 * 7043, abs=1)
    assert test_data["Churn"].mean() == pytest.approx(1869 / 7043, abs=0.002)  # stratified
    inputs = test_data[list(model.feature_names_in_)]
    metrics = classification_metrics(test_data["Churn"].to_numpy(), model.predict(inputs),
                                     model.predict_proba(inputs)[:, 1])
    assert metrics["roc_auc"] >= 0.84 and metrics["f1"] >= 0.60, metrics
    assert "customerID" not in model.feature_names_in_  # an identifier, never a feature


def test_logistic_regression_and_random_forest_are_evaluated_too(churn_run) -> None:
    for name in ("logistic", "random_forest"):
        metrics = _step(churn_run, f"train_{name}").outputs["candidate_evaluation"][0].load()["metrics"]
        assert {"accuracy", "precision", "recall", "f1", "roc_auc"} <= set(metrics)
        assert metrics["roc_auc"] > 0.8, (name, metrics)


def test_total_charges_arrive_as_text_and_are_parsed_with_the_blanks_counted(churn_run) -> None:
    raw = _step(churn_run, "extract_source")
    received = raw.outputs["training_raw_data"][0].load()
    assert received["TotalCharges"].dtype == object and (received["TotalCharges"].str.strip() == "").sum() == 11
    assert raw.run_metadata["parts"]["billing"]["rows"] == 7043
    parsed = _step(churn_run, "parse_text_numbers_step")
    assert parsed.run_metadata["blank_values_now_missing"] == {"TotalCharges": 11}
    typed = parsed.outputs["training_typed_data"][0].load()
    assert typed["TotalCharges"].dtype == float and typed["TotalCharges"].isna().sum() == 11


def test_the_confusion_matrix_matches_the_selected_model_on_the_held_out_split(churn_run) -> None:
    from steps.evaluate.confusion import confusion_counts

    step = _step(churn_run, "plot_confusion_matrix")
    model = _step(churn_run, "select_best_model").outputs["model"][0].load()
    test_data = _step(churn_run, "split_dataset").outputs["test_data"][0].load()
    expected = confusion_counts(test_data["Churn"], model.predict(test_data[list(model.feature_names_in_)]))
    assert step.run_metadata["confusion_matrix"] == expected and sum(expected.values()) == len(test_data)
    assert "predicted Yes" in step.outputs["confusion_matrix"][0].load()
    slices = _step(churn_run, "analyze_slices").outputs["slice_report"][0].load()
    assert slices.rows == len(test_data) and slices.overall_error_rate == pytest.approx(
        1 - classification_metrics(test_data["Churn"].to_numpy(), model.predict(
            test_data[list(model.feature_names_in_)]))["accuracy"])


def _config_with_customers(path) -> RunConfig:
    raw = yaml.safe_load(CHURN_CONFIG.read_text())
    raw["parameters"]["source"]["parts"]["customers"]["path"] = str(path)
    return RunConfig.model_validate(raw)


def _ingestion_log(session_dir) -> list:
    return (session_dir / "state" / "logs" / "ingestion.log").read_text().splitlines()


def test_a_duplicated_customer_in_the_csv_stops_the_run_at_the_extract(churn_run, tmp_path, session_dir) -> None:
    """The extract is retried once (the config's ingestion.step_retries), each attempt logged,
    and the run then fails naming the duplicated customer."""
    customers = pd.read_csv(CUSTOMERS_CSV, dtype=str, keep_default_na=False)
    path = tmp_path / "customers.csv"
    pd.concat([customers, customers.iloc[[42]]]).to_csv(path, index=False)
    with pytest.raises(PipelineFailed) as error:
        run_training(_config_with_customers(path))
    assert list(error.value.failures) == ["extract_source"]
    assert f"duplicated records): {customers.customerID[42]}" in error.value.failures["extract_source"]
    attempts = [line for line in _ingestion_log(session_dir) if f"| {error.value.run_name} |" in line]
    assert len(attempts) == 2 and all("| failed |" in line and "duplicated records" in line for line in attempts)


def test_a_successful_ingestion_is_logged_with_its_rows(churn_run, session_dir) -> None:
    from zenml.client import Client

    name = Client().get_pipeline_run(churn_run.id).name
    [line] = [line for line in _ingestion_log(session_dir) if f"| {name} |" in line]
    assert "| joined on customerID: customers=csv:" in line and "| ok |" in line and line.endswith("rows=7043")


def test_total_charges_that_are_not_numbers_stop_the_run_naming_the_column(churn_run, tmp_path, monkeypatch) -> None:
    from serving.billing_api import billing_records, create_app

    records = billing_records(str(TELCO_CSV))
    records[7]["TotalCharges"] = "n/a"
    server = serve_in_thread(create_app(records, TOKEN))
    monkeypatch.setenv("CHURN_API_URL", next(server))
    try:
        with pytest.raises(PipelineFailed) as error:
            run_training(load_config(CHURN_CONFIG))
    finally:
        next(server, None)
    assert "column 'TotalCharges' holds 1 value(s) that are neither numbers nor blank: ['n/a']" in str(error.value)


def test_each_source_lands_as_received_in_the_raw_lake(churn_run) -> None:
    import json
    import re

    from zenml.client import Client
    from zenml.io import fileio

    root = Client().active_stack.artifact_store.path
    landed = {p["source"]: p for p in _step(churn_run, "extract_source").run_metadata["lake_partitions"]}
    assert set(landed) == {"crm_export", "billing_api"}
    layout = re.compile(re.escape(root) + r"/raw/(crm_export/customers|billing_api/billing)/(\d{4})/(\d{2})/(\d{2})/"
                        r"\2\3\4T\d{6}_\d{6}Z\.(csv|json)$")
    assert all(layout.match(p["path"]) for p in landed.values()), landed
    with fileio.open(landed["crm_export"]["path"], "rb") as handle:
        assert handle.read() == CUSTOMERS_CSV.read_bytes()  # byte for byte
    with fileio.open(landed["billing_api"]["path"], "rb") as handle:
        pages = json.loads(handle.read())
    assert len(pages) == 8 and sum(len(page["items"]) for page in pages) == 7043
    assert pages[0]["items"][0]["customerID"] == pd.read_csv(CUSTOMERS_CSV).customerID[0]
    for partition in landed.values():  # no partial file is left beside a partition
        folder = partition["path"].rsplit("/", 1)[0]
        assert [name for name in fileio.listdir(folder) if str(name).startswith(".")] == []


def test_a_second_ingestion_is_a_new_version_with_its_change_log_and_the_first_is_kept(churn_run) -> None:
    from zenml.io import fileio

    first = _step(churn_run, "extract_source")
    assert first.run_metadata["change_log"].startswith(("first version: 7043 rows", "7043 rows (+0"))
    second_run = run_training(load_config(CHURN_CONFIG))
    second = _step(second_run, "extract_source")
    raw = second.outputs["training_raw_data"][0]
    metadata = raw.run_metadata
    assert metadata["rows"] == 7043 and metadata["source"].startswith("joined on customerID")
    assert metadata["schema_hash"] == first.run_metadata["schema_hash"]
    import re

    from zenml.client import Client

    logged = re.fullmatch(r"7043 rows \(\+0 against version of run ([0-9a-f-]+)\), schema unchanged",
                          metadata["change_log"])
    assert logged, metadata["change_log"]  # against the latest earlier ingestion of the same source
    assert Client().get_pipeline_run(logged.group(1)).created < Client().get_pipeline_run(second_run.id).created
    assert raw.version != first.outputs["training_raw_data"][0].version
    for partition in first.run_metadata["lake_partitions"]:
        assert fileio.exists(partition["path"])  # the earlier ingestion is still there
    paths = {p["path"] for p in second.run_metadata["lake_partitions"]}
    assert not paths & {p["path"] for p in first.run_metadata["lake_partitions"]}


def test_retraining_on_a_stored_dataset_version_reproduces_the_model(churn_run, monkeypatch) -> None:
    """`python run.py training --config configs/churn.yaml --dataset-version N`: the stored raw
    version is consumed as it is (no extract; the billing API may be gone), and the result is
    the original run's."""
    from tests.conftest import free_port

    raw = _step(churn_run, "extract_source").outputs["training_raw_data"][0]
    monkeypatch.setenv("CHURN_API_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    rerun = run_training(load_config(CHURN_CONFIG), dataset_version=int(raw.version))
    assert "extract_source" not in rerun.steps
    assert _step(rerun, "parse_text_numbers_step").inputs["raw_data"][0].id == raw.id  # lineage to version N
    assert f"dataset_version_{raw.version}" in {tag.name for tag in rerun.tags}
    original = _step(churn_run, "select_best_model").outputs["model_evaluation"][0].load()
    again = _step(rerun, "select_best_model").outputs["model_evaluation"][0].load()
    assert again["candidate"] == original["candidate"] and again["metrics"] == original["metrics"]
    original_split = _step(churn_run, "split_dataset").outputs["test_data"][0].load()
    pd.testing.assert_frame_equal(_step(rerun, "split_dataset").outputs["test_data"][0].load()
                                  .drop(columns="loaded_at"), original_split.drop(columns="loaded_at"))


def test_a_dataset_version_of_another_source_or_none_at_all_is_refused(churn_run) -> None:
    from core.launch import LaunchError

    raw = _step(churn_run, "extract_source").outputs["training_raw_data"][0]
    housing = load_config(PROJECT_ROOT / "configs" / "housing.yaml")
    with pytest.raises(LaunchError, match=f"version {raw.version} of 'training_raw_data' was extracted from joined on "
                                          "customerID.*not from this config's source"):
        run_training(housing, dataset_version=int(raw.version))
    with pytest.raises(LaunchError, match="there is no version 99999 of 'training_raw_data'"):
        run_training(load_config(CHURN_CONFIG), dataset_version=99999)


def test_the_data_pipeline_reports_the_text_totals_and_explores_churn(billing_api) -> None:
    """`python run.py data --config configs/churn.yaml`: the data-quality report (HTML and CSV)
    names TotalCharges' defect with its count and resolution; the EDA has the churn rate by
    category, box plots by class, and associations that match a direct computation."""
    from scipy.stats.contingency import association

    from core.launch import run_data
    from materializers.exploration import issues_csv

    run = run_data(load_config(CHURN_CONFIG))
    profile = _step(run, "profile_data").outputs["data_profile"][0].load()
    [issue] = profile.issues
    assert (issue.column, issue.issue, issue.count) == ("TotalCharges", "numbers sent as text, 11 blank", 11)
    assert "TotalCharges,\"numbers sent as text, 11 blank\",11," in issues_csv(profile)
    report = _step(run, "explore_data").outputs["eda_report"][0].load()
    assert {"Churn rate by category (dashed: overall)", "Box plots by Churn", "Histograms"} <= set(report.charts)
    telco = pd.read_csv(TELCO_CSV)
    expected = association(pd.crosstab(telco["Contract"], telco["Churn"]).to_numpy(), method="cramer")
    assert report.association("Contract", "Churn").value == pytest.approx(expected)


def _queries():
    text = (PROJECT_ROOT / "sql" / "churn_queries.sql").read_text()
    blocks = [block.strip() for block in text.split("\n\n")]
    return ["\n".join(line for line in block.splitlines() if not line.startswith("--")) for block in blocks
            if any(not line.startswith("--") for line in block.splitlines())]


def test_feature_engineering_appends_a_version_to_the_sql_feature_table(billing_api, session_dir) -> None:
    """`python run.py feature_engineering --config configs/churn.yaml`: the engineered features of
    every customer land in the SQL table as the run's version; the README's queries answer."""
    from sqlalchemy import create_engine, text

    from core.launch import run_feature_engineering

    config = load_config(CHURN_CONFIG)
    run = run_feature_engineering(config)
    written = _step(run, "store_feature_table").outputs["feature_table_write"][0].load()
    assert written["rows_written"] == 7043 and written["feature_version"] == str(run.id)
    url = config.parameters.feature_table.database_url()
    assert url == f"sqlite:///{session_dir / 'state' / 'churn_features.db'}"  # the state folder, not the repo
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            results = [connection.execute(text(query), {"version": str(run.id)}).mappings().all() for query in _queries()]
    finally:
        engine.dispose()
    versions, customer, by_band, metadata = results
    assert str(run.id) in {row["feature_version"] for row in versions}
    [row] = customer
    assert (row["tenure_bucket"], row["services_count"], row["total_spend"], row["month_to_month"]) == (
        "0-12 months", 2, 29.85, 1)
    assert sum(row["customers"] for row in by_band) == 7043
    worst = by_band[0]
    assert (worst["tenure_bucket"], worst["month_to_month"]) == ("0-12 months", 1) and worst["churn_rate"] > 0.45
    assert {row["feature"] for row in metadata} >= set(config.parameters.engineered_features)
    # The feature table is a versioned artifact that names the ingestion it goes back to (an
    # earlier one with the same contents where ZenML reused the cached step's version).
    from zenml.client import Client

    extract = _step(run, "extract_source").run_metadata
    recorded = _step(run, "engineer_features").outputs["engineered_features"][0].run_metadata
    raw_name, raw_version = recorded["raw_version"].split(":")
    raw = Client().get_artifact_version(raw_name, raw_version).run_metadata
    assert raw_name == "training_raw_data" and recorded["source"] == raw["source"] == extract["source"]
    assert recorded["ingested_at"] == raw["ingested_at"] <= extract["ingested_at"]
    assert recorded["rows"] == 7043 and recorded["schema_hash"] != extract["schema_hash"]  # engineered columns added
    assert recorded["change_log"].startswith(("first version: 7043 rows", "7043 rows (+0 against version "))


def test_feature_engineering_runs_on_a_bounded_schedule(billing_api) -> None:
    import subprocess
    import sys

    from zenml.client import Client

    before = {run.id for run in Client().list_pipeline_runs(pipeline_name="feature_engineering", size=50).items}
    result = subprocess.run([sys.executable, "run.py", "feature_engineering", "--config", str(CHURN_CONFIG),
                             "--schedule", "every 2s", "--max-runs", "2"],
                            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    runs = [run for run in Client().list_pipeline_runs(pipeline_name="feature_engineering", size=50).items
            if run.id not in before]
    assert len(runs) == 2 and {run.status.value for run in runs} == {"completed"}
    assert all({"churn", "feature_engineering", "scheduled"} <= {tag.name for tag in run.tags} for run in runs)


def test_the_model_trains_on_the_feast_view_and_serves_it_online_by_customer_id(churn_run) -> None:
    """Every model input, engineered features included, is published as the Feast view
    customer_features (entity customerID, each feature with its description and tags); the
    split reads get_historical_features' rows, and the online store answers by customer id."""
    from feast import FeatureStore
    from zenml.client import Client

    from steps.store.feature_store import tabular_view

    run = Client().get_pipeline_run(churn_run.id)
    retrieved = run.steps["retrieve_training_features"].outputs["training_features"][0]
    assert run.steps["split_dataset"].inputs["dataset"][0].id == retrieved.id  # lineage: the split reads Feast's rows
    engineered = run.steps["engineer_features"].outputs["engineered_features"][0].load()
    view = tabular_view(load_config(CHURN_CONFIG).parameters)
    store = FeatureStore(repo_path=Client().active_stack.feature_store.config.feast_repo)
    published = store.get_feature_view("customer_features")
    fields = {field.name: field for field in published.features}
    assert set(fields) == set(view.feature_names) >= {"total_spend", "tenure_bucket", "services_count"}
    assert fields["services_count"].tags["owner"] == "retention-analytics"
    assert fields["services_count"].description.startswith("Number of subscribed services")
    sample = engineered.sample(5, random_state=1)
    online = store.get_online_features(features=[f"customer_features:{name}" for name in
                                                 ("services_count", "tenure_bucket", "average_monthly_spend")],
                                       entity_rows=[{"customerID": key} for key in sample["customerID"]]).to_dict()
    assert online["services_count"] == sample["services_count"].tolist()
    assert online["tenure_bucket"] == sample["tenure_bucket"].tolist()
    assert online["average_monthly_spend"] == pytest.approx(sample["average_monthly_spend"].tolist())


def test_the_api_scores_a_record_and_a_known_customer_from_the_online_store(churn_run) -> None:
    """POST /predict/churn takes a customer's columns (the engineered features are derived as in
    training); GET /predict/churn/<customerID> reads the customer's features from Feast's online
    store. Both answer with the production model's probability; an unknown customer is a 404."""
    import requests
    from zenml.client import Client

    from serving.project_api import create_project_api
    from steps.prepare.engineering import engineer

    config = load_config(CHURN_CONFIG)
    production = Client().get_model_version("customer_churn", "production")
    model = production.get_model_artifact("model").load()
    telco = pd.read_csv(TELCO_CSV)
    customer = telco.iloc[0]
    types = {"int": int, "float": float}
    record = {name: types.get(config.parameters.schema_.columns[name].type, str)(customer[name])
              for name in config.parameters.schema_.feature_columns}
    frame = engineer(pd.DataFrame([record]), config.parameters.engineered_features)
    expected = float(model.predict_proba(frame[list(model.feature_names_in_)])[0, 1])
    server = serve_in_thread(create_project_api([config]))
    api = next(server)
    try:
        posted = requests.post(f"{api}/predict/churn", json=record, timeout=60)
        assert posted.status_code == 200, posted.text
        assert posted.json()["probability"] == pytest.approx(expected)
        assert posted.json()["model_version"] == str(production.number)
        known = requests.get(f"{api}/predict/churn/{customer['customerID']}", timeout=60)
        assert known.status_code == 200, known.text
        assert known.json()["probability"] == pytest.approx(expected)  # the same customer, from the online store
        unknown = requests.get(f"{api}/predict/churn/0000-NOBODY", timeout=60)
        assert unknown.status_code == 404 and "no features for customerID=0000-NOBODY" in unknown.json()["detail"]
        bad = requests.post(f"{api}/predict/churn", json={**record, "Contract": "Weekly"}, timeout=60)
        assert bad.status_code == 422
    finally:
        next(server, None)


@pytest.fixture
def webhook():
    """A real HTTP server on loopback that records what is posted to it (an incoming webhook)."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks/pipelines", received
    server.shutdown()
    server.server_close()


def test_a_failed_run_is_posted_to_the_stacks_alerter_and_always_logged(churn_run, webhook, tmp_path,
                                                                         session_dir) -> None:
    """The failure hook of every pipeline: on a stack with an alerter (the project's `webhook`
    flavor, posting to a real HTTP server) the failed step and its error are posted; they always
    go to state/logs/failures.log; and an alerter that cannot deliver never hides the error."""
    from zenml.client import Client
    from zenml.enums import StackComponentType

    from core.launch import run_feature_engineering
    from pipelines.hooks import failure_log_path
    from tests.conftest import free_port

    url, received = webhook
    customers = pd.read_csv(CUSTOMERS_CSV, dtype=str, keep_default_na=False)
    path = tmp_path / "customers.csv"
    pd.concat([customers, customers.iloc[[7]]]).to_csv(path, index=False)
    client = Client()  # the `webhook` flavor came with the local stack's registration (stacks/register.py)
    local = {kind: members[0].id for kind, members in client.get_stack("local").components.items()}
    failures = {}
    try:
        for name, hook in (("team_webhook", url), ("gone_webhook", f"http://127.0.0.1:{free_port()}/nobody")):
            alerter = client.create_stack_component(name=name, flavor="webhook", configuration={"url": hook},
                                                    component_type=StackComponentType.ALERTER)
            client.create_stack(name=f"local_{name}", components={**local, StackComponentType.ALERTER: alerter.id})
            client.activate_stack(f"local_{name}")
            with pytest.raises(PipelineFailed) as failed:
                run_feature_engineering(_config_with_customers(path))
            failures[name] = failed.value
    finally:
        client.activate_stack("local")
    alerted, undelivered = failures["team_webhook"], failures["gone_webhook"]
    duplicated = f"duplicated records): {customers.customerID[7]}"
    [posted] = received  # once per failed run, after the step's retries, not per attempt
    assert posted["text"].startswith(f"Pipeline run '{alerted.run_name}' failed in step 'extract_source': ")
    assert duplicated in posted["text"]
    assert duplicated in undelivered.failures["extract_source"]  # the run's own error, not the alerter's
    logged = failure_log_path(session_dir / "state").read_text().splitlines()
    for run in (alerted, undelivered):
        [line] = [line for line in logged if f"run '{run.run_name}' failed in step 'extract_source'" in line]
        assert duplicated in line
