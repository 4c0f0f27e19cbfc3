"""``POST /predict/<use case>`` for a tabular use case: one record as JSON, validated by a
pydantic model built from the config's schema (strict JSON types, bounds, allowed categories,
unknown fields refused), scored by the model's production version.

A use case with a feature store and an identifier column (churn) also answers ``GET
/predict/<use case>/<id>``: the features of a known customer come from the online store.

The production version is looked up on every request (one registry query) and the model is
loaded again only when a newer version was promoted, so a promotion takes effect at once.
Before any version is in production the route answers 404 (the production model is a resource
that does not exist yet, not a server fault), and says how to get one.
"""

# No `from __future__ import annotations`: FastAPI must see the runtime-built body model.

import threading
from typing import Annotated, Any, Dict, Literal, Optional, Tuple

import numpy as np
import pandas as pd
from fastapi import APIRouter, HTTPException
from fastapi import Path as PathParameter
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model

from core.config import ColumnSpec, RunConfig
from serving.details import Problem
from serving.model_source import LoadedModel, NoProductionModel
from steps.prepare.engineering import engineer
from steps.store.feature_store import repository, tabular_view


PREDICT_ERRORS = {400: {"model": Problem, "description": "the body could not be read (not UTF-8 JSON)"},
                  404: {"model": Problem, "description": "no production version of the model yet"}}


def _only_numbers(value: Any) -> Any:
    if isinstance(value, (bool, str)):
        raise ValueError("a whole number is required (JSON true/false and strings are not numbers)")
    return value


# An integer column: 2 and 2.0 are taken (JSON Schema counts both as integers), 1.5, true and "2"
# are refused. Lax int after the check, as strict int would refuse 2.0.
WholeNumber = Annotated[int, BeforeValidator(_only_numbers), Field(strict=False)]


def _field(spec: ColumnSpec) -> Tuple[Any, Any]:
    """A column's pydantic type and constraints; a nullable column may be null or left out."""
    if spec.type in ("int", "float"):
        bounds: Dict[str, Any] = {"le": spec.max} if spec.type == "int" else {"le": spec.max, "allow_inf_nan": False}
        bounds["gt" if spec.strict_min else "ge"] = spec.min
        kind: Any = WholeNumber if spec.type == "int" else float
        constraint = Field(..., description=spec.description, **bounds)
        if spec.nullable:
            return Optional[kind], Field(None, description=spec.description, **bounds)
        return kind, constraint
    kind = bool if spec.type == "bool" else (Literal[tuple(spec.allowed)] if spec.allowed else str)
    if spec.nullable:
        return Optional[kind], Field(None, description=spec.description)
    return kind, Field(..., description=spec.description)


def record_model(config: RunConfig) -> "type[BaseModel]":
    schema = config.parameters.schema_
    fields = {name: _field(schema.columns[name]) for name in schema.feature_columns}
    title = "".join(part.title() for part in config.parameters.use_case.split("_")) + "Record"
    # Strict: a JSON boolean or a numeric string is not a number, and a number is not a category
    # (pydantic's lax mode would read `false` as 0.0; schemathesis found that).
    return create_model(title, __config__=ConfigDict(extra="forbid", strict=True), **fields)


def tabular_prediction_router(config: RunConfig, load, probe) -> APIRouter:
    """The route for one use case; ``load`` and ``probe`` reach the registry (serving/model_source)."""
    params, model_name = config.parameters, config.model.name
    target, task = params.schema_.target, params.training.task
    Record = record_model(config)
    numeric = params.schema_.numeric_features()
    answer = f"predicted_{target}"
    Prediction = create_model(f"{Record.__name__[:-6]}Prediction", **{
        answer: (float, ...), "probability": (Optional[float], Field(None, description="classification: P(positive)")),
        "model_name": (str, ...), "model_version": (str, ...)})
    cache: Dict[str, LoadedModel] = {}
    lock = threading.Lock()

    def current() -> LoadedModel:
        version = probe(model_name)
        if version is None:
            raise HTTPException(status_code=404, detail=f"model '{model_name}' has no production version yet: "
                                f"train one (python run.py training --config configs/{params.use_case}.yaml)")
        with lock:
            if cache.get("model") is None or cache["model"].version != version:
                try:
                    cache["model"] = load(model_name)
                except NoProductionModel as error:  # demoted between the probe and the load
                    raise HTTPException(status_code=404, detail=str(error)) from error
            return cache["model"]

    router = APIRouter(tags=["prediction"])

    def score(loaded: LoadedModel, frame: pd.DataFrame) -> Dict[str, Any]:
        frame = frame[list(getattr(loaded.model, "feature_names_in_", frame.columns))]
        probability = None
        if task == "classification" and hasattr(loaded.model, "predict_proba"):
            probability = float(loaded.model.predict_proba(frame)[0, -1])
        value = float(np.asarray(loaded.model.predict(frame)).ravel()[0])
        if not np.isfinite(value):
            raise HTTPException(status_code=422, detail="the model returned no finite prediction for this record")
        return {answer: value, "probability": probability, "model_name": model_name, "model_version": loaded.version}

    @router.post(f"/predict/{params.use_case}", response_model=Prediction, responses=PREDICT_ERRORS,
                 summary=f"Predict {target} for one {params.use_case} record")
    def predict(record: Record) -> Dict[str, Any]:  # type: ignore[valid-type]
        loaded = current()
        frame = pd.DataFrame([record.model_dump()])
        frame[numeric] = frame[numeric].astype(float)  # a null number becomes NaN, for the imputer
        return score(loaded, engineer(frame, params.engineered_features))

    view = tabular_view(params) if params.feature_store is not None else None
    if view is not None and params.schema_.columns.get(view.entity) is not None:
        online = OnlineFeatures(view)

        @router.get(f"/predict/{params.use_case}/{{key}}", response_model=Prediction, responses=PREDICT_ERRORS,
                    summary=f"Predict {target} for a known {view.entity}, from the online feature store")
        def predict_known(key: str = PathParameter(min_length=1, max_length=200)) -> Dict[str, Any]:
            loaded = current()
            return score(loaded, online.row(key))

    return router


class OnlineFeatures:
    """A view's features for one key, from the active stack's Feast online store (the store
    object is built once: it loads the registry)."""

    def __init__(self, view) -> None:
        self.view, self._store = view, None
        self._lock = threading.Lock()

    def row(self, key: str) -> pd.DataFrame:
        with self._lock:
            if self._store is None:
                from feast import FeatureStore
                from zenml.client import Client

                feature_store = Client().active_stack.feature_store
                if feature_store is None:
                    raise HTTPException(status_code=404, detail="the active stack has no feature store")
                self._store = FeatureStore(repo_path=repository(feature_store.config))
        values = self._store.get_online_features(entity_rows=[{self.view.entity: key}],
                                                 features=self.view.references()).to_dict()
        if all(values[name][0] is None for name in self.view.feature_names):
            raise HTTPException(status_code=404, detail=f"the online store has no features for "
                                                        f"{self.view.entity}={key}")
        frame = pd.DataFrame({name: values[name] for name in self.view.feature_names})
        for field in self.view.fields:
            if field.type in ("int", "float"):
                frame[field.name] = frame[field.name].astype(float)
        return frame
