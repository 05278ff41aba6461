"""Bootstrap intervals, significance-aware ranks and calibration, against hand-computed cases and
against direct loops that share no code with `scoring.statistics`."""

from itertools import permutations, product

import numpy as np
import pytest

from scoring import (
    BenchmarkConfig,
    metrics,
    read_gold,
    read_predictions,
    score_predictions,
    statistics,
    target_key,
)
from scoring.outcomes import (
    OUTCOME_ABSTAINED,
    OUTCOME_CORRECT,
    OUTCOME_INCORRECT,
    OUTCOME_MISSING,
)

C, W, A, M = OUTCOME_CORRECT, OUTCOME_INCORRECT, OUTCOME_ABSTAINED, OUTCOME_MISSING


def reference_indices(n_items: int, seed: int, n_resamples: int) -> np.ndarray:
    """The resamples drawn in one call, as documented: item indices with replacement."""
    rng = np.random.default_rng(np.random.SeedSequence([0x5EED, seed]))
    return rng.integers(0, n_items, size=(n_resamples, n_items))


def reference_counts(outcomes: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """A loop over resamples and items: no vectorisation to share a mistake with."""
    counts = np.zeros((2, len(indices)), dtype=int)
    for b, resample in enumerate(indices):
        for i in resample:
            if outcomes[i] == C:
                counts[0, b] += 1
            elif outcomes[i] == W:
                counts[1, b] += 1
    return counts


def random_outcomes(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).choice([M, C, W, A], size=n, p=[0.1, 0.4, 0.3, 0.2])


def test_it_counts_each_resample_as_a_direct_loop_does():
    outcomes = random_outcomes(37, seed=1)
    counts = statistics.bootstrap_counts(outcomes, seed=11, n_resamples=200)
    expected = reference_counts(outcomes, reference_indices(37, seed=11, n_resamples=200))
    assert counts.shape == (2, 200)
    np.testing.assert_array_equal(counts, expected)


def test_it_draws_the_same_resamples_in_blocks_as_in_one_piece(monkeypatch):
    # A benchmark too large to cache is drawn block by block: the resamples must not change.
    monkeypatch.setattr(statistics, "_CACHED_DRAWS", 0)
    monkeypatch.setattr(statistics, "_BLOCK_DRAWS", 7 * 53)
    outcomes = random_outcomes(53, seed=2)
    counts = statistics.bootstrap_counts(outcomes, seed=5, n_resamples=100)
    expected = reference_counts(outcomes, reference_indices(53, seed=5, n_resamples=100))
    np.testing.assert_array_equal(counts, expected)


def test_it_resamples_every_submission_of_a_benchmark_alike():
    first, second = random_outcomes(40, seed=3), random_outcomes(40, seed=4)
    together = statistics.bootstrap_counts([first, second], seed=9, n_resamples=100)
    np.testing.assert_array_equal(
        together[0], statistics.bootstrap_counts(first, seed=9, n_resamples=100)
    )
    np.testing.assert_array_equal(
        together[1], statistics.bootstrap_counts(second, seed=9, n_resamples=100)
    )
    other_seed = statistics.bootstrap_counts(first, seed=10, n_resamples=100)
    assert not np.array_equal(together[0], other_seed)


def test_it_keeps_the_item_draws_of_every_benchmark_up_to_16_million_draws():
    # Stored bootstraps and intervals of benchmarks this small stay exactly as they were.
    assert not statistics.resamples_in_blocks(16_000, 1000)
    assert statistics.resamples_in_blocks(16_001, 1000)
    outcomes = random_outcomes(16_000, seed=12)
    counts = statistics.bootstrap_counts(outcomes, seed=3, n_resamples=1000)
    drawn = outcomes[reference_indices(16_000, seed=3, n_resamples=1000)]
    np.testing.assert_array_equal(counts[0], np.count_nonzero(drawn == C, axis=1))
    np.testing.assert_array_equal(counts[1], np.count_nonzero(drawn == W, axis=1))


# A benchmark over 16 million item draws: resampled in blocks of items.
N_LARGE, B_LARGE = 50_000, 1000


def test_it_resamples_a_large_benchmark_in_blocks_that_hold_all_its_items():
    assert statistics.resamples_in_blocks(N_LARGE, B_LARGE)
    for n in (N_LARGE, 16_001, 16_000 * 3 + 7):
        counts = statistics.bootstrap_counts(np.full(n, C), seed=1, n_resamples=B_LARGE)
        assert (counts[0] == n).all() and (counts[1] == 0).all()
    mixed = random_outcomes(N_LARGE, seed=13)
    counts = statistics.bootstrap_counts(mixed, seed=1, n_resamples=B_LARGE)
    assert (counts.sum(axis=0) <= N_LARGE).all()
    assert len(np.unique(counts[0])) > 100  # resamples, not copies of the benchmark


def test_it_resamples_every_submission_of_a_large_benchmark_alike():
    first, second = random_outcomes(N_LARGE, seed=3), random_outcomes(N_LARGE, seed=4)
    together = statistics.bootstrap_counts([first, second], seed=9, n_resamples=B_LARGE)
    np.testing.assert_array_equal(
        together[0], statistics.bootstrap_counts(first, seed=9, n_resamples=B_LARGE)
    )
    np.testing.assert_array_equal(
        together[1], statistics.bootstrap_counts(second, seed=9, n_resamples=B_LARGE)
    )
    statistics._item_blocks.cache_clear()  # drawn again, the same
    np.testing.assert_array_equal(
        together[1], statistics.bootstrap_counts(second, seed=9, n_resamples=B_LARGE)
    )
    other_seed = statistics.bootstrap_counts(first, seed=10, n_resamples=B_LARGE)
    assert not np.array_equal(together[0], other_seed)


def test_blocks_give_the_intervals_of_items_drawn_one_by_one(monkeypatch):
    # Both methods on one benchmark: the same intervals within their Monte-Carlo error, and the
    # same spread of paired differences between two submissions (what significance counts).
    rng = np.random.default_rng(21)
    first = rng.choice([C, W, A], size=N_LARGE, p=[0.5, 0.3, 0.2])
    second = first.copy()
    flip = rng.random(N_LARGE) < 0.03
    second[flip] = rng.choice([C, W, A], size=int(flip.sum()))
    blocks = statistics.bootstrap_counts([first, second], seed=5, n_resamples=B_LARGE)
    monkeypatch.setattr(statistics, "_ITEM_DRAWS_MAX", 10**12)
    items = statistics.bootstrap_counts([first, second], seed=5, n_resamples=B_LARGE)
    rubrics = (0.0, 0.5, 0.75, 0.9)
    for run in (0, 1):
        got = statistics.run_intervals(blocks[run], N_LARGE, rubrics)
        expected = statistics.run_intervals(items[run], N_LARGE, rubrics)
        for t in rubrics:
            samples = statistics.score_samples(items[run], N_LARGE, t)
            spread = samples.std()
            key = target_key(t)
            # Each end of a 95% interval from 1,000 resamples is off by about 0.085 standard
            # deviations; two of them differ by about 0.12: 0.5 is four times that.
            assert abs(got["scores"][key][0] - expected["scores"][key][0]) < 0.5 * spread
            assert abs(got["scores"][key][1] - expected["scores"][key][1]) < 0.5 * spread
            block_spread = statistics.score_samples(blocks[run], N_LARGE, t).std()
            assert block_spread == pytest.approx(spread, rel=0.12)
    for row in (0, 1):
        paired_blocks = (blocks[0, row] - blocks[1, row]).std()
        paired_items = (items[0, row] - items[1, row]).std()
        assert paired_blocks == pytest.approx(paired_items, rel=0.12)
        unpaired = np.sqrt(blocks[0, row].var() + blocks[1, row].var())
        assert paired_blocks < unpaired / 3


def test_it_gives_percentile_intervals_of_every_rate_and_rubric():
    outcomes = random_outcomes(30, seed=6)
    n = len(outcomes)
    counts = statistics.bootstrap_counts(outcomes, seed=1, n_resamples=500)
    intervals = statistics.run_intervals(counts, n, (0.0, 0.75))

    def percentile_interval(values: list[float]) -> list[float]:
        ordered = sorted(values)
        # numpy's default ("linear") quantile: position q·(B − 1) between order statistics.
        out = []
        for q in (0.025, 0.975):
            position = q * (len(ordered) - 1)
            low = int(position)
            fraction = position - low
            high = min(low + 1, len(ordered) - 1)
            out.append(ordered[low] + fraction * (ordered[high] - ordered[low]))
        return out

    samples = {"accuracy": [], "error_rate": [], "abstention_rate": [], "aga": [], "0.75": []}
    for resample in reference_indices(n, seed=1, n_resamples=500):
        drawn = [outcomes[i] for i in resample]
        right, wrong = drawn.count(C), drawn.count(W)
        samples["accuracy"].append(right / n)
        samples["error_rate"].append(wrong / n)
        samples["abstention_rate"].append((n - right - wrong) / n)
        samples["aga"].append(right / (right + wrong) if right + wrong else 0.0)
        samples["0.75"].append((right - 3 * wrong) / n)
    for name in ("accuracy", "error_rate", "abstention_rate"):
        assert intervals[name] == pytest.approx(percentile_interval(samples[name]))
    assert intervals["accuracy_given_attempted"] == pytest.approx(
        percentile_interval(samples["aga"])
    )
    assert intervals["scores"]["0"] == intervals["accuracy"]
    assert intervals["scores"]["0.75"] == pytest.approx(percentile_interval(samples["0.75"]))


def test_it_gives_a_point_interval_when_every_item_has_the_same_outcome():
    counts = statistics.bootstrap_counts(np.full(25, C), seed=0, n_resamples=100)
    intervals = statistics.run_intervals(counts, 25, (0.0, 0.9))
    assert intervals["accuracy"] == [1.0, 1.0]
    assert intervals["error_rate"] == [0.0, 0.0]
    assert intervals["scores"]["0.9"] == [1.0, 1.0]


def test_it_ranks_by_significance_in_a_hand_computed_case():
    # Four submissions over 40 resamples. A is always ahead of C and D; B is ahead of A in 20 of
    # 40 resamples and behind in the rest (a tie within noise); D equals C in 2 resamples.
    a = np.full(40, 0.6)
    b = np.where(np.arange(40) < 20, 0.7, 0.5)
    c = np.full(40, 0.3)
    d = np.where(np.arange(40) < 2, 0.3, 0.1)
    ranks = statistics.significance_ranks(np.stack([a, b, c, d]))
    # Who beats whom in ≥ 97.5% of resamples: A and B beat D; A beats C (100%); B beats C;
    # C beats D only in 38 of 40 resamples (95%): not significant.
    np.testing.assert_array_equal(ranks.rank, [1, 1, 3, 3])
    np.testing.assert_array_equal(ranks.low, [2, 2, 4, 4])
    assert ranks.beats[0, 1] == 0.5  # B above A in half the resamples
    assert ranks.beats[3, 2] == 38 / 40


def test_it_leaves_submissions_without_a_score_out_of_the_ranks():
    samples = np.stack([np.full(10, 0.5), np.full(10, np.nan), np.full(10, 0.1)])
    ranks = statistics.significance_ranks(samples)
    assert ranks.rank[0] == 1 and ranks.rank[2] == 2
    assert np.isnan(ranks.rank[1]) and np.isnan(ranks.low[1])
    assert ranks.low[2] == 2  # two ranked submissions, not three


def test_it_ranks_as_a_pairwise_loop_does():
    rng = np.random.default_rng(12)
    samples = rng.normal(loc=rng.normal(size=(15, 1)) * 0.05, scale=0.02, size=(15, 300))
    ranks = statistics.significance_ranks(samples)
    for i in range(15):
        beaten_by = sum(
            1
            for j in range(15)
            if sum(samples[j, b] > samples[i, b] for b in range(300)) >= 0.975 * 300
        )
        beats = sum(
            1
            for j in range(15)
            if sum(samples[i, b] > samples[j, b] for b in range(300)) >= 0.975 * 300
        )
        assert ranks.rank[i] == 1 + beaten_by
        assert ranks.low[i] == 15 - beats


def test_it_grows_the_significance_of_a_board_by_more_submissions_as_if_all_were_ranked_at_once():
    rng = np.random.default_rng(7)
    # Close submissions (many within noise of each other), scores on a grid so that resamples
    # tie, and rows without a score among both the known and the added ones.
    samples = np.round(
        rng.normal(loc=rng.normal(size=(14, 1)) * 0.03, scale=0.02, size=(14, 400)), 2
    )
    samples[[3, 11]] = np.nan
    known, more = samples[:10], samples[10:]
    significant = statistics.significance_ranks(known).beats >= statistics.BEATS_SHARE
    grown = statistics.significant_with_more(significant, known, more)
    whole = statistics.significance_ranks(samples)
    np.testing.assert_array_equal(grown, whole.beats >= statistics.BEATS_SHARE)
    present = ~np.isnan(samples).any(axis=1)
    rank, low = statistics.ranks_from_significant(grown, present)
    np.testing.assert_array_equal(rank, whole.rank)
    np.testing.assert_array_equal(low, whole.low)


def test_it_counts_scores_equal_but_for_rounding_as_ties():
    # At t = 0.9 a wrong answer costs 9 points: 10 right and 1 wrong equal 19 right and 2 wrong,
    # though 0.9 / 0.1 in floating point leaves one a hair above the other in most resamples.
    right = np.random.default_rng(3).integers(0, 40, size=300)
    first = metrics.score_at_target(right + 10, 1, 100, 0.9)
    second = metrics.score_at_target(right + 19, 2, 100, 0.9)
    assert (first > second).mean() > 0.5
    ranks = statistics.significance_ranks(np.vstack([first, second]))
    assert np.nan_to_num(ranks.beats).max() == 0
    assert list(ranks.rank) == [1, 1] and list(ranks.low) == [2, 2]
    grown = statistics.significant_with_more(
        np.zeros((1, 1), dtype=bool), first[None], second[None]
    )
    assert not grown.any()


def test_it_computes_reliability_ece_brier_and_aurc_by_hand():
    outcomes = np.array([C, W, W, C, A, M, C])
    confidence = np.array([0.95, 0.95, 0.15, 0.55, 0.99, np.nan, np.nan])
    result = statistics.confidence_calibration(outcomes, confidence)
    # Four answered items with a confidence; the abstention and the unstated ones are left out.
    assert result["n_answered"] == 4
    bins = {row["low"]: row for row in result["bins"] if row["n"]}
    assert set(bins) == {0.1, 0.5, 0.9}
    assert bins[0.9]["n"] == 2 and bins[0.9]["accuracy"] == 0.5
    assert bins[0.9]["confidence"] == pytest.approx(0.95)
    # ECE = 2/4·|0.5 − 0.95| + 1/4·|0 − 0.15| + 1/4·|1 − 0.55|
    assert result["ece"] == pytest.approx(0.375)
    # Brier = (0.05² + 0.95² + 0.15² + 0.45²) / 4
    assert result["brier"] == pytest.approx(0.2825)
    # Most confident first; the two at 0.95 (one wrong) count half a mistake each on average:
    # risks 1/2, 1/2, 1/3, 2/4.
    assert result["aurc"] == pytest.approx((0.5 + 0.5 + 1 / 3 + 0.5) / 4)
    assert result["risk_coverage"] == {
        "coverage": [0.25, 0.5, 0.75, 1.0],
        "risk": [0.5, 0.5, pytest.approx(1 / 3), 0.5],
    }


def test_it_puts_a_confidence_of_one_in_the_last_bin():
    result = statistics.confidence_calibration(np.array([C, W]), np.array([1.0, 0.0]))
    assert result["bins"][9]["n"] == 1 and result["bins"][0]["n"] == 1


def test_it_has_no_confidence_calibration_without_answered_items():
    assert statistics.confidence_calibration(np.array([A, M]), np.array([0.5, 0.5])) is None


def test_it_averages_the_risk_curve_over_every_order_of_equal_confidences():
    rng = np.random.default_rng(7)
    confidence = rng.choice([0.2, 0.5, 0.9], size=7)
    right = rng.integers(0, 2, size=7).astype(float)
    coverage, risk = statistics.risk_coverage(confidence, right)
    # Every order that puts higher confidence first, equally likely.
    curves = []
    for order in permutations(range(7)):
        if all(confidence[order[k]] >= confidence[order[k + 1]] for k in range(6)):
            wrong = [1 - right[i] for i in order]
            curves.append([sum(wrong[: k + 1]) / (k + 1) for k in range(7)])
    np.testing.assert_allclose(risk, np.mean(curves, axis=0))
    np.testing.assert_allclose(coverage, np.arange(1, 8) / 7)


def test_it_draws_the_risk_curve_at_a_bounded_number_of_points():
    rng = np.random.default_rng(8)
    outcomes = rng.choice([C, W], size=5000)
    result = statistics.confidence_calibration(outcomes, rng.random(5000))
    curve = result["risk_coverage"]
    assert len(curve["coverage"]) == statistics.CURVE_POINTS
    assert curve["coverage"][0] == 1 / 5000 and curve["coverage"][-1] == 1.0


# --- through scoring a file ----------------------------------------------------------------

GOLD = b"id,answer\n" + b"".join(f"{i},a{i}\n".encode() for i in range(1, 41))


def score(predictions: bytes, **config):
    config = BenchmarkConfig(grader="exact", **config)
    gold = read_gold(GOLD, filename="gold.csv", grader="exact")
    rows = read_predictions(predictions, filename="p.csv", gold=gold, config=config)
    return score_predictions(gold, rows, config)


def predictions(rows: list[tuple[int, str, str]]) -> bytes:
    return b"id,answer,target\n" + "".join(f"{i},{a},{t}\n" for i, a, t in rows).encode()


def test_it_stores_the_bootstrap_and_intervals_of_every_run():
    rows = [(i, f"a{i}" if i % 3 else "x", "") for i in range(1, 41)]
    rows += [(i, f"a{i}" if i % 4 else "I don't know", "0.75") for i in range(1, 41)]
    result = score(predictions(rows), seed=3)
    default, prompted = result.runs
    assert default.bootstrap.shape == prompted.bootstrap.shape == (2, 1000)
    # Paired: both runs drawn on the same resamples of the benchmark.
    indices = reference_indices(40, seed=3, n_resamples=1000)
    np.testing.assert_array_equal(default.bootstrap, reference_counts(default.outcomes, indices))
    np.testing.assert_array_equal(prompted.bootstrap, reference_counts(prompted.outcomes, indices))
    low, high = result.rubrics["0.75"].interval
    assert low <= result.rubrics["0.75"].score <= high
    assert result.rubrics["0.75"].interval == prompted.intervals["scores"]["0.75"]
    assert result.rubrics["0.5"].interval == default.intervals["scores"]["0.5"]
    assert result.to_dict()["runs"][0]["intervals"]["accuracy"] == default.intervals["accuracy"]


def test_it_skips_the_bootstrap_when_asked_to():
    result = score(predictions([(1, "a1", "")]), n_resamples=0)
    assert result.runs[0].bootstrap is None
    assert result.rubrics["0"].interval is None


def test_it_says_whether_a_prompted_run_is_behaviourally_calibrated():
    # Prompted at 0.75: 4 answered, 3 right → accuracy given attempted 0.75 ≥ 0.75.
    calibrated = [(1, "a1", "0.75"), (2, "a2", "0.75"), (3, "a3", "0.75"), (4, "x", "0.75")]
    # Prompted at 0.9: 5 answered, 4 right → 0.8 < 0.9.
    bluffing = [(i, f"a{i}", "0.9") for i in range(1, 5)] + [(5, "x", "0.9")]
    result = score(predictions([(1, "a1", ""), *calibrated, *bluffing]))
    by_key = {run.key: run for run in result.runs}
    assert by_key["default"].behaviourally_calibrated is None
    assert by_key["0.75"].behaviourally_calibrated is True
    assert by_key["0.9"].behaviourally_calibrated is False
    assert by_key["0.9"].to_dict()["behaviourally_calibrated"] is False


def test_it_reports_calibration_of_stated_confidences_per_run():
    text = b"id,answer,confidence\n1,a1,0.9\n2,x,0.8\n3,a3,0.3\n4,I don't know,0.1\n"
    run = score(text).runs[0]
    assert run.confidence_calibration["n_answered"] == 3
    assert run.confidence_calibration["brier"] == pytest.approx((0.01 + 0.64 + 0.49) / 3)
    assert score(b"id,answer\n1,a1\n").runs[0].confidence_calibration is None


@pytest.mark.parametrize("seed", [0, 1])
def test_it_beats_a_submission_it_dominates_in_every_resample(seed):
    # Right wherever the other is right, and on more items: higher in every resample (or equal
    # when no differing item is drawn, which 1,000 resamples of 40 items make vanishingly rare).
    strong = np.array([C] * 30 + [W] * 10)
    weak = np.array([C] * 20 + [W] * 20)
    counts = statistics.bootstrap_counts([strong, weak], seed=seed)
    samples = np.stack([statistics.score_samples(c, 40, 0.5) for c in counts])
    ranks = statistics.significance_ranks(samples)
    np.testing.assert_array_equal(ranks.rank, [1, 2])
    assert ranks.beats[1, 0] == 1.0


def test_it_agrees_with_a_loop_over_every_small_benchmark():
    # Every possible pair of two-item runs: the vectorised counts equal the loop's.
    for first, second in product(product([C, W, A, M], repeat=2), repeat=2):
        runs = [np.array(first), np.array(second)]
        counts = statistics.bootstrap_counts(runs, seed=4, n_resamples=20)
        indices = reference_indices(2, seed=4, n_resamples=20)
        for run, got in zip(runs, counts, strict=True):
            np.testing.assert_array_equal(got, reference_counts(run, indices))
