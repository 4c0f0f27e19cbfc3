"""Config loading: the shipped configs are valid, and bad ones fail naming the key."""

import re
from pathlib import Path

import pytest
import yaml

from core.config import ConfigError, load_config, resolve_sqlite_url
from core.paths import PROJECT_ROOT

CONFIGS = sorted((PROJECT_ROOT / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_configs_load(path: Path) -> None:
    config = load_config(path)
    assert config.parameters.schema_.target in config.parameters.schema_.columns
    assert config.parameters.training.candidates


def _write(tmp_path: Path, mutate) -> Path:
    raw = yaml.safe_load((PROJECT_ROOT / "configs" / "insurance.yaml").read_text())
    mutate(raw)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_unknown_key_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path, lambda raw: raw["parameters"]["source"].update(tabel="insurance"))
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert "parameters.source.tabel" in str(error.value)
    assert "unknown key" in str(error.value)


def test_unknown_top_level_key_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path, lambda raw: raw.update(paramters={}))
    with pytest.raises(ConfigError, match="paramters: unknown key"):
        load_config(path)


def test_unknown_estimator_and_metric(tmp_path: Path) -> None:
    def mutate(raw):
        raw["parameters"]["training"]["candidates"][0]["estimator"] = "magic_forest"
        raw["parameters"]["training"]["quality_gate"] = {"accuracy": {"min": 0.5}}

    with pytest.raises(ConfigError) as error:
        load_config(_write(tmp_path, mutate))
    text = str(error.value)
    assert "parameters.training.candidates.0.estimator" in text and "magic_forest" in text


def test_wrong_type_and_range(tmp_path: Path) -> None:
    def mutate(raw):
        raw["parameters"]["split"]["test_size"] = 1.5
        raw["parameters"]["schema"]["columns"]["age"]["min"] = "young"

    with pytest.raises(ConfigError) as error:
        load_config(_write(tmp_path, mutate))
    assert "parameters.split.test_size" in str(error.value)
    assert "parameters.schema.columns.age.min" in str(error.value)


def test_target_must_be_a_column(tmp_path: Path) -> None:
    path = _write(tmp_path, lambda raw: raw["parameters"]["schema"].update(target="price"))
    with pytest.raises(ConfigError, match="target 'price' is not one of the columns"):
        load_config(path)


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_env_url_wins_and_relative_sqlite_is_rooted(monkeypatch) -> None:
    config = load_config(PROJECT_ROOT / "configs" / "insurance.yaml")
    monkeypatch.delenv("INSURANCE_DB_URL", raising=False)
    from core.paths import STATE_DIR

    # under state/: the state folder (the tests' private one here); other relative paths: the project root
    assert config.parameters.source.database_url() == f"sqlite:///{STATE_DIR}/insurance.db"
    assert str(STATE_DIR) != str(PROJECT_ROOT / "state")
    assert resolve_sqlite_url("sqlite:///data/x.db") == f"sqlite:///{PROJECT_ROOT}/data/x.db"
    monkeypatch.setenv("INSURANCE_DB_URL", "postgresql://u:secret@db:5432/x")
    assert config.parameters.source.database_url() == "postgresql://u:secret@db:5432/x"
    assert "secret" not in config.parameters.source.describe()
    assert resolve_sqlite_url("sqlite:////abs/file.db") == "sqlite:////abs/file.db"


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_parameters_survive_a_json_round_trip(path: Path) -> None:
    """ZenML stores step parameters as JSON and validates them again when the step runs."""
    from core.config import UseCaseParameters

    params = load_config(path).parameters
    assert UseCaseParameters.model_validate_json(params.model_dump_json(by_alias=True)) == params
    assert type(params.source).model_validate(params.source.model_dump()) == params.source


def test_sql_source_rejects_file_options(tmp_path: Path) -> None:
    path = _write(tmp_path, lambda raw: raw["parameters"]["source"].update(separator=";"))
    with pytest.raises(ConfigError, match=r"a sql source does not take \['separator'\]"):
        load_config(path)


