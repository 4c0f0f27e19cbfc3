"""Telemetry off: every tool here would otherwise phone home, and on a machine without internet
those calls stall. Set before any of them is imported (run.py, the Makefile and the tests)."""

import os

TELEMETRY_OFF = {
    "ZENML_ANALYTICS_OPT_IN": "false",
    "DISABLE_DEEPCHECKS_ANONYMOUS_TELEMETRY": "1",
    "GE_USAGE_STATS": "FALSE",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "1",
    # On 2 cores, sklearn/LightGBM thread pools thrash; one thread per process is faster here.
    "OMP_NUM_THREADS": "1",
    "OMP_WAIT_POLICY": "PASSIVE",
}


def disable_telemetry() -> None:
    for name, value in TELEMETRY_OFF.items():
        os.environ.setdefault(name, value)
