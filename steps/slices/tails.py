"""Upper-tail tests of the hypergeometric distribution, decided cheaply where a bound settles them.

A one-sided Fisher exact test asks whether a slice's ``hits`` errors among its ``draws`` rows
are too many for rows drawn at random from a population of ``population`` rows holding
``population_errors`` errors: P(X >= hits) for X ~ Hypergeom(population, population_errors,
draws). Boost's exact tail (``scipy.stats.hypergeom.sf``) costs tens of microseconds per value,
plus about a hundred per call, and the slice search asks thousands of such yes-or-no questions.
Two classical bounds answer most of them without it:

- Above the mean, the Chernoff-Hoeffding bound ``P(X >= k) <= exp(-n * KL(k/n || K/N))`` holds
  for sampling without replacement too (Hoeffding 1963, section 6; Chvatal 1979, "The tail of
  the hypergeometric distribution"). Where the bound is already at most ``alpha``, so is p.
- At or below the mean, p is at least 1/2: a hypergeometric median lies within one of the mean
  (Siegel 2001, "Median bounds and their application"), so ``k <= mean`` gives
  ``P(X >= k) >= P(X >= median) >= 1/2``. For ``alpha < 1/2`` such a test is never significant.
- p is at least the point probability P(X = k), a closed form in log-gamma functions. Where
  that alone exceeds ``alpha``, so does p.

Only the remaining tests, between the mean and the bound, get the exact tail. The answers are
identical to computing every p-value exactly (``tests/unit/test_slices.py`` checks it).
"""

from __future__ import annotations

import numpy as np


# The bounds decide only where they clear ``alpha`` by more than floating-point rounding; a p-value
# within that margin of ``alpha`` goes to the exact tail.
ROUNDING = 1e-9


def upper_tail_p_values(hits, population, population_errors, draws) -> np.ndarray:
    """Exact one-sided Fisher p-values, P(X >= hits), vectorised."""
    from scipy.stats import hypergeom

    hits = np.asarray(hits)
    return np.asarray(hypergeom.sf(hits - 1, population, population_errors, draws), dtype=float).reshape(hits.shape)


def chernoff_bound(hits, population, population_errors, draws) -> np.ndarray:
    """An upper bound on P(X >= hits): exp(-n KL(k/n || K/N)) above the mean, 1 elsewhere."""
    from scipy.special import xlogy

    k, big_n, big_k, n = (np.asarray(a, dtype=float) for a in (hits, population, population_errors, draws))
    rate = np.divide(big_k, big_n, out=np.zeros_like(big_k * big_n), where=big_n > 0)
    share = np.divide(k, n, out=np.zeros_like(k * n), where=n > 0)
    above = (share > rate) & (n > 0)
    # KL(share || rate) for Bernoulli variables; where ``above`` holds, rate < share <= 1 and rate >= 0.
    safe_rate = np.where(above, rate, 0.5)
    safe_share = np.where(above, share, 0.5)
    divergence = xlogy(safe_share, safe_share / safe_rate) + xlogy(1 - safe_share, (1 - safe_share) / (1 - safe_rate))
    return np.where(above, np.exp(-n * divergence), 1.0)


def log_point_probability(hits, population, population_errors, draws) -> np.ndarray:
    """log P(X = hits), from log-gamma functions (a lower bound on the upper tail P(X >= hits))."""
    from scipy.special import gammaln

    def log_choose(n, k):
        return gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)

    return (log_choose(population_errors, hits) + log_choose(population - population_errors, draws - hits)
            - log_choose(population, draws))


def upper_tail_at_most(hits, population, population_errors, draws, alpha: float) -> np.ndarray:
    """Whether each P(X >= hits) <= ``alpha``, as the exact test would say (see the module doc)."""
    hits, population, population_errors, draws = np.broadcast_arrays(
        *(np.asarray(a, dtype=float) for a in (hits, population, population_errors, draws)))
    significant = np.zeros(hits.shape, dtype=bool)
    undecided = np.ones(hits.shape, dtype=bool)
    if alpha < 0.5:  # at or below the mean, p >= 1/2
        undecided &= hits * population > draws * population_errors
    if undecided.any():  # p <= the Chernoff bound
        significant[undecided] = chernoff_bound(hits[undecided], population[undecided], population_errors[undecided],
                                                draws[undecided]) <= alpha * (1 - ROUNDING)
        undecided &= ~significant
    if undecided.any():  # p >= P(X = hits)
        undecided[undecided] = log_point_probability(hits[undecided], population[undecided],
                                                     population_errors[undecided], draws[undecided]) <= np.log(alpha * (1 + ROUNDING))
    if undecided.any():
        significant[undecided] = upper_tail_p_values(hits[undecided], population[undecided],
                                                     population_errors[undecided], draws[undecided]) <= alpha
    return significant
