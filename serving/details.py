"""Read-only JSON about the project, for dashboards and scripts that do not speak ZenML:
pipelines and their latest runs, a run's metrics, model versions and their stages, and the
latest data-quality result of a use case. Everything is read through the ZenML client and the
MLflow server of the active stack, at request time, so the answers are what the dashboard shows.

    GET /pipelines                       every pipeline with its latest run
    GET /pipelines/{name}/runs?limit=N   a pipeline's latest runs
    GET /runs/{run_id}                   a run, with its steps' statuses
    GET /runs/{run_id}/metrics           the run's numeric metadata (ZenML) and its MLflow metrics
    GET /models                          every model with its versions, stages and metrics
    GET /models/{name}                   one model
    GET /data-quality/{use_case}         the latest validation report (and data profile) of a use case

Unknown names and ids are 404s; an id that is not a UUID is a 422.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any, Dict, Iterable, List, Optional
from uuid import UUID

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, Field

from steps.explore.report import DataProfile


class RunSummary(BaseModel):
    id: UUID
    name: str
    pipeline: Optional[str]
    status: str
    tags: List[str]
    created: datetime
    start_time: Optional[datetime]
    end_time: Optional[datetime]
    duration_seconds: Optional[float] = Field(description="end - start; null while the run is in progress")


class PipelineSummary(BaseModel):
    name: str
    latest_run: Optional[RunSummary]


class RunDetail(RunSummary):
    steps: Dict[str, str] = Field(description="step name -> status")


class RunMetrics(BaseModel):
    run: RunSummary
    metadata: Dict[str, float] = Field(description="numeric run and step metadata, keys as run.<key> or "
                                                   "<step>.<key>, nested keys joined with dots")
    mlflow_run_id: Optional[str]
    mlflow: Dict[str, float] = Field(description="the metrics of the run's MLflow run, if it has one")


class ModelVersionSummary(BaseModel):
    number: int
    name: str
    stage: Optional[str]
    created: datetime
    metrics: Dict[str, float]
    run_id: Optional[UUID] = Field(description="the pipeline run that produced the version")


class RegistryVersion(BaseModel):
    version: str
    stage: str
    created: Optional[datetime]


class ModelSummary(BaseModel):
    name: str
    versions: List[ModelVersionSummary] = Field(description="the ZenML model control plane, newest first")
    registry: List[RegistryVersion] = Field(description="the stack's model registry (MLflow), newest first")


class ValidationSummary(BaseModel):
    suite: str
    success: bool
    evaluated: int
    successful: int
    success_ratio: float
    failed: List[str]


class Problem(BaseModel):
    detail: str


NOT_FOUND = {404: {"model": Problem, "description": "no such pipeline, run, model or use case"}}


class DataQuality(BaseModel):
    use_case: str
    run: RunSummary
    validation: ValidationSummary
    profile: Optional[DataProfile] = Field(description="from the data pipeline's runs only")


def _client():
    from zenml.client import Client

    return Client()


def utc(moment: Optional[datetime]) -> Optional[datetime]:
    """ZenML stores naive UTC times; JSON's date-time (RFC 3339) needs the offset."""
    return moment.replace(tzinfo=timezone.utc) if moment is not None and moment.tzinfo is None else moment


def run_summary(run) -> RunSummary:
    start, end = utc(run.start_time), utc(run.end_time)
    return RunSummary(
        id=run.id, name=run.name, pipeline=run.pipeline.name if run.pipeline else None, status=run.status.value,
        tags=sorted(tag.name for tag in run.tags), created=utc(run.created), start_time=start, end_time=end,
        duration_seconds=(end - start).total_seconds() if start and end else None)


def flatten_numbers(values: Dict[str, Any], prefix: str) -> Dict[str, float]:
    """The finite numbers among ``values`` (nested dicts included, keys joined with dots)."""
    found: Dict[str, float] = {}
    for key, value in values.items():
        name = f"{prefix}.{key}"
        if isinstance(value, dict):
            found.update(flatten_numbers(value, name))
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            found[name] = float(value)
    return found


def _get_run(run_id: UUID):
    try:
        return _client().get_pipeline_run(run_id)
    except KeyError as error:
        raise HTTPException(status_code=404, detail=f"no pipeline run with id {run_id}") from error


def _mlflow_run_id(run) -> Optional[str]:
    for step in run.steps.values():
        recorded = (step.run_metadata or {}).get("mlflow_run_id")
        if recorded:
            return str(recorded)
    return None


def _mlflow_client():
    from mlflow.tracking import MlflowClient

    tracker = _client().active_stack.experiment_tracker
    if tracker is None or tracker.flavor != "mlflow":
        return None
    tracker.configure_mlflow()  # the tracker's credentials (from its ZenML secret), as its steps use them
    return MlflowClient(tracking_uri=tracker.get_tracking_uri())


def _registry_versions(name: str) -> List[RegistryVersion]:
    registry = _client().active_stack.model_registry
    if registry is None:
        return []
    listed = [RegistryVersion(version=str(v.version), stage=str(getattr(v.stage, "value", v.stage)), created=utc(v.created_at))
              for v in registry.list_model_versions(name=name)]
    return sorted(listed, key=lambda v: int(v.version) if v.version.isdigit() else 0, reverse=True)


