"""Where the services stack's servers listen, where they keep their state, and its credentials.

Every server listens on 127.0.0.1 only. Ports can be moved with environment variables (for a
machine where one is taken); the stack definition ``stacks/services.yaml`` receives them as
``{s3_endpoint}``, ``{mlflow_uri}`` and so on when it is registered.

Credentials are generated once, at the first ``stacks/services/up``, into
``state/services/credentials.json`` (mode 0600, under the git-ignored state folder). From there
they go into the servers' own configuration and into ZenML secrets; the stack YAML only names
the secrets (``{{mlops_s3.aws_access_key_id}}``), so no value is ever in a file git tracks.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Dict

from core.paths import PROJECT_ROOT, STATE_DIR

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Ports:
    zenml: int = int(os.environ.get("MLOPS_ZENML_PORT", "8380"))
    s3: int = int(os.environ.get("MLOPS_S3_PORT", "9300"))
    mlflow: int = int(os.environ.get("MLOPS_MLFLOW_PORT", "5300"))
    postgres: int = int(os.environ.get("MLOPS_POSTGRES_PORT", "5432"))
    mariadb: int = int(os.environ.get("MLOPS_MARIADB_PORT", "3306"))
    redis: int = int(os.environ.get("MLOPS_REDIS_PORT", "6379"))


PORTS = Ports()
# The servers' own state. Not under MLOPS_STATE_DIR (the tests give each session its own): one
# set of servers serves the project's runs and its tests alike.
SERVICES_DIR = Path(os.environ.get("MLOPS_SERVICES_DIR", PROJECT_ROOT / "state" / "services")).resolve()
CREDENTIALS_FILE = SERVICES_DIR / "credentials.json"

ZENML_URL = f"http://{HOST}:{PORTS.zenml}"
S3_ENDPOINT = f"http://{HOST}:{PORTS.s3}"
MLFLOW_URI = f"http://{HOST}:{PORTS.mlflow}"
ARTIFACT_BUCKET = "zenml-artifacts"
MLFLOW_BUCKET = "mlflow-artifacts"
DATABASES = ("zenml", "mlflow", "mlflow_auth", "feast", "sources")
REDIS_DB = 3  # the services stack's Feast online store; other Redis users keep db 0
ADMIN = "admin"
SERVICE_ACCOUNT = "mlops-client"
S3_SECRET = "mlops_s3"
MLFLOW_SECRET = "mlops_mlflow"


def database(purpose: str, credentials: Dict[str, str]) -> str:
    """This installation's database for ``purpose`` (one of ``DATABASES``).

    The name carries the installation id that was generated with the credentials: the servers'
    users and passwords live in these databases (the ZenML admin, MLflow's users), so a clone
    with new credentials must not meet an older clone's databases on the same machine."""
    if purpose not in DATABASES:
        raise ValueError(purpose)
    return f"mlops_{purpose}_{credentials['installation']}"


def feast_database() -> str:
    if not CREDENTIALS_FILE.is_file():
        return "start-the-services-first"  # only the services stack uses it, after `up`
    return database("feast", load_credentials())


def postgres_url(database: str, driver: str = "psycopg2") -> str:
    """PostgreSQL on loopback with the machine's trust authentication for the ``postgres`` role."""
    return f"postgresql+{driver}://postgres@{HOST}:{PORTS.postgres}/{database}"


def substitutions(state_dir: Path = STATE_DIR) -> Dict[str, str]:
    """The placeholders ``stacks/*.yaml`` may use, with this machine's values."""
    return {
        "state_dir": str(state_dir),
        "services_dir": str(SERVICES_DIR),
        "s3_endpoint": S3_ENDPOINT,
        "mlflow_uri": MLFLOW_URI,
        "artifact_bucket": ARTIFACT_BUCKET,
        "feast_registry_url": postgres_url(feast_database(), "psycopg"),
        "feast_database": feast_database(),
        "postgres_host": HOST,
        "postgres_port": str(PORTS.postgres),
        "redis_connection": f"{HOST}:{PORTS.redis},db={REDIS_DB}",
    }


def load_credentials(create: bool = False) -> Dict[str, str]:
    """The stored credentials; with ``create``, generate the missing ones first."""
    stored = json.loads(CREDENTIALS_FILE.read_text()) if CREDENTIALS_FILE.is_file() else {}
    if not create:
        if not stored:
            raise SystemExit(f"no {CREDENTIALS_FILE}: start the services first (stacks/services/up)")
        return stored
    wanted = {
        "installation": lambda: secrets.token_hex(4),
        "zenml_admin_password": lambda: secrets.token_urlsafe(18),
        "zenml_jwt_secret": lambda: secrets.token_hex(32),
        "zenml_encryption_key": lambda: secrets.token_hex(32),
        "mariadb_password": lambda: secrets.token_urlsafe(18),
        "aws_access_key_id": lambda: "AKIA" + secrets.token_hex(8).upper(),
        "aws_secret_access_key": lambda: secrets.token_urlsafe(30),
        "mlflow_admin_password": lambda: secrets.token_urlsafe(18),
        "mlflow_flask_secret": lambda: secrets.token_hex(32),  # CSRF tokens of the basic-auth app
        "registry_password": lambda: secrets.token_urlsafe(18),  # the containers stack's image registry
    }
    missing = {name: make() for name, make in wanted.items() if name not in stored}
    if missing:
        save_credentials({**stored, **missing})
    return {**stored, **missing}


def save_credentials(values: Dict[str, str]) -> None:
    CREDENTIALS_FILE.parent.mkdir(parents=True, exist_ok=True)
    staged = CREDENTIALS_FILE.with_suffix(".partial")
    staged.touch(mode=0o600)
    os.chmod(staged, 0o600)
    staged.write_text(json.dumps(values, indent=2))
    staged.replace(CREDENTIALS_FILE)
