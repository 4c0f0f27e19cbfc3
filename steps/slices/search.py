"""Automatic discovery of under-performing data slices, after FreaAI.

FreaAI (Ackerman, Raz and Zalmanovici, 2021, arXiv 2108.05620) looks for small, readable
regions of the feature space where a model errs much more often than overall. Here:

- Every row gets an error indicator: misclassification for classifiers, and for regressors an
  absolute error above a quantile of all absolute errors (the top ``1 - q`` are "errors").
- Single numeric features: every interval spanned by contiguous quantile bins is a candidate.
  This exact interval search stands in for FreaAI's highest-density regions of the error rows:
  it finds the same concentrated intervals, is deterministic, and its bounds can be tested.
  The strongest interval of each feature then has its ends moved, value by value inside the
  bins around them, to where the scan statistic peaks: quantile edges fall where the data's
  quantiles do, not where the error rate changes.
- Single categorical features: each category.
- Pairs of features, two ways. Every conjunction of two worse-than-average building blocks on
  different features (a category, a quantile bin, or a one-sided cut), counted for all pairs at
  once with a matrix product, like sliceline's level-2 lattice. And, for interactions neither
  feature shows alone, the leaves of a shallow decision tree trained on the two features to
  predict the error indicator (categories ordered by error rate first, the optimal order for
  binary splits of a binary target).
- Each candidate gets a one-sided Fisher exact test (hypergeometric tail: are errors
  over-represented in the slice?), and the p-values of all candidates tested are corrected
  together (Benjamini-Hochberg by default, or Holm).
- A slice is kept when its support is at least ``min_support``, its error rate at least
  ``min_lift`` times the overall rate, and its adjusted p-value at most ``alpha``.
- Slices are ranked by Kulldorff's binomial scan statistic, which weighs how much worse a slice
  is against how many rows it holds (the raw error rate would favour lucky small slices). For
  each feature set only its strongest slice is kept; a pair must be 10% stronger than a single
  feature to rank above it; a pair must show that each of its conditions matters; and a slice
  that repeats a stronger one (Jaccard overlap above ``max_overlap``, or lying mostly inside it
  without being significantly worse) is dropped. The report lists the (support, lift) Pareto
  frontier first: the slices no other slice beats on both size and error rate; where it is
  longer than ``max_slices``, the ones that together dominate the most area of that plane.
- Each reported slice's error rate gets a lower bound that holds simultaneously for every
  candidate tested (``error_rate_lower_bounds``): its lift, as measured, is inflated by having
  been picked as the worst, and the bound says how much of it survives the search.

Everything here is plain numpy/pandas/scipy/statsmodels, so it is tested without ZenML.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, field
from typing import Dict, List, Literal, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

from steps.slices.pair_tree import grow_leaves
from steps.slices.tails import upper_tail_at_most, upper_tail_p_values

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
    error_rate_lower_bound: float = 0.0  # simultaneous over all candidates tested: see error_rate_lower_bounds

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


def _exact_key(conditions: Sequence[Condition]) -> tuple:
    """An exact, hashable identity for conditions (``describe`` rounds numbers for reading)."""
    return tuple((c["feature"], c.get("low"), c.get("high"), tuple(c.get("categories", ()))) for c in conditions)


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


def _quantile_bins(x: np.ndarray, bins: int) -> Optional[Tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(codes, edges, present): each value's bin among at most ``bins`` quantile bins (the
    distinct values themselves when there are few), or None for a constant column."""
    present = ~np.isnan(x)
    unique = np.unique(x[present])
    if len(unique) < 2:
        return None
    if len(unique) <= bins:
        edges = unique
    else:
        edges = np.unique(np.quantile(x[present], np.linspace(0, 1, bins + 1)[1:-1], method="higher"))
        edges = np.append(edges[edges < unique[-1]], unique[-1])
    codes = np.full(len(x), -1)
    codes[present] = np.searchsorted(edges, x[present], side="left")
    return codes, edges, present


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


