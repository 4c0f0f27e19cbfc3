"""What the tests of the services and containers stacks share: client processes on the real
servers, each a subprocess as a user would start it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Dict

import pytest

from tests.conftest import PROJECT_ROOT, require_service


def zenml(env: Dict[str, str], *arguments: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).with_name("zenml")), *arguments], env=env, cwd=PROJECT_ROOT,
                          input=stdin, capture_output=True, text=True, timeout=300)


def run(env: Dict[str, str], *arguments: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "run.py", *arguments], env=env, cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=timeout)


def own_config(env: Dict[str, str], name: str) -> Dict[str, str]:
    """``env`` with a copy of its client configuration, for a process that runs while others use
    the original: every ZenML process rewrites its config file in place when it starts, so one
    that reads it half-written falls back to the `default` stack and writes that back for all
    (seen in CI: a run started next to a polling query went to the default stack)."""
    original = Path(env["ZENML_CONFIG_PATH"])
    copy = original.with_name(f"{original.name}-{name}")
    copy.mkdir(exist_ok=True)
    for config_file in ("config.yaml", "credentials.yaml"):
        if (original / config_file).exists():
            (copy / config_file).write_text((original / config_file).read_text())
    return {**env, "ZENML_CONFIG_PATH": str(copy)}


def query(env: Dict[str, str], code: str) -> dict:
    """Run ``code`` (which sets ``result``) in a client process on the server; returns ``result``."""
    script = Path(env["ZENML_REPOSITORY_PATH"]) / "query.py"  # a file: ZenML needs a source root
    # Loading a table needs the project's materializers importable, as in any of its processes.
    script.write_text(f"import json, sys\nsys.path.insert(0, {str(PROJECT_ROOT)!r})\n"
                      "from zenml.client import Client\n" + textwrap.dedent(code)
                      + "\nprint(json.dumps(result))")
    completed = subprocess.run([sys.executable, str(script)], env=env, cwd=PROJECT_ROOT, capture_output=True,
                               text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def run_name(completed: subprocess.CompletedProcess) -> str:
    lines = [line for line in completed.stdout.splitlines() if line.startswith("Run: ")]
    assert lines, completed.stdout[-3000:] + completed.stderr[-3000:]
    return lines[-1].split()[1]


def services_credentials() -> Dict[str, str]:
    from stacks.services import control, settings

    down = [name for name in control.SERVERS if not (control.running_pid(name) and control.HEALTH[name]())]
    if down:
        require_service("services stack", f"{', '.join(down)} not running: start them with stacks/services/up")
    return settings.load_credentials()


def stack_client_env(credentials: Dict[str, str], session_dir: Path, stack: str) -> Dict[str, str]:
    """A fresh client configuration logged in with the API key, with ``stack`` active."""
    from stacks.services.control import client_environment

    env = {**os.environ, **client_environment(credentials),
           "ZENML_CONFIG_PATH": str(session_dir / f"zenml-{stack}-client"),
           "ZENML_REPOSITORY_PATH": str(session_dir / f"repo-{stack}")}
    Path(env["ZENML_REPOSITORY_PATH"]).mkdir(parents=True, exist_ok=True)
    switched = zenml(env, "stack", "set", stack)
    assert switched.returncode == 0, switched.stdout + switched.stderr
    return env


def assert_medical_cost_served_from_redis(expected: Dict[str, list]) -> None:
    """The medical-cost view on the services stack's servers answers from Redis with these clients' values."""
    import redis
    from feast import FeatureStore

    from stacks.services import settings

    store = FeatureStore(repo_path=str(settings.SERVICES_DIR / "feast"))
    assert store.config.online_store.type == "redis"
    online = store.get_online_features(features=["client_profile:bmi", "client_profile:smoker"],
                                       entity_rows=[{"client_id": key} for key in expected["client_id"]]).to_dict()
    assert online["bmi"] == pytest.approx(expected["bmi"]) and online["smoker"] == expected["smoker"]
    assert redis.Redis(host=settings.HOST, port=settings.PORTS.redis, db=settings.REDIS_DB).dbsize() > 0
