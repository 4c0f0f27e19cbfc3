"""The training run's DAG in the real ZenML dashboard, in a real headless Chromium.

A ZenML server is started on the session's private store, exactly as `zenml login --local`
starts its daemon (same environment), but as a subprocess this test owns, so the test
client keeps talking to its store directly. A fresh server first shows an onboarding survey;
the test completes it through the server's API, as a user could.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.dashboard_checks import check_data_run_eda, check_slice_report, check_training_run_page

pytestmark = pytest.mark.pipeline

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def dashboard(session_dir: Path, trained_run, skab_run):  # the runs it shows are stored before it starts
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


def test_training_dag_and_validation_report_in_dashboard(dashboard, browser, trained_run) -> None:
    page = browser.new_page(viewport={"width": 1800, "height": 1100})
    check_training_run_page(page, f"{dashboard}/projects/default/runs/{trained_run.id}", "dashboard")


def test_the_housing_eda_charts_render_on_the_data_run_page(dashboard, browser, housing_data_run) -> None:
    from zenml.client import Client

    charts = Client().get_pipeline_run(housing_data_run.id).steps["explore_data"].outputs["eda_report"][0].load().charts
    page = browser.new_page(viewport={"width": 1800, "height": 1100})
    loaded = check_data_run_eda(page, f"{dashboard}/projects/default/runs/{housing_data_run.id}", "dashboard")
    assert loaded == len(charts) >= 7


def test_the_skab_slice_report_renders_in_the_dashboard(dashboard, browser, skab_run) -> None:
    from zenml.client import Client

    report = Client().get_pipeline_run(skab_run.id).steps["analyze_slices"].outputs["slice_report"][0].load()
    assert report.slices, "SKAB's test experiments have weak slices to show"
    page = browser.new_page(viewport={"width": 1800, "height": 1100})
    check_slice_report(page, f"{dashboard}/projects/default/runs/{skab_run.id}", "dashboard-skab", report)
