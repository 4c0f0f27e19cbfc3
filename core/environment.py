"""Process-wide environment defaults, set before any tool is imported (run.py, the Makefile,
the tests and the benchmarks). A value the user has already set always wins."""

import os
from pathlib import Path
from typing import Dict


# Not core.paths: importing it here would fix its STATE_DIR before a caller (the tests) sets
# MLOPS_STATE_DIR.
PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Telemetry off: every tool here would otherwise phone home, and on a machine without internet
# those calls stall.
TELEMETRY_OFF = {
    "ZENML_ANALYTICS_OPT_IN": "false",
    "DISABLE_DEEPCHECKS_ANONYMOUS_TELEMETRY": "1",
    "GE_USAGE_STATS": "FALSE",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "1",
}

# On 2 cores, sklearn/LightGBM thread pools thrash; one thread per process is faster here.
THREADS = {
    "OMP_NUM_THREADS": "1",
    "OMP_WAIT_POLICY": "PASSIVE",
}

# MLflow artifacts always go through the tracking server (proxied). MLflow 3 otherwise asks an
# S3-backed server for presigned URLs and transfers directly with the object store; the services
# stack's S3 server (moto with credentials enforced) cannot check a presigned URL's query-string
# signature and answers 500, and MLflow then retries for minutes per file. The project's models
# are small, so the direct path would gain nothing here.
MLFLOW_TRANSFERS = {
    "MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD": "false",
    "MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD": "false",
}


# The `containers` stack's podman engine (stacks/containers), once `make containers-up` has
# started it. Not under MLOPS_STATE_DIR: one engine serves the project's runs and its tests.
ENGINE_DIR = Path(os.environ.get("MLOPS_CONTAINERS_DIR", PROJECT_ROOT / "state" / "containers")).resolve()
ENGINE_SOCKET = ENGINE_DIR / "podman.sock"


def container_engine_environment() -> Dict[str, str]:
    """How ZenML reaches that engine: its image builder runs podman's CLI (ZENML_CONTAINER_ENGINE),
    the local_docker orchestrator its Docker-compatible socket (DOCKER_HOST), and both take the
    project's own podman configuration, registry list and registry logins, never the machine's."""
    return {
        "ZENML_CONTAINER_ENGINE": "podman",
        "DOCKER_HOST": f"unix://{ENGINE_SOCKET}",
        "CONTAINERS_CONF": str(PROJECT_ROOT / "stacks" / "containers" / "containers.conf"),
        "CONTAINERS_REGISTRIES_CONF": str(ENGINE_DIR / "registries.conf"),
        "REGISTRY_AUTH_FILE": str(ENGINE_DIR / "auth.json"),
    }


def set_process_defaults() -> None:
    engine = container_engine_environment() if ENGINE_SOCKET.exists() else {}
    for defaults in (TELEMETRY_OFF, THREADS, MLFLOW_TRANSFERS, engine):
        for name, value in defaults.items():
            os.environ.setdefault(name, value)
