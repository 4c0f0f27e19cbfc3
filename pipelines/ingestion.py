"""The stretch every pipeline starts with: extract, validate, gate, clean.

A plain function called inside a pipeline definition, not a pipeline of its own: its steps
appear in the calling pipeline's DAG, and only a gate-approved table is cleaned.
"""

from __future__ import annotations

from typing import List

from core.config import SourceSpec, UseCaseParameters
from steps.ingest.steps import extract_source
from steps.prepare.steps import clean_dataset
from steps.validate.steps import validate_expectations, validation_gate


def validated_dataset(params: UseCaseParameters, source: SourceSpec, columns: List[str], role: str):
    """Return (raw_data, dataset) artifacts; the dataset exists only if the gate passed.

    ``role`` is ``training`` (the table has the target) or ``batch`` (features only).
    """
    raw_data = extract_source(source=source, columns=columns)
    report = validate_expectations(
        raw_data,
        table_schema=params.schema_,
        suite_name=f"{params.use_case}_{role}",
        extra_expectations=params.validation.extra_expectations,
        include_target=role == "training",
    )
    validation_gate(report, min_success_ratio=params.validation.min_success_ratio)
    dataset = clean_dataset(raw_data, use_case=params.use_case, after="validation_gate")
    return raw_data, dataset
