"""The data pipeline's model-ready table: the configured bins added as categories, numeric
columns imputed with their median and standardized, categories imputed with their most frequent
value and one-hot encoded (the training pipeline's own preprocessing, ``build_preprocessor``).

Fitted on the whole table: this table is for exploration and for downstream consumers that
want normalized data. The training pipeline fits its own preprocessor on its train split only,
so no statistic of its test rows leaks into a model."""

from __future__ import annotations

from typing import Dict, List, Tuple

import numpy as np
import pandas as pd

from core.config import BinSpec, SchemaSpec
from steps.prepare.preprocess import build_preprocessor


def add_bins(frame: pd.DataFrame, bins: Dict[str, BinSpec]) -> pd.DataFrame:
    """Each configured bin as a new string column; a missing value stays missing."""
    binned = frame.copy()
    for name, spec in bins.items():
        cut = pd.cut(pd.to_numeric(frame[spec.column], errors="coerce"), bins=[-np.inf, *spec.edges, np.inf],
                     labels=spec.bin_labels)
        binned[name] = cut.astype(object).where(cut.notna(), None)
    return binned


def normalize_table(frame: pd.DataFrame, schema: SchemaSpec, bins: Dict[str, BinSpec]
                    ) -> Tuple[pd.DataFrame, Dict[str, List[str]], Dict[str, int]]:
    """(normalized table with the target unchanged, one-hot columns per category column,
    values imputed per column)."""
    table = add_bins(frame, bins)
    numeric = schema.numeric_features()
    categorical = [*schema.categorical_features(), *bins]
    imputed = {column: int(table[column].isna().sum()) for column in [*numeric, *categorical]
               if table[column].isna().any()}
    transformer = build_preprocessor(numeric, categorical).set_output(transform="pandas")
    inputs = table[numeric + categorical].copy()
    inputs[categorical] = inputs[categorical].astype(object).where(inputs[categorical].notna(), np.nan)
    normalized = transformer.fit_transform(inputs)
    encoder = transformer.named_transformers_["categorical"].named_steps["encode"] if categorical else None
    encoded = {} if encoder is None else {
        column: [f"{column}_{category}" for category in categories]
        for column, categories in zip(categorical, encoder.categories_)
    }
    normalized[schema.target] = frame[schema.target].to_numpy()
    return normalized.reset_index(drop=True), encoded, imputed
