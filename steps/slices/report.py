"""The slice-analysis result as a typed artifact (stored by materializers/slice_report.py)."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from pydantic import BaseModel, Field


class SliceFinding(BaseModel):
    description: str
    features: List[str]
    conditions: List[Dict[str, Any]]
    size: int
    support: float
    errors: int
    error_rate: float
    lift: float
    p_value: float
    adjusted_p_value: float
    # At least this lift, simultaneously for every candidate tested at the report's alpha (None in
    # reports made before it was computed).
    lift_lower_bound: Optional[float] = None


class SliceReport(BaseModel):
    model_name: Optional[str] = None
    model_version: Optional[str] = None
    rows: int
    overall_error_rate: float
    error_definition: str
    candidates_tested: int
    seconds: float
    settings: Dict[str, Any] = Field(default_factory=dict)
    slices: List[SliceFinding] = Field(default_factory=list)
    notes: List[str] = Field(default_factory=list)


def build_report(result, settings: Dict[str, Any], model_name: Optional[str] = None,
                 model_version: Optional[str] = None) -> SliceReport:
    """Turn a ``SearchResult`` into the artifact, adding support and lift per slice."""
    from steps.slices.search import describe

    overall = result.overall_error_rate
    return SliceReport(
        model_name=model_name,
        model_version=model_version,
        rows=result.rows,
        overall_error_rate=overall,
        error_definition=result.error_definition,
        candidates_tested=result.candidates_tested,
        seconds=round(result.seconds, 3),
        settings=settings,
        notes=list(result.notes),
        slices=[
            SliceFinding(
                description=describe(s.conditions),
                features=list(s.features),
                conditions=s.conditions,
                size=s.size,
                support=s.size / result.rows,
                errors=s.errors,
                error_rate=s.error_rate,
                lift=s.error_rate / overall if overall else 0.0,
                p_value=s.p_value,
                adjusted_p_value=s.adjusted_p_value,
                lift_lower_bound=s.error_rate_lower_bound / overall if overall else 0.0,
            )
            for s in result.slices
        ],
    )
