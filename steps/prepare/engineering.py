"""Engineered features from a config's ``engineered_features`` rules (``EngineeredFeatureSpec``),
computed in their order, so that a feature can read one defined before it, and the
feature-metadata table that describes each one."""

from __future__ import annotations

from typing import Dict

import numpy as np
import pandas as pd

from core.config import EngineeredFeatureSpec, SchemaSpec
from steps.explore.preparation import add_bins


def compute_feature(frame: pd.DataFrame, rule: EngineeredFeatureSpec) -> pd.Series:
    if rule.kind == "fill":
        return pd.to_numeric(frame[rule.column], errors="coerce").fillna(rule.value).astype(float)
    if rule.kind == "ratio":
        numerator = pd.to_numeric(frame[rule.numerator], errors="coerce").astype(float)
        denominator = pd.to_numeric(frame[rule.denominator], errors="coerce").astype(float)
        return numerator / np.maximum(denominator, rule.min_denominator)
    if rule.kind == "bucket":
        return add_bins(frame[[rule.column]], {"bucket": rule.bin})["bucket"]
    if rule.kind == "count_in":
        wanted = set(rule.values)
        return frame[rule.columns].astype(str).isin(wanted).sum(axis=1).astype(int)
    return frame[rule.column].astype(str).isin(set(rule.values)).astype(int)  # flag


def engineer(frame: pd.DataFrame, rules: Dict[str, EngineeredFeatureSpec]) -> pd.DataFrame:
    """``frame`` with one new column per rule, in the rules' order."""
    engineered = frame.copy()
    for name, rule in rules.items():
        engineered[name] = compute_feature(engineered, rule).to_numpy()
    return engineered


def _rule_text(rule: EngineeredFeatureSpec) -> str:
    if rule.kind == "fill":
        return f"{rule.column}, missing -> {rule.value:g}"
    if rule.kind == "ratio":
        return f"{rule.numerator} / max({rule.denominator}, {rule.min_denominator:g})"
    if rule.kind == "bucket":
        return f"{rule.column} cut at {rule.edges} into {rule.bin.bin_labels}"
    if rule.kind == "count_in":
        return f"count of {rule.columns} in {rule.values}"
    return f"1 if {rule.column} in {rule.values} else 0"


METADATA_COLUMNS = ["feature", "type", "kind", "derived_from", "rule", "description"]


def feature_metadata(rules: Dict[str, EngineeredFeatureSpec], schema: SchemaSpec) -> pd.DataFrame:
    """One row per model input: the source columns as they are, then each engineered feature
    with the columns it derives from and its rule."""
    rows = [{"feature": name, "type": spec.type, "kind": "source", "derived_from": name, "rule": "as received",
             "description": spec.description} for name, spec in schema.columns.items()
            if name != schema.target and not spec.identifier]
    rows += [{"feature": name, "type": rule.type, "kind": rule.kind, "derived_from": ", ".join(rule.inputs),
              "rule": _rule_text(rule), "description": rule.description} for name, rule in rules.items()]
    return pd.DataFrame(rows, columns=METADATA_COLUMNS)
