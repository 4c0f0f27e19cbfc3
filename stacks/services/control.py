"""Start, stop and inspect the `services` stack's servers; log the ZenML client in; register the stacks.

    stacks/services/up        # start everything that is not running, then log in and register
    stacks/services/down      # stop the servers this project started (state stays on disk) and
                              # log the client out of the stopped ZenML server
    stacks/services/status    # one line per server
    python -m stacks.services.control up|down|status [--only s3 mlflow zenml]

What `up` does, in order (each step is idempotent, so `up` also repairs a half-started set):

1. Credentials: generated once into ``state/services/credentials.json`` (see ``settings``).
2. Databases on the machine's servers: a MariaDB database and a dedicated user for the ZenML
   server (MariaDB's root may only work over its socket), and PostgreSQL databases for MLflow's
   runs, MLflow's users, the Feast registry and the containers stack's demo source.
3. Servers, each a process group with its log in ``state/services/logs/``:
   the S3 server (moto, credentials enforced, buckets on disk: ``s3_server``), the MLflow
   tracking server (PostgreSQL backend, artifacts proxied to S3, basic authentication) and
   ZenML's own server application under uvicorn (``zenml_server``: MariaDB, OAuth2 password
   bearer tokens, SQL secrets store encrypted with a generated key).
4. ZenML: the first admin is created through ``PUT /api/v1/activate``; the dashboard's
   onboarding questions are answered through the API, as a user answering them would
   (``email-opt-in`` and ``finished_onboarding_survey``); a service account with an API key is
   created; and the client (the active ZenML configuration) logs in with that key. Nothing
   talks to the server without credentials.
5. ZenML secrets ``mlops_s3`` and ``mlops_mlflow`` hold the keys the stack components
   reference, then the `local` and `services` stacks are registered on the server. Switch with
   ``zenml stack set services`` or ``zenml stack set local``.
6. The Feast registry's tables are created (``prepare_feast_registry``), before any run can race
   another to create them.

Redis, PostgreSQL and MariaDB are the machine's own services (started before any session);
`up` checks that they answer and says which one does not.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Dict, List, Optional

from core.paths import PROJECT_ROOT
from stacks.processes import ServerError, Servers
from stacks.services import settings as cfg

SERVERS = ("s3", "mlflow", "zenml")  # start order: MLflow stores its artifacts in S3


class ServiceError(RuntimeError):
    pass


# ---------------------------------------------------------------- reachability
def port_open(port: int, host: str = cfg.HOST, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def http_status(url: str, timeout: float = 3.0) -> Optional[int]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, OSError):
        return None


HEALTH = {
    "s3": lambda: (cfg.SERVICES_DIR / "s3" / "ready").is_file() and port_open(cfg.PORTS.s3),
    "mlflow": lambda: http_status(cfg.MLFLOW_URI + "/health") == 200,
    "zenml": lambda: http_status(cfg.ZENML_URL + "/health") == 200,
}


# ---------------------------------------------------------------- databases
def check_machine_services() -> None:
    missing = [f"{name} on {cfg.HOST}:{port}" for name, port in
               (("PostgreSQL", cfg.PORTS.postgres), ("MariaDB", cfg.PORTS.mariadb), ("Redis", cfg.PORTS.redis))
               if not port_open(port)]
    if missing:
        raise ServiceError("not reachable: " + ", ".join(missing) + " (the services stack needs them running)")


def prepare_mariadb(credentials: Dict[str, str]) -> None:
    import pymysql

    attempts = [dict(host=cfg.HOST, port=cfg.PORTS.mariadb, user="root", password=""),
                dict(unix_socket="/run/mysqld/mysqld.sock", user="root")]
    connection, errors = None, []
    for attempt in attempts:
        try:
            connection = pymysql.connect(**attempt, autocommit=True)
            break
        except pymysql.MySQLError as error:
            errors.append(str(error))
    if connection is None:
        raise ServiceError("cannot reach MariaDB as root (TCP or socket): " + "; ".join(errors))
    user, password = _mariadb_user(credentials), credentials["mariadb_password"]
    database = cfg.database("zenml", credentials)
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{database}`")
        for host in ("127.0.0.1", "localhost"):
            cursor.execute(f"CREATE USER IF NOT EXISTS '{user}'@'{host}' IDENTIFIED BY %s", (password,))
            cursor.execute(f"ALTER USER '{user}'@'{host}' IDENTIFIED BY %s", (password,))
            cursor.execute(f"GRANT ALL PRIVILEGES ON `{database}`.* TO '{user}'@'{host}'")
    connection.close()


def _mariadb_user(credentials: Dict[str, str]) -> str:
    return f"mlops_{credentials['installation']}"


def prepare_postgres(credentials: Dict[str, str]) -> None:
    import psycopg2

    connection = psycopg2.connect(host=cfg.HOST, port=cfg.PORTS.postgres, user="postgres", dbname="postgres")
    connection.autocommit = True
    with connection.cursor() as cursor:
        for database in (cfg.database(purpose, credentials) for purpose in cfg.DATABASES if purpose != "zenml"):
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
            if cursor.fetchone() is None:
                cursor.execute(f'CREATE DATABASE "{database}"')
    connection.close()


# ---------------------------------------------------------------- processes
SERVERS_STATE = Servers(cfg.SERVICES_DIR)
running_pid = SERVERS_STATE.running_pid
stop = SERVERS_STATE.stop


def _s3_environment(credentials: Dict[str, str]) -> Dict[str, str]:
    return {"AWS_ACCESS_KEY_ID": credentials["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": credentials["aws_secret_access_key"],
            "AWS_DEFAULT_REGION": "us-east-1", "MLFLOW_S3_ENDPOINT_URL": cfg.S3_ENDPOINT}


def _command(name: str, credentials: Dict[str, str]) -> tuple[List[str], Dict[str, str]]:
    python = sys.executable
    if name == "s3":
        return ([python, "-m", "stacks.services.s3_server", "--host", cfg.HOST, "--port", str(cfg.PORTS.s3),
                 "--data-dir", str(cfg.SERVICES_DIR / "s3"), "--credentials", str(cfg.CREDENTIALS_FILE)], {})
    if name == "mlflow":
        auth = cfg.SERVICES_DIR / "mlflow" / "basic_auth.ini"
        auth.parent.mkdir(parents=True, exist_ok=True)
        auth.touch(mode=0o600)
        auth.write_text("[mlflow]\ndefault_permission = READ\n"
                        f"database_uri = {cfg.postgres_url(cfg.database('mlflow_auth', credentials))}\n"
                        f"admin_username = {cfg.ADMIN}\nadmin_password = {credentials['mlflow_admin_password']}\n"
                        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n")
        mlflow = str(Path(python).with_name("mlflow"))
        return ([mlflow, "server", "--host", cfg.HOST, "--port", str(cfg.PORTS.mlflow), "--workers", "1",
                 "--backend-store-uri", cfg.postgres_url(cfg.database("mlflow", credentials)),
                 "--artifacts-destination", f"s3://{cfg.MLFLOW_BUCKET}", "--app-name", "basic-auth"],
                {**_s3_environment(credentials), "MLFLOW_AUTH_CONFIG_PATH": str(auth),
                 "MLFLOW_FLASK_SERVER_SECRET_KEY": credentials["mlflow_flask_secret"]})
    if name == "zenml":
        store = (f"mysql://{_mariadb_user(credentials)}:{credentials['mariadb_password']}@{cfg.HOST}:"
                 f"{cfg.PORTS.mariadb}/{cfg.database('zenml', credentials)}")
        # The server's own folder is also its "repository" path, which holds no .zen: ZenML's
        # client inside the server would otherwise find a repository above its working directory
        # (the project's own, or a test session's), check that repository's active stack for
        # a user, and fail every API-key login that came before any authenticated request.
        return ([python, "-m", "stacks.services.zenml_server", "--host", cfg.HOST, "--port", str(cfg.PORTS.zenml)],
                {"ZENML_CONFIG_PATH": str(cfg.SERVICES_DIR / "zenml-server"),
                 "ZENML_REPOSITORY_PATH": str(cfg.SERVICES_DIR / "zenml-server"),
                 "ZENML_STORE_URL": store,
                 "ZENML_SERVER_DEPLOYMENT_TYPE": "other",
                 "ZENML_SERVER_AUTH_SCHEME": "OAUTH2_PASSWORD_BEARER",
                 "ZENML_SERVER_JWT_SECRET_KEY": credentials["zenml_jwt_secret"],
                 "ZENML_SERVER_SERVER_URL": cfg.ZENML_URL,
                 "ZENML_SECRETS_STORE_TYPE": "sql",
                 "ZENML_SECRETS_STORE_ENCRYPTION_KEY": credentials["zenml_encryption_key"],
                 "ZENML_ANALYTICS_OPT_IN": "false",
                 "ZENML_SERVER_AUTO_ACTIVATE": "false"})
    raise ValueError(name)


def start(name: str, credentials: Dict[str, str]) -> None:
    if running_pid(name):
        print(f"  = {name} running (pid {running_pid(name)})")
        return
    port = {"s3": cfg.PORTS.s3, "mlflow": cfg.PORTS.mlflow, "zenml": cfg.PORTS.zenml}[name]
    if port_open(port):
        raise ServiceError(f"port {port} for {name} is taken by another process: stop it, or move "
                           f"the port with MLOPS_{name.upper()}_PORT")
    command, extra = _command(name, credentials)
    # A server takes no ZenML client setting from whoever starts it (a test, a logged-in shell).
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("ZENML_")}
    SERVERS_STATE.start(name, command, HEALTH[name], {**inherited, **extra, "PYTHONPATH": str(PROJECT_ROOT)},
                        cwd=PROJECT_ROOT)


# ---------------------------------------------------------------- ZenML server set-up
def _api(method: str, path: str, token: Optional[str] = None, payload: Optional[dict] = None,
         form: Optional[dict] = None) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = None
    if payload is not None:
        data, headers["Content-Type"] = json.dumps(payload).encode(), "application/json"
    elif form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    request = urllib.request.Request(cfg.ZENML_URL + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
    except urllib.error.HTTPError as error:
        raise ServiceError(f"ZenML server: {method} {path} -> HTTP {error.code}: {error.read()[:300]!r}") from error
    return json.loads(body) if body else {}


def admin_token(credentials: Dict[str, str]) -> str:
    return _api("POST", "/api/v1/login", form={"username": cfg.ADMIN,
                                                "password": credentials["zenml_admin_password"]})["access_token"]


def set_up_zenml(credentials: Dict[str, str]) -> Dict[str, str]:
    """Activate the server, answer onboarding, create the service account's API key once."""
    info = _api("GET", "/api/v1/info")
    if not info.get("active", True):
        _api("PUT", "/api/v1/activate", payload={"admin_username": cfg.ADMIN,
                                                 "admin_password": credentials["zenml_admin_password"]})
        print("  + ZenML server activated (admin user created)")
    token = admin_token(credentials)
    me = _api("GET", "/api/v1/current-user", token)
    _api("PUT", f"/api/v1/users/{me['id']}/email-opt-in", token, payload={"email_opted_in": False})
    _api("PUT", f"/api/v1/users/{me['id']}", token,
         payload={"user_metadata": {"finished_onboarding_survey": True}})
    if "zenml_api_key" not in credentials:
        key_file = cfg.SERVICES_DIR / "api-key.partial"
        environment = {**os.environ, "ZENML_STORE_URL": cfg.ZENML_URL, "ZENML_STORE_USERNAME": cfg.ADMIN,
                       "ZENML_STORE_PASSWORD": credentials["zenml_admin_password"],
                       "ZENML_CONFIG_PATH": str(cfg.SERVICES_DIR / "zenml-admin-client")}
        _zenml(["service-account", "create", cfg.SERVICE_ACCOUNT, "--output-file", str(key_file)], environment)
        credentials = {**credentials, "zenml_api_key": key_file.read_text().strip()}
        key_file.unlink()
        cfg.save_credentials(credentials)
        print(f"  + service account '{cfg.SERVICE_ACCOUNT}' with an API key")
    return credentials


