"""Comparing two submissions item by item: how often they agree, and how they differ."""

from __future__ import annotations

import numpy as np

from scoring.outcomes import (
    OUTCOME_ABSTAINED,
    OUTCOME_CORRECT,
    OUTCOME_INCORRECT,
    OUTCOME_MISSING,
    counted_outcome,
)

# Rows and columns of the agreement matrix, in this order.
AGREEMENT_OUTCOMES = ("correct", "abstained", "incorrect")
_COLUMN = {OUTCOME_CORRECT: 0, OUTCOME_ABSTAINED: 1, OUTCOME_INCORRECT: 2}
_INDEX = {
    code: _COLUMN[counted_outcome(code)]
    for code in (OUTCOME_CORRECT, OUTCOME_ABSTAINED, OUTCOME_MISSING, OUTCOME_INCORRECT)
}


def agreement_matrix(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Counts of items by (first's outcome, second's outcome), as a 3 × 3 integer matrix.

    Rows follow the first submission, columns the second, both in AGREEMENT_OUTCOMES order;
    a missing item counts as abstained, as it does in every score.
    """
    first = np.asarray(first)
    second = np.asarray(second)
    if first.shape != second.shape:
        raise ValueError("both submissions must have one outcome per item of the same benchmark")
    lookup = np.zeros(max(_INDEX) + 1, dtype=np.int64)
    for code, index in _INDEX.items():
        lookup[code] = index
    cells = lookup[first] * 3 + lookup[second]
    return np.bincount(cells, minlength=9).reshape(3, 3)


def agreement_disclosed(first: np.ndarray, second: np.ndarray, *, min_items: int) -> bool:
    """Whether two runs' agreement matrix may be shown when no figure may cover fewer than
    `min_items` items (a benchmark whose gold is hidden); always with `min_items` 0.

    The runs' own counts are public, so a cell can be worked out from the others: the matrix is
    shown whole or not at all. Which items each run answered needs no gold, so the items
    answered by both, by the first only and by the second only must each be none or at least
    `min_items`; and among the items both answered each of the four cells (correct or wrong by
    each) must count at least `min_items`, or two files that differ in a few answers would show
    how those few were graded.
    """
    if not min_items:
        return True
    first = np.asarray(first)
    second = np.asarray(second)
    answered = (first == OUTCOME_CORRECT) | (first == OUTCOME_INCORRECT)
    other = (second == OUTCOME_CORRECT) | (second == OUTCOME_INCORRECT)
    groups = [answered & other, answered & ~other, ~answered & other]
    if any(0 < np.count_nonzero(group) < min_items for group in groups):
        return False
    both = groups[0]
    if not both.any():
        return True
    cells = agreement_matrix(first[both], second[both])[np.ix_([0, 2], [0, 2])]
    return bool((cells >= min_items).all())
