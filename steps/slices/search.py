"""Automatic discovery of under-performing data slices, after FreaAI.

FreaAI (Ackerman, Raz and Zalmanovici, 2021, arXiv 2108.05620) looks for small, readable
regions of the feature space where a model errs much more often than overall. Here:

- Every row gets an error indicator: misclassification for classifiers, and for regressors an
  absolute error above a quantile of all absolute errors (the top ``1 - q`` are "errors").
- Single numeric features: every interval spanned by contiguous quantile bins is a candidate.
  This exact interval search stands in for FreaAI's highest-density regions of the error rows:
  it finds the same concentrated intervals, is deterministic, and its bounds can be tested.
- Single categorical features: each category.
- Pairs of features: a shallow decision tree trained on the two features to predict the error
  indicator; every leaf is a candidate (categories are ordered by error rate first, which is
  the optimal order for binary splits of a binary target).
- Each candidate gets a one-sided Fisher exact test (hypergeometric tail: are errors
  over-represented in the slice?), and the p-values of all candidates tested are corrected
  together (Benjamini-Hochberg by default, or Holm).
- A slice is kept when its support is at least ``min_support``, its error rate at least
  ``min_lift`` times the overall rate, and its adjusted p-value at most ``alpha``. Near-copies
  are pruned: for each feature set the best slice is kept, and a slice whose rows overlap a
  better one's by more than ``max_overlap`` (Jaccard) is dropped.

Everything here is plain numpy/pandas/scipy/sklearn, so it is tested without ZenML.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, field
from typing import Dict, List, Literal, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

Condition = Dict[str, object]


@dataclass(frozen=True)
class SliceSearchSettings:
    features: Optional[Sequence[str]] = None
    error_quantile: float = 0.8
    bins: int = 20
    pair_depth: int = 2
    min_support: float = 0.05
    min_lift: float = 1.5
    alpha: float = 0.05
    correction: Literal["fdr_bh", "holm"] = "fdr_bh"
    max_slices: int = 10
    max_overlap: float = 0.8


@dataclass
class Candidate:
    """A slice: its conditions select exactly its rows (see ``condition_mask``)."""

    features: Tuple[str, ...]
    conditions: List[Condition]
    size: int
    errors: int
    p_value: float = 1.0
    adjusted_p_value: float = 1.0
    scan_statistic: float = 0.0

    @property
    def error_rate(self) -> float:
        return self.errors / self.size if self.size else 0.0


@dataclass
class SearchResult:
    slices: List[Candidate]
    rows: int
    overall_errors: int
    candidates_tested: int
    error_definition: str
    seconds: float
    notes: List[str] = field(default_factory=list)

    @property
    def overall_error_rate(self) -> float:
        return self.overall_errors / self.rows if self.rows else 0.0


def error_indicator(
    y_true: np.ndarray, y_pred: np.ndarray, task: str, error_quantile: float = 0.8
) -> Tuple[np.ndarray, str]:
    """A boolean per row (True = the model erred there) and a sentence saying how it was defined."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if task == "classification":
        return y_true != y_pred, "misclassified"
    absolute = np.abs(y_true.astype(float) - y_pred.astype(float))
    threshold = float(np.quantile(absolute, error_quantile))
    return absolute > threshold, f"absolute error > {threshold:.4g} (the {error_quantile:.0%} quantile)"


def _format_number(value: float) -> str:
    return f"{value:.4g}"


def describe(conditions: Sequence[Condition]) -> str:
    """``Pressure in [0.12, 0.31] and Temperature > 71.4`` from a list of conditions."""
    parts = []
    for condition in conditions:
        name = condition["feature"]
        if "categories" in condition:
            categories = list(condition["categories"])
            parts.append(f"{name} = {categories[0]}" if len(categories) == 1 else f"{name} in {{{', '.join(map(str, categories))}}}")
            continue
        low, high = condition.get("low"), condition.get("high")
        if low is not None and high is not None:
            parts.append(f"{name} in [{_format_number(low)}, {_format_number(high)}]")
        elif low is not None:
            parts.append(f"{name} >= {_format_number(low)}")
        else:
            parts.append(f"{name} <= {_format_number(high)}")
    return " and ".join(parts)


