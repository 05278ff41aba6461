"""Every formula of SPEC §5, in one place: rates, the score at a confidence target, ranks, tau,
and the reference scores of the baselines (abstaining on everything scores 0; uniform guessing).

`N` is the number of items in the benchmark; `C`, `W`, `A` count correct, incorrect and abstained
items (missing items are abstained). The functions take plain numbers or NumPy arrays, so the same
formula draws a curve of scores over many targets.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from scoring.outcomes import OUTCOME_CORRECT, OUTCOME_INCORRECT

SCORE_TIE_TOLERANCE = 1e-12


def _ratio(numerator: ArrayLike, denominator: ArrayLike) -> float | np.ndarray:
    """numerator / denominator, 0 where the denominator is 0."""
    numerator = np.asarray(numerator, dtype=float)
    denominator = np.asarray(denominator, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(denominator == 0, 0.0, numerator / denominator)
    return float(out) if out.ndim == 0 else out


def penalty(t: ArrayLike) -> float | np.ndarray:
    """Points lost for a wrong answer at confidence target t: t / (1 − t)."""
    t = np.asarray(t, dtype=float)
    out = t / (1.0 - t)
    return float(out) if out.ndim == 0 else out


def score_at_target(
    correct: ArrayLike, incorrect: ArrayLike, n_items: ArrayLike, t: ArrayLike
) -> float | np.ndarray:
    """(C − t/(1 − t) · W) / N; t = 0 gives accuracy. Any argument may be an array."""
    correct = np.asarray(correct, dtype=float)
    incorrect = np.asarray(incorrect, dtype=float)
    n_items = np.asarray(n_items, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (correct - penalty(t) * incorrect) / n_items
    return float(out) if np.ndim(out) == 0 else out


def uniform_guessing_score(n_options: ArrayLike, t: ArrayLike) -> float | np.ndarray:
    """The expected score at t of answering every item with one of its options picked at random.

    An item with k options is right with p = 1/k and wrong otherwise, so its expected score is
    p − t/(1 − t) · (1 − p); the benchmark's is the mean over its items (binary: the mean of 1/k).
    The score is linear in p, so that mean is the mean p put into the same expression. `t` may be
    an array of targets.
    """
    chance = float(np.mean(1.0 / np.asarray(n_options, dtype=float)))
    out = chance - penalty(t) * (1.0 - chance)
    return float(out) if np.ndim(out) == 0 else out


def accuracy(correct: ArrayLike, n_items: ArrayLike) -> float | np.ndarray:
    """C / N."""
    return _ratio(correct, n_items)


def error_rate(incorrect: ArrayLike, n_items: ArrayLike) -> float | np.ndarray:
    """W / N."""
    return _ratio(incorrect, n_items)


def abstention_rate(abstained: ArrayLike, n_items: ArrayLike) -> float | np.ndarray:
    """A / N (missing items included in A)."""
    return _ratio(abstained, n_items)


def coverage(present: ArrayLike, n_items: ArrayLike) -> float | np.ndarray:
    """Items present in the file / N."""
    return _ratio(present, n_items)


def accuracy_given_attempted(correct: ArrayLike, incorrect: ArrayLike) -> float | np.ndarray:
    """C / (C + W), 0 when nothing was attempted."""
    return _ratio(correct, np.add(correct, incorrect))


def f1(accuracy: ArrayLike, accuracy_given_attempted: ArrayLike) -> float | np.ndarray:
    """SimpleQA's F1: the harmonic mean of accuracy and accuracy given attempted, 0 when both 0."""
    accuracy = np.asarray(accuracy, dtype=float)
    given_attempted = np.asarray(accuracy_given_attempted, dtype=float)
    return _ratio(2 * accuracy * given_attempted, accuracy + given_attempted)


