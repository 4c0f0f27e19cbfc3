"""The stack definitions: the cloud template registers against the ZenML store and passes
ZenML's own stack validation without a cluster, and no definition holds a secret value."""

from __future__ import annotations

import os
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


# Secret values of the template's secrets: none may appear in a pod spec or an image.
CLOUD_SECRETS = {
    "mlops_cloud_s3": {"aws_access_key_id": "AKIAEXAMPLEKEY1", "aws_secret_access_key": "s3-secret-must-not-leak"},
    "mlops_cloud_mlflow": {"username": "ci-user-must-not-leak", "password": "mlflow-password-must-not-leak"},
    "mlops_cloud_env": {"MLOPS_FEAST_REGISTRY_URL": "postgresql+psycopg://feast:pg-password-must-not-leak@db/feast",
                        "MLOPS_FEAST_REDIS": "redis:6379,password=redis-password-must-not-leak"},
}


@pytest.fixture(scope="module")
def kubernetes_stack(local_stack, session_dir):
    """The Kubernetes template registered in the session's store, with a kubeconfig of a cluster
    that does not exist (nothing here talks to one)."""
    from zenml.client import Client

    from stacks.register import register

    Path(os.environ["KUBECONFIG"]).write_text(KUBECONFIG.format(context="ci-cluster"))  # see tests/conftest.py
    patch = pytest.MonkeyPatch()
    patch.setenv("MLOPS_K8S_CONTEXT", "ci-cluster")
    patch.setenv("MLOPS_CLOUD_BUCKET", "s3://ci-zenml-artifacts")
    patch.setenv("MLOPS_CONTAINER_REGISTRY", "registry.example.com/mlops")
    patch.delenv("MLOPS_PARENT_IMAGE", raising=False)
    client = Client()
    for name, values in CLOUD_SECRETS.items():
        client.create_secret(name, values=values)
    register("templates/kubernetes", activate=False, state_dir=session_dir / "state")
    yield client.get_stack("kubernetes")
    patch.undo()


def test_kubernetes_template_registers_and_validates_without_a_cluster(kubernetes_stack) -> None:
    from zenml.client import Client
    from zenml.enums import StackComponentType
    from zenml.stack import Stack

    client = Client()
    model = kubernetes_stack
    assert client.active_stack_model.name == "local"  # registering a template activates nothing
    stack = Stack.from_model(model)
    stack.validate()  # ZenML's validators: remote artifact store, registry, image builder, kube context
    assert stack.orchestrator.flavor == "kubernetes"
    assert stack.orchestrator.config.kubernetes_context == "ci-cluster"
    assert stack.orchestrator.config.pass_zenml_token_as_secret
    # `--schedule` hands runs to this orchestrator as a ZenML Schedule (core/scheduling.py); the
    # local one gets the in-process scheduler instead.
    assert stack.orchestrator.config.is_schedulable
    assert not Stack.from_model(client.get_stack("local")).orchestrator.config.is_schedulable
    assert stack.artifact_store.path == "s3://ci-zenml-artifacts"
    assert model.components[StackComponentType.CONTAINER_REGISTRY][0].flavor_name == "default"
    # The Feast repository travels with the component; its servers and passwords come from the
    # stack's secret, expanded by Feast inside the pod.
    definition = stack.feature_store.config.repo_definition
    assert "${MLOPS_FEAST_REGISTRY_URL}" in definition and "${MLOPS_FEAST_REDIS}" in definition
    assert client.get_secret("mlops_cloud_env").id in model.secrets
    assert model.labels["parent_image"] == "python:3.11-slim"


