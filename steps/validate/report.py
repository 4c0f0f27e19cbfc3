"""The validation result as a typed, project-owned artifact.

Great Expectations' own result objects are large, version-specific and not meant to be pickled
into an artifact store. This small pydantic model keeps what a reader and the gate need: each
expectation, its column, its outcome and a few failing values. A custom materializer stores it
as JSON and renders it as an HTML table in the dashboard.
"""

from __future__ import annotations

from typing import Any, Dict, List, Literal, Optional

from pydantic import BaseModel, Field


class ExpectationOutcome(BaseModel):
    expectation: str
    column: Optional[str] = None
    kwargs: Dict[str, Any] = Field(default_factory=dict)
    severity: Literal["critical", "warning"] = "critical"
    success: bool
    observed: Optional[str] = None
    unexpected_count: Optional[int] = None
    unexpected_examples: List[str] = Field(default_factory=list)
    error: Optional[str] = None

    def describe(self) -> str:
        """One line naming the expectation, its column and why it failed."""
        target = f" on column '{self.column}'" if self.column else ""
        details = []
        if self.unexpected_count:
            details.append(f"{self.unexpected_count} unexpected value(s)")
        if self.unexpected_examples:
            details.append(f"e.g. {', '.join(self.unexpected_examples[:5])}")
        if self.observed is not None and not self.unexpected_count:
            details.append(f"observed {self.observed}")
        if self.error:
            details.append(f"error: {self.error}")
        arguments = {k: v for k, v in self.kwargs.items() if k != "column"}
        suffix = f" ({'; '.join(details)})" if details else ""
        return f"{self.expectation}{target} {arguments}{suffix}"


class ValidationReport(BaseModel):
    suite_name: str
    data_asset: str
    outcomes: List[ExpectationOutcome]

    @property
    def evaluated(self) -> int:
        return len(self.outcomes)

    @property
    def successful(self) -> int:
        return sum(o.success for o in self.outcomes)

    @property
    def success(self) -> bool:
        return all(o.success for o in self.outcomes)

    @property
    def success_ratio(self) -> float:
        return self.successful / self.evaluated if self.outcomes else 1.0

    def failures(self) -> List[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success]
