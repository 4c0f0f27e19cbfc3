"""Where the API gets its model: the production version of the ZenML Model (the stack's model
control plane), loaded from the artifact store of the stack that trained it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Optional


class NoProductionModel(RuntimeError):
    """The model has no version in stage production yet."""


@dataclass
class LoadedModel:
    model: Any
    name: str
    version: str
    loaded_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat())


def single_threaded(model: Any) -> Any:
    """One request predicts one row: thread pools only add latency, so every n_jobs becomes 1."""
    if hasattr(model, "get_params"):
        updates = {key: 1 for key in model.get_params(deep=True) if key == "n_jobs" or key.endswith("__n_jobs")}
        if updates:
            model.set_params(**updates)
    return model


def production_version(model_name: str) -> Optional[str]:
    """The production version number, or None when there is none."""
    from zenml.client import Client
    from zenml.enums import ModelStages

    try:
        return str(Client().get_model_version(model_name, ModelStages.PRODUCTION).number)
    except KeyError:
        return None


def load_production(model_name: str) -> LoadedModel:
    from zenml.client import Client
    from zenml.enums import ModelStages

    try:
        version = Client().get_model_version(model_name, ModelStages.PRODUCTION)
    except KeyError as exc:
        raise NoProductionModel(
            f"model '{model_name}' has no production version: train one first "
            "(python run.py training --config <config>)"
        ) from exc
    model = single_threaded(version.get_model_artifact("model").load())
    return LoadedModel(model=model, name=model_name, version=str(version.number))