def _binned_counts(x: np.ndarray, errors: np.ndarray, bins: int):
    """Per quantile bin of ``x``: codes, size, errors, and the lowest and highest value; None for
    a constant column. Bins are never empty (their edges are values of ``x``)."""
    binned = _quantile_bins(x, bins)
    if binned is None:
        return None
    all_codes, edges, present = binned
    codes = all_codes[present]
    count = len(edges)
    sizes = np.bincount(codes, minlength=count)
    hits = np.bincount(codes, weights=errors[present].astype(float), minlength=count)
    lows = np.full(count, np.inf)
    highs = np.full(count, -np.inf)
    np.minimum.at(lows, codes, x[present])
    np.maximum.at(highs, codes, x[present])
    return all_codes, present, sizes, np.rint(hits).astype(int), lows, highs


def _numeric_candidates(name: str, values: pd.Series, errors: np.ndarray, bins: int, min_size: int,
                        min_lift: float) -> Tuple[List[Candidate], np.ndarray, np.ndarray, int]:
    """Every interval of contiguous quantile bins except the whole range, counted by prefix sums,
    and the strongest of them with its ends refined inside their boundary bins (``_refine_ends``).

    Returns the intervals that could be reported (error rate at least ``min_lift`` times overall)
    as candidates; the sizes and error counts of every binned interval of ``min_size`` rows or
    more (the others are tested with p = 1, see ``_test``, and tell whether the feature has a
    signal); and how many other intervals the refinement tried (tested with p = 1 too)."""
    x = values.to_numpy(dtype=float)
    counted = _binned_counts(x, errors, bins)
    if counted is None:
        return [], np.zeros(0, dtype=int), np.zeros(0, dtype=int), 0
    _, present, sizes, hits, lows, highs = counted
    count = len(sizes)
    size_prefix = np.concatenate([[0], np.cumsum(sizes)])
    hit_prefix = np.concatenate([[0], np.cumsum(hits)])
    start, stop = np.triu_indices(count)  # every start <= stop, in start-major order
    interval_sizes = size_prefix[stop + 1] - size_prefix[start]
    interval_hits = hit_prefix[stop + 1] - hit_prefix[start]
    counted = ~((start == 0) & (stop == count - 1)) & (interval_sizes >= max(min_size, 1))
    total, total_errors = len(errors), int(errors.sum())
    reportable = counted & (interval_hits * total >= min_lift * interval_sizes * total_errors)
    candidates = []
    for index in np.flatnonzero(reportable):
        condition: Condition = {"feature": name}
        if start[index] > 0:
            condition["low"] = float(lows[start[index]])
        if stop[index] < count - 1:
            condition["high"] = float(highs[stop[index]])
        candidates.append(Candidate((name,), [condition], int(interval_sizes[index]), int(interval_hits[index])))
    tried = 0
    if candidates and count > 2:
        strongest = np.flatnonzero(reportable)[np.argmax(
            scan_statistic(interval_sizes[reportable], interval_hits[reportable], total, total_errors))]
        refined, tried = _refine_ends(name, x[present], errors[present], total, total_errors, lows, highs,
                                      int(start[strongest]), int(stop[strongest]), max(min_size, 1))
        if refined is not None and refined.errors * total >= min_lift * refined.size * total_errors:
            candidates.append(refined)
            tried -= 1
    return candidates, interval_sizes[counted], interval_hits[counted], tried


REFINE_ROUNDS = 3