def _model_summary(model) -> ModelSummary:
    versions = _client().list_model_versions(model_name_or_id=model.id, sort_by="desc:number", size=100,
                                             hydrate=True).items
    listed = []
    for version in versions:
        recorded = (version.run_metadata or {}).get("metrics")
        metrics = flatten_numbers(recorded, "metrics") if isinstance(recorded, dict) else {}
        runs = [run.id for run in _client().list_pipeline_runs(model_version_id=version.id, sort_by="asc:created",
                                                                 size=1).items]
        listed.append(ModelVersionSummary(
            number=version.number, name=version.name, stage=str(version.stage) if version.stage else None,
            created=utc(version.created), metrics={key.split(".", 1)[1]: value for key, value in metrics.items()},
            run_id=runs[0] if runs else None))
    return ModelSummary(name=model.name, versions=listed, registry=_registry_versions(model.name))


def _latest_validation(use_case: str):
    """The newest run tagged with the use case that validated its data, and that step."""
    for run in _client().list_pipeline_runs(tags=[use_case], sort_by="desc:created", size=50).items:
        step = run.steps.get("validate_expectations")
        if step is not None and step.status.value in ("completed", "cached"):
            return run, step
    return None, None


def details_router(use_cases: Iterable[str]) -> APIRouter:
    """The read endpoints; ``use_cases`` are the ones /data-quality answers for."""
    known_use_cases = sorted(set(use_cases))
    router = APIRouter(tags=["project"])

    @router.get("/pipelines", response_model=List[PipelineSummary])
    def pipelines() -> List[PipelineSummary]:
        client = _client()
        listed = []
        for pipeline in client.list_pipelines(sort_by="asc:name", size=1000).items:
            runs = client.list_pipeline_runs(pipeline_id=pipeline.id, sort_by="desc:created", size=1).items
            listed.append(PipelineSummary(name=pipeline.name, latest_run=run_summary(runs[0]) if runs else None))
        return listed

    @router.get("/pipelines/{name}/runs", response_model=List[RunSummary], responses=NOT_FOUND)
    def pipeline_runs(name: str = Path(min_length=1, max_length=200),
                      limit: int = Query(default=10, ge=1, le=100)) -> List[RunSummary]:
        client = _client()
        if not client.list_pipelines(name=name, size=1).items:
            raise HTTPException(status_code=404, detail=f"no pipeline named '{name}'")
        return [run_summary(run) for run in
                client.list_pipeline_runs(pipeline_name=name, sort_by="desc:created", size=limit).items]

    @router.get("/runs/{run_id}", response_model=RunDetail, responses=NOT_FOUND)
    def run_detail(run_id: UUID) -> RunDetail:
        run = _get_run(run_id)
        return RunDetail(**run_summary(run).model_dump(),
                         steps={name: step.status.value for name, step in run.steps.items()})

    @router.get("/runs/{run_id}/metrics", response_model=RunMetrics, responses=NOT_FOUND)
    def run_metrics(run_id: UUID) -> RunMetrics:
        run = _get_run(run_id)
        metadata = flatten_numbers(dict(run.run_metadata or {}), "run")
        for name, step in run.steps.items():
            metadata.update(flatten_numbers(dict(step.run_metadata or {}), name))
        mlflow_run_id, mlflow_metrics = _mlflow_run_id(run), {}
        if mlflow_run_id is not None:
            mlflow = _mlflow_client()
            if mlflow is not None:
                mlflow_metrics = {key: float(value) for key, value in mlflow.get_run(mlflow_run_id).data.metrics.items()
                                  if math.isfinite(value)}
        return RunMetrics(run=run_summary(run), metadata=metadata, mlflow_run_id=mlflow_run_id, mlflow=mlflow_metrics)

    @router.get("/models", response_model=List[ModelSummary])
    def models() -> List[ModelSummary]:
        return [_model_summary(model) for model in _client().list_models(sort_by="asc:name", size=1000).items]

    @router.get("/models/{name}", response_model=ModelSummary, responses=NOT_FOUND)
    def model(name: str = Path(min_length=1, max_length=200)) -> ModelSummary:
        try:
            found = _client().get_model(name)
        except KeyError as error:
            raise HTTPException(status_code=404, detail=f"no model named '{name}'") from error
        return _model_summary(found)

    @router.get("/data-quality/{use_case}", response_model=DataQuality, responses=NOT_FOUND)
    def data_quality(use_case: str = Path(min_length=1, max_length=100)) -> DataQuality:
        if use_case not in known_use_cases:
            raise HTTPException(status_code=404, detail=f"unknown use case '{use_case}'; known: {known_use_cases}")
        run, step = _latest_validation(use_case)
        if run is None:
            raise HTTPException(status_code=404, detail=f"use case '{use_case}' has no run that validated its data yet")
        report = step.outputs["validation_report"][0].load()
        profile_step = run.steps.get("profile_data")
        profile = (profile_step.outputs["data_profile"][0].load()
                   if profile_step is not None and profile_step.status.value in ("completed", "cached") else None)
        validation = ValidationSummary(suite=report.suite_name, success=report.success, evaluated=report.evaluated,
                                       successful=report.successful, success_ratio=report.success_ratio,
                                       failed=[outcome.describe() for outcome in report.failures()])
        return DataQuality(use_case=use_case, run=run_summary(run), validation=validation, profile=profile)

    return router
