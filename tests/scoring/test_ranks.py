"""Ranks with ties, rank shifts against binary, and Kendall's tau-b."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from scoring import kendall_tau_b, rank_table, rank_with_ties


def test_it_ranks_highest_first_with_ties_sharing_the_best_rank():
    ranks = rank_with_ties([0.9, 0.5, 0.5, 0.1])
    assert list(ranks) == [1, 2, 2, 4]


def test_it_ties_scores_within_1e_12():
    ranks = rank_with_ties([0.3, 0.3 + 5e-13, 0.3 - 1e-11])
    assert list(ranks) == [1, 1, 3]


def test_it_gives_no_rank_to_no_score():
    ranks = rank_with_ties([np.nan, 0.2, 0.7, np.nan])
    assert np.isnan(ranks[0]) and np.isnan(ranks[3])
    assert list(ranks[1:3]) == [2, 1]


def test_it_ranks_an_empty_board():
    assert len(rank_with_ties([])) == 0


@pytest.mark.parametrize("seed", range(5))
def test_it_agrees_with_scipy_on_random_data(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=200)
    y = x + rng.normal(size=200)
    assert kendall_tau_b(x, y) == pytest.approx(stats.kendalltau(x, y).statistic, abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_it_agrees_with_scipy_with_ties(seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 5, size=300).astype(float)
    y = rng.integers(0, 4, size=300).astype(float)
    assert kendall_tau_b(x, y) == pytest.approx(stats.kendalltau(x, y).statistic, abs=1e-12)


def test_it_agrees_with_scipy_past_one_block_of_rows():
    rng = np.random.default_rng(7)
    x = rng.integers(0, 50, size=2500).astype(float)
    y = x + rng.integers(0, 20, size=2500)
    assert kendall_tau_b(x, y) == pytest.approx(stats.kendalltau(x, y).statistic, abs=1e-12)


def test_it_has_no_tau_when_it_is_undefined():
    assert math.isnan(kendall_tau_b([1.0], [2.0]))
    assert math.isnan(kendall_tau_b([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]))
    assert math.isnan(kendall_tau_b([1.0, np.nan], [np.nan, 2.0]))


def test_it_leaves_out_pairs_with_a_missing_side():
    x = [1.0, 2.0, np.nan, 3.0]
    y = [1.0, 2.0, 5.0, 3.0]
    assert kendall_tau_b(x, y) == pytest.approx(1.0)


def board() -> pd.DataFrame:
    # o4-mini guesses, thinking-mini abstains: the paper's example
    return pd.DataFrame(
        {"0": [0.24, 0.22, 0.10], "0.5": [-0.51, -0.04, 0.05], "0.9": [-6.51, -2.12, 0.01]},
        index=["o4-mini", "thinking-mini", "careful"],
    )


def test_it_ranks_every_rubric_and_shifts_against_binary():
    table, _ = rank_table(board(), ["0", "0.5", "0.9"])
    assert list(table.index) == ["o4-mini", "thinking-mini", "careful"]
    assert list(table["rank_0"]) == [1, 2, 3]
    assert list(table["rank_0.5"]) == [3, 2, 1]
    # positive: moved up
    assert table.loc["careful", "rank_shift_0.5"] == 2
    assert table.loc["o4-mini", "rank_shift_0.5"] == -2
    assert table.loc["thinking-mini", "rank_shift_0.9"] == 0
    assert "rank_shift_0" not in table.columns


def test_it_measures_the_reordering_with_kendall_tau():
    _, taus = rank_table(board(), ["0", "0.5", "0.9"])
    assert taus == {"0.5": pytest.approx(-1.0), "0.9": pytest.approx(-1.0)}


def test_it_puts_rows_without_a_binary_score_last_by_their_best_rank():
    scores = pd.DataFrame(
        {"0": [np.nan, 0.5, np.nan, 0.2], "0.5": [0.9, 0.1, 0.3, 0.0]},
        index=["a", "b", "c", "d"],
    )
    table, taus = rank_table(scores, ["0", "0.5"])
    assert list(table.index) == ["b", "d", "a", "c"]
    assert np.isnan(table.loc["a", "rank_shift_0.5"])
    assert taus["0.5"] == pytest.approx(1.0)


def test_it_has_no_tau_with_fewer_than_two_rows_scored_both_ways():
    scores = pd.DataFrame({"0": [0.5, np.nan], "0.5": [np.nan, 0.1]}, index=["a", "b"])
    _, taus = rank_table(scores, ["0", "0.5"])
    assert math.isnan(taus["0.5"])


def test_it_refuses_rubric_keys_without_binary():
    with pytest.raises(ValueError, match="binary"):
        rank_table(board(), ["0.5"])