def _refine_ends(name: str, x: np.ndarray, errors: np.ndarray, total: int, total_errors: int, lows: np.ndarray,
                 highs: np.ndarray, start: int, stop: int, min_size: int) -> Tuple[Optional[Candidate], int]:
    """The interval of bins ``start``..``stop`` with each finite end moved to the observed value,
    within the bin on either side of it, that maximises the scan statistic (one end at a time,
    until neither moves, at most ``REFINE_ROUNDS`` rounds).

    Quantile edges fall where the data's quantiles do, not where the model's errors change: with
    20 bins an interval's ends can be off by up to a bin (5% of the rows) on either side, which
    dilutes the slice or cuts part of it off. Scanning the values inside the boundary bins puts
    the ends where the error rate changes. Returns the refined interval (None when it ends on bin
    edges: the binned search already has it) and how many other intervals were tried, which count
    in the multiple-testing correction like any other candidate. ``x`` and ``errors`` hold the rows
    with a value; ``total`` and ``total_errors`` count all rows."""
    order = np.argsort(x, kind="stable")
    ordered = x[order]
    error_prefix = np.concatenate([[0], np.cumsum(errors[order])])
    count, rows = len(lows), len(ordered)

    def positions(low_value: float, high_value: float, side: str) -> np.ndarray:
        """Where an interval could begin ("left") or end ("right") at each distinct value in
        [low_value, high_value]: the interval is ``ordered[begin:end]``."""
        first, last = np.searchsorted(ordered, low_value, "left"), np.searchsorted(ordered, high_value, "right")
        return np.searchsorted(ordered, np.unique(ordered[first:last]), side=side)

    begin = int(np.searchsorted(ordered, lows[start], "left")) if start > 0 else 0
    end = int(np.searchsorted(ordered, highs[stop], "right")) if stop < count - 1 else rows
    begins = positions(lows[start - 1], highs[start], "left") if start > 0 else None  # an open end stays open
    ends = positions(lows[stop], highs[stop + 1], "right") if stop < count - 1 else None
    begin_edges, end_edges = np.searchsorted(ordered, lows, "left"), np.searchsorted(ordered, highs, "right")
    tried: List[np.ndarray] = []  # keys (begin * (rows + 1) + end) of the intervals the bins do not have

    def strongest(candidate_begins: np.ndarray, candidate_ends: np.ndarray, current: Tuple[int, int]) -> Tuple[int, int]:
        sizes = candidate_ends - candidate_begins
        usable = (sizes >= min_size) & ~((candidate_begins == 0) & (candidate_ends == rows))
        new = usable & ~(np.isin(candidate_begins, begin_edges) & np.isin(candidate_ends, end_edges))
        tried.append(candidate_begins[new].astype(np.int64) * (rows + 1) + candidate_ends[new])
        if not usable.any():
            return current
        hits = error_prefix[candidate_ends] - error_prefix[candidate_begins]
        choice = int(np.argmax(np.where(usable, scan_statistic(sizes, hits, total, total_errors), -np.inf)))
        return int(candidate_begins[choice]), int(candidate_ends[choice])

    for _ in range(REFINE_ROUNDS):
        before = (begin, end)
        if begins is not None:
            moves = begins[begins < end]
            begin, end = strongest(moves, np.full(len(moves), end), (begin, end))
        if ends is not None:
            moves = ends[ends > begin]
            begin, end = strongest(np.full(len(moves), begin), moves, (begin, end))
        if (begin, end) == before:
            break
    tried_count = len(np.unique(np.concatenate(tried))) if tried else 0
    if begin in begin_edges and end in end_edges:
        return None, tried_count
    condition: Condition = {"feature": name}
    if begins is not None:
        condition["low"] = float(ordered[begin])
    if ends is not None:
        condition["high"] = float(ordered[end - 1])
    return Candidate((name,), [condition], end - begin, int(error_prefix[end] - error_prefix[begin])), tried_count


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


@dataclass
class _Encoded:
    """A feature ready for the pair trees: numbers as floats, categories as ranks of their
    error rate (``order`` maps a rank back to its category). Missing values are NaN."""

    values: np.ndarray
    order: Optional[List[str]] = None


def _encode(values: pd.Series, errors: np.ndarray) -> _Encoded:
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return _Encoded(values.to_numpy(dtype=float))
    present = values.notna().to_numpy()
    text = values.astype(str).to_numpy()
    categories, codes = np.unique(text[present], return_inverse=True)
    rates = np.bincount(codes, weights=errors[present], minlength=len(categories)) / np.bincount(codes)
    rank_of = np.empty(len(categories), dtype=float)
    rank_of[np.argsort(rates, kind="stable")] = np.arange(len(categories))
    encoded = np.full(len(values), np.nan)
    encoded[present] = rank_of[codes]
    return _Encoded(encoded, [str(c) for c in categories[np.argsort(rates, kind="stable")]])