def condition_mask(frame: pd.DataFrame, conditions: Sequence[Condition]) -> np.ndarray:
    """The rows a slice's conditions select (bounds inclusive; missing values never match)."""
    mask = np.ones(len(frame), dtype=bool)
    for condition in conditions:
        column = frame[condition["feature"]]
        if "categories" in condition:
            mask &= column.astype(str).isin([str(c) for c in condition["categories"]]).to_numpy() & column.notna().to_numpy()
            continue
        values = column.to_numpy(dtype=float)
        if condition.get("low") is not None:
            mask &= values >= condition["low"]
        if condition.get("high") is not None:
            mask &= values <= condition["high"]
    return mask


def _numeric_candidates(name: str, values: pd.Series, errors: np.ndarray, bins: int) -> List[Candidate]:
    """Every interval of contiguous quantile bins except the whole range, counted by prefix sums."""
    x = values.to_numpy(dtype=float)
    present = ~np.isnan(x)
    unique = np.unique(x[present])
    if len(unique) < 2:
        return []
    # Bin upper edges: the distinct values themselves when there are few, else distinct quantiles.
    if len(unique) <= bins:
        edges = unique
    else:
        edges = np.unique(np.quantile(x[present], np.linspace(0, 1, bins + 1)[1:-1], method="higher"))
        edges = np.append(edges[edges < unique[-1]], unique[-1])
    codes = np.searchsorted(edges, x[present], side="left")
    count = len(edges)
    sizes = np.bincount(codes, minlength=count)
    hits = np.bincount(codes, weights=errors[present].astype(float), minlength=count)
    lows = np.full(count, np.inf)
    highs = np.full(count, -np.inf)
    np.minimum.at(lows, codes, x[present])
    np.maximum.at(highs, codes, x[present])
    size_prefix = np.concatenate([[0], np.cumsum(sizes)])
    hit_prefix = np.concatenate([[0], np.cumsum(hits)])
    candidates = []
    for start in range(count):
        for stop in range(start, count):
            size = int(size_prefix[stop + 1] - size_prefix[start])
            if size == 0 or (start == 0 and stop == count - 1):
                continue
            condition: Condition = {"feature": name}
            if start > 0:
                condition["low"] = float(lows[start])
            if stop < count - 1:
                condition["high"] = float(highs[stop])
            errors_inside = int(round(hit_prefix[stop + 1] - hit_prefix[start]))
            candidates.append(Candidate((name,), [condition], size, errors_inside))
    return candidates


def _categorical_candidates(name: str, values: pd.Series, errors: np.ndarray) -> List[Candidate]:
    present = values.notna().to_numpy()
    text = values.astype(str).to_numpy()
    categories = sorted(set(text[present]))
    if len(categories) < 2:
        return []
    candidates = []
    for category in categories:
        inside = present & (text == category)
        candidates.append(
            Candidate((name,), [{"feature": name, "categories": [category]}], int(inside.sum()), int(errors[inside].sum()))
        )
    return candidates


