"""Significance-aware ranks of large boards from each row's separation bounds: never a separation
the paired test does not make, counted as a loop over every pair counts it, and exact on cases
worked by hand. The loops here share no code with `scoring.statistics`."""

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scoring import metrics, statistics
from scoring.outcomes import OUTCOME_ABSTAINED, OUTCOME_CORRECT, OUTCOME_INCORRECT

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
B = 1000
# At 97.5% a winner may lose 25 of 1,000 paired resamples; the bounds leave out 12 at each end.
LEFT_OUT = 12


def reference_bounds(samples: np.ndarray) -> tuple[list[float], list[float]]:
    """Each row's 13th smallest and 13th largest resampled score, by sorting it in full."""
    lo, hi = [], []
    for row in samples:
        if any(np.isnan(value) for value in row):
            lo.append(np.nan)
            hi.append(np.nan)
        else:
            ordered = sorted(row)
            lo.append(ordered[LEFT_OUT])
            hi.append(ordered[len(ordered) - 1 - LEFT_OUT])
    return lo, hi


def reference_comparable(counts, i: int, j: int, min_items: int) -> bool:
    """The hidden-gold rule, pair by pair: counts known and ≥ `min_items` apart in one of them."""
    if not min_items or counts is None:
        return True
    if math.isnan(counts[i][0] + counts[i][1] + counts[j][0] + counts[j][1]):
        return False
    return abs(counts[i][0] - counts[j][0]) >= min_items or (
        abs(counts[i][1] - counts[j][1]) >= min_items
    )


def reference_separated(lo, hi, counts=None, min_items=0) -> np.ndarray:
    """[i, j] true where the bounds rule says j beats i: a loop over every pair."""
    lo, hi = [float(value) for value in lo], [float(value) for value in hi]
    counts = None if counts is None else [[float(c) for c in row] for row in counts]
    m = len(lo)
    separated = np.zeros((m, m), dtype=bool)
    for i in range(m):
        for j in range(m):
            if math.isnan(lo[j] + hi[i] + lo[i] + hi[j]):
                continue
            if lo[j] - hi[i] > 1e-12 and reference_comparable(counts, i, j, min_items):
                separated[i, j] = True
    return separated


def reference_ranks(separated: np.ndarray, lo) -> tuple[list[float], list[float]]:
    """1 + how many beat each row, and how many rows have bounds minus how many it beats."""
    m = len(lo)
    ranked = [i for i in range(m) if not np.isnan(lo[i])]
    rank, worst = [np.nan] * m, [np.nan] * m
    for i in ranked:
        rank[i] = 1 + sum(bool(separated[i, j]) for j in range(m))
        worst[i] = len(ranked) - sum(bool(separated[j, i]) for j in range(m))
    return rank, worst


def paired_significant(samples: np.ndarray, counts=None, min_items=0) -> np.ndarray:
    """[i, j] true where j scores higher than i in at least 97.5% of the paired resamples."""
    m = len(samples)
    significant = np.zeros((m, m), dtype=bool)
    for i in range(m):
        for j in range(m):
            if np.isnan(samples[i]).any() or np.isnan(samples[j]).any():
                continue
            higher = np.count_nonzero(samples[j] - samples[i] > 1e-12)
            significant[i, j] = higher >= 0.975 * len(samples[i]) and reference_comparable(
                counts, i, j, min_items
            )
    return significant


def assert_never_more_than_paired(samples, counts=None, min_items=0):
    """The bounds' separations are among the paired test's, and so are their ranks."""
    lo, hi = statistics.separation_bounds(samples)
    np.testing.assert_array_equal(np.vstack([lo, hi]), np.vstack(reference_bounds(samples)))
    claimed = reference_separated(lo, hi, counts, min_items)
    paired = paired_significant(samples, counts, min_items)
    assert not (claimed & ~paired).any(), np.argwhere(claimed & ~paired)
    rank, worst = statistics.ranks_from_bounds(lo, hi, answered=counts, min_items=min_items)
    np.testing.assert_array_equal(np.vstack([rank, worst]), np.vstack(reference_ranks(claimed, lo)))
    comparable = None
    if min_items and counts is not None:
        comparable = np.array(
            [
                [reference_comparable(counts, i, j, min_items) for j in range(len(lo))]
                for i in range(len(lo))
            ]
        )
    ranks = statistics.significance_ranks(samples, comparable=comparable)
    scored = ~np.isnan(ranks.rank)
    np.testing.assert_array_equal(scored, ~np.isnan(rank))
    assert (rank[scored] <= ranks.rank[scored]).all()
    assert (worst[scored] >= ranks.low[scored]).all()
    return claimed, paired


# --- worked by hand ------------------------------------------------------------------------