def _pair_candidates(names: Tuple[str, str], encoded: Tuple[_Encoded, _Encoded], orders: Tuple[np.ndarray, np.ndarray],
                     errors: np.ndarray, depth: int, min_leaf: int, splits: Dict[tuple, object]) -> List[Candidate]:
    """The leaves of a depth-``depth`` tree on two features that predicts the error flag
    (``pair_tree``: CART's Gini tree, grown from each feature's order sorted once per search;
    ``splits`` shares the splits that do not depend on the partner feature between the trees).
    Leaves on one feature only are left out: the single-feature search already tests them."""
    # float64, as the slice's conditions are evaluated: scikit-learn's float32 would put a value
    # near a threshold on the other side than its description does.
    data = np.column_stack([e.values for e in encoded])
    complete = ~np.isnan(data).any(axis=1)
    shared = complete.all()
    if not shared:
        position = np.cumsum(complete) - 1
        orders = tuple(position[order[complete[order]]] for order in orders)
        data = data[complete]
    flags = errors[complete]
    if len(flags) < 2 * min_leaf or flags.all() or not flags.any():
        return []
    candidates = []
    for leaf in grow_leaves(data, flags, depth, min_leaf, orders, keys=names, cache=splits if shared else None):
        if len(leaf.bounds) < 2:
            continue  # a one-feature leaf repeats what the single-feature search already tests
        conditions = [_condition(names[f], encoded[f], orders[f], data[:, f], low, high, shared)
                      for f, (low, high) in sorted(leaf.bounds.items())]
        candidates.append(Candidate(tuple(names), conditions, len(leaf.rows), int(np.count_nonzero(flags[leaf.rows]))))
    return candidates


def _condition(name: str, encoded: _Encoded, order: np.ndarray, values: np.ndarray, low: Optional[float],
               high: Optional[float], all_rows: bool) -> Condition:
    """The readable condition for a tree's (exclusive low, inclusive high] bounds on a feature:
    categories by name, numbers by the observed values at the bounds (a threshold is the
    largest value going left, so it is observed; the low end is the next value up)."""
    if encoded.order is not None:
        if all_rows:  # every rank is present: ranks are 0..k-1 over the feature's rows
            first = 0 if low is None else int(low) + 1
            last = len(encoded.order) - 1 if high is None else int(high)
            return {"feature": name, "categories": encoded.order[first:last + 1]}
        inside = np.ones(len(values), dtype=bool)
        if low is not None:
            inside &= values > low
        if high is not None:
            inside &= values <= high
        return {"feature": name, "categories": [encoded.order[int(r)] for r in np.unique(values[inside])]}
    condition: Condition = {"feature": name}
    if low is not None:
        ordered = values[order]
        condition["low"] = float(ordered[np.searchsorted(ordered, low, side="right")])
    if high is not None:
        condition["high"] = float(high)
    return condition


def _features_with_signal(single_counts: Dict[str, Tuple[np.ndarray, np.ndarray]], errors: np.ndarray,
                          alpha: float) -> set:
    """Features with at least one single-feature slice of the minimum support (``single_counts``:
    per feature, the sizes and error counts of those slices) that is significantly worse than
    overall (one-sided Fisher, Bonferroni over those slices: with many overlapping intervals per
    real signal, Benjamini-Hochberg lets noise features in).

    A depth-2 tree splits greedily: its root split follows a feature's own signal, and a pair
    of features that both lack one gives a root split on noise, whose leaves then fail the
    tests anyway. Skipping those pairs is most of the pair search on wide tables (30 features:
    435 trees, of which the planted pair needs one). Interactions without any marginal signal
    are still met by the conjunction lattice, which pairs every worse-than-average block.
    """
    tested = sum(len(sizes) for sizes, _ in single_counts.values())
    if not tested:
        return set()
    return {name for name, (sizes, hits) in single_counts.items()
            if len(sizes) and upper_tail_at_most(hits, len(errors), int(errors.sum()), sizes, alpha / tested).any()}


def _basic_slices(frame: pd.DataFrame, features: Sequence[str], errors: np.ndarray, bins: int, min_size: int
                  ) -> List[Tuple[str, Condition, np.ndarray]]:
    """Single-feature building blocks for conjunctions: each category; for numbers, each
    quantile bin and each one-sided cut (<= or >= a quantile edge). Only blocks of ``min_size``
    rows or more with an error rate above the overall rate (counted before any mask is made)."""
    total, total_errors = len(errors), int(errors.sum())

    def worse(size, hits) -> bool:
        return size >= min_size and hits * total > size * total_errors

    blocks = []
    for name in features:
        column = frame[name]
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            counted = _binned_counts(column.to_numpy(dtype=float), errors, bins)
            if counted is None:
                continue
            codes, present, sizes, hits, lows, highs = counted
            size_prefix, hit_prefix = np.cumsum(sizes), np.cumsum(hits)
            for k in range(len(sizes)):
                if worse(sizes[k], hits[k]):
                    blocks.append((name, {"feature": name, "low": float(lows[k]), "high": float(highs[k])}, codes == k))
                if 0 < k < len(sizes) - 1:
                    if worse(size_prefix[k], hit_prefix[k]):
                        blocks.append((name, {"feature": name, "high": float(highs[k])}, present & (codes <= k)))
                    if worse(size_prefix[-1] - size_prefix[k], hit_prefix[-1] - hit_prefix[k]):
                        blocks.append((name, {"feature": name, "low": float(lows[k + 1])}, codes > k))
        else:
            present = column.notna().to_numpy()
            text = column.astype(str).to_numpy()
            for category in sorted(set(text[present])):
                inside = present & (text == category)
                if worse(int(np.count_nonzero(inside)), int(np.count_nonzero(inside & errors))):
                    blocks.append((name, {"feature": name, "categories": [category]}, inside))
    return blocks


