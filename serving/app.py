"""The prediction API.

    GET  /predict?<feature>=<float>&...   the prediction, with the model's name and version
    GET  /health                          the loaded model version
    POST /reload                          load the current production version now
    GET  /docs, /openapi.json             the API's documentation and schema

The query parameters come from the config's ``serving.features`` (for stocks:
``vol_moving_avg`` and ``adj_close_rolling_med``, both >= 0), so a missing parameter, a
non-number, NaN, infinity or an out-of-range value is a 422 that names the parameter, never a
500. A background task checks the registry every ``reload_interval_seconds`` and swaps in a
newly promoted version; requests keep using the old one until the new one is loaded.
"""

# No `from __future__ import annotations` here: FastAPI must see the runtime-built query model
# itself, not a string it would look up in module globals.

import asyncio
import contextlib
import logging
import os
import threading
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional

import numpy as np
import pandas as pd
from fastapi import FastAPI, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field, create_model
from typing_extensions import Annotated

from core.config import ServingFeatureSpec
from serving.compiled import compile_model
from serving.model_source import LoadedModel

logger = logging.getLogger(__name__)


class Health(BaseModel):
    status: str
    model_name: str
    model_version: str
    loaded_at: str
    predictor: str = Field(description="how /predict evaluates the model: compiled (and checked) or through sklearn")


@dataclass
class ServedModel:
    loaded: LoadedModel
    predict_row: Callable[[np.ndarray], float]
    predictor: str


def _serve(loaded: LoadedModel, order: List[str], features: Dict[str, ServingFeatureSpec]) -> ServedModel:
    """Compile the model for single rows when that is proven equal (serving/compiled.py)."""
    bounds = {name: (spec.min, spec.max) for name, spec in features.items()}
    compiled, why = compile_model(loaded.model, order, bounds)
    if compiled is not None:
        return ServedModel(loaded, lambda row: float(compiled.predict_rows(row.reshape(1, -1))[0]), why)
    logger.warning("serving %s version %s through sklearn: %s", loaded.name, loaded.version, why)

    def through_sklearn(row: np.ndarray) -> float:
        frame = pd.DataFrame(row.reshape(1, -1), columns=order)
        return float(np.asarray(loaded.model.predict(frame)).ravel()[0])

    return ServedModel(loaded, through_sklearn, f"sklearn ({why})")


def _query_model(features: Dict[str, ServingFeatureSpec]) -> "type[BaseModel]":
    fields = {
        name: (float, Field(..., ge=spec.min, le=spec.max, allow_inf_nan=False, description=spec.description or name))
        for name, spec in features.items()
    }
    return create_model("PredictQuery", __config__=ConfigDict(extra="forbid"), **fields)


def create_app(
    model_name: str,
    target: str,
    features: Dict[str, ServingFeatureSpec],
    load: Callable[[str], LoadedModel],
    probe: Callable[[str], Optional[str]],
    reload_interval_seconds: float = 30.0,
) -> FastAPI:
    """An app serving ``model_name``; ``load`` and ``probe`` reach the registry (see model_source)."""
    order = list(features)
    state: Dict[str, ServedModel] = {"current": _serve(load(model_name), order, features)}
    swap = threading.Lock()
    answer_key = f"predicted_{target.lower().replace(' ', '_')}"
    QueryModel = _query_model(features)
    Prediction = create_model("Prediction", **{answer_key: (float, ...), "model_name": (str, ...),
                                               "model_version": (str, ...)})

    def reload() -> ServedModel:
        fresh = _serve(load(model_name), order, features)
        with swap:
            state["current"] = fresh
        return fresh

    async def follow_promotions() -> None:
        while True:
            await asyncio.sleep(reload_interval_seconds)
            try:
                version = await asyncio.to_thread(probe, model_name)
                if version is not None and version != state["current"].loaded.version:
                    await asyncio.to_thread(reload)
            except Exception as exc:  # a registry hiccup must not stop the API; the next poll retries
                logger.warning("checking %s for a new production version failed: %s", model_name, exc)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI):
        task = asyncio.create_task(follow_promotions()) if reload_interval_seconds > 0 else None
        yield
        if task is not None:
            task.cancel()

    app = FastAPI(title=f"{model_name} prediction API",
                  description=f"Predicts {target} with the production version of model '{model_name}'.",
                  lifespan=lifespan)

    def health_of(served: ServedModel) -> Health:
        loaded = served.loaded
        return Health(status="ok", model_name=loaded.name, model_version=loaded.version, loaded_at=loaded.loaded_at,
                      predictor=served.predictor)

    # async: a prediction takes tens of microseconds, less than the hop to a worker thread.
    @app.get("/predict", response_model=Prediction)
    async def predict(query: Annotated[QueryModel, Query()]):  # type: ignore[valid-type]
        served = state["current"]
        value = served.predict_row(np.array([getattr(query, name) for name in order], dtype=float))
        if not np.isfinite(value):
            raise HTTPException(status_code=422, detail="the model returned no finite prediction for these inputs")
        return {answer_key: value, "model_name": served.loaded.name, "model_version": served.loaded.version}

    @app.get("/health", response_model=Health)
    def health() -> Health:
        return health_of(state["current"])

    @app.post("/reload", response_model=Health)
    def reload_now() -> Health:
        return health_of(reload())

    return app


def app_for_config(config) -> FastAPI:
    """The API for a use-case config (``parameters.serving`` must be set)."""
    from serving.model_source import load_production, production_version

    serving = config.parameters.serving
    return create_app(config.model.name, config.parameters.schema_.target, dict(serving.features),
                      load_production, production_version, serving.reload_interval_seconds)


CONFIG_ENVIRONMENT_VARIABLE = "MLOPS_SERVE_CONFIG"


def app_from_environment() -> FastAPI:
    """The app for uvicorn's worker processes (``factory=True``): each worker loads the model
    itself, from the config named by ``MLOPS_SERVE_CONFIG``."""
    from core.config import load_config

    return app_for_config(load_config(os.environ[CONFIG_ENVIRONMENT_VARIABLE]))
