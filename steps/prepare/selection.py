"""Feature selection by univariate statistical tests, as the original system did.

A built-in sklearn selector hides its statistics; here every feature gets a named test, its
statistic and its p-value in a report, and is kept when p < alpha. The test depends on the two
types involved:

- numeric feature, numeric target: Pearson correlation (t-test of r = 0);
- categorical feature, numeric target: one-way ANOVA of the target across categories;
- numeric feature, categorical target: one-way ANOVA of the feature across classes;
- categorical feature, categorical target: chi-square test of independence.

Run on the train split only, so the test split stays unseen by every fitted decision.
"""

from __future__ import annotations

from typing import Iterable, List

import numpy as np
import pandas as pd


def _test(feature: pd.Series, target: pd.Series, feature_is_numeric: bool, target_is_numeric: bool):
    from scipy import stats

    pair = pd.DataFrame({"x": feature, "y": target}).dropna()
    if pair["x"].nunique() < 2 or pair["y"].nunique() < 2:
        return "constant", float("nan"), float("nan")
    if feature_is_numeric and target_is_numeric:
        result = stats.pearsonr(pair["x"].astype(float), pair["y"].astype(float))
        return "pearson_r", float(result.statistic), float(result.pvalue)
    if target_is_numeric or feature_is_numeric:
        values, groups = ("y", "x") if target_is_numeric else ("x", "y")
        samples = [g[values].astype(float).to_numpy() for _, g in pair.groupby(groups) if len(g) > 0]
        result = stats.f_oneway(*samples)
        return "anova_f", float(result.statistic), float(result.pvalue)
    table = pd.crosstab(pair["x"], pair["y"])
    chi2, p_value, _, _ = stats.chi2_contingency(table)
    return "chi2", float(chi2), float(p_value)


def univariate_selection(
    frame: pd.DataFrame,
    target: str,
    numeric: Iterable[str],
    categorical: Iterable[str],
    target_is_numeric: bool,
    alpha: float,
    always_keep: Iterable[str] = (),
) -> pd.DataFrame:
    """One row per feature: test, statistic, p_value, kept and the reason.

    Rows are sorted by p-value, so the report reads from the strongest feature down.
    """
    keep_anyway = set(always_keep)
    rows = []
    for name, is_numeric in [(n, True) for n in numeric] + [(n, False) for n in categorical]:
        test, statistic, p_value = _test(frame[name], frame[target], is_numeric, target_is_numeric)
        significant = bool(np.isfinite(p_value) and p_value < alpha)
        if name in keep_anyway:
            kept, reason = True, "always_keep"
        elif test == "constant":
            kept, reason = False, "constant (no variation to test)"
        else:
            kept = significant
            reason = f"p {'<' if significant else '>='} {alpha}"
        rows.append(
            {"feature": name, "type": "numeric" if is_numeric else "categorical", "test": test,
             "statistic": statistic, "p_value": p_value, "kept": kept, "reason": reason}
        )
    report = pd.DataFrame(rows, columns=["feature", "type", "test", "statistic", "p_value", "kept", "reason"])
    return report.sort_values("p_value", na_position="last", kind="stable").reset_index(drop=True)


def kept_features(report: pd.DataFrame) -> List[str]:
    kept = report.loc[report["kept"], "feature"].tolist()
    if not kept:
        raise ValueError("feature selection kept no feature: every test had p >= alpha")
    return kept
