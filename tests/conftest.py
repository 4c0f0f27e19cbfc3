"""Test-wide set-up: process environment defaults (telemetry off), and a private ZenML store and state folder.

Both are set before anything imports ZenML, so no test ever reads or writes the user's own
ZenML store or the project's state/ folder.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from core.environment import set_process_defaults  # noqa: E402

set_process_defaults()
_SESSION_DIR = Path(tempfile.mkdtemp(prefix="mlops-tests-"))
os.environ["ZENML_CONFIG_PATH"] = str(_SESSION_DIR / "zenml")
# ZenML keeps the active stack and project in the repository's .zen/config.yaml: a private
# repository root keeps the tests from rewriting the project's own (the source root is pinned
# to the project in tests/pipeline/conftest.py, so steps still import from here).
os.environ["ZENML_REPOSITORY_PATH"] = str(_SESSION_DIR / "repo")
os.environ["MLOPS_STATE_DIR"] = str(_SESSION_DIR / "state")
os.environ.setdefault("ZENML_LOGGING_VERBOSITY", "WARN")
# The Kubernetes template is validated against a kubeconfig of a cluster that does not exist
# (tests/pipeline/test_stack_templates.py writes it). The kubernetes client reads KUBECONFIG once,
# when it is first imported, which ZenML may do in any earlier test.
os.environ["KUBECONFIG"] = str(_SESSION_DIR / "kubeconfig")

import pytest  # noqa: E402

INSURANCE_CSV = PROJECT_ROOT / "data" / "insurance" / "insurance.csv"
INSURANCE_CONFIG = PROJECT_ROOT / "configs" / "insurance.yaml"


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve_in_thread(app):
    """Serve an ASGI app with a real uvicorn server on a free loopback port, in a daemon thread.
    A generator: yields the base URL, and stops the server when resumed (for pytest fixtures)."""
    import threading
    import time

    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def require_service(name: str, reason: str) -> None:
    """Skip when a service is unreachable, unless the run demands services (CI sets that)."""
    message = f"{name} unreachable: {reason}"
    if os.environ.get("MLOPS_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{message} (MLOPS_REQUIRE_SERVICES=1: services must be up)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def session_dir() -> Path:
    return _SESSION_DIR


@pytest.fixture(scope="session")
def insurance_frame():
    import pandas as pd

    return pd.read_csv(INSURANCE_CSV)


@pytest.fixture(scope="session")
def insurance_db(session_dir: Path) -> str:
    """The seeded SQLite source, reached through INSURANCE_DB_URL as a user would override it."""
    from core.config import load_config
    from steps.ingest.sources import seed_database

    url = f"sqlite:///{session_dir / 'state' / 'insurance.db'}"
    os.environ["INSURANCE_DB_URL"] = url
    params = load_config(INSURANCE_CONFIG).parameters
    assert seed_database(str(INSURANCE_CSV), params.source, params.schema_) == 1338
    return url


CHROMIUM = os.environ.get("MLOPS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        require_service("chromium", f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()