def score_abstaining_below(outcomes: np.ndarray, confidence: np.ndarray, t: float) -> float:
    """The score at t had the model abstained on every item whose stated confidence is below t.

    Items without a stated confidence keep their outcome.
    """
    outcomes = np.asarray(outcomes)
    confidence = np.asarray(confidence, dtype=float)
    answered = ~(confidence < t)
    correct = np.count_nonzero(answered & (outcomes == OUTCOME_CORRECT))
    incorrect = np.count_nonzero(answered & (outcomes == OUTCOME_INCORRECT))
    return score_at_target(correct, incorrect, len(outcomes), t)


def rank_with_ties(scores: ArrayLike) -> np.ndarray:
    """Ranks by score, highest first; scores within 1e-12 share the best rank (1, 2, 2, 4).

    NaN scores get a NaN rank.
    """
    scores = np.asarray(scores, dtype=float)
    ranks = np.full(scores.shape, np.nan)
    scored = np.flatnonzero(~np.isnan(scores))
    if not len(scored):
        return ranks
    order = scored[np.argsort(-scores[scored], kind="stable")]
    ordered = scores[order]
    starts = np.concatenate([[True], (ordered[:-1] - ordered[1:]) > SCORE_TIE_TOLERANCE])
    places = np.arange(1, len(order) + 1)
    ranks[order] = np.maximum.accumulate(np.where(starts, places, 0))
    return ranks


def kendall_tau_b(x: ArrayLike, y: ArrayLike) -> float:
    """Kendall's tau-b between two rankings (pairs where either is NaN left out).

    NaN when fewer than two pairs remain or either side is all ties. Counted as Knight (1966)
    does, in n log n: sorted by x (then y), the discordant pairs are the inversions of y.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    n = len(x)
    if n < 2:
        return float("nan")
    # Equal values are ties, as in a comparison of every pair; dense codes keep the order.
    x_code = np.unique(x, return_inverse=True)[1].reshape(-1)
    y_code = np.unique(y, return_inverse=True)[1].reshape(-1)
    order = np.lexsort((y_code, x_code))
    x_sorted, y_sorted = x_code[order], y_code[order]
    pairs = n * (n - 1) // 2
    tied_x = _tied_pairs(x_sorted)
    tied_y = _tied_pairs(np.sort(y_code))
    same = np.concatenate(
        [[False], (x_sorted[1:] == x_sorted[:-1]) & (y_sorted[1:] == y_sorted[:-1])]
    )
    tied_both = _tied_pairs(np.cumsum(~same))
    discordant = _inversions(y_sorted)
    denominator = np.sqrt(float(pairs - tied_x) * float(pairs - tied_y))
    if denominator == 0:
        return float("nan")
    return float((pairs - tied_x - tied_y + tied_both - 2 * discordant) / denominator)


def _tied_pairs(ordered: np.ndarray) -> int:
    """Pairs of equal values in a sorted array: the sum of t(t − 1)/2 over its runs."""
    starts = np.flatnonzero(np.concatenate([[True], ordered[1:] != ordered[:-1]]))
    sizes = np.diff(np.append(starts, len(ordered)))
    return int(np.sum(sizes * (sizes - 1) // 2))


def _inversions(values: np.ndarray) -> int:
    """Pairs i < j with values[i] > values[j] (ties are none), by a bottom-up merge sort: at
    each width, every element of a right run counts the elements of its left run above it, all
    runs at once by one binary search over keys offset by run."""
    values = np.asarray(values, dtype=np.int64)
    n = len(values)
    span = int(values.max()) + 2 if n else 1
    index = np.arange(n)
    total = 0
    width = 1
    while width < n:
        pair = index // (2 * width)
        left = (index // width) % 2 == 0
        # Left runs are sorted, and offset by their pair: their keys are sorted throughout.
        left_keys = pair[left] * span + values[left]
        right_pair, right_values = pair[~left], values[~left]
        above = np.searchsorted(left_keys, right_pair * span + span - 1, side="left")
        above -= np.searchsorted(left_keys, right_pair * span + right_values, side="right")
        total += int(above.sum())
        values = values[np.lexsort((values, pair))]
        width *= 2
    return total
