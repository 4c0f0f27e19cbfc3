"""Training: source extract to a registered, verified and possibly promoted model version."""

from __future__ import annotations

from typing import Optional

from zenml import pipeline

from core.config import UseCaseParameters
from pipelines.hooks import report_failure
from pipelines.preparation import preparation_for
from steps.evaluate.steps import model_quality_gate, monitor_model_metrics, plot_confusion_matrix, select_best_model
from steps.registry.steps import promote_model, register_model, verify_registry_roundtrip
from steps.slices.steps import analyze_slices
from steps.train.steps import train_candidate


def candidate_step(name: str) -> str:
    """The step id of the candidate ``name`` (``train_<name>``): a config's ``steps:`` may use it."""
    return f"train_{name}"


@pipeline(substitutions={"data_role": "training"}, on_failure=report_failure)
def training(params: UseCaseParameters, dataset_version: Optional[int] = None) -> None:
    """``dataset_version``: train on that stored version of the raw data instead of extracting."""
    train_data, validation_data, test_data, features, preprocessor, side_steps = preparation_for(params)(
        params, dataset_version)
    target, task = params.schema_.target, params.training.task
    tuning = {} if validation_data is None else {"validation_data": validation_data}

    models, evaluations = [], []
    for candidate in params.training.candidates:
        model, evaluation = train_candidate(
            train_data, test_data, preprocessor, features, target=target, task=task, candidate=candidate,
            id=candidate_step(candidate.name), **tuning,
        )
        models.append(model)
        evaluations.append(evaluation)

    model, model_evaluation, _ = select_best_model(
        models, evaluations, task=task, selection_metric=params.training.selection_metric
    )
    slice_report = analyze_slices(model, test_data, table_schema=params.feature_schema, task=task,
                                  slices=params.slices)
    if task == "classification":
        side_steps = [*side_steps, plot_confusion_matrix(model, test_data, target=target,
                                                         positive_class=params.schema_.positive_class)]
    metric_history = monitor_model_metrics(model_evaluation, task=task, monitoring=params.monitoring)
    model_quality_gate(model_evaluation, quality_gate=params.training.quality_gate)
    registry_entry = register_model(model_evaluation, after="model_quality_gate")
    registry_check = verify_registry_roundtrip(model, test_data, registry_entry)
    # Promotion is the last step and waits for every other one: ZenML's local orchestrator
    # continues past a failed step, and a run with any failed step must not promote.
    promote_model(
        model, test_data, model_evaluation, registry_entry, target=target, task=task,
        min_improvement=params.promotion.min_improvement,
        after=[registry_check, slice_report, metric_history, *side_steps],
    )
