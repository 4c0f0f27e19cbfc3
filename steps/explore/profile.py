"""A table's profile against its schema: per-column statistics, missing values and types, and
the data-quality issues found, each with the resolution the data pipeline applies."""

from __future__ import annotations

import pandas as pd

from core.config import SchemaSpec
from steps.explore.report import ColumnProfile, DataIssue, DataProfile


def _number(value) -> float | None:
    return None if pd.isna(value) else float(value)


def profile_column(name: str, declared_type: str, values: pd.Series) -> ColumnProfile:
    missing = int(values.isna().sum())
    profile = ColumnProfile(name=name, declared_type=declared_type, dtype=str(values.dtype), missing=missing,
                            missing_share=missing / len(values) if len(values) else 0.0,
                            unique=int(values.nunique(dropna=True)))
    if declared_type in ("int", "float"):
        numbers = pd.to_numeric(values, errors="coerce")
        quartiles = numbers.quantile([0.25, 0.5, 0.75])
        profile = profile.model_copy(update=dict(
            mean=_number(numbers.mean()), std=_number(numbers.std()), min=_number(numbers.min()),
            q25=_number(quartiles[0.25]), median=_number(quartiles[0.5]), q75=_number(quartiles[0.75]),
            max=_number(numbers.max())))
    else:
        counts = values.value_counts()
        if len(counts):
            profile = profile.model_copy(update=dict(top=str(counts.index[0]), top_count=int(counts.iloc[0])))
    return profile


def profile_table(frame: pd.DataFrame, schema: SchemaSpec, use_case: str) -> DataProfile:
    """Every schema column's profile, and the issues: missing values (imputed by the data
    pipeline's preparation, with the median or the most frequent value), columns stored with a
    type other than the declared one, and exact duplicate rows (kept here; the training
    pipeline's cleaning drops them)."""
    columns, issues = [], []
    for name, spec in schema.columns.items():
        column = profile_column(name, spec.type, frame[name])
        columns.append(column)
        if column.missing:
            fill = "median" if spec.type in ("int", "float") else "most frequent value"
            resolution = ("rows dropped by training (target)" if name == schema.target
                          else f"imputed with the {fill} (fitted on the table)")
            issues.append(DataIssue(column=name, issue="missing values", count=column.missing, resolution=resolution))
        if spec.type in ("int", "float") and not pd.api.types.is_numeric_dtype(frame[name]):
            text = frame[name].astype("string").str.strip()
            blank = int((text == "").sum())
            unparsable = int((pd.to_numeric(text, errors="coerce").isna() & frame[name].notna()).sum())
            if spec.numbers_as_text:
                issues.append(DataIssue(
                    column=name, issue=f"numbers sent as text, {blank} blank", count=blank,
                    resolution="parsed to numbers before validation; blanks become missing values, imputed with "
                               "the train split's median (any other text stops the run)"))
            else:
                issues.append(DataIssue(column=name, issue=f"stored as {frame[name].dtype}, declared {spec.type}",
                                        count=unparsable, resolution="none: validation rejects the column's type"))
    duplicates = int(frame.duplicated().sum())
    if duplicates:
        issues.append(DataIssue(column="(table)", issue="exact duplicate rows", count=duplicates,
                                resolution="kept for exploration; dropped by the training pipeline's cleaning"))
    return DataProfile(use_case=use_case, rows=len(frame), duplicate_rows=duplicates, columns=columns, issues=issues)
