"""Prepare, stop and inspect the `containers` stack.

    stacks/containers/up        # the services stack's servers, then the engine, images and stack
    stacks/containers/down      # stop the engine's API service and the registry (images stay)
    stacks/containers/status
    python -m stacks.containers.control up|down|status [--no-login]

``up`` runs ``stacks/services/up`` first (the containers stack uses its servers), then
``engine.up`` (podman, the registry, the base and parent images), and then:

1. seeds the medical-cost source table into this installation's PostgreSQL database
   ``mlops_sources_<id>``: a step container cannot read the host's ``state/insurance.db``;
2. keeps two ZenML secrets: ``mlops_registry`` (the registry's login, which ZenML's image
   builder uses to push) and ``mlops_containers_env`` (values the steps read from the
   environment; ``up`` adds INSURANCE_DB_URL when the secret lacks it and never overwrites a
   value you set there);
3. registers the `containers` stack (``stacks/containers.yaml``).

Then ``zenml stack set containers`` and the usual ``python run.py training --config ...``.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Dict, List, Optional

from stacks.containers import engine
from stacks.containers import settings as containers
from stacks.processes import ServerError
from stacks.services import control as services
from stacks.services import settings as cfg


def source_database_url(credentials: Dict[str, str]) -> str:
    """The demo source database the step containers read (trust authentication on loopback)."""
    return cfg.postgres_url(cfg.database("sources", credentials))


def seed_insurance(url: str) -> int:
    """Load the medical-cost CSV into the PostgreSQL source table (idempotent, as `run.py seed`)."""
    from core.config import load_config
    from core.paths import PROJECT_ROOT, resolve_path
    from steps.ingest.sources import seed_database

    params = load_config(PROJECT_ROOT / "configs" / "insurance.yaml").parameters
    previous = os.environ.get(params.source.url_env)
    os.environ[params.source.url_env] = url
    try:
        return seed_database(str(resolve_path(params.seed_csv)), params.source, params.schema_)
    finally:
        if previous is None:
            os.environ.pop(params.source.url_env)
        else:
            os.environ[params.source.url_env] = previous


def ensure_secret(name: str, values: Dict[str, str], overwrite: bool) -> None:
    """Create the secret, or add the values it lacks (with ``overwrite``, also change the others)."""
    from zenml.client import Client

    client = Client()
    try:
        secret = client.get_secret(name, allow_partial_name_match=False)
    except KeyError:
        client.create_secret(name, values=values)
        print(f"  + secret '{name}'")
        return
    current = secret.secret_values
    wanted = {k: v for k, v in values.items() if k not in current or (overwrite and current[k] != v)}
    if wanted:
        client.update_secret(secret.id, add_or_update_values=wanted)
        print(f"  ~ secret '{name}': {sorted(wanted)}")
    else:
        print(f"  = secret '{name}'")


def up(log_in: bool = True, activate: bool = False) -> None:
    credentials = services.up(log_in=log_in)
    print(f"starting the containers stack's engine (state in {engine.ENGINE_DIR})")
    engine.up(credentials["registry_password"])
    url = source_database_url(credentials)
    print(f"  = medical-cost source: {seed_insurance(url)} rows in {cfg.database('sources', credentials)}")
    ensure_secret(containers.REGISTRY_SECRET, {"username": containers.REGISTRY_USER,
                                               "password": credentials["registry_password"]}, overwrite=True)
    ensure_secret(containers.STEP_ENV_SECRET, {"INSURANCE_DB_URL": url}, overwrite=False)
    from stacks.register import register

    register("containers", activate=activate and log_in)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument("--no-login", action="store_true",
                        help="up: leave the user's ZenML client as it is (see stacks/services/control.py)")
    parser.add_argument("--activate", action="store_true", help="up: also make `containers` the active stack")
    args = parser.parse_args(argv)
    os.environ.setdefault("ZENML_ANALYTICS_OPT_IN", "false")
    try:
        if args.command == "up":
            up(log_in=not args.no_login, activate=args.activate)
            return engine.status()
        if args.command == "down":
            engine.down()
            return 0
        return engine.status()
    except (engine.EngineError, services.ServiceError, ServerError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
