"""Training: source extract to a registered, possibly promoted, model version."""

from __future__ import annotations

from zenml import pipeline

from core.config import UseCaseParameters
from pipelines.hooks import report_failure
from steps.evaluate.steps import model_quality_gate, select_best_model
from pipelines.ingestion import validated_dataset
from steps.prepare.steps import fit_preprocessor, select_features, split_dataset
from steps.registry.steps import promote_model, register_model
from steps.slices.steps import analyze_slices
from steps.train.steps import train_candidate
from steps.validate.steps import check_data_integrity, check_train_test_drift


@pipeline(substitutions={"data_role": "training"}, on_failure=report_failure)
def training(params: UseCaseParameters) -> None:
    table_schema = params.schema_
    raw_data, dataset = validated_dataset(params, params.source, list(table_schema.columns), role="training")
    check_data_integrity(raw_data, table_schema=table_schema, after="validation_gate")
    train_data, test_data = split_dataset(dataset, split=params.split, target=table_schema.target)
    check_train_test_drift(train_data, test_data, table_schema=table_schema)
    features, _ = select_features(
        train_data, table_schema=table_schema, task=params.training.task, selection=params.feature_selection
    )
    preprocessor = fit_preprocessor(train_data, features, table_schema=table_schema)

    models, evaluations = [], []
    for candidate in params.training.candidates:
        model, evaluation = train_candidate(
            train_data,
            test_data,
            preprocessor,
            features,
            target=table_schema.target,
            task=params.training.task,
            candidate=candidate,
            id=f"train_{candidate.name}",
        )
        models.append(model)
        evaluations.append(evaluation)

    model, model_evaluation, _ = select_best_model(
        models, evaluations, task=params.training.task, selection_metric=params.training.selection_metric
    )
    analyze_slices(model, test_data, table_schema=table_schema, task=params.training.task, slices=params.slices)
    model_quality_gate(model_evaluation, quality_gate=params.training.quality_gate)
    registry_entry = register_model(model_evaluation, after="model_quality_gate")
    promote_model(
        model,
        test_data,
        model_evaluation,
        registry_entry,
        target=table_schema.target,
        task=params.training.task,
        min_improvement=params.promotion.min_improvement,
    )
