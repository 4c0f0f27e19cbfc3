"""ZenML steps: pick the best candidate, hold it to the config's quality gate, and compare it
with the model's earlier versions."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import pandas as pd

from sklearn.base import BaseEstimator
from typing_extensions import Annotated
from zenml import ArtifactConfig, get_step_context, log_metadata, step
from zenml.enums import ArtifactType
from zenml.types import HTMLString

from core.config import MonitoringSpec, ThresholdSpec
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


# Never cached: the history it reads (the model's earlier versions) grows with every run.
@step(enable_cache=False)
def monitor_model_metrics(
    model_evaluation: Dict[str, Any], task: str, monitoring: MonitoringSpec
) -> Annotated[HTMLString, "metric_history"]:
    """This version's metric against the earlier versions of the model; a regression beyond the
    tolerance is flagged in the metadata (step and model version) and on the history chart."""
    from dataclasses import asdict

    from zenml.client import Client

    from steps.evaluate.monitoring import check_metric, describe_check, history_chart

    metric = monitoring.metric or model_evaluation["selection_metric"]
    current = get_step_context().model
    history = []
    for version in Client().list_model_versions(model_name_or_id=current.name, sort_by="desc:number", size=200,
                                                  hydrate=True).items:
        recorded = (version.run_metadata or {}).get("metrics")
        if version.number < current.number and isinstance(recorded, dict) and metric in recorded:
            history.append((version.number, float(recorded[metric])))
    value = float(model_evaluation["metrics"][metric])
    check = check_metric(history, metric, value, METRICS[task][metric] == "min", monitoring.tolerance)
    recorded = {"monitoring": {**asdict(check), "tolerance": monitoring.tolerance}}
    log_metadata(metadata=recorded)
    log_metadata(metadata=recorded, infer_model=True)
    points = sorted(history) + [(current.number, value)]
    verdict = describe_check(check, current.number, monitoring.tolerance)
    chart = f"<img alt='{metric} over versions' src='data:image/png;base64,{history_chart(points, metric, check)}'>"
    rows = table(["version", metric], [(number, f"{score:.4g}") for number, score in reversed(points)])
    return HTMLString(page(f"{current.name}: {metric} over versions", verdict, chart + rows))


@step
def plot_confusion_matrix(model: BaseEstimator, test_data: pd.DataFrame, target: str,
                          positive_class: Optional[str] = None) -> Annotated[HTMLString, "confusion_matrix"]:
    """The selected classifier's confusion matrix on the held-out split (counts in the metadata)."""
    from steps.evaluate.confusion import confusion_chart, confusion_counts
    from steps.evaluate.scoring import model_inputs

    counts = confusion_counts(test_data[target].to_numpy(), model.predict(model_inputs(model, test_data)))
    log_metadata(metadata={"confusion_matrix": counts})
    positive = positive_class or "1"
    negative = f"not {positive_class}" if positive_class else "0"
    chart = f"<img alt='confusion matrix' src='data:image/png;base64,{confusion_chart(counts, positive, negative)}'>"
    rows = table(["", f"predicted {negative}", f"predicted {positive}"],
                 [[f"true {negative}", counts["true_negatives"], counts["false_positives"]],
                  [f"true {positive}", counts["false_negatives"], counts["true_positives"]]])
    return HTMLString(page("Confusion matrix (held-out split)", f"{len(test_data)} held-out rows", chart + rows))
