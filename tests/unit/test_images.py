"""The step images' DockerSettings (core/images.py): the project's own, the config's over them,
and the parent image chosen by the environment, the stack or the public default."""

from __future__ import annotations

from zenml.config import DockerSettings

from core.images import DEFAULT_PARENT_IMAGE, docker_settings, merge


def test_the_parent_image_is_the_environments_then_the_stacks_then_the_default(monkeypatch) -> None:
    monkeypatch.delenv("MLOPS_PARENT_IMAGE", raising=False)
    assert docker_settings({}, None)["parent_image"] == DEFAULT_PARENT_IMAGE
    assert docker_settings({}, {"parent_image": "localhost/mlops-parent:abc"})["parent_image"] == \
        "localhost/mlops-parent:abc"
    monkeypatch.setenv("MLOPS_PARENT_IMAGE", "registry.example.com/base:1")
    assert docker_settings({}, {"parent_image": "localhost/mlops-parent:abc"})["parent_image"] == \
        "registry.example.com/base:1"


def test_a_config_adds_to_the_project_settings_and_zenml_accepts_the_result() -> None:
    settings = docker_settings({"environment": {"EXTRA": "1"}, "apt_packages": ["git"]}, None)
    assert settings["environment"]["EXTRA"] == "1" and settings["environment"]["OMP_NUM_THREADS"] == "1"
    assert settings["apt_packages"] == ["git"]  # a list is replaced, not merged
    parsed = DockerSettings.model_validate(settings)
    assert parsed.requirements.endswith("requirements.txt") and not parsed.install_stack_requirements
    # The code travels through the artifact store, so images are reused while the pins stay.
    assert parsed.allow_download_from_artifact_store and not parsed.allow_including_files_in_images
    assert parsed.python_package_installer_args == {"no-deps": None}


def test_merge_is_recursive_for_mappings_only() -> None:
    assert merge({"a": {"b": 1, "c": 2}, "d": [1]}, {"a": {"c": 3}, "d": [2]}) == {"a": {"b": 1, "c": 3}, "d": [2]}
