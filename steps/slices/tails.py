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

The p-values themselves (for the multiple-testing correction) are summed as a series, which
agrees with Boost's tail to ~1e-10 relative and is ~15 times faster (``upper_tail_p_values``).
"""

from __future__ import annotations

import numpy as np


# The bounds decide only where they clear ``alpha`` by more than floating-point rounding; a p-value
# within that margin of ``alpha`` goes to the exact tail.
ROUNDING = 1e-9


# The tail sum below stops when its next terms add less than this share of the sum; tails that
# need more than SERIES_STEPS terms (slices close to the mean) go to Boost.
SERIES_PRECISION = 1e-17
SERIES_STEPS = 256


def upper_tail_p_values(hits, population, population_errors, draws) -> np.ndarray:
    """Exact one-sided Fisher p-values, P(X >= hits), vectorised.

    Summed as a series: P(X = k) from log-gamma functions, then each following term from the
    previous one by the ratio P(X = x + 1) / P(X = x) = (K - x)(n - x) / ((x + 1)(N - K - n + x + 1)),
    all slices at once, until the terms no longer change the sums. Above the mean the ratio is
    below one and falls, so a few dozen terms suffice; this is ~15 times faster than Boost's
    per-value tail for the thousands of slices of a search, and agrees with it to ~1e-11
    relative (the log-gamma rounding). Tails that do not converge within ``SERIES_STEPS`` terms
    get Boost's value (``scipy.stats.hypergeom.sf``)."""
    from scipy.stats import hypergeom

    k, big_n, big_k, n = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in
                                               (hits, population, population_errors, draws)))
    shape = k.shape
    k, big_n, big_k, n = (a.ravel() for a in (k, big_n, big_k, n))
    result = np.ones(k.shape)
    result[k > np.minimum(n, big_k)] = 0.0
    # Above the mean (and so above the support's lower end, where every ratio is finite).
    series = (k <= np.minimum(n, big_k)) & (k * big_n > n * big_k)
    if series.any():
        sk, sbig_n, sbig_k, sn = k[series], big_n[series], big_k[series], n[series]
        x, top = sk.copy(), np.minimum(sn, sbig_k)
        term, total = np.ones(x.shape), np.ones(x.shape)
        for step in range(SERIES_STEPS):
            ratio = np.where(x < top, (sbig_k - x) * (sn - x) / ((x + 1) * (sbig_n - sbig_k - sn + x + 1)), 0.0)
            term *= ratio
            total += term
            x += 1
            if step % 8 == 7 and not (term > SERIES_PRECISION * total).any():
                break
        values = np.exp(log_point_probability(sk, sbig_n, sbig_k, sn)) * total
        slow = term > SERIES_PRECISION * total
        values[slow] = hypergeom.sf(sk[slow] - 1, sbig_n[slow], sbig_k[slow], sn[slow])
        result[series] = np.minimum(values, 1.0)
    rest = ~series & (k <= np.minimum(n, big_k)) & (k > 0)
    if rest.any():
        result[rest] = hypergeom.sf(k[rest] - 1, big_n[rest], big_k[rest], n[rest])
    return result.reshape(shape)


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
    if undecided.any():  # Boost's tail, not the series: a p-value equal to alpha must count as significant
        from scipy.stats import hypergeom

        significant[undecided] = hypergeom.sf(hits[undecided] - 1, population[undecided], population_errors[undecided],
                                              draws[undecided]) <= alpha
    return significant
