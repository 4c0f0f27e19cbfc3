"""ZenML step: where does the selected model fail? Runs in every training pipeline."""

from __future__ import annotations

import dataclasses

import mlflow
import pandas as pd
from sklearn.base import BaseEstimator
from typing_extensions import Annotated
from zenml import get_step_context, log_metadata, step

from core.config import SchemaSpec, SliceSpec
from materializers.slice_report import SliceReportMaterializer, slices_csv
from steps.evaluate.scoring import model_inputs
from steps.slices.report import SliceReport, build_report
from steps.slices.search import SliceSearchSettings, error_indicator, find_slices


@step(experiment_tracker=True, output_materializers=SliceReportMaterializer)
def analyze_slices(
    model: BaseEstimator, test_data: pd.DataFrame, table_schema: SchemaSpec, task: str, slices: SliceSpec
) -> Annotated[SliceReport, "slice_report"]:
    """Find held-out slices where the model errs far more often than overall (FreaAI-style).

    Slices are described in the raw feature values a person knows (not the preprocessed ones),
    and the top ones go to the pipeline's MLflow run next to the model.
    """
    features = list(slices.features or model_inputs(model, test_data).columns)
    errors, definition = error_indicator(
        test_data[table_schema.target].to_numpy(), model.predict(model_inputs(model, test_data)), task,
        slices.error_quantile,
    )
    settings = SliceSearchSettings(**{**slices.model_dump(), "features": features})
    result = find_slices(test_data[features], errors, settings, definition)
    context = get_step_context()
    report = build_report(
        result, dataclasses.asdict(settings), model_name=context.model.name, model_version=str(context.model.number)
    )
    log_metadata(metadata={"slices_found": len(report.slices), "seconds": report.seconds})
    mlflow.log_metric("weak_slices_found", len(report.slices))
    mlflow.log_text(slices_csv(report), "slices/weak_slices.csv")
    for rank, finding in enumerate(report.slices[:5], start=1):
        mlflow.log_metric(f"weak_slice_{rank}_lift", finding.lift)
        mlflow.set_tag(f"weak_slice_{rank}", f"{finding.description} (n={finding.size}, lift {finding.lift:.2f}, "
                                             f"at least {finding.lift_lower_bound:.2f})"[:500])
    return report
