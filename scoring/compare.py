"""Comparing two submissions item by item: how often they agree, and how they differ."""

from __future__ import annotations

import numpy as np

from scoring.grading import (
    OUTCOME_ABSTAINED,
    OUTCOME_CORRECT,
    OUTCOME_INCORRECT,
    OUTCOME_MISSING,
)

# Rows and columns of the agreement matrix, in this order.
AGREEMENT_OUTCOMES = ("correct", "abstained", "incorrect")
_INDEX = {OUTCOME_CORRECT: 0, OUTCOME_ABSTAINED: 1, OUTCOME_MISSING: 1, OUTCOME_INCORRECT: 2}


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