def _zenml(arguments: List[str], environment: Dict[str, str], stdin: Optional[str] = None) -> str:
    zenml = str(Path(sys.executable).with_name("zenml"))
    completed = subprocess.run([zenml, *arguments], env=environment, input=stdin, capture_output=True, text=True)
    if completed.returncode != 0:
        raise ServiceError(f"zenml {arguments[0]} {arguments[1] if len(arguments) > 1 else ''} failed:\n"
                           f"{completed.stdout[-1500:]}{completed.stderr[-1500:]}")
    return completed.stdout


def client_environment(credentials: Dict[str, str]) -> Dict[str, str]:
    """Environment variables that make any ZenML client use the server with the API key (tests,
    CI, scripts); an interactive user is logged in by `up` instead."""
    return {"ZENML_STORE_URL": cfg.ZENML_URL, "ZENML_STORE_API_KEY": credentials["zenml_api_key"]}


def log_in_client(credentials: Dict[str, str]) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ZENML_STORE_")}
    _zenml(["login", cfg.ZENML_URL, "--api-key"], environment, stdin=credentials["zenml_api_key"] + "\n")
    print(f"  + ZenML client logged in to {cfg.ZENML_URL} as '{cfg.SERVICE_ACCOUNT}'")


def register_stacks(credentials: Dict[str, str], activate: Optional[str]) -> None:
    """Secrets, then both stacks, in the client's store (the server after ``log_in_client``)."""
    from zenml.client import Client

    from stacks.register import register

    client = Client()
    wanted = {cfg.S3_SECRET: {"aws_access_key_id": credentials["aws_access_key_id"],
                              "aws_secret_access_key": credentials["aws_secret_access_key"]},
              cfg.MLFLOW_SECRET: {"username": cfg.ADMIN, "password": credentials["mlflow_admin_password"]}}
    for name, values in wanted.items():
        try:
            secret = client.get_secret(name, allow_partial_name_match=False)
            if secret.secret_values != values:
                client.update_secret(secret.id, add_or_update_values=values)
                print(f"  ~ secret '{name}'")
            else:
                print(f"  = secret '{name}'")
        except KeyError:
            client.create_secret(name, values=values)
            print(f"  + secret '{name}'")
    for stack in ("local", "services"):
        register(stack, activate=(stack == activate))


