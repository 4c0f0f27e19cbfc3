"""ZenML steps: register the selected model in the stack's model registry and promote it.

Two registries are kept in step: ZenML's Model control plane (a model version per training run,
linking its data, preprocessor, model and metrics) and the stack's model registry component
(MLflow on every shipped stack), whose ``production`` alias is what serving tools outside ZenML
look up. Promotion moves both, MLflow first: if the registry call fails, ZenML's stage is not
moved either and the previous production model stays in place.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

import pandas as pd
from sklearn.base import BaseEstimator
from typing_extensions import Annotated
import zenml
from zenml import Model, get_step_context, log_metadata, step
from zenml.client import Client
from zenml.enums import ModelStages
from zenml.logger import get_logger
from zenml.model_registries.base_model_registry import ModelRegistryModelMetadata, ModelVersionStage

from steps.evaluate.scoring import model_inputs, promotion_decision, score_model

logger = get_logger(__name__)


def _register_version(registry, name: str, model_uri: str, description: str,
                      metadata: ModelRegistryModelMetadata) -> str:
    """Register ``model_uri`` as a new version of ``name``; returns the version.

    For MLflow this calls MLflow's client directly: an MLflow 3 model is logged as
    ``models:/<model id>``, and a tracking server refuses that source unless the request also
    names the model id, which ZenML's ``register_model_version`` does not pass (a local SQLite
    store does not check). Other registries go through ZenML's interface."""
    if registry.flavor != "mlflow" or not model_uri.startswith("models:/m-"):
        return str(registry.register_model_version(name=name, model_source_uri=model_uri,
                                                   description=description, metadata=metadata).version)
    try:
        registry.get_model(name=name)
    except KeyError:
        registry.register_model(name=name)
    tags = {key: str(value) for key, value in metadata.model_dump().items() if value is not None}
    created = registry.mlflow_client.create_model_version(
        name=name, source=model_uri, run_id=metadata.mlflow_run_id, description=description, tags=tags,
        model_id=model_uri.removeprefix("models:/"))
    return str(created.version)


# The registry steps run under the stack's experiment tracker: it points MLflow at the stack's tracking
# server for the step's duration, which the registry's MLflow calls need (ZenML's MLflow
# registry caches its client across runs in one process, but MLflow resolves `models:/` URIs
# through the global tracking URI that the tracker resets after every tracked step).
@step(enable_cache=False, experiment_tracker=True)
def register_model(model_evaluation: Dict[str, Any]) -> Annotated[Dict[str, Any], "registry_entry"]:
    """Add the selected model to the stack's model registry, tagged with its ZenML lineage."""
    context = get_step_context()
    zenml_model = context.model
    entry: Dict[str, Any] = {
        "zenml_model": zenml_model.name,
        "zenml_model_version": zenml_model.number,
        "registry": None,
        "registry_version": None,
    }
    registry = Client().active_stack.model_registry
    if registry is None:
        logger.warning("The active stack has no model registry: only the ZenML model version is recorded.")
    else:
        version = _register_version(
            registry,
            name=zenml_model.name,
            model_uri=model_evaluation["mlflow_model_uri"],
            description=f"{model_evaluation['candidate']} ({model_evaluation['estimator']}), "
            f"ZenML model version {zenml_model.number}",
            metadata=ModelRegistryModelMetadata(
                zenml_version=zenml.__version__,
                zenml_model_version=str(zenml_model.number),
                zenml_run_name=context.pipeline_run.name,
                zenml_pipeline_name=context.pipeline.name,
                zenml_step_name=context.step_run.name,
                mlflow_run_id=model_evaluation["mlflow_run_id"],
            ),
        )
        entry.update(registry=registry.name, registry_version=version)
    log_metadata(metadata={"registry_entry": entry}, infer_model=True)
    return entry


@step(enable_cache=False, experiment_tracker=True)
def verify_registry_roundtrip(
    model: BaseEstimator, test_data: pd.DataFrame, registry_entry: Dict[str, Any]
) -> Annotated[Dict[str, Any], "registry_check"]:
    """Load the registered version back from the registry and require identical test predictions.

    A model that does not survive the registry's serialisation must not be promoted: whoever
    serves it from the registry would predict something other than what was evaluated.
    """
    import numpy as np

    registry = Client().active_stack.model_registry
    if registry is None or not registry_entry.get("registry_version"):
        raise RuntimeError("the model cannot be verified: the active stack has no model registry or the "
                           "registration returned no version; it will not be promoted")
    loaded = registry.load_model_version(name=registry_entry["zenml_model"],
                                         version=registry_entry["registry_version"])
    inputs = model_inputs(model, test_data)
    expected = np.asarray(model.predict(inputs))
    reloaded = np.asarray(loaded.predict(inputs)).reshape(expected.shape)
    mismatches = int((reloaded != expected).sum())
    if mismatches:
        raise RuntimeError(
            f"model {registry_entry['zenml_model']} version {registry_entry['registry_version']} loaded from "
            f"the registry predicts differently on {mismatches} of {len(expected)} test rows"
        )
    check = {"verified": True, "rows_compared": len(expected), "registry_version": registry_entry["registry_version"]}
    log_metadata(metadata=check)
    return check


def _production_version(name: str, current_number: int) -> Optional[Model]:
    """The model version in stage production, if any (never the version being trained)."""
    try:
        production = Client().get_model_version(name, ModelStages.PRODUCTION)
    except KeyError:
        return None
    if production.number == current_number:
        return None
    return production.to_model_class()


@step(enable_cache=False, experiment_tracker=True)
def promote_model(
    model: BaseEstimator,
    test_data: pd.DataFrame,
    model_evaluation: Dict[str, Any],
    registry_entry: Dict[str, Any],
    target: str,
    task: str,
    min_improvement: float,
) -> Annotated[Dict[str, Any], "promotion_decision"]:
    """Promote to production only if the model beats production on this run's test split.

    Production's model is re-scored on the same held-out rows rather than trusted by its own
    recorded metrics, which came from a different split or data version.
    """
    metric = model_evaluation["selection_metric"]
    current = get_step_context().model
    production = _production_version(current.name, current.number)
    production_score: Optional[float] = None
    if production is not None:
        production_model = production.load_artifact("model")
        production_score = score_model(production_model, test_data, target, task)[metric]
    candidate_score = model_evaluation["metrics"][metric]
    promote, reason = promotion_decision(task, metric, candidate_score, production_score, min_improvement)

    if promote:
        registry = Client().active_stack.model_registry
        if registry is not None and registry_entry.get("registry_version"):
            registry.update_model_version(
                name=current.name, version=registry_entry["registry_version"], stage=ModelVersionStage.PRODUCTION
            )
        current.set_stage(ModelStages.PRODUCTION, force=True)
    decision = {
        "promoted": promote,
        "reason": reason,
        "metric": metric,
        "candidate_score": candidate_score,
        "production_score": production_score,
        "previous_production_version": production.number if production is not None else None,
        "model_version": current.number,
    }
    logger.info("Promotion decision: %s", reason)
    log_metadata(metadata={"promotion": decision}, infer_model=True)
    return decision
