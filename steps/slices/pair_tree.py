"""The shallow decision tree of the pair search: which regions of two features hold the errors.

This is CART with the Gini criterion on a binary target, as scikit-learn's
``DecisionTreeClassifier(max_depth=depth, min_samples_leaf=min_leaf)`` grows it, and it gives the
same leaves (``tests/unit/test_pair_tree.py`` checks that against scikit-learn). It exists because
the slice search grows one tree per pair of features, and scikit-learn re-sorts every node's
rows and validates every fit: 2.6 ms per depth-2 tree on 5,000 rows, most of the search's time
on a small table. Here each feature is sorted once per search (``sort_orders``) and a node's rows
in feature order are a gather of that order; the best split of a node on a feature is one
vectorised pass over cumulative error counts.

A split of a node on feature f at position i sends the rows with the i smallest values left.
Only boundaries between distinct values are candidates, both sides must keep ``min_leaf`` rows,
and the split minimises the children's summed Gini impurity, n_L g_L + n_R g_R, where
n g = 2 e (n - e) / n for n rows with e errors. Ties go to the lowest feature index, then the
smallest threshold (scikit-learn breaks ties between features at random). A pure node, or one
without a valid split, is a leaf.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Hashable, List, Optional, Sequence, Tuple

import numpy as np

Bounds = Dict[int, List[Optional[float]]]  # feature index -> [exclusive low, inclusive high]


@dataclass
class Leaf:
    rows: np.ndarray  # indices into the data
    bounds: Bounds = field(default_factory=dict)


def sort_orders(data: np.ndarray) -> List[np.ndarray]:
    """Each column's row order by value (stable; NaN last), computed once and shared by every tree."""
    return [np.argsort(data[:, j], kind="stable") for j in range(data.shape[1])]


Split = Tuple[float, int, float]  # (weighted impurity, rows going left, threshold)


def _best_split(values: np.ndarray, flags: np.ndarray, min_leaf: int) -> Optional[Split]:
    """(weighted impurity, rows going left, threshold) of a node's best split on one feature,
    given its values and flags in increasing value order; None without a valid split."""
    n = len(values)
    if n < 2 * min_leaf:
        return None
    left_n = np.arange(min_leaf, n - min_leaf + 1)  # rows going left at each admissible position
    distinct = values[left_n - 1] < values[left_n]
    if not distinct.any():
        return None
    left_n = left_n[distinct]
    cumulative = np.cumsum(flags, dtype=np.int64)
    left_e = cumulative[left_n - 1].astype(float)
    right_n, right_e = n - left_n, cumulative[-1] - left_e
    impurity = left_e * (left_n - left_e) / left_n + right_e * (right_n - right_e) / right_n
    best = int(np.argmin(impurity))
    return float(impurity[best]), int(left_n[best]), float(values[left_n[best] - 1])


def grow_leaves(data: np.ndarray, flags: np.ndarray, depth: int, min_leaf: int,
                orders: Optional[Sequence[np.ndarray]] = None, keys: Optional[Sequence[Hashable]] = None,
                cache: Optional[Dict[tuple, Optional[Split]]] = None) -> List[Leaf]:
    """The leaves of a depth-``depth`` Gini tree on ``data`` (rows x features, no NaN) predicting
    ``flags``, each with its rows and the thresholds on its path. ``orders`` are the columns'
    ``sort_orders`` (of these rows); pass them when growing many trees over the same rows.

    ``cache`` (with ``keys``, a name per column) shares splits between trees grown on the same
    rows and flags, as the pair search grows them: a node's rows are fixed by the splits above it
    (each the best split of its node on a named feature), so the best split of a node on a
    feature is keyed by that path and the feature's name. The root's split on a feature, and
    every split under it on the same feature, are then found once per search, not once per pair.
    """
    flags = np.asarray(flags, dtype=bool)
    orders = list(orders) if orders is not None else sort_orders(data)
    names = list(keys) if keys is not None else list(range(data.shape[1]))
    min_leaf = max(int(min_leaf), 1)
    leaves: List[Leaf] = []
    stack: List[Tuple[np.ndarray, Bounds, tuple]] = [(np.ones(len(flags), dtype=bool), {}, ())]
    while stack:
        inside, bounds, path = stack.pop()
        count = int(np.count_nonzero(inside))
        errors = int(np.count_nonzero(flags & inside))
        if len(path) >= depth or errors in (0, count):
            leaves.append(Leaf(np.flatnonzero(inside), bounds))
            continue
        best: Optional[Tuple[float, int, float]] = None
        for feature, order in enumerate(orders):
            key = (path, names[feature])
            if cache is not None and key in cache:
                found = cache[key]
            else:
                node_order = order[inside[order]] if path else order
                found = _best_split(data[node_order, feature], flags[node_order], min_leaf)
                if cache is not None:
                    cache[key] = found
            if found is not None and (best is None or found[0] < best[0]):
                best = (found[0], feature, found[2])
        if best is None:
            leaves.append(Leaf(np.flatnonzero(inside), bounds))
            continue
        _, feature, threshold = best
        left = inside & (data[:, feature] <= threshold)  # the threshold is the largest value going left
        low, high = bounds.get(feature, [None, None])
        # Pushed right first, so the left subtree is grown (and listed) first.
        stack.append((inside & ~left, {**bounds, feature: [threshold if low is None else max(low, threshold), high]},
                      path + ((names[feature], "right"),)))
        stack.append((left, {**bounds, feature: [low, threshold if high is None else min(high, threshold)]},
                      path + ((names[feature], "left"),)))
    return leaves
