"""The data pipeline's typed artifacts: a table's profile (with the data-quality issues found
and how each was resolved) and its exploratory analysis. Pydantic models, so the materializers
store them as JSON and the read API returns them as they are."""

from __future__ import annotations

from typing import Dict, List, Optional

from pydantic import BaseModel, Field


class ColumnProfile(BaseModel):
    name: str
    declared_type: str
    dtype: str
    missing: int
    missing_share: float
    unique: int
    mean: Optional[float] = None
    std: Optional[float] = None
    min: Optional[float] = None
    q25: Optional[float] = None
    median: Optional[float] = None
    q75: Optional[float] = None
    max: Optional[float] = None
    top: Optional[str] = None
    top_count: Optional[int] = None


class DataIssue(BaseModel):
    """One kind of defect found in the table, how many values or rows it touches, and what the
    pipeline does about it."""

    column: str
    issue: str
    count: int
    resolution: str


class DataProfile(BaseModel):
    use_case: str
    rows: int
    duplicate_rows: int
    columns: List[ColumnProfile]
    issues: List[DataIssue] = Field(default_factory=list)

    @property
    def missing_values(self) -> Dict[str, int]:
        return {column.name: column.missing for column in self.columns if column.missing}


class Association(BaseModel):
    """How strongly two columns go together: Pearson r for two numeric columns, the correlation
    ratio (eta) for a category and a number, Cramér's V for two categories."""

    first: str
    second: str
    measure: str
    value: float


class BinCount(BaseModel):
    name: str
    column: str
    counts: Dict[str, int]


class Importance(BaseModel):
    feature: str
    mean: float
    std: float


class ExplorationReport(BaseModel):
    use_case: str
    target: str
    rows: int
    associations: List[Association]
    bins: List[BinCount]
    encoded_columns: Dict[str, List[str]]
    importance_model: str
    importance_metric: str
    importances: List[Importance]
    charts: Dict[str, str] = Field(description="chart title -> base64 PNG")
    notes: List[str] = Field(default_factory=list)

    def association(self, first: str, second: str) -> Optional[Association]:
        for item in self.associations:
            if {item.first, item.second} == {first, second}:
                return item
        return None
