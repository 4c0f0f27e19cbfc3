"""The slice benchmark's verdict: when a sliceline slice counts as matched by one of ours.

The benchmark needs sliceline's own virtualenv to run, but its comparison is plain logic on
(size, lift, rows) records, so it is tested here on tables whose answer is known.
"""

import numpy as np

from benchmarks.slices import _summary, matched, matched_within_noise, refinement_evidence


def _slice(name: str, rows: np.ndarray, errors: np.ndarray) -> dict:
    return _summary(name, len(rows), int(errors[rows].sum()), len(errors), errors.mean(), rows)


def _errors_with(rates: dict, n: int = 4000, seed: int = 0) -> np.ndarray:
    """Error flags with exactly ``round(rate * rows)`` errors in each block of rows."""
    rng = np.random.default_rng(seed)
    errors = np.zeros(n, dtype=bool)
    for (start, stop), rate in rates.items():
        block = np.arange(start, stop)
        errors[rng.choice(block, round(rate * len(block)), replace=False)] = True
    return errors


def test_a_lucky_part_of_our_slice_is_matched_within_noise_but_not_in_the_letter() -> None:
    # Ours: rows 0-999 at 0.40. Theirs: its first half at 0.41, the second half at 0.39.
    errors = _errors_with({(0, 500): 0.41, (500, 1000): 0.39, (1000, 4000): 0.10})
    ours = [_slice("region", np.arange(1000), errors)]
    theirs = [_slice("lucky half", np.arange(500), errors)]
    evidence = refinement_evidence(ours, theirs, errors)

    assert theirs[0]["lift"] > ours[0]["lift"] and matched(ours, theirs) == 0
    assert evidence[0]["inside"] == "region" and evidence[0]["p_worse_than_the_rest"] > 0.05
    assert matched_within_noise(ours, evidence, theirs) == 1


def test_a_truly_worse_part_is_not_matched_either_way() -> None:
    # Theirs is the half of ours where the errors are: 0.70 against 0.10 in the other half.
    errors = _errors_with({(0, 500): 0.70, (500, 1000): 0.10, (1000, 4000): 0.10})
    ours = [_slice("region", np.arange(1000), errors)]
    theirs = [_slice("worse half", np.arange(500), errors)]
    evidence = refinement_evidence(ours, theirs, errors)

    assert evidence[0]["p_worse_than_the_rest"] < 1e-6
    assert matched(ours, theirs) == 0 and matched_within_noise(ours, evidence, theirs) == 0


def test_a_slice_outside_ours_is_matched_only_by_lift_and_support() -> None:
    errors = _errors_with({(0, 1000): 0.40, (1000, 1300): 0.35, (1300, 1600): 0.60, (1600, 4000): 0.10})
    ours = [_slice("region", np.arange(1000), errors)]
    theirs = [_slice("weaker, elsewhere", np.arange(1000, 1300), errors),
              _slice("stronger, elsewhere", np.arange(1300, 1600), errors)]
    evidence = refinement_evidence(ours, theirs, errors)

    assert matched(ours, theirs) == 1
    assert [(e["slice"], e["inside"]) for e in evidence] == [("stronger, elsewhere", None)]
    assert matched_within_noise(ours, evidence, theirs) == 1
