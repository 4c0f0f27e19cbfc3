"""Base for the project's report artifacts: a pydantic model stored as JSON, shown as HTML."""

from __future__ import annotations

import os
from typing import Any, ClassVar, Dict, Type

from pydantic import BaseModel
from zenml.enums import ArtifactType, VisualizationType
from zenml.materializers.base_materializer import BaseMaterializer


class ReportMaterializer(BaseMaterializer):
    """Subclasses set ASSOCIATED_TYPES and NAME, and implement ``render_html`` (and may add
    ``extra_visualizations``)."""

    ASSOCIATED_ARTIFACT_TYPE: ClassVar[ArtifactType] = ArtifactType.DATA_ANALYSIS
    NAME: ClassVar[str] = "report"
    SKIP_REGISTRATION: ClassVar[bool] = True  # a base, not a materializer of its own (ZenML resets it for subclasses)

    def _path(self, suffix: str) -> str:
        return os.path.join(self.uri, f"{self.NAME}.{suffix}")

    def load(self, data_type: Type[Any]) -> BaseModel:
        with self.artifact_store.open(self._path("json"), "r") as handle:
            return data_type.model_validate_json(handle.read())

    def save(self, data: BaseModel) -> None:
        with self.artifact_store.open(self._path("json"), "w") as handle:
            handle.write(data.model_dump_json(indent=2))

    def render_html(self, data: BaseModel) -> str:
        raise NotImplementedError

    def extra_visualizations(self, data: BaseModel) -> Dict[str, tuple[str, VisualizationType]]:
        """File suffix -> (content, type) for visualizations besides the HTML page."""
        return {}

    def save_visualizations(self, data: BaseModel) -> Dict[str, VisualizationType]:
        pages = {"html": (self.render_html(data), VisualizationType.HTML), **self.extra_visualizations(data)}
        saved = {}
        for suffix, (content, kind) in pages.items():
            with self.artifact_store.open(self._path(suffix), "w") as handle:
                handle.write(content)
            saved[self._path(suffix)] = kind
        return saved
