"""Statistical feature selection and the seeded split, on the real insurance data."""

import numpy as np
import pandas as pd
import pytest

from steps.prepare.preprocess import build_preprocessor, split_frame
from steps.prepare.selection import kept_features, univariate_selection


def test_selection_ranks_smoker_first_and_reports_tests(insurance_frame: pd.DataFrame) -> None:
    report = univariate_selection(
        insurance_frame, "charges", ["age", "bmi", "children"], ["sex", "smoker", "region"],
        target_is_numeric=True, alpha=0.05,
    )
    assert report.iloc[0]["feature"] == "smoker"
    assert set(report["test"]) == {"pearson_r", "anova_f"}
    assert report.set_index("feature").loc["age", "p_value"] < 1e-10
    assert report["p_value"].is_monotonic_increasing


def test_selection_drops_noise_and_honours_always_keep() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=500)
    frame = pd.DataFrame({"signal": x, "noise": rng.normal(size=500), "const": 1.0,
                          "y": 3 * x + rng.normal(scale=0.5, size=500)})
    report = univariate_selection(frame, "y", ["signal", "noise", "const"], [], True, alpha=0.01,
                                  always_keep=["const"]).set_index("feature")
    assert report.loc["signal", "kept"]
    assert not report.loc["noise", "kept"]
    assert report.loc["const", "kept"] and report.loc["const", "reason"] == "always_keep"


def test_classification_tests() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, size=400)
    frame = pd.DataFrame({"num": y + rng.normal(scale=0.3, size=400),
                          "cat": np.where(y == 1, "a", "b"), "y": y})
    report = univariate_selection(frame, "y", ["num"], ["cat"], target_is_numeric=False, alpha=0.05)
    assert set(report["test"]) == {"anova_f", "chi2"}
    assert set(kept_features(report)) == {"num", "cat"}
    assert (report["p_value"] < 1e-10).all()


def test_no_feature_kept_is_an_error() -> None:
    report = pd.DataFrame({"feature": ["a"], "kept": [False]})
    with pytest.raises(ValueError, match="kept no feature"):
        kept_features(report)


def test_split_is_seeded_and_disjoint(insurance_frame: pd.DataFrame) -> None:
    frame = insurance_frame.reset_index().rename(columns={"index": "row"})
    train_a, test_a = split_frame(frame, 0.2, 42)
    train_b, test_b = split_frame(frame, 0.2, 42)
    _, test_c = split_frame(frame, 0.2, 7)
    assert test_a["row"].tolist() == test_b["row"].tolist()
    assert test_a["row"].tolist() != test_c["row"].tolist()
    assert not set(train_a["row"]) & set(test_a["row"])
    assert len(test_a) == round(0.2 * len(frame))


def test_preprocessor_ignores_unknown_categories(insurance_frame: pd.DataFrame) -> None:
    pre = build_preprocessor(["age", "bmi"], ["region"]).fit(insurance_frame)
    row = insurance_frame.head(1).assign(region="atlantis")
    encoded = pre.transform(row)
    assert encoded.shape[1] == 2 + 4
    assert encoded[0, 2:].sum() == 0