def create_buckets(credentials: Dict[str, str]) -> None:
    import boto3

    s3 = boto3.client("s3", endpoint_url=cfg.S3_ENDPOINT, region_name="us-east-1",
                      aws_access_key_id=credentials["aws_access_key_id"],
                      aws_secret_access_key=credentials["aws_secret_access_key"])
    existing = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    for bucket in (cfg.ARTIFACT_BUCKET, cfg.MLFLOW_BUCKET):
        if bucket not in existing:
            s3.create_bucket(Bucket=bucket)
            print(f"  + bucket s3://{bucket}")


# ---------------------------------------------------------------- commands
def up(only: Optional[List[str]] = None, log_in: bool = True, activate: Optional[str] = None) -> Dict[str, str]:
    check_machine_services()
    credentials = cfg.load_credentials(create=True)
    names = only or list(SERVERS)
    if "zenml" in names:
        prepare_mariadb(credentials)
    prepare_postgres(credentials)
    for name in SERVERS:
        if name in names:
            start(name, credentials)
        if name == "s3" and "s3" in names:
            create_buckets(credentials)
    if "zenml" in names:
        credentials = set_up_zenml(credentials)
        if log_in:
            log_in_client(credentials)
        # This process talks to the server with the API key whether or not the user's client
        # was logged in (CI and the tests use these variables instead of a login).
        os.environ.update(client_environment(credentials))
        register_stacks(credentials, activate if log_in else None)
        prepare_feast_registry()
    return credentials


