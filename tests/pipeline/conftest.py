"""Fixtures that run real pipelines on the `local` stack, registered in the session's private
ZenML store, with the source database in a temporary folder."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import pytest
import yaml

from core.config import RunConfig
from tests.conftest import INSURANCE_CONFIG, PROJECT_ROOT


@pytest.fixture(scope="session")
def local_stack(session_dir: Path) -> str:
    from zenml.client import Client
    from zenml.utils import source_utils

    from stacks.register import register

    repository = Path(os.environ["ZENML_REPOSITORY_PATH"])
    repository.mkdir(parents=True, exist_ok=True)
    Client.initialize(root=repository)
    source_utils.set_custom_source_root(str(PROJECT_ROOT))
    register("local", activate=True, state_dir=session_dir / "state")
    return "local"


@pytest.fixture(scope="session")
def make_config(session_dir: Path) -> Callable[..., RunConfig]:
    """The insurance config with ``mutate(raw_dict)`` applied, validated like a file would be."""

    def build(mutate: Callable[[dict], None] | None = None) -> RunConfig:
        raw = yaml.safe_load(INSURANCE_CONFIG.read_text())
        if mutate is not None:
            mutate(raw)
        return RunConfig.model_validate(raw)

    return build


@pytest.fixture(scope="session")
def trained_run(local_stack, insurance_db, make_config):
    """The session's first training run: it finds no production model and promotes its own."""
    from core.launch import run_training

    return run_training(make_config())


@pytest.fixture(scope="session")
def inference_run(trained_run, make_config):
    from core.launch import run_batch_inference

    return run_batch_inference(make_config())


STOCKS_CONFIG = PROJECT_ROOT / "configs" / "stocks.yaml"


def stocks_config(mutate: Callable[[dict], None] | None = None) -> RunConfig:
    raw = yaml.safe_load(STOCKS_CONFIG.read_text())
    if mutate is not None:
        mutate(raw)
    return RunConfig.model_validate(raw)


@pytest.fixture(scope="session")
def stocks_run(local_stack):
    """Stock volume trained on the shipped slice; the forest on a 2,000-row sample, to
    exercise sampling on small data. Its model becomes the production version."""
    from core.launch import run_training

    def sample_the_forest(raw: dict) -> None:
        raw["parameters"]["training"]["candidates"][0]["sample_rows"] = 2000

    return run_training(stocks_config(sample_the_forest))


@pytest.fixture(scope="session")
def skab_run(local_stack):
    """The SKAB training run of configs/skab.yaml, on the shipped copy of the benchmark (data/skab)."""
    from core.config import load_config
    from core.launch import run_training

    return run_training(load_config(PROJECT_ROOT / "configs" / "skab.yaml"))


@pytest.fixture(scope="session")
def housing_data_run(local_stack):
    """The housing data pipeline (EDA) on the shipped table."""
    from core.config import load_config
    from core.launch import run_data

    return run_data(load_config(PROJECT_ROOT / "configs" / "housing.yaml"))


@pytest.fixture(scope="session")
def housing_run(local_stack):
    """Housing prices trained on the shipped table; its model becomes the production version."""
    from core.config import load_config
    from core.launch import run_training

    return run_training(load_config(PROJECT_ROOT / "configs" / "housing.yaml"))