def test_it_leaves_out_12_of_1000_resamples_at_each_end():
    assert statistics.separation_depth(1000) == 12
    assert statistics.separation_depth(2000) == 25
    assert statistics.separation_depth(40) == 0  # one lost resample is already 2.5%
    row = np.random.default_rng(1).permutation(np.arange(1000.0))
    lo, hi = statistics.separation_bounds(np.vstack([row, np.full(1000, np.nan)]))
    assert lo[0] == 12 and hi[0] == 987
    assert np.isnan(lo[1]) and np.isnan(hi[1])


def test_it_has_no_bounds_without_resamples():
    lo, hi = statistics.separation_bounds(np.zeros((3, 0)))
    assert np.isnan(lo).all() and np.isnan(hi).all()


def pair(j_low: int, i_high: int) -> np.ndarray:
    """Row i scores 0 and row j 1, except that j drops to 0 in its first `j_low` resamples and
    i rises to 2 in the `i_high` after those: j is higher in B − j_low − i_high of them."""
    i = np.zeros(B)
    i[j_low : j_low + i_high] = 2.0
    j = np.ones(B)
    j[:j_low] = 0.0
    return np.vstack([i, j])


def test_it_separates_a_pair_that_loses_12_resamples_at_each_end():
    samples = pair(12, 12)  # j higher in 976 of 1,000
    claimed, paired = assert_never_more_than_paired(samples)
    assert claimed[0, 1] and paired[0, 1]
    rank, worst = statistics.ranks_from_bounds(*statistics.separation_bounds(samples))
    assert list(rank) == [2, 1] and list(worst) == [2, 1]


def test_it_does_not_separate_a_pair_that_loses_13_resamples_at_one_end():
    # Higher in 975 of 1,000: the paired test separates them, the bounds do not (they may
    # separate fewer pairs, never more).
    claimed, paired = assert_never_more_than_paired(pair(13, 12))
    assert paired[0, 1] and not claimed[0, 1]


def test_it_does_not_separate_a_pair_the_paired_test_does_not():
    # j is higher in only 950 of 1,000 paired resamples, though each row on its own lies beyond
    # the other's 2.5th percentile (the 95% intervals do not overlap): not a separation.
    samples = pair(25, 25)
    claimed, paired = assert_never_more_than_paired(samples)
    assert not paired[0, 1] and not claimed[0, 1]
    low_j = np.quantile(samples[1], 0.025)
    high_i = np.quantile(samples[0], 0.975)
    assert low_j > high_i


def test_it_ranks_from_bounds_in_a_hand_computed_case():
    # A and C overlap; both are above B; D has no score; E is a hair (5e-13) above C's top.
    lo = [0.50, 0.10, 0.45, np.nan, 0.55 + 5e-13]
    hi = [0.60, 0.20, 0.55, np.nan, 0.70]
    rank, worst = statistics.ranks_from_bounds(lo, hi)
    np.testing.assert_array_equal(rank, [1, 4, 1, np.nan, 1])
    np.testing.assert_array_equal(worst, [3, 4, 3, np.nan, 3])


def test_it_never_separates_rows_whose_counts_are_too_close_on_a_hidden_gold_benchmark():
    lo = [0.50, 0.10, 0.30, 0.0]
    hi = [0.60, 0.20, 0.40, 0.05]
    # Apart, A > C > B > D. With K = 4: A is within 3 answers of B and of C in both counts,
    # never told apart from them; C is 4 correct answers from B; D has no counts.
    counts = [[10, 5], [7, 3], [11, 3], [np.nan, np.nan]]
    rank, worst = statistics.ranks_from_bounds(lo, hi, answered=counts, min_items=4)
    np.testing.assert_array_equal(rank, [1, 2, 1, 1])
    np.testing.assert_array_equal(worst, [4, 4, 3, 4])
    rank, worst = statistics.ranks_from_bounds(lo, hi, answered=counts, min_items=0)
    np.testing.assert_array_equal(rank, [1, 3, 2, 4])
    np.testing.assert_array_equal(worst, [1, 3, 2, 4])


def test_it_ranks_an_empty_board_and_one_without_scores():
    rank, worst = statistics.ranks_from_bounds([], [])
    assert len(rank) == len(worst) == 0
    rank, worst = statistics.ranks_from_bounds(
        [np.nan, np.nan], [np.nan, np.nan], answered=[[1, 2], [3, 4]], min_items=2
    )
    assert np.isnan(rank).all() and np.isnan(worst).all()


# --- boards where both apply ----------------------------------------------------------------


