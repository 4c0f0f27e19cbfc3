"""The training run's DAG in the real ZenML dashboard, in a real headless Chromium.

A ZenML server is started on the session's private store, exactly as `zenml login --local`
starts its daemon (same environment), but as a subprocess this test owns, so the test
client keeps talking to its store directly. A fresh server first shows an onboarding survey;
the test completes it through the server's API, as a user could.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import PROJECT_ROOT, require_service

pytestmark = pytest.mark.pipeline

CHROMIUM = os.environ.get("MLOPS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOT_DIR = PROJECT_ROOT / "test-output"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def dashboard(session_dir: Path, trained_run):
    from zenml.config.global_config import GlobalConfiguration

    port = _free_port()
    config = GlobalConfiguration()
    env = dict(
        os.environ,
        ZENML_SERVER="true",
        ZENML_SERVER_ALLOW_LOCAL_FILE_ACCESS="true",
        ZENML_CONFIG_PATH=str(session_dir / "zenml-server"),
        ZENML_LOCAL_STORES_PATH=config.local_stores_path,
        ZENML_USER_ID=str(config.user_id),
        ZENML_SERVER_AUTH_SCHEME="NO_AUTH",
        ZENML_SERVER_DEPLOYMENT_TYPE="local",
        ZENML_DISABLE_DATABASE_MIGRATION="True",
        ZENML_SERVER_AUTO_ACTIVATE="True",
    )
    log = open(session_dir / "dashboard-server.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "zenml.zen_server.zen_server_api:app", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise RuntimeError(f"ZenML server exited: {(session_dir / 'dashboard-server.log').read_text()[-2000:]}")
            try:
                if requests.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.5)
        else:
            raise RuntimeError("ZenML server did not answer /health within 90 s")
        user = requests.get(f"{url}/api/v1/current-user", timeout=10).json()
        requests.put(f"{url}/api/v1/users/{user['id']}/email-opt-in", json={"email_opted_in": False},
                     timeout=10).raise_for_status()
        requests.put(f"{url}/api/v1/users/{user['id']}", json={"user_metadata": {"finished_onboarding_survey": True}},
                     timeout=10).raise_for_status()
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        require_service("chromium", f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def test_training_dag_and_validation_report_in_dashboard(dashboard, browser, trained_run) -> None:
    page = browser.new_page(viewport={"width": 1800, "height": 1100})
    page.goto(f"{dashboard}/projects/default/runs/{trained_run.id}", wait_until="networkidle")
    SCREENSHOT_DIR.mkdir(exist_ok=True)
    try:
        page.wait_for_selector("[data-id='step/extract_source']", timeout=60_000)
        # The DAG may open zoomed in, and only nodes in view are rendered: fit it, as a user would.
        page.get_by_role("button", name="Fit view").click()
        page.wait_for_selector("[data-id='step/promote_model']", timeout=30_000)
    finally:  # keep what the browser saw, also when the DAG does not appear
        page.screenshot(path=str(SCREENSHOT_DIR / "dashboard-training-dag.png"))
    node_ids = set(page.eval_on_selector_all("[data-id]", "nodes => nodes.map(n => n.getAttribute('data-id'))"))
    for step in ("extract_source", "validate_expectations", "validation_gate", "clean_dataset", "split_dataset",
                 "fit_preprocessor", "train_gradient_boosting", "select_best_model", "analyze_slices",
                 "register_model", "promote_model"):
        assert f"step/{step}" in node_ids, step
    for artifact in ("extract_source/outputs/step_output/training_raw_data",
                     "clean_dataset/outputs/step_output/training_dataset",
                     "select_best_model/outputs/step_output/model",
                     "validate_expectations/outputs/step_output/validation_report"):
        assert artifact in node_ids, artifact

    page.click("[data-id='validate_expectations/outputs/step_output/validation_report']")
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("tab", name="Visualization").click()
    load_preview = dialog.get_by_role("button", name="Load Preview")
    iframe = page.locator("iframe[title='Secure HTML Content']")
    load_preview.or_(iframe).first.wait_for(timeout=60_000)
    if load_preview.is_visible():  # large visualizations wait for an explicit click
        load_preview.click()
    frame = page.frame_locator("iframe[title='Secure HTML Content']")
    frame.get_by_text("expect_column_values_to_be_between").first.wait_for(timeout=60_000)
    page.screenshot(path=str(SCREENSHOT_DIR / "dashboard-validation-report.png"))