def _encode_for_tree(values: pd.Series, errors: np.ndarray) -> Tuple[np.ndarray, Optional[List[str]]]:
    """Numeric columns as they are; categories as ranks of their error rate (and their order)."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.to_numpy(dtype=float), None
    text = values.astype(str)
    order = pd.Series(errors, index=values.index).groupby(text).mean().sort_values(kind="stable").index.tolist()
    return text.map({category: rank for rank, category in enumerate(order)}).to_numpy(dtype=float), order


def _leaf_conditions(tree, leaf: int, names: Sequence[str], orders: Sequence[Optional[List[str]]],
                     data: np.ndarray) -> List[Condition]:
    """Conditions on the path from the root to ``leaf``, merged per feature."""
    structure = tree.tree_
    parent = {}
    for node in range(structure.node_count):
        for child, goes_left in ((structure.children_left[node], True), (structure.children_right[node], False)):
            if child != -1:
                parent[child] = (node, goes_left)
    bounds: Dict[int, List[Optional[float]]] = {}
    node = leaf
    while node in parent:
        node, goes_left = parent[node]
        feature, threshold = structure.feature[node], structure.threshold[node]
        low, high = bounds.setdefault(feature, [None, None])
        if goes_left:  # x <= threshold
            bounds[feature][1] = threshold if high is None else min(high, threshold)
        else:
            bounds[feature][0] = threshold if low is None else max(low, threshold)
    conditions = []
    for feature in sorted(bounds):
        low, high = bounds[feature]
        column = data[:, feature]
        inside = np.ones(len(column), dtype=bool)
        if low is not None:
            inside &= column > low
        if high is not None:
            inside &= column <= high
        if orders[feature] is not None:
            ranks = np.unique(column[inside]).astype(int)
            conditions.append({"feature": names[feature], "categories": [orders[feature][r] for r in ranks]})
        else:
            observed = column[inside]
            condition: Condition = {"feature": names[feature]}
            # Describe by the observed values inside the leaf, which read better than split midpoints.
            if low is not None:
                condition["low"] = float(observed.min())
            if high is not None:
                condition["high"] = float(observed.max())
            conditions.append(condition)
    return conditions


def _pair_candidates(frame: pd.DataFrame, first: str, second: str, errors: np.ndarray, depth: int,
                     min_leaf: int) -> List[Candidate]:
    from sklearn.tree import DecisionTreeClassifier

    pair = frame[[first, second]]
    complete = pair.notna().all(axis=1).to_numpy()
    if complete.sum() < 2 * min_leaf or errors[complete].all() or not errors[complete].any():
        return []
    columns, orders = zip(*(_encode_for_tree(pair[c][complete], errors[complete]) for c in (first, second)))
    data = np.column_stack(columns)
    tree = DecisionTreeClassifier(max_depth=depth, min_samples_leaf=max(min_leaf, 1), random_state=0)
    tree.fit(data, errors[complete])
    leaves = tree.apply(data)
    candidates = []
    for leaf in np.unique(leaves):
        conditions = _leaf_conditions(tree, leaf, (first, second), orders, data)
        if len({c["feature"] for c in conditions}) < 2:
            continue  # a one-feature leaf repeats what the single-feature search already tests
        inside = leaves == leaf
        candidates.append(
            Candidate((first, second), conditions, int(inside.sum()), int(errors[complete][inside].sum()))
        )
    return candidates


def scan_statistic(sizes: np.ndarray, hits: np.ndarray, total: int, total_errors: int) -> np.ndarray:
    """Kulldorff's binomial scan statistic: the log-likelihood ratio of "the slice has its own,
    higher error rate" against "one rate everywhere" (0 where the slice is not worse).

    Among nested intervals of one feature it peaks at the true region's bounds, where the raw
    error rate would prefer a lucky narrow sub-interval.
    """
    from scipy.special import xlogy

    n, k = sizes.astype(float), hits.astype(float)
    rest_n, rest_k = total - n, total_errors - k

    def loglik(events, trials):
        rate = np.divide(events, trials, out=np.zeros_like(events), where=trials > 0)
        return xlogy(events, rate) + xlogy(trials - events, 1 - rate)

    ratio = loglik(k, n) + loglik(rest_k, rest_n) - loglik(np.array(float(total_errors)), np.array(float(total)))
    worse = k / np.maximum(n, 1) > np.divide(rest_k, rest_n, out=np.zeros_like(rest_k), where=rest_n > 0)
    return np.where(worse, ratio, 0.0)


def _test(candidates: List[Candidate], errors: np.ndarray, correction: str) -> None:
    """One-sided Fisher exact p-values (hypergeometric upper tail), corrected over all candidates."""
    from scipy.stats import hypergeom
    from statsmodels.stats.multitest import multipletests

    total, total_errors = len(errors), int(errors.sum())
    sizes = np.array([c.size for c in candidates])
    hits = np.array([c.errors for c in candidates])
    p_values = hypergeom.sf(hits - 1, total, total_errors, sizes)
    adjusted = multipletests(p_values, method=correction)[1]
    scans = scan_statistic(sizes, hits, total, total_errors)
    for candidate, p_value, adjusted_p, scan in zip(candidates, p_values, adjusted, scans):
        candidate.p_value, candidate.adjusted_p_value = float(p_value), float(adjusted_p)
        candidate.scan_statistic = float(scan)


def _redundant(mask: np.ndarray, rate: float, kept: Sequence[Tuple[Candidate, np.ndarray]], max_overlap: float) -> bool:
    """True when the rows mostly coincide with, or sit mostly inside, a kept slice that does
    about as badly (within 10%): the simpler, already-kept slice says the same thing."""
    size = mask.sum()
    for other, other_mask in kept:
        shared = np.logical_and(mask, other_mask).sum()
        union = np.logical_or(mask, other_mask).sum()
        if union and shared / union > max_overlap:
            return True
        if size and shared / size > max_overlap and rate <= 1.1 * other.error_rate:
            return True
    return False


def find_slices(
    frame: pd.DataFrame, errors: np.ndarray, settings: SliceSearchSettings, error_definition: str = "error"
) -> SearchResult:
    """Search ``frame``'s features for slices where ``errors`` concentrate; see the module doc."""
    started = time.perf_counter()
    errors = np.asarray(errors, dtype=bool)
    if len(errors) != len(frame):
        raise ValueError(f"{len(errors)} error flags for {len(frame)} rows")
    frame = frame.reset_index(drop=True)
    features = list(settings.features) if settings.features else list(frame.columns)
    unknown = [f for f in features if f not in frame.columns]
    if unknown:
        raise ValueError(f"slice features not in the data: {unknown}")
    rows, overall_errors = len(frame), int(errors.sum())
    result = SearchResult([], rows, overall_errors, 0, error_definition, 0.0)
    if rows == 0 or overall_errors == 0:
        result.notes.append("no errors: there is no slice where the model does worse")
        result.seconds = time.perf_counter() - started
        return result
    if overall_errors == rows:
        result.notes.append("every row is an error: no slice can do worse than overall")
        result.seconds = time.perf_counter() - started
        return result

    min_size = settings.min_support if settings.min_support >= 1 else math.ceil(settings.min_support * rows)
    candidates: List[Candidate] = []
    for name in features:
        column = frame[name]
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            candidates.extend(_numeric_candidates(name, column, errors, settings.bins))
        else:
            candidates.extend(_categorical_candidates(name, column, errors))
    if settings.pair_depth > 0:
        for first, second in itertools.combinations(features, 2):
            candidates.extend(_pair_candidates(frame, first, second, errors, settings.pair_depth, int(min_size)))
    candidates = [c for c in candidates if c.size >= min_size]
    result.candidates_tested = len(candidates)
    if not candidates:
        result.notes.append(f"no candidate slice has the minimum support of {min_size} rows")
        result.seconds = time.perf_counter() - started
        return result
    _test(candidates, errors, settings.correction)

    overall_rate = overall_errors / rows
    kept = [
        c for c in candidates
        if c.error_rate >= settings.min_lift * overall_rate and c.adjusted_p_value <= settings.alpha
    ]
    # The best slice of each feature set by scan statistic; then simplest first, drop repeats.
    best_per_feature_set: Dict[Tuple[str, ...], Candidate] = {}
    for candidate in sorted(kept, key=lambda c: -c.scan_statistic):
        best_per_feature_set.setdefault(candidate.features, candidate)
    chosen: List[Tuple[Candidate, np.ndarray]] = []
    for candidate in sorted(best_per_feature_set.values(), key=lambda c: (len(c.features), -c.scan_statistic)):
        mask = condition_mask(frame, candidate.conditions)
        if not _redundant(mask, candidate.error_rate, chosen, settings.max_overlap):
            chosen.append((candidate, mask))
    ranked = sorted((candidate for candidate, _ in chosen), key=lambda c: (-c.error_rate, -c.size))
    result.slices = ranked[: settings.max_slices]
    result.seconds = time.perf_counter() - started
    return result
