"""The pair search's tree grows the leaves scikit-learn's CART grows, from presorted columns."""

import numpy as np
import pytest
from sklearn.tree import DecisionTreeClassifier

from steps.slices.pair_tree import grow_leaves, sort_orders


def _sklearn_partition(data: np.ndarray, flags: np.ndarray, depth: int, min_leaf: int) -> set:
    tree = DecisionTreeClassifier(max_depth=depth, min_samples_leaf=min_leaf, random_state=0).fit(data, flags)
    leaves = tree.apply(data)
    return {frozenset(np.flatnonzero(leaves == leaf).tolist()) for leaf in np.unique(leaves)}


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("depth, min_leaf", [(1, 1), (2, 30), (2, 150), (3, 40)])
def test_the_leaves_are_cart_leaves(seed: int, depth: int, min_leaf: int) -> None:
    rng = np.random.default_rng(seed)
    n = 3000
    data = np.column_stack([rng.normal(size=n), rng.integers(0, 40, n)]).astype(np.float32)  # ties in the second
    rate = np.where((data[:, 0] > 0.7) & (data[:, 1] < 12), 0.6, 0.1)
    flags = rng.uniform(size=n) < rate
    ours = grow_leaves(data, flags, depth, min_leaf, sort_orders(data))
    assert {frozenset(leaf.rows.tolist()) for leaf in ours} == _sklearn_partition(data, flags, depth, min_leaf)
    assert sorted(np.concatenate([leaf.rows for leaf in ours]).tolist()) == list(range(n))  # a partition


def test_bounds_select_exactly_the_leaf_rows() -> None:
    rng = np.random.default_rng(3)
    data = rng.normal(size=(2000, 2)).astype(np.float32)
    flags = (data[:, 0] > 1) & (data[:, 1] < -0.5) | (rng.uniform(size=2000) < 0.05)
    for leaf in grow_leaves(data, flags, 2, 20):
        inside = np.ones(len(data), dtype=bool)
        for feature, (low, high) in leaf.bounds.items():
            if low is not None:
                inside &= data[:, feature] > low
            if high is not None:
                inside &= data[:, feature] <= high
        assert np.array_equal(np.flatnonzero(inside), leaf.rows)


def test_pure_nodes_and_constant_columns_stay_leaves() -> None:
    data = np.zeros((100, 2), dtype=np.float32)
    flags = np.arange(100) < 30
    [leaf] = grow_leaves(data, flags, 2, 1)  # nothing to split on
    assert leaf.bounds == {} and len(leaf.rows) == 100
    data[:, 0] = np.arange(100)
    leaves = grow_leaves(data, flags, 2, 1)
    assert [(leaf.bounds, len(leaf.rows)) for leaf in leaves] == [({0: [None, 29.0]}, 30), ({0: [29.0, None]}, 70)]


def test_shared_splits_give_every_pair_the_leaves_it_would_grow_alone() -> None:
    """The pair search grows many trees with one split cache: each tree's leaves must be those it
    grows without the cache."""
    rng = np.random.default_rng(5)
    data = rng.normal(size=(1500, 4))
    flags = (data[:, 0] > 0.8) & (data[:, 2] < 0) | (rng.uniform(size=1500) < 0.1)
    orders, names, cache = sort_orders(data), ["a", "b", "c", "d"], {}
    for first in range(4):
        for second in range(first + 1, 4):
            columns = data[:, [first, second]]
            alone = grow_leaves(columns, flags, 2, 25)
            shared = grow_leaves(columns, flags, 2, 25, [orders[first], orders[second]], keys=[names[first], names[second]],
                                 cache=cache)
            assert [(leaf.rows.tolist(), leaf.bounds) for leaf in shared] == [(leaf.rows.tolist(), leaf.bounds)
                                                                             for leaf in alone]
    assert cache  # it was used


def test_pair_slices_are_described_by_conditions_that_select_exactly_their_rows() -> None:
    """A tree leaf's description (observed values at its bounds, categories by name) selects the
    rows it was counted on, with float64 values that float32 would round, and with missing values."""
    import pandas as pd

    from steps.slices.search import _encode, _pair_candidates, condition_mask

    rng = np.random.default_rng(9)
    n = 2000
    frame = pd.DataFrame({"x": rng.normal(size=n) * 1e3 + 0.123456789, "kind": rng.choice(list("pqrst"), n)})
    frame.loc[rng.choice(n, 40, replace=False), "x"] = np.nan
    errors = ((frame["x"] > 500) & frame["kind"].isin(["q", "s"])).to_numpy() | (rng.uniform(size=n) < 0.08)
    encoded = (_encode(frame["x"], errors), _encode(frame["kind"], errors))
    orders = tuple(np.argsort(e.values, kind="stable") for e in encoded)
    found = _pair_candidates(("x", "kind"), encoded, orders, errors, 2, 30, {})
    assert found
    for candidate in found:
        mask = condition_mask(frame, candidate.conditions)
        assert (mask.sum(), errors[mask].sum()) == (candidate.size, candidate.errors), candidate.conditions
