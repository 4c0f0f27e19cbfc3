"""The DockerSettings of the project's step images: what ZenML's image builder builds wherever a
stack runs steps in containers (the `containers` stack here, the Kubernetes template in a cluster).

One set for every use case, since every step runs from the same code and pins; a config's
``settings.docker`` is laid over it (validated in ``core/config.py``).

- The parent image is the stack's (its ``parent_image`` label), ``MLOPS_PARENT_IMAGE``, or
  ``python:3.11-slim``. Where no registry can be reached, `make containers-up` builds a local
  parent with the pins preinstalled (stacks/containers) and labels the stack with it.
- The pinned ``requirements.txt`` is installed with pip as the full lock it is (``--no-deps``:
  nothing is resolved, so a parent that holds the pins already needs no index), and ZenML adds
  no integration requirements of its own (``install_stack_requirements``: they would fight the
  pins).
- libgomp1 is LightGBM's OpenMP runtime, which a slim Python image lacks.
- The code is not in the image: ZenML uploads it to the artifact store as an archive (which
  honours .gitignore) and each step downloads it. So an image is reused, by ZenML's build
  reuse, for as long as the requirements and these settings stay the same.
- The environment holds the process defaults of ``core.environment`` (telemetry off, one
  thread, MLflow transfers through the server): constants, never a credential.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Mapping, Optional

from core.environment import MLFLOW_TRANSFERS, TELEMETRY_OFF, THREADS
from core.paths import PROJECT_ROOT

DEFAULT_PARENT_IMAGE = "python:3.11-slim"
PARENT_IMAGE_ENV = "MLOPS_PARENT_IMAGE"
PARENT_IMAGE_LABEL = "parent_image"


def parent_image(stack_labels: Optional[Mapping[str, Any]]) -> str:
    """The environment's choice, else the stack's, else the public default."""
    return (os.environ.get(PARENT_IMAGE_ENV) or (stack_labels or {}).get(PARENT_IMAGE_LABEL)
            or DEFAULT_PARENT_IMAGE)


def project_docker_settings(parent: str) -> Dict[str, Any]:
    return {
        "parent_image": parent,
        "requirements": str(PROJECT_ROOT / "requirements.txt"),
        "install_stack_requirements": False,
        "python_package_installer": "pip",
        "python_package_installer_args": {"no-deps": None},
        "apt_packages": ["libgomp1"],
        "allow_download_from_artifact_store": True,
        "allow_download_from_code_repository": False,
        "allow_including_files_in_images": False,
        "environment": {**TELEMETRY_OFF, **THREADS, **MLFLOW_TRANSFERS},
    }


def merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> Dict[str, Any]:
    """``overrides`` over ``base``: mappings are merged key by key, any other value replaced."""
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def docker_settings(config_docker: Mapping[str, Any], stack_labels: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """The settings ZenML builds a run's image from."""
    return merge(project_docker_settings(parent_image(stack_labels)), config_docker)
