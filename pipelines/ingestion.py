"""The stretches every pipeline starts with: extract, validate, gate, and clean.

Plain functions called inside a pipeline definition, not pipelines of their own: their steps
appear in the calling pipeline's DAG. Steps that follow must run ``after="validation_gate"``.
"""

from __future__ import annotations

from typing import List, Optional

from core.config import SourceSpec, UseCaseParameters
from steps.ingest.steps import extract_source
from steps.prepare.steps import clean_dataset, parse_text_numbers_step
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


RAW_DATA_ARTIFACT = "training_raw_data"


def stored_raw_version(version: int):
    """Version ``version`` of the training raw data artifact, consumed as it is stored (the
    run's lineage points at it); ``core.launch`` checked that it exists and is this source's."""
    from zenml.client import Client

    return Client().get_artifact_version(RAW_DATA_ARTIFACT, str(version))


def typed_raw(params: UseCaseParameters, source: SourceSpec, columns: List[str], dataset_version: Optional[int] = None):
    """The extracted table (or the stored ``dataset_version`` of it), with the numbers the
    source sends as text parsed (if the schema declares any: ``numbers_as_text``)."""
    if dataset_version is None:
        raw_data = extract(params)(source=source, columns=columns)
    else:
        raw_data = stored_raw_version(dataset_version)
    return parsed_numbers(params, raw_data)


def extract(params: UseCaseParameters):
    """The extract step, with the config's step retries (``ingestion:``)."""
    ingestion = params.ingestion
    if not ingestion.step_retries:
        return extract_source
    from zenml.config.retry_config import StepRetryConfig

    return extract_source.with_options(retry=StepRetryConfig(
        max_retries=ingestion.step_retries, delay=ingestion.retry_delay_seconds, backoff=2))


def parsed_numbers(params: UseCaseParameters, raw_data):
    """``raw_data`` with the schema's ``numbers_as_text`` columns parsed (a step), or as it is."""
    text_numbers = params.schema_.text_number_columns
    return parse_text_numbers_step(raw_data, columns=text_numbers) if text_numbers else raw_data


def validated_raw(params: UseCaseParameters, source: SourceSpec, columns: List[str], role: str,
                  dataset_version: Optional[int] = None):
    """The raw table, extracted (and typed), with its validation gate."""
    raw_data = typed_raw(params, source, columns, dataset_version)
    gated_validation(params, raw_data, role)
    return raw_data


def validated_dataset(params: UseCaseParameters, source: SourceSpec, columns: List[str], role: str,
                      dataset_version: Optional[int] = None):
    """Return (raw_data, dataset) artifacts; the cleaned dataset exists only if the gate passed."""
    raw_data = validated_raw(params, source, columns, role, dataset_version)
    schema = params.schema_
    dataset = clean_dataset(raw_data, use_case=params.use_case, target=schema.target,
                            positive_class=schema.positive_class, after="validation_gate")
    return raw_data, dataset