@st.composite
def boards(draw):
    """Runs of a small benchmark with their real paired resamples, scored at one target: some
    runs alike (ties), some without a score, some without counts."""
    n_items = draw(st.integers(5, 60))
    m = draw(st.integers(1, 14))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    right = rng.uniform(0, 1, m)
    wrong = rng.uniform(0, 1 - right)
    runs = [
        rng.choice(
            [OUTCOME_CORRECT, OUTCOME_INCORRECT, OUTCOME_ABSTAINED],
            size=n_items,
            p=[right[r], wrong[r], 1 - right[r] - wrong[r]],
        )
        for r in range(m)
    ]
    for copy in draw(st.lists(st.integers(0, m - 1), max_size=3)):
        runs.append(runs[copy].copy())
    counts = statistics.bootstrap_counts(runs, seed=draw(st.integers(0, 50)))
    t = draw(st.sampled_from([0.0, 0.5, 0.75, 0.9]))
    samples = np.vstack([statistics.score_samples(c, n_items, t) for c in counts])
    for row in draw(st.lists(st.integers(0, len(runs) - 1), max_size=2)):
        samples[row] = np.nan
    answered = np.array(
        [
            [np.count_nonzero(run == OUTCOME_CORRECT), np.count_nonzero(run == OUTCOME_INCORRECT)]
            for run in runs
        ],
        dtype=float,
    )
    for row in draw(st.lists(st.integers(0, len(runs) - 1), max_size=2)):
        answered[row] = np.nan
    return samples, answered, draw(st.sampled_from([0, 0, 1, 2, 5]))


@SETTINGS
@given(boards())
def test_it_separates_no_pair_the_paired_test_does_not_on_real_resamples(board):
    samples, answered, min_items = board
    assert_never_more_than_paired(samples, answered, min_items)


@SETTINGS
@given(
    st.integers(2, 12),
    st.integers(0, 2**32 - 1),
    st.floats(0.0, 0.9),
)
def test_it_separates_no_pair_the_paired_test_does_not_when_rows_move_against_each_other(
    m, seed, pairing
):
    # Each row follows a noise shared by all, with its sign or against it: rows moving against
    # each other are further apart in the paired resamples than their own spreads suggest, the
    # case a looser rule (the 2.5th and 97.5th percentiles of each row) gets wrong.
    rng = np.random.default_rng(seed)
    shared = rng.normal(size=B)
    sign = rng.choice([-1.0, 1.0], size=(m, 1))
    noise = pairing * sign * shared + np.sqrt(1 - pairing**2) * rng.normal(size=(m, B))
    samples = rng.normal(size=(m, 1)) * 0.1 + 0.02 * noise
    assert_never_more_than_paired(samples)


def test_it_keeps_most_of_the_paired_tests_separations_on_a_typical_board():
    rng = np.random.default_rng(5)
    samples = rng.normal(size=(40, 1)) * 0.05 + rng.normal(size=(40, B)) * 0.01
    claimed, paired = assert_never_more_than_paired(samples)
    # Close pairs need a wider gap between the bounds (each row's own 1.25% tail) than the
    # paired test needs between their scores: 360 of the paired test's 506 here.
    assert 0.6 * paired.sum() < claimed.sum() < paired.sum()


def test_it_ranks_by_the_bounds_as_in_one_worked_example_of_real_scores():
    # Two runs of 20 items, one right on 15 and wrong on 2, the other right on 5 and wrong on 10:
    # at t = 0.5 the first is far ahead in every resample, so both methods separate them.
    first = np.array([OUTCOME_CORRECT] * 15 + [OUTCOME_INCORRECT] * 2 + [OUTCOME_ABSTAINED] * 3)
    second = np.array([OUTCOME_CORRECT] * 5 + [OUTCOME_INCORRECT] * 10 + [OUTCOME_ABSTAINED] * 5)
    counts = statistics.bootstrap_counts([first, second], seed=1)
    samples = np.vstack([statistics.score_samples(c, 20, 0.5) for c in counts])
    claimed, paired = assert_never_more_than_paired(samples)
    assert claimed[1, 0] and paired[1, 0]
    assert metrics.score_at_target(15, 2, 20, 0.5) > metrics.score_at_target(5, 10, 20, 0.5)


# --- counting in n log n, as a loop over every pair counts -----------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_it_counts_as_a_loop_over_every_pair_does(seed):
    rng = np.random.default_rng(seed)
    m = 300
    # Bounds on a coarse grid (many equal), pairs a hair apart, rows without bounds; counts on
    # a small grid, so that many rows are within K of each other, and some unknown.
    middle = np.round(rng.normal(size=m) * 0.1, 2)
    width = np.round(rng.uniform(0, 0.08, size=m), 2)
    lo, hi = middle - width, middle + width
    lo[:10] = hi[10:20] + rng.choice([0, 5e-13, 1e-12, 2e-12], size=10)
    hi[:10] = np.maximum(hi[:10], lo[:10])
    lo[rng.random(m) < 0.05] = np.nan
    counts = rng.integers(0, 25, size=(m, 2)).astype(float)
    counts[rng.random(m) < 0.05] = np.nan
    for min_items in (0, 1, 3, 7, 30):
        rank, worst = statistics.ranks_from_bounds(lo, hi, answered=counts, min_items=min_items)
        expected = reference_ranks(reference_separated(lo, hi, counts, min_items), lo)
        np.testing.assert_array_equal(np.vstack([rank, worst]), np.vstack(expected))