def prepare_feast_registry() -> None:
    """Create the Feast SQL registry's tables now. Feast creates them (CREATE TABLE, without IF
    NOT EXISTS) whenever a store is opened on a registry that lacks them, so runs that open a new
    registry together collide: seen in CI, three runs publishing at once on a fresh registry, two
    of them failed with a unique violation on `projects`."""
    from feast import FeatureStore

    FeatureStore(repo_path=str(cfg.SERVICES_DIR / "feast"))


def log_out_client() -> None:
    """Disconnect the user's client if it is logged in to this server, as ``zenml logout --local``
    does when it stops ZenML's local server: a client left pointing at a stopped server fails
    every later command, `make run` and `make test` included. The next `up` logs it in again."""
    from zenml.config.global_config import GlobalConfiguration

    configuration = GlobalConfiguration().store_configuration
    if configuration.type.value != "rest" or configuration.url.rstrip("/") != cfg.ZENML_URL:
        return
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ZENML_STORE_")}
    _zenml(["logout"], environment)
    print(f"  - ZenML client logged out of {cfg.ZENML_URL} (back on its local store)")


def down(only: Optional[List[str]] = None) -> None:
    for name in reversed(SERVERS):
        if only is None or name in only:
            stop(name)
    if only is None or "zenml" in only:
        log_out_client()


def status() -> int:
    healthy = True
    for name in SERVERS:
        pid = running_pid(name)
        ok = bool(pid) and HEALTH[name]()
        healthy &= ok
        print(f"{name:7s} {'up' if ok else 'down':5s} pid={pid or '-'}")
    return 0 if healthy else 1


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument("--only", nargs="+", choices=SERVERS, help="only these servers")
    parser.add_argument("--no-login", action="store_true",
                        help="up: leave the user's ZenML client as it is (CI: clients use ZENML_STORE_URL and "
                             "ZENML_STORE_API_KEY instead; see client_environment)")
    parser.add_argument("--activate", choices=["local", "services"], help="up: also make this stack active")
    args = parser.parse_args(argv)
    os.environ.setdefault("ZENML_ANALYTICS_OPT_IN", "false")
    try:
        if args.command == "up":
            print(f"starting the services stack's servers (state in {cfg.SERVICES_DIR})")
            up(args.only, log_in=not args.no_login, activate=args.activate)
            return status()
        if args.command == "down":
            down(args.only)
            return 0
        return status()
    except (ServiceError, ServerError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