def test_kubernetes_pods_and_image_are_what_zenml_would_submit(kubernetes_stack) -> None:
    """The stock training compiled for the Kubernetes stack by ZenML, without a cluster: the image
    its image builder would build (Dockerfile and requirements) and every step's pod as its
    Kubernetes orchestrator would start it (ZenML's manifest functions, settings and entrypoint)."""
    import json
    from uuid import uuid4

    from zenml.client import Client
    from zenml.entrypoints import StepEntrypointConfiguration
    from zenml.integrations.kubernetes import kube_utils
    from zenml.integrations.kubernetes.manifest_utils import build_pod_manifest
    from zenml.utils import env_utils
    from zenml.utils.pipeline_docker_image_builder import PipelineDockerImageBuilder

    from core.config import load_config
    from core.launch import _model, _options
    from pipelines.training import training

    client = Client()
    client.activate_stack("kubernetes")
    try:
        config = load_config(PROJECT_ROOT / "configs" / "stocks.yaml")
        pipeline = training.with_options(model=_model(config), **_options(config, "training", None))
        pipeline.prepare(params=config.parameters)
        # As `pipeline()` compiles it (Pipeline._create_snapshot), without building or submitting.
        snapshot, _, _ = pipeline._compile(run_name=pipeline._run_args["run_name"],
                                           steps=pipeline._run_args.get("step_configurations"))
        stack = client.active_stack

        [build] = stack.get_docker_builds(snapshot)  # one image for every step
        settings = build.settings
        image = PipelineDockerImageBuilder._get_target_image_name(
            settings, tag=f"{snapshot.pipeline_configuration.name}-{build.key}",
            container_registry=stack.container_registry)
        assert image == "registry.example.com/mlops/zenml:training-orchestrator"
        requirements = PipelineDockerImageBuilder.gather_requirements_files(settings, stack, log=False)
        dockerfile = PipelineDockerImageBuilder._generate_zenml_pipeline_dockerfile(
            parent_image=settings.parent_image, docker_settings=settings, requirements_files=requirements,
            apt_packages=settings.apt_packages)
        assert dockerfile.startswith("FROM python:3.11-slim\n")
        assert "apt-get install -y --no-install-recommends 'libgomp1'" in dockerfile
        assert "pip install --no-cache-dir --default-timeout=60 --no-deps" in dockerfile
        [(_, pins, _)] = requirements
        assert pins.splitlines()[-len(_lock_lines()):] == _lock_lines()  # the lock, as it is
        assert not settings.allow_including_files_in_images  # the code comes from the bucket
        assert settings.environment["OMP_NUM_THREADS"] == "1"

        orchestrator = stack.orchestrator
        pods = {}
        for name, step in snapshot.step_configurations.items():
            pod_config = orchestrator.get_settings(step)
            pod_settings = kube_utils.apply_default_resource_requests(memory="400Mi",
                                                                      pod_settings=pod_config.pod_settings)
            pods[name] = build_pod_manifest(
                pod_name=None, image_name=image, command=StepEntrypointConfiguration.get_entrypoint_command(),
                args=StepEntrypointConfiguration.get_entrypoint_arguments(step_name=name, snapshot_id=uuid4()),
                env=env_utils.get_runtime_environment(config=step.config, stack=stack),
                privileged=pod_config.privileged, pod_settings=pod_settings,
                service_account_name=pod_config.step_pod_service_account_name or pod_config.service_account_name,
                mount_local_stores=False, termination_grace_period_seconds=pod_config.pod_stop_grace_period,
                labels={"step_name": kube_utils.sanitize_label_value(name)}, annotations={})
    finally:
        client.activate_stack("local")

    assert {"extract_source", "engineer_rolling_features", "train_lightgbm", "promote_model"} <= set(pods)
    for name, pod in pods.items():
        [container] = pod.spec.containers
        assert container.image == image
        assert container.command == ["python", "-m", "zenml.entrypoints.entrypoint"]
        assert container.args[container.args.index("--step_name") + 1] == name
        resources = container.resources  # as the pod settings give it
        if name in ("extract_source", "engineer_rolling_features"):  # configs/stocks.yaml's heavy steps
            assert resources["requests"] == {"cpu": "1", "memory": "5Gi"} and resources["limits"] == {"memory": "6Gi"}
        else:
            assert resources["requests"] == {"memory": "400Mi"}
        text = json.dumps(pod.to_dict(), default=str)
        leaked = [value for values in CLOUD_SECRETS.values() for value in values.values() if value in text]
        assert not leaked, (name, leaked)
    leaked = [value for values in CLOUD_SECRETS.values() for value in values.values()
              if value in dockerfile or value in pins]
    assert not leaked


def _lock_lines():
    return [line for line in (PROJECT_ROOT / "requirements.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")]