def _conjunction_candidates(frame: pd.DataFrame, features: Sequence[str], errors: np.ndarray, bins: int,
                            min_size: int, min_lift: float) -> Tuple[List[Candidate], int]:
    """Every pair of worse-than-average building blocks on two different features, counted at
    once with a matrix product (like sliceline's level-2 lattice).

    Returns the pairs that could be reported (error rate at least ``min_lift`` times overall)
    and how many others were tested: those count in the multiple-testing correction with
    p = 1 (see ``_test``) without becoming objects, which on a small table was most of the time.
    """
    blocks = _basic_slices(frame, features, errors, bins, min_size)
    if len(blocks) < 2:
        return [], 0
    masks = np.column_stack([b[2] for b in blocks]).astype(np.float32)
    sizes = np.rint(masks.T @ masks)
    hits = np.rint(masks.T @ (masks * errors[:, None].astype(np.float32)))
    owner = np.array([features.index(b[0]) for b in blocks])
    first, second = np.triu_indices(len(blocks), k=1)
    usable = (owner[first] != owner[second]) & (sizes[first, second] >= min_size)
    first, second = first[usable], second[usable]
    reportable = hits[first, second] * len(errors) >= min_lift * sizes[first, second] * errors.sum()
    candidates = []
    for i, j in zip(first[reportable], second[reportable]):
        (name_i, cond_i, _), (name_j, cond_j, _) = sorted((blocks[i], blocks[j]), key=lambda b: features.index(b[0]))
        candidates.append(Candidate((name_i, name_j), [cond_i, cond_j], int(sizes[i, j]), int(hits[i, j])))
    return candidates, int((~reportable).sum())


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


def error_rate_lower_bounds(sizes: np.ndarray, hits: np.ndarray, alpha: float, tested: int) -> np.ndarray:
    """One-sided Clopper-Pearson lower bounds of slices' error rates at level ``alpha / tested``.

    A slice reported because it looked worst among thousands overstates its error rate, the more
    so the smaller it is (on the churn model, a 66-customer slice at lift 2.0 has lift 1.2 on
    independent errors). Bonferroni over every candidate tested makes the bounds hold for all
    candidates at once, with probability at least 1 - ``alpha``, and so for the ones the search
    picked, whatever picked them. (The overall rate it is compared with is taken as known: it is
    measured on all rows.)"""
    from scipy.stats import beta

    sizes, hits = np.asarray(sizes, dtype=float), np.asarray(hits, dtype=float)
    bounds = beta.ppf(alpha / max(tested, 1), np.maximum(hits, 1), sizes - hits + 1)
    return np.where(hits > 0, bounds, 0.0)


