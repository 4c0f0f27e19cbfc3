"""The project API: the read endpoints over pipelines, runs, models and data quality
(serving/details.py) and ``POST /predict/<use case>`` for each tabular use case it is given
(serving/tabular.py). ``python run.py api`` serves it; the stock-volume model has its own
low-latency API (``python run.py serve``, serving/app.py)."""

from __future__ import annotations

from typing import Sequence

from fastapi import FastAPI

from core.config import RunConfig
from serving.details import details_router
from serving.tabular import tabular_prediction_router


def is_tabular(config: RunConfig) -> bool:
    return config.parameters.timeseries is None and config.parameters.rolling is None


def create_project_api(configs: Sequence[RunConfig]) -> FastAPI:
    from serving.model_source import load_production, production_version

    app = FastAPI(title="MLOps project API",
                  description="Pipelines, runs, models and data quality of the active ZenML stack, and "
                              "predictions of the tabular use cases' production models.")
    app.include_router(details_router(config.parameters.use_case for config in configs))
    for config in configs:
        if is_tabular(config):
            app.include_router(tabular_prediction_router(config, load_production, production_version))

    @app.get("/health", tags=["project"])
    def health() -> dict:
        return {"status": "ok", "use_cases": sorted(config.parameters.use_case for config in configs)}

    return app