def test_secret_values_are_masked_in_stack_errors() -> None:
    """What a preflight error says about a component never contains its configured secrets."""
    from types import SimpleNamespace

    from zenml.integrations.s3.flavors.s3_artifact_store_flavor import S3ArtifactStoreConfig

    from core.launch import _mask_secrets

    config = S3ArtifactStoreConfig(path="s3://bucket", key="AKIAEXAMPLEKEY01", secret="a-very-secret-value")
    message = _mask_secrets("denied for AKIAEXAMPLEKEY01 with a-very-secret-value at s3://bucket",
                            SimpleNamespace(config=config))
    assert "a-very-secret-value" not in message and "AKIAEXAMPLEKEY01" not in message
    assert message.startswith("denied for *** with *** at")


@pytest.mark.parametrize("source, message", [
    ({"kind": "joined", "key": "id", "parts": {"a": {"kind": "csv", "path": "a.csv"}}}, "at least two parts"),
    ({"kind": "joined", "parts": {"a": {"kind": "csv", "path": "a.csv"}, "b": {"kind": "csv", "path": "b.csv"}}},
     "takes 'parts'"),
    ({"kind": "csv", "path": "a.csv", "key": "id"}, "only a joined source has them"),
    ({"kind": "joined", "key": "id", "parts": {"a": {"kind": "csv", "path": "a.csv"}, "b": {
        "kind": "joined", "key": "id", "parts": {"c": {"kind": "csv", "path": "c.csv"}, "d": {"kind": "csv", "path": "d.csv"}}}}},
     "cannot be joined sources themselves: ['b']"),
])
def test_a_joined_source_is_checked_when_the_config_loads(source, message) -> None:
    from pydantic import ValidationError

    from core.config import SourceSpec

    with pytest.raises(ValidationError, match=re.escape(message)):
        SourceSpec.model_validate(source)


@pytest.mark.parametrize("settings, message", [
    ({"docker": {"parent_imag": "python:3.11-slim"}}, "settings.docker: .*unknown docker setting.*'parent_imag'"),
    ({"docker": {"build_config": {"dockerignor": ".dockerignore"}}}, "'build_config.dockerignor'"),
    ({"docker": {"apt_packages": "libgomp1"}}, "settings.docker.apt_packages: Input should be a valid list"),
    ({"resources": {"memroy": "4GB"}}, "unknown resources setting.*'memroy'"),
    ({"resources": {"memory": "lots"}}, "settings.resources.memory: String should match pattern"),
    ({"orchestrator": {"run_args": {}}}, "settings.orchestrator: unknown key"),
])
def test_zenml_settings_are_checked_by_zenml_with_unknown_keys_named(tmp_path: Path, settings, message) -> None:
    """ZenML's settings classes accept or ignore unknown keys; a config's typo is an error here."""
    path = _write(tmp_path, lambda raw: raw.update(settings=settings))
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_zenml_settings_and_step_settings_load(tmp_path: Path) -> None:
    """Build options are any build CLI flag (DockerBuildOptions takes extra keys by design)."""
    path = _write(tmp_path, lambda raw: raw.update(
        settings={"docker": {"build_config": {"build_options": {"network": "host"}}}, "resources": {"cpu_count": 2}},
        steps={"train_random_forest": {"settings": {"resources": {"memory": "6GiB"}}}}))
    config = load_config(path)
    assert config.settings.for_zenml() == {"docker": {"build_config": {"build_options": {"network": "host"}}},
                                           "resources": {"cpu_count": 2}}
    assert config.steps["train_random_forest"].settings.for_zenml() == {"resources": {"memory": "6GiB"}}


def test_a_step_setting_must_name_a_step_of_the_pipelines(tmp_path: Path) -> None:
    from core.launch import check_step_settings

    config = load_config(_write(tmp_path, lambda raw: raw.update(steps={"train_forest": {"settings": {}}})))
    with pytest.raises(ConfigError, match=r"steps: \['train_forest'\] name no step.*train_random_forest"):
        check_step_settings(config)


def test_kubernetes_pod_settings_are_checked_to_the_last_key(tmp_path: Path) -> None:
    path = _write(tmp_path, lambda raw: raw.update(steps={"train_linear": {"settings": {"orchestrator.kubernetes": {
        "pod_settings": {"resources": {"requests": {"memory": "1Gi"}}, "node_selector": {"a": "b"}}}}}}))
    with pytest.raises(ConfigError, match=r"unknown orchestrator.kubernetes setting.*'pod_settings.node_selector'"):
        load_config(path)
