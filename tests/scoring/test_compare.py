"""The agreement matrix of two submissions, item by item."""

import numpy as np
import pytest

from scoring import (
    OUTCOME_ABSTAINED,
    OUTCOME_CORRECT,
    OUTCOME_INCORRECT,
    OUTCOME_MISSING,
    agreement_matrix,
)

C, W, A, M = OUTCOME_CORRECT, OUTCOME_INCORRECT, OUTCOME_ABSTAINED, OUTCOME_MISSING


def test_it_counts_each_pair_of_outcomes():
    first = np.array([C, C, C, W, W, A, M, A], dtype=np.int8)
    second = np.array([C, W, A, W, C, C, W, M], dtype=np.int8)
    # rows: first correct / abstained / incorrect; columns: the same for second
    assert agreement_matrix(first, second).tolist() == [
        [1, 1, 1],  # C,C  C,A  C,W
        [1, 1, 1],  # A,C  A/M,A/M  M,W
        [1, 0, 1],  # W,C  -  W,W
    ]


def test_it_adds_up_to_the_items_and_to_each_side_counts():
    rng = np.random.default_rng(7)
    first = rng.choice([C, W, A, M], size=1000).astype(np.int8)
    second = rng.choice([C, W, A, M], size=1000).astype(np.int8)
    matrix = agreement_matrix(first, second)
    assert matrix.sum() == 1000
    assert matrix[0].sum() == np.count_nonzero(first == C)
    assert matrix[:, 2].sum() == np.count_nonzero(second == W)


def test_it_refuses_outcomes_of_different_benchmarks():
    with pytest.raises(ValueError):
        agreement_matrix(np.array([C, W], dtype=np.int8), np.array([C], dtype=np.int8))
