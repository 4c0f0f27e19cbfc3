"""ZenML steps: pick the best candidate and hold it to the config's quality gate."""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

from sklearn.base import BaseEstimator
from typing_extensions import Annotated
from zenml import ArtifactConfig, log_metadata, step
from zenml.enums import ArtifactType
from zenml.types import HTMLString

from core.config import ThresholdSpec
from materializers.html import page, table
from steps.evaluate.metrics import METRICS, threshold_failures
from steps.evaluate.scoring import rank_candidates


class ModelQualityError(RuntimeError):
    """The best model misses the config's quality gate; it is neither registered nor promoted."""


# Never cached: it records the selected metrics on this run's model version, which a cached
# step would leave without them (promotion and the registry read them there).
@step(enable_cache=False)
def select_best_model(
    candidate_models: List[BaseEstimator],
    candidate_evaluations: List[Dict[str, Any]],
    task: str,
    selection_metric: str,
) -> Tuple[
    Annotated[BaseEstimator, ArtifactConfig(name="model", artifact_type=ArtifactType.MODEL)],
    Annotated[Dict[str, Any], "model_evaluation"],
    Annotated[HTMLString, "candidate_comparison"],
]:
    """The candidate with the best held-out ``selection_metric``, and a comparison table."""
    order = rank_candidates(candidate_evaluations, task, selection_metric)
    best = order[0]
    names = list(METRICS[task])
    rows = [
        [rank + 1, candidate_evaluations[i]["candidate"], candidate_evaluations[i]["estimator"]]
        + [f"{candidate_evaluations[i]['metrics'].get(m, float('nan')):.4f}" for m in names]
        for rank, i in enumerate(order)
    ]
    comparison = page(
        "Candidate models on the held-out split",
        f"Ranked by {selection_metric} ({METRICS[task][selection_metric]} is better); "
        f"selected: {candidate_evaluations[best]['candidate']}.",
        table(["rank", "candidate", "estimator", *names], rows),
    )
    evaluation = dict(candidate_evaluations[best], selection_metric=selection_metric)
    log_metadata(
        metadata={"selected": evaluation["candidate"], **{f"test_{k}": v for k, v in evaluation["metrics"].items()}}
    )
    log_metadata(metadata={"metrics": evaluation["metrics"], "selected": evaluation["candidate"]}, infer_model=True)
    return candidate_models[best], evaluation, HTMLString(comparison)


@step(enable_cache=False)
def model_quality_gate(model_evaluation: Dict[str, Any], quality_gate: Dict[str, ThresholdSpec]) -> None:
    """Stop before registration when the selected model misses any configured threshold."""
    failures = threshold_failures(model_evaluation["metrics"], quality_gate)
    log_metadata(metadata={"passed": not failures, "failures": failures})
    if failures:
        raise ModelQualityError(
            f"model '{model_evaluation['candidate']}' fails the quality gate: " + "; ".join(failures)
        )