def _test(candidates: List[Candidate], errors: np.ndarray, correction: str, min_lift: float,
          untested: int = 0) -> None:
    """One-sided Fisher exact p-values (hypergeometric upper tail), corrected over all candidates.

    Only slices that could be reported (error rate at least ``min_lift`` times overall) get an
    exact p-value: Boost's tail costs ~0.1 ms per slice at 50,000 rows, and a wide table has
    tens of thousands of candidates. The others, and the ``untested`` slices that were counted
    without becoming candidates, count as tests with p = 1. That never makes a reported slice
    look stronger: under Benjamini-Hochberg and Holm, raising other p-values, or adding tests,
    can only raise a slice's adjusted p-value.
    """
    from statsmodels.stats.multitest import multipletests

    total, total_errors = len(errors), int(errors.sum())
    sizes = np.array([c.size for c in candidates])
    hits = np.array([c.errors for c in candidates])
    p_values = np.ones(len(candidates))
    reportable = hits * total >= min_lift * sizes * total_errors
    p_values[reportable] = upper_tail_p_values(hits[reportable], total, total_errors, sizes[reportable])
    adjusted = multipletests(np.concatenate([p_values, np.ones(untested)]), method=correction)[1][:len(candidates)]
    scans = scan_statistic(sizes, hits, total, total_errors)
    for candidate, p_value, adjusted_p, scan in zip(candidates, p_values, adjusted, scans):
        candidate.p_value, candidate.adjusted_p_value = float(p_value), float(adjusted_p)
        candidate.scan_statistic = float(scan)


PAIR_PENALTY = 0.1


def _ranking_key(candidate: Candidate) -> Tuple[float, int]:
    """Simpler explanations first: a pair must be at least ``PAIR_PENALTY`` (10%) stronger than
    a single-feature slice to rank above it, or a tree's chance split on a second, irrelevant
    feature (``valve = c and noise <= 1.4``) would push out the slice that explains it all."""
    return (-candidate.scan_statistic * (1 - PAIR_PENALTY * (len(candidate.features) - 1)), len(candidate.features))


def _repeats(accepted: Candidate, same_features: np.ndarray, sizes: np.ndarray, errors: np.ndarray,
             overlap: np.ndarray, shared_errors: np.ndarray, total: int, total_errors: int, max_overlap: float,
             strict_alpha: float) -> np.ndarray:
    """For each weaker slice (``sizes``, ``errors``, and its ``overlap`` and ``shared_errors`` with
    the rows and error rows of ``accepted``): does it only repeat ``accepted``? That is: on the
    same features, its region overlaps (more than 10% of its rows: a shifted, widened or narrowed
    copy; distinct regions are disjoint); or its rows mostly coincide (Jaccard); or it lies mostly
    inside ``accepted`` without being significantly worse there (a lucky sub-region); or it mostly
    contains it and its extra rows are not significantly bad (a diluted copy). Tests are one-sided
    Fisher at ``strict_alpha``, Bonferroni over all candidates. Whether one slice repeats another
    depends on the two alone, so a slice is redundant when it repeats any accepted one."""
    repeats = same_features & (overlap > 0.1 * sizes)
    repeats |= overlap > max_overlap * (sizes + accepted.size - overlap)
    inside = ~repeats & (overlap > max_overlap * sizes)
    if inside.any():
        repeats[inside] = ~upper_tail_at_most(shared_errors[inside], accepted.size, accepted.errors, overlap[inside],
                                              strict_alpha)
    contains = ~repeats & (overlap > max_overlap * accepted.size)
    if contains.any():
        repeats[contains] = ~upper_tail_at_most(errors[contains] - shared_errors[contains], total, total_errors,
                                                sizes[contains] - overlap[contains], strict_alpha)
    return repeats


MAX_RANKED = 500


class _MaskCache:
    """Row masks, and their sizes and error counts, per conjunction of conditions, computed once:
    slices share many conditions."""

    def __init__(self, frame: pd.DataFrame, errors: np.ndarray):
        self.frame, self.errors = frame, errors
        self.masks: Dict[tuple, np.ndarray] = {}
        self.counts: Dict[tuple, Tuple[int, int]] = {}

    def condition(self, condition: Condition) -> np.ndarray:
        key = _exact_key([condition])
        if key not in self.masks:
            self.masks[key] = condition_mask(self.frame, [condition])
        return self.masks[key]

    def slice(self, conditions: Sequence[Condition]) -> np.ndarray:
        return np.logical_and.reduce([self.condition(c) for c in conditions])

    def size_and_errors(self, conditions: Sequence[Condition]) -> Tuple[int, int]:
        key = _exact_key(conditions)
        if key not in self.counts:
            mask = self.slice(conditions)
            self.counts[key] = (int(np.count_nonzero(mask)), int(np.count_nonzero(mask & self.errors)))
        return self.counts[key]


