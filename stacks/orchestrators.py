"""ZenML's ``local_docker`` orchestrator for podman's Docker-compatible API: ``local_podman``.

The same orchestrator (each step in its own container, one after the other), with one change:
how it waits for a step's container to exit. ZenML starts the container with the Docker SDK's
``containers.run``, which blocks on ``POST /containers/{id}/wait``. Podman 4.3 (Debian
bookworm's) answers that compat endpoint by polling the container's state with no pause
(podman issue #18150, fixed in later releases): the API service burned a whole core for as long
as any step ran, on a 2-core machine half of it, and every step took twice as long. Here the
wait asks for the container's state every half second instead, which is what the Docker SDK's
callers need from it: the exit code once the container has stopped.

With Docker, use ZenML's ``local_docker`` flavor itself; nothing else differs.
"""

from __future__ import annotations

import time
from typing import Any, Dict, Type

from docker.client import DockerClient
from docker.models.containers import Container, ContainerCollection
from zenml.orchestrators import BaseOrchestratorConfig
from zenml.orchestrators.local_docker.local_docker_orchestrator import (
    LocalDockerOrchestrator,
    LocalDockerOrchestratorConfig,
    LocalDockerOrchestratorFlavor,
)

POLL_SECONDS = 0.5


class PolledContainer(Container):
    def wait(self, **kwargs: Any) -> Dict[str, Any]:
        """The exit status once the container has stopped, as the Docker API's wait returns it."""
        while True:
            self.reload()
            if self.status not in ("created", "running", "restarting", "paused"):
                state = self.attrs["State"]
                return {"StatusCode": state.get("ExitCode", 0), "Error": state.get("Error") or None}
            time.sleep(POLL_SECONDS)


class PolledContainers(ContainerCollection):
    model = PolledContainer


class PodmanClient(DockerClient):
    """The Docker SDK's client whose containers wait by polling."""

    @property
    def containers(self) -> PolledContainers:
        return PolledContainers(client=self)


class LocalPodmanOrchestrator(LocalDockerOrchestrator):
    @property
    def docker_client(self) -> DockerClient:
        if getattr(self, "_podman_client", None) is None:
            self._podman_client = PodmanClient.from_env()
        return self._podman_client


class LocalPodmanOrchestratorFlavor(LocalDockerOrchestratorFlavor):
    @property
    def name(self) -> str:
        return "local_podman"

    @property
    def config_class(self) -> Type[BaseOrchestratorConfig]:
        return LocalDockerOrchestratorConfig

    @property
    def implementation_class(self) -> Type[LocalPodmanOrchestrator]:
        return LocalPodmanOrchestrator