@pytest.mark.parametrize("budget", [0, 16_000_000])
@pytest.mark.parametrize("seed", range(3))
def test_it_counts_close_rows_one_by_one_and_by_table_alike(seed, budget, monkeypatch):
    # Many rows with counts in a small range: within K of each other in a cell's neighbours,
    # counted by table unless the table is not allowed (budget 0).
    monkeypatch.setattr(statistics, "_TABLE_BUDGET", budget)
    rng = np.random.default_rng(seed)
    m = 400
    lo = np.round(rng.uniform(0, 1, m), 2)
    hi = lo + np.round(rng.uniform(0, 0.2, m), 2)
    counts = rng.integers(0, 9, size=(m, 2)).astype(float)
    counts[rng.random(m) < 0.03] = np.nan
    lo[rng.random(m) < 0.03] = np.nan
    for min_items in (1, 2, 3, 4):
        rank, worst = statistics.ranks_from_bounds(lo, hi, answered=counts, min_items=min_items)
        expected = reference_ranks(reference_separated(lo, hi, counts, min_items), lo)
        np.testing.assert_array_equal(np.vstack([rank, worst]), np.vstack(expected))


def test_it_counts_close_rows_in_blocks_as_in_one_piece(monkeypatch):
    rng = np.random.default_rng(9)
    m = 200
    lo = rng.uniform(0, 1, m)
    hi = lo + rng.uniform(0, 0.05, m)
    counts = rng.integers(0, 6, size=(m, 2)).astype(float)
    whole = statistics.ranks_from_bounds(lo, hi, answered=counts, min_items=4)
    monkeypatch.setattr(statistics, "_CLOSE_BLOCK", 7)
    blocks = statistics.ranks_from_bounds(lo, hi, answered=counts, min_items=4)
    np.testing.assert_array_equal(np.vstack(whole), np.vstack(blocks))
    expected = reference_ranks(reference_separated(lo, hi, counts, 4), lo)
    np.testing.assert_array_equal(np.vstack(blocks), np.vstack(expected))


def test_it_states_where_boards_switch_and_which_resamples_the_bounds_leave_out():
    repo = Path(__file__).resolve().parents[2]
    depth = statistics.separation_depth(statistics.N_RESAMPLES)
    for text in (
        (repo / "README.md").read_text(),
        (repo / "templates" / "methods.html").read_text(),
    ):
        words = " ".join(text.split())
        assert f"more than {statistics.PAIRED_MAX_ROWS} ranked" in words or (
            f"Above {statistics.PAIRED_MAX_ROWS} ranked" in words
        )
        assert f"{depth + 1}th" in words
        assert f"{statistics.N_RESAMPLES - 2 * depth} of the" in words


def test_it_keeps_apart_exactly_the_pairs_the_board_keeps_apart_on_a_hidden_gold_benchmark():
    # The counts as the board passes them, and its own rule for which pairs may be told apart.
    from leaderboard.boards import Cell, Row, far_enough_apart

    rng = np.random.default_rng(4)
    m, k = 60, 5
    answered = [
        None if rng.random() < 0.1 else (int(c), int(w)) for c, w in rng.integers(0, 15, (m, 2))
    ]
    rows = [
        Row(
            id=i,
            model=f"m{i}",
            organisation="",
            url="",
            self_graded=False,
            private=False,
            metrics={},
            counts={},
            cells={"0.5": Cell(score=0.0, rank=None, rank_shift=None, prompted=False, answered=a)},
        )
        for i, a in enumerate(answered)
    ]
    counts = np.array([(np.nan, np.nan) if a is None else a for a in answered], dtype=float)
    lo = np.round(rng.uniform(0, 1, m), 1)
    hi = lo + 0.05
    apart = far_enough_apart(rows, "0.5", k)
    separated = statistics.higher(lo[None, :], hi[:, None]) & apart
    rank, worst = statistics.ranks_from_bounds(lo, hi, answered=counts, min_items=k)
    expected_rank, expected_worst = statistics.ranks_from_significant(separated, np.ones(m, bool))
    np.testing.assert_array_equal(rank, expected_rank)
    np.testing.assert_array_equal(worst, expected_worst)
    assert separated.any() and (~apart & statistics.higher(lo[None, :], hi[:, None])).any()