def _conditions_matter(masks: _MaskCache, candidates: Sequence[Candidate], alpha: float) -> np.ndarray:
    """For each multi-feature slice: within the rows meeting all but one condition, does that
    last condition still pick out significantly more errors (one-sided Fisher at ``alpha``, each
    condition in turn)? Otherwise the slice is a lucky refinement of a simpler one by an
    irrelevant feature. All tests run as one vectorised call."""
    owners, hits, sizes, populations, population_errors = [], [], [], [], []
    for index, candidate in enumerate(candidates):
        for left_out in range(len(candidate.conditions)):
            population, population_hits = masks.size_and_errors(
                [c for i, c in enumerate(candidate.conditions) if i != left_out])
            owners.append(index)
            hits.append(candidate.errors)
            sizes.append(candidate.size)
            populations.append(population)
            population_errors.append(population_hits)
    matters = np.ones(len(candidates), dtype=bool)
    if owners:
        significant = upper_tail_at_most(hits, populations, population_errors, sizes, alpha)
        np.logical_and.at(matters, np.array(owners), significant)
    return matters


def excess_error_area(points: Sequence[Tuple[int, float]], overall_rate: float) -> float:
    """The area that a set of (size, error rate) points dominates above the overall rate: the
    union of the rectangles [0, size] x [overall rate, error rate] (the hypervolume indicator of
    multi-objective optimisation, in two dimensions). One slice's rectangle is its excess errors,
    the errors beyond what the overall rate predicts for that many rows."""
    area, covered_rate = 0.0, overall_rate
    for size, rate in sorted(points, key=lambda point: (-point[0], point[1])):
        if rate > covered_rate:
            area += size * (rate - covered_rate)
            covered_rate = rate
    return area


def _spread_over_frontier(frontier: Sequence[Candidate], count: int, overall_rate: float) -> List[Candidate]:
    """``count`` slices of a longer (size, error rate) frontier, chosen greedily to dominate the
    most area (``excess_error_area``). This keeps the frontier's knees, the slices that are both
    large and bad, where evenly spaced picks would spend places on near-neighbours at either end
    and skip a knee that lies between two picks."""
    chosen: List[Candidate] = []
    remaining = list(frontier)
    while remaining and len(chosen) < count:
        base = [(c.size, c.error_rate) for c in chosen]
        best = max(remaining, key=lambda c: excess_error_area(base + [(c.size, c.error_rate)], overall_rate))
        chosen.append(best)
        remaining.remove(best)
    return chosen


