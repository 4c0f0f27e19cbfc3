"""ZenML step: train one candidate model and record it in the stack's experiment tracker."""

from __future__ import annotations

import warnings
from typing import Any, Dict, List, Optional, Tuple

import mlflow
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from typing_extensions import Annotated
from zenml import log_metadata, step

from core.config import CandidateSpec
from steps.evaluate.confusion import confusion_counts
from steps.evaluate.scoring import model_inputs, score_model
from steps.train.factory import SKOPS_TRUSTED_TYPES, make_estimator
from steps.train.threshold import ThresholdClassifier, tune_threshold


SAMPLE_SEED = 0  # for candidates trained on a sample of the train split (CandidateSpec.sample_rows)


@step(experiment_tracker=True, settings={"experiment_tracker": {"nested": True}})
def train_candidate(
    train_data: pd.DataFrame,
    test_data: pd.DataFrame,
    preprocessor: ColumnTransformer,
    selected_features: List[str],
    target: str,
    task: str,
    candidate: CandidateSpec,
    validation_data: Optional[pd.DataFrame] = None,
) -> Tuple[Annotated[BaseEstimator, "candidate_model"], Annotated[Dict[str, Any], "candidate_evaluation"]]:
    """Fit the estimator on the preprocessed train split and score it on the held-out split.

    The returned model is the whole sklearn Pipeline (fitted preprocessor + estimator), so that
    everything downstream, batch inference and the API, takes raw feature columns. Each
    candidate is its own nested MLflow run with its params, metrics and model. Given validation
    data, a classifier's decision threshold is tuned there (F1) and travels inside the model.
    """
    estimator = make_estimator(candidate.estimator, candidate.params)
    fit_rows = train_data
    if candidate.sample_rows is not None and len(train_data) > candidate.sample_rows:
        fit_rows = train_data.sample(n=candidate.sample_rows, random_state=SAMPLE_SEED)
    estimator.fit(preprocessor.transform(fit_rows[selected_features]), fit_rows[target])
    model = Pipeline([("preprocess", preprocessor), ("model", estimator)])
    threshold = None
    if validation_data is not None and task == "classification":
        scores = model.predict_proba(model_inputs(model, validation_data))[:, 1]
        threshold = tune_threshold(validation_data[target].to_numpy(), scores)
        model = ThresholdClassifier(model, threshold)
        mlflow.log_param("decision_threshold", threshold)

    metrics = score_model(model, test_data, target, task)
    train_metrics = score_model(model, train_data, target, task)

    from mlflow.models import infer_signature

    # The signature keeps the inputs' own types: MLflow's pyfunc loader enforces it, and the
    # registry round trip checks that real inputs pass it. Its hint about integer columns
    # (they cannot hold missing values) does not apply: the schema forbids nulls in them.
    example = model_inputs(model, test_data).head(5)
    mlflow.log_params({"candidate": candidate.name, "estimator": candidate.estimator, **candidate.params})
    mlflow.log_params({"features": ",".join(selected_features), "train_rows": len(train_data),
                       "fit_rows": len(fit_rows), "fit_sample_seed": SAMPLE_SEED if len(fit_rows) < len(train_data) else None})
    mlflow.log_metrics({f"test_{k}": v for k, v in metrics.items()})
    mlflow.log_metrics({f"train_{k}": v for k, v in train_metrics.items()})
    if task == "classification":
        held_out = test_data[target].to_numpy()
        mlflow.log_dict(confusion_counts(held_out, model.predict(model_inputs(model, test_data))), "confusion_matrix.json")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Inferred schema contains integer column", category=UserWarning)
        model_info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(example, model.predict(example)),
            input_example=example,
            skops_trusted_types=SKOPS_TRUSTED_TYPES,
        )
    run_id = mlflow.active_run().info.run_id

    evaluation = {
        "candidate": candidate.name,
        "estimator": candidate.estimator,
        "params": candidate.params,
        "metrics": metrics,
        "train_metrics": train_metrics,
        "mlflow_run_id": run_id,
        "mlflow_model_uri": model_info.model_uri,
        "decision_threshold": threshold,
        "train_rows": len(train_data),
        "fit_rows": len(fit_rows),
    }
    log_metadata(metadata={"candidate": candidate.name, "test_metrics": metrics, "mlflow_run_id": run_id})
    return model, evaluation
