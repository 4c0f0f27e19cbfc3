"""Process-wide environment defaults, set before any tool is imported (run.py, the Makefile,
the tests and the benchmarks). A value the user has already set always wins."""

import os

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


def set_process_defaults() -> None:
    for defaults in (TELEMETRY_OFF, THREADS, MLFLOW_TRANSFERS):
        for name, value in defaults.items():
            os.environ.setdefault(name, value)