def _select(masks: _MaskCache, kept: List[Candidate], errors: np.ndarray, max_slices: int, max_overlap: float,
            strict_alpha: float) -> List[Candidate]:
    """Distinct slices, the (support, lift) Pareto frontier first, then the strongest others.

    Candidates are taken strongest first (scan statistic, pairs 10% handicapped) and dropped when
    they repeat a stronger one (see ``_repeats``). Of the rest, the frontier holds the slices
    that no other slice beats on both size and error rate; it runs from small and very bad to
    large and somewhat bad. If it is longer than ``max_slices``, the slices that together
    dominate the most of the (size, error rate) plane are taken (``_spread_over_frontier``);
    spare places go to the strongest remaining slices. Returned worst error rate first.
    """
    total, total_errors = len(errors), int(np.count_nonzero(errors))
    ranked = sorted(kept, key=_ranking_key)[:MAX_RANKED]
    if not ranked:
        return []
    rows = np.column_stack([masks.slice(c.conditions) for c in ranked])  # rows x ranked slices
    sizes = np.array([c.size for c in ranked])
    error_counts = np.array([c.errors for c in ranked])
    redundant = np.zeros(len(ranked), dtype=bool)
    accepted = []
    for index, candidate in enumerate(ranked):
        if redundant[index]:
            continue
        accepted.append(candidate)
        later = index + 1 + np.flatnonzero(~redundant[index + 1:])
        if not later.size:
            break
        inside = np.flatnonzero(rows[:, index])
        overlap = np.count_nonzero(rows[np.ix_(inside, later)], axis=0)
        shared_errors = np.count_nonzero(rows[np.ix_(inside[errors[inside]], later)], axis=0)
        same_features = np.array([ranked[j].features == candidate.features for j in later])
        redundant[later] = _repeats(candidate, same_features, sizes[later], error_counts[later], overlap, shared_errors,
                                    total, total_errors, max_overlap, strict_alpha)
    frontier, best_rate = [], -1.0
    for candidate in sorted(accepted, key=lambda c: (-c.size, -c.error_rate)):
        if candidate.error_rate > best_rate:
            frontier.append(candidate)
            best_rate = candidate.error_rate
    if len(frontier) > max_slices:
        frontier = _spread_over_frontier(frontier, max_slices, total_errors / total)
    chosen = list(frontier)
    for candidate in accepted:
        if len(chosen) >= max_slices:
            break
        if candidate not in chosen:
            chosen.append(candidate)
    return sorted(chosen, key=lambda c: (-c.error_rate, -c.size))


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
    single_counts: Dict[str, Tuple[np.ndarray, np.ndarray]] = {}
    untested = 0
    for name in features:
        column = frame[name]
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            reportable, sizes, hits, refinements = _numeric_candidates(name, column, errors, settings.bins,
                                                                       int(min_size), settings.min_lift)
            untested += len(sizes) + refinements - len(reportable)
        else:
            reportable = [c for c in _categorical_candidates(name, column, errors) if c.size >= min_size]
            sizes, hits = np.array([c.size for c in reportable]), np.array([c.errors for c in reportable])
        candidates.extend(reportable)
        single_counts[name] = (sizes, hits)
    if settings.pair_depth > 0:
        conjunctions, untested_pairs = _conjunction_candidates(frame, features, errors, max(2, settings.bins // 2),
                                                               int(min_size), settings.min_lift)
        candidates.extend(conjunctions)
        untested += untested_pairs
        encoded = {name: _encode(frame[name], errors) for name in features}
        active = _features_with_signal(single_counts, errors, settings.alpha)
        orders: Dict[str, np.ndarray] = {}
        splits: Dict[tuple, object] = {}
        for first, second in itertools.combinations(features, 2):
            if encoded[first].order is not None and encoded[second].order is not None:
                continue  # two categorical features: the conjunctions above already cover every leaf
            if first not in active and second not in active:
                continue  # neither has a signal for the tree's first split to follow (see below)
            for name in (first, second):
                if name not in orders:  # NaN sorts last; _pair_candidates drops incomplete rows
                    orders[name] = np.argsort(encoded[name].values, kind="stable")
            candidates.extend(_pair_candidates((first, second), (encoded[first], encoded[second]),
                                               (orders[first], orders[second]), errors, settings.pair_depth,
                                               int(min_size), splits))
    # One test per distinct slice: a tree leaf can coincide with a conjunction. Single-feature
    # slices are distinct by construction (different bin ranges or categories).
    unique: Dict[tuple, Candidate] = {}
    singles = []
    for candidate in candidates:
        if candidate.size >= min_size:
            if len(candidate.conditions) == 1:
                singles.append(candidate)
            else:
                unique.setdefault(_exact_key(candidate.conditions), candidate)
    candidates = singles + list(unique.values())
    result.candidates_tested = len(candidates) + untested
    if not candidates:
        result.notes.append(f"no candidate slice has the minimum support of {min_size} rows" if not untested else
                            f"no candidate slice of {min_size} rows or more has {settings.min_lift} times the overall "
                            "error rate")
        result.seconds = time.perf_counter() - started
        return result
    _test(candidates, errors, settings.correction, settings.min_lift, untested)

    overall_rate = overall_errors / rows
    # Redundancy tests are repeated for many candidates: Bonferroni over all of them. Whether a
    # pair's second condition adds anything is asked at the plain alpha.
    strict_alpha = settings.alpha / result.candidates_tested
    kept = [c for c in candidates
            if c.error_rate >= settings.min_lift * overall_rate and c.adjusted_p_value <= settings.alpha]
    masks = _MaskCache(frame, errors)
    pairs = [c for c in kept if len(c.features) > 1]
    noise = {id(c) for c, ok in zip(pairs, _conditions_matter(masks, pairs, settings.alpha)) if not ok}
    kept = [c for c in kept if id(c) not in noise]
    result.slices = _select(masks, kept, errors, settings.max_slices, settings.max_overlap, strict_alpha)
    bounds = error_rate_lower_bounds([c.size for c in result.slices], [c.errors for c in result.slices],
                                     settings.alpha, result.candidates_tested)
    for candidate, bound in zip(result.slices, bounds):
        candidate.error_rate_lower_bound = float(bound)
    result.seconds = time.perf_counter() - started
    return result
