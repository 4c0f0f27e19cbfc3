"""The stretches every pipeline starts with: extract, validate, gate, and clean.

Plain functions called inside a pipeline definition, not pipelines of their own: their steps
appear in the calling pipeline's DAG. Steps that follow must run ``after="validation_gate"``.
"""

from __future__ import annotations

from typing import List

from core.config import SourceSpec, UseCaseParameters
from steps.ingest.steps import extract_source
from steps.prepare.steps import clean_dataset
from steps.validate.steps import validate_expectations, validation_gate


def gated_validation(params: UseCaseParameters, raw_data, role: str):
    """The validation report of ``raw_data`` and the gate on it; ``role`` is ``training`` (with
    target) or ``batch``."""
    report = validate_expectations(
        raw_data,
        table_schema=params.schema_,
        suite_name=f"{params.use_case}_{role}",
        extra_expectations=params.validation.extra_expectations,
        include_target=role == "training",
    )
    validation_gate(report, min_success_ratio=params.validation.min_success_ratio)
    return report


def validated_raw(params: UseCaseParameters, source: SourceSpec, columns: List[str], role: str):
    """The raw table, extracted, with its validation gate."""
    raw_data = extract_source(source=source, columns=columns)
    gated_validation(params, raw_data, role)
    return raw_data


def validated_dataset(params: UseCaseParameters, source: SourceSpec, columns: List[str], role: str):
    """Return (raw_data, dataset) artifacts; the cleaned dataset exists only if the gate passed."""
    raw_data = validated_raw(params, source, columns, role)
    dataset = clean_dataset(raw_data, use_case=params.use_case, after="validation_gate")
    return raw_data, dataset
