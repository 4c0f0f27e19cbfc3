"""Register a stack from its YAML definition in ``stacks/``, idempotently.

``python -m stacks.register local [--activate]``, or ``services``, ``containers``, ``templates/kubernetes``

Components that already exist with the same flavor and configuration are reused; a component
whose configuration differs (for example the artifact-store path of another clone) is updated
where ZenML allows it, and otherwise reported with what to do. Nothing is ever deleted.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import Any, Dict

import yaml

from core.paths import STATE_DIR

STACKS_DIR = Path(__file__).resolve().parent


def fill_placeholders(text: str, state_dir: Path) -> str:
    """``{name}`` placeholders get this machine's values (``stacks/services/settings.py``),
    ``{env:NAME|default}`` ones the environment's (the cloud templates); ``{{secret.key}}``
    references are left for ZenML to resolve when a component is used."""
    from stacks.containers.settings import substitutions as container_values
    from stacks.services.settings import substitutions

    for name, value in {**substitutions(state_dir), **container_values()}.items():
        text = re.sub(r"(?<!\{)\{" + name + r"\}(?!\})", value.replace("\\", "\\\\"), text)
    return re.sub(r"(?<!\{)\{env:([A-Z0-9_]+)\|([^}]*)\}(?!\})",
                  lambda match: os.environ.get(match.group(1), match.group(2)), text)


def load_definition(name: str, state_dir: Path = STATE_DIR) -> Dict[str, Any]:
    path = STACKS_DIR / f"{name}.yaml"
    if not path.is_file():
        known = sorted(str(p.relative_to(STACKS_DIR).with_suffix("")) for p in STACKS_DIR.glob("*.yaml"))
        known += sorted(f"templates/{p.stem}" for p in (STACKS_DIR / "templates").glob("*.yaml"))
        raise SystemExit(f"no stack definition {path}; known: {known}")
    definition = yaml.safe_load(fill_placeholders(path.read_text(), state_dir))
    base = definition.pop("extends", None)
    if base is not None:  # the base's components, with this definition's added or replaced
        definition["components"] = {**load_definition(base, state_dir)["components"], **definition["components"]}
    for component in definition["components"].values():
        component.setdefault("configuration", {})
    return definition


def write_feast_repo(spec: Dict[str, Any], state_dir: Path) -> None:
    """A Feast feature store needs its repository (feature_store.yaml) on disk before use; a
    ``feast_portable`` one also carries the file's text, for steps that run elsewhere."""
    from steps.store.feature_store import write_repository

    template = spec.pop("repo_definition", None)
    if template is None:
        return
    text = fill_placeholders((STACKS_DIR / template).read_text(), state_dir)
    if spec["flavor"] == "feast_portable":
        spec["configuration"]["repo_definition"] = text
    repo = Path(spec["configuration"]["feast_repo"])
    if write_repository(repo, text):
        print(f"  ~ feast repository {repo / 'feature_store.yaml'}")


# The project's own flavors, registered with any stack so that their components can be added
# with the plain zenml CLI (for example `zenml alerter register team_alerts --flavor webhook ...`).
PROJECT_FLAVORS = {"alerter": "stacks.alerters.WebhookAlerterFlavor",
                   "feature_store": "stacks.feature_stores.PortableFeastFlavor",
                   "orchestrator": "stacks.orchestrators.LocalPodmanOrchestratorFlavor"}


def ensure_flavor(client, kind: str, source: str) -> None:
    """Register a flavor of the project's own unless the store has it."""
    from zenml.enums import StackComponentType
    from zenml.utils import source_utils

    flavor = source_utils.load(source)()
    known = {f.name for f in client.list_flavors(type=kind, size=1000).items}
    if flavor.name not in known:
        print(f"  + {kind} flavor '{flavor.name}' ({source})")
        client.create_flavor(source=source, component_type=StackComponentType(kind))


def _ensure_component(client, kind: str, spec: Dict[str, Any]):
    from zenml.enums import StackComponentType

    component_type = StackComponentType(kind)
    try:
        existing = client.get_stack_component(component_type, spec["name"], allow_name_prefix_match=False)
    except KeyError:
        print(f"  + {kind} '{spec['name']}' ({spec['flavor']})")
        return client.create_stack_component(
            name=spec["name"], flavor=spec["flavor"], component_type=component_type,
            configuration=spec["configuration"],
        )
    if existing.flavor_name != spec["flavor"]:
        raise SystemExit(
            f"{kind} '{spec['name']}' exists with flavor '{existing.flavor_name}', not '{spec['flavor']}': "
            f"rename or delete it (zenml {kind.replace('_', '-')} delete {spec['name']})"
        )
    current = {k: existing.configuration.get(k) for k in spec["configuration"]}
    if current != spec["configuration"]:
        print(f"  ~ {kind} '{spec['name']}': updating {sorted(spec['configuration'])}")
        return client.update_stack_component(
            name_id_or_prefix=existing.id, component_type=component_type, configuration=spec["configuration"]
        )
    print(f"  = {kind} '{spec['name']}'")
    return existing


def register(name: str, activate: bool, state_dir: Path = STATE_DIR) -> None:
    from zenml.client import Client
    from zenml.enums import StackComponentType

    definition = load_definition(name, state_dir)
    for spec in definition["components"].values():
        write_feast_repo(spec, state_dir)
    client = Client()
    for kind, source in PROJECT_FLAVORS.items():
        ensure_flavor(client, kind, source)
    components = {
        kind: _ensure_component(client, kind, spec).id for kind, spec in definition["components"].items()
    }
    stack_name = definition["name"]
    labels, secrets = definition.get("labels", {}), definition.get("secrets", [])
    try:
        stack = client.get_stack(stack_name, allow_name_prefix_match=False)
        have = {str(kind.value): members[0].id for kind, members in stack.components.items()}
        # Components, labels and secrets added by hand stay.
        new_labels = {k: v for k, v in labels.items() if (stack.labels or {}).get(k) != v}
        attached = set(stack.secrets)
        new_secrets = [name for name in secrets
                       if client.get_secret(name, allow_partial_name_match=False).id not in attached]
        if {kind: have.get(kind) for kind in components} != components or new_labels or new_secrets:
            print(f"  ~ stack '{stack_name}': updating its components, labels and secrets")
            client.update_stack(name_id_or_prefix=stack.id, labels=new_labels or None, add_secrets=new_secrets or None,
                                component_updates={StackComponentType(k): [v] for k, v in components.items()})
        else:
            print(f"  = stack '{stack_name}'")
    except KeyError:
        print(f"  + stack '{stack_name}'")
        client.create_stack(name=stack_name, components=components, labels=labels or None, secrets=secrets or None)
    if activate:
        client.activate_stack(stack_name)
        print(f"active stack: {stack_name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stack", help="definition name in stacks/ (for example: local)")
    parser.add_argument("--activate", action="store_true", help="also make it the active stack")
    args = parser.parse_args(argv)
    os.environ.setdefault("ZENML_ANALYTICS_OPT_IN", "false")
    Path(STATE_DIR).mkdir(parents=True, exist_ok=True)
    from core.launch import LaunchError, check_store

    try:
        check_store()
    except LaunchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"registering stack '{args.stack}' from stacks/{args.stack}.yaml")
    register(args.stack, args.activate)
    return 0


if __name__ == "__main__":
    sys.exit(main())
