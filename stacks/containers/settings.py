"""Where the `containers` stack's engine keeps its state, and the names of its images.

The engine (``engine.py``) is podman, reached by ZenML twice: its image builder runs the
``podman build`` CLI (ZenML's podman container engine), and the ``local_docker`` orchestrator
starts each step's container through the Docker SDK, which talks to podman's Docker-compatible
API socket. Both read their settings from the environment that ``core.environment`` sets for
every process of the project once the socket exists (``ENGINE_DIR/podman.sock``).

Like the services stack's servers, one engine and one registry serve the project's runs and its
tests; their state is in ``state/containers`` (``MLOPS_CONTAINERS_DIR`` moves it).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Dict

from core.environment import ENGINE_DIR
from core.paths import PROJECT_ROOT

HERE = Path(__file__).resolve().parent
REGISTRY_PORT = int(os.environ.get("MLOPS_REGISTRY_PORT", "5400"))
REGISTRY = f"127.0.0.1:{REGISTRY_PORT}"
REGISTRY_URI = f"{REGISTRY}/mlops"
REGISTRY_SECRET = "mlops_registry"
REGISTRY_USER = "mlops"
# What the step containers read from the environment on this stack: the source and sink URLs
# and tokens that a config names by `*_env` keys (for example INSURANCE_DB_URL). A ZenML secret
# attached to the stack: ZenML resolves it inside each step, so no value is in an image, a
# container's specification or a stored run configuration.
STEP_ENV_SECRET = "mlops_containers_env"

# The Debian base (debootstrap, no registry needed) and what it holds besides Python:
# libgomp1 is LightGBM's OpenMP runtime.
BASE_SUITE = "bookworm"
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates", "libgomp1")
PARENT_DOCKERFILE = HERE / "Dockerfile.parent"
PARENT_INPUTS = (PARENT_DOCKERFILE, PROJECT_ROOT / "requirements.txt")


def _digest(*parts: bytes) -> str:
    hasher = hashlib.sha256()
    for part in parts:
        hasher.update(hashlib.sha256(part).digest())
    return hasher.hexdigest()[:12]


def base_image() -> str:
    """The Debian base's name; its tag changes with what debootstrap is asked for."""
    return f"localhost/mlops-base:{BASE_SUITE}-{_digest(BASE_SUITE.encode(), ' '.join(BASE_PACKAGES).encode())}"


def parent_image() -> str:
    """The parent image's name; its tag changes with the base, its Dockerfile and the pins, so a
    changed requirement builds a new parent and an unchanged one is reused."""
    return f"localhost/mlops-parent:{_digest(base_image().encode(), *(p.read_bytes() for p in PARENT_INPUTS))}"


def substitutions() -> Dict[str, str]:
    """The placeholders ``stacks/containers.yaml`` may use, with this machine's values."""
    return {"registry_uri": REGISTRY_URI, "parent_image": parent_image(), "containers_dir": str(ENGINE_DIR)}
