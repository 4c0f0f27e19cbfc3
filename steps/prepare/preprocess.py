"""Seeded splitting and the sklearn preprocessing that every model of a use case shares."""

from __future__ import annotations

from typing import List, Optional

import pandas as pd


def split_frame(
    frame: pd.DataFrame, test_size: float, random_state: int, stratify_on: Optional[str] = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Seeded train/test split; the same inputs always give the same rows on each side."""
    from sklearn.model_selection import train_test_split

    if len(frame) < 2:
        raise ValueError(f"cannot split a table of {len(frame)} row(s) into train and test")
    train, test = train_test_split(
        frame,
        test_size=test_size,
        random_state=random_state,
        stratify=frame[stratify_on] if stratify_on else None,
    )
    return train.reset_index(drop=True), test.reset_index(drop=True)


def build_preprocessor(numeric: List[str], categorical: List[str]):
    """Impute, scale numbers and one-hot encode categories; unknown categories encode as zeros.

    Unknown categories cannot reach a model through the pipelines (validation rejects values
    outside the schema's allowed set first), but the encoder must not crash a caller that skips
    validation, such as a direct API call.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    transformers = []
    if numeric:
        transformers.append(
            ("numeric", Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]), numeric)
        )
    if categorical:
        transformers.append(
            (
                "categorical",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="most_frequent")),
                        ("encode", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
                    ]
                ),
                categorical,
            )
        )
    if not transformers:
        raise ValueError("no features to preprocess")
    return ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)
