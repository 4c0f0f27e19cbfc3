"""Association between every pair of columns, with the measure that suits the pair's types:
Pearson r (numeric-numeric, from pandas), the correlation ratio eta (categorical-numeric) and
Cramér's V (categorical-categorical, from scipy's contingency module). eta and V lie in [0, 1];
r in [-1, 1]. Rows missing either value are left out of that pair."""

from __future__ import annotations

from itertools import combinations
from typing import List

import numpy as np
import pandas as pd

from steps.explore.report import Association


def correlation_ratio(categories: pd.Series, values: pd.Series) -> float:
    """eta = sqrt(between-category variance / total variance): 0 when every category has the
    same mean, 1 when the category determines the value."""
    keep = categories.notna() & values.notna()
    categories, values = categories[keep], values[keep].astype(float)
    total = float(((values - values.mean()) ** 2).sum())
    if total == 0.0:
        return 0.0
    groups = values.groupby(categories, observed=True)
    between = float((groups.count() * (groups.mean() - values.mean()) ** 2).sum())
    return float(np.sqrt(between / total))


def cramers_v(first: pd.Series, second: pd.Series) -> float:
    """Cramér's V of the two columns' contingency table; 0 when either has a single category."""
    from scipy.stats.contingency import association

    keep = first.notna() & second.notna()
    table = pd.crosstab(first[keep], second[keep])
    if min(table.shape) < 2:
        return 0.0
    return float(association(table.to_numpy(), method="cramer"))


def associations(frame: pd.DataFrame, numeric: List[str], categorical: List[str]) -> List[Association]:
    """One association per pair of the given columns, strongest first (by absolute value)."""
    found: List[Association] = []
    correlations = frame[numeric].astype(float).corr(method="pearson") if numeric else pd.DataFrame()
    for first, second in combinations(numeric, 2):
        value = correlations.loc[first, second]
        found.append(Association(first=first, second=second, measure="pearson_r",
                                 value=0.0 if pd.isna(value) else float(value)))
    for category in categorical:
        for number in numeric:
            found.append(Association(first=category, second=number, measure="correlation_ratio",
                                     value=correlation_ratio(frame[category], frame[number])))
    for first, second in combinations(categorical, 2):
        found.append(Association(first=first, second=second, measure="cramers_v",
                                 value=cramers_v(frame[first], frame[second])))
    return sorted(found, key=lambda item: -abs(item.value))


def association_matrix(items: List[Association], columns: List[str]) -> pd.DataFrame:
    """The pairs as a symmetric matrix over ``columns`` (1 on the diagonal), for a heatmap."""
    matrix = pd.DataFrame(np.eye(len(columns)), index=columns, columns=columns)
    for item in items:
        if item.first in matrix.index and item.second in matrix.index:
            matrix.loc[item.first, item.second] = matrix.loc[item.second, item.first] = item.value
    return matrix
