"""The stack definitions: the cloud template registers against the ZenML store and passes
ZenML's own stack validation without a cluster, and no definition holds a secret value."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

STACKS = PROJECT_ROOT / "stacks"
SECRET_FIELDS = {"key", "secret", "password", "token", "tracking_username", "tracking_password", "tracking_token"}

KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- name: {context}
  cluster: {{server: "https://127.0.0.1:6443"}}
contexts:
- name: {context}
  context: {{cluster: {context}, user: ci}}
current-context: {context}
users:
- name: ci
  user: {{token: not-a-token}}
"""


def _definitions():
    return sorted([*STACKS.glob("*.yaml"), *(STACKS / "templates").glob("*.yaml")])


@pytest.mark.parametrize("path", _definitions(), ids=lambda p: str(p.relative_to(STACKS)))
def test_stack_definitions_name_secrets_and_never_hold_them(path: Path) -> None:
    from stacks.register import load_definition

    definition = load_definition(str(path.relative_to(STACKS).with_suffix("")))
    assert definition["components"]["orchestrator"] and definition["components"]["artifact_store"]
    for component in definition["components"].values():
        for field, value in (component.get("configuration") or {}).items():
            if field in SECRET_FIELDS:
                assert str(value).startswith("{{") and str(value).endswith("}}"), (path.name, field)


def test_kubernetes_template_registers_and_validates_without_a_cluster(local_stack, session_dir, monkeypatch) -> None:
    from zenml.client import Client
    from zenml.enums import StackComponentType
    from zenml.stack import Stack

    from stacks.register import register

    kubeconfig = session_dir / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG.format(context="ci-cluster"))
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.setenv("MLOPS_K8S_CONTEXT", "ci-cluster")
    monkeypatch.setenv("MLOPS_CLOUD_BUCKET", "s3://ci-zenml-artifacts")
    client = Client()
    for name, values in {"mlops_cloud_s3": {"aws_access_key_id": "AKIAEXAMPLE", "aws_secret_access_key": "x"},
                         "mlops_cloud_mlflow": {"username": "ci", "password": "x"}}.items():
        client.create_secret(name, values=values)

    register("templates/kubernetes", activate=False, state_dir=session_dir / "state")
    model = client.get_stack("kubernetes")
    assert client.active_stack_model.name == "local"  # registering a template activates nothing
    stack = Stack.from_model(model)
    stack.validate()  # ZenML's validators: remote artifact store, registry, image builder, kube context
    assert stack.orchestrator.flavor == "kubernetes"
    assert stack.orchestrator.config.kubernetes_context == "ci-cluster"
    # `--schedule` hands runs to this orchestrator as a ZenML Schedule (core/scheduling.py); the
    # local one gets the in-process scheduler instead.
    assert stack.orchestrator.config.is_schedulable
    assert not Stack.from_model(client.get_stack("local")).orchestrator.config.is_schedulable
    assert stack.artifact_store.path == "s3://ci-zenml-artifacts"
    assert model.components[StackComponentType.CONTAINER_REGISTRY][0].flavor_name == "default"
    assert (session_dir / "state" / "cloud" / "feast" / "feature_store.yaml").is_file()

