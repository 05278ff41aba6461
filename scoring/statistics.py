"""Statistics of scored runs: bootstrap intervals, significance-aware ranks, calibration.

Every formula the "How scores are computed" page states lives here.

- **Bootstrap.** A benchmark's items are resampled with replacement `B` = 1,000 times from a
  generator seeded per benchmark, so every submission of the benchmark sees the same resamples and
  two submissions are compared resample by resample (paired). A run's bootstrap is, for each
  resample, its count of correct and of incorrect items; every rate and every rubric's score is a
  function of those two counts, and its 95% interval is the 2.5th and 97.5th percentile over the
  resamples. A benchmark too large for its B × N item draws to be cheap (over 16 million) is
  resampled in blocks instead (`resamples_in_blocks`): its items are dealt once, at random, into
  16,000 blocks of equal size (±1), and each resample draws blocks with replacement, as many as
  there are, so that it still holds N items; for independent items the counts have the same
  variance as those of items drawn one by one.
- **Significance-aware rank.** Under a rubric, submission j *beats* submission i when j's score
  is higher in at least 97.5% of the paired resamples. Its significance-aware rank is 1 + the
  number of submissions that beat it; the rank it could have is at most the number of submissions
  minus those it beats ("3 (tied 2–4)").
- **Stated confidences.** Over the items a run answered (correct or incorrect) with a stated
  confidence: a reliability table of 10 equal-width bins, the expected calibration error, the
  Brier score, and the risk–coverage curve (answer the most confident first) with its area.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike

from scoring import metrics
from scoring.grading import OUTCOME_CORRECT, OUTCOME_INCORRECT

N_RESAMPLES = 1000
INTERVAL_LEVEL = 0.95
# j beats i when it scores higher in at least this share of the paired resamples: a one-sided
# 2.5% error, the same as each end of the 95% interval.
BEATS_SHARE = 0.975
N_CONFIDENCE_BINS = 10
# The risk–coverage curve is stored and drawn at this many coverage points at most.
CURVE_POINTS = 101

# Resamples are drawn in blocks of at most this many item draws, so memory stays bounded for
# benchmarks of any size; a benchmark this small keeps its draws cached between submissions.
_BLOCK_DRAWS = 4_000_000
_CACHED_DRAWS = 16_000_000
# Above this many item draws (B × N) a benchmark's resamples draw blocks of items, not items
# (`resamples_in_blocks`), into this many blocks: every benchmark at most this large keeps the
# draws it always had, and a larger one costs a resampling of 16,000 numbers per resample.
_ITEM_DRAWS_MAX = 16_000_000
_ITEM_BLOCKS = 16_000
# Block multiplicities are counted, and multiplied, this many at a time (a few MB).
_BLOCK_MULTIPLICITIES = 1_000_000


@dataclass(frozen=True)
class Interval:
    low: float
    high: float

    def to_list(self) -> list[float]:
        return [float(self.low), float(self.high)]


def resample_seed(benchmark_seed: int) -> np.random.SeedSequence:
    """The seed sequence of a benchmark's resamples; the same benchmark always draws the same."""
    return np.random.SeedSequence([0x5EED, int(benchmark_seed)])


def bootstrap_counts(
    outcomes: np.ndarray | list[np.ndarray], *, seed: int, n_resamples: int = N_RESAMPLES
) -> np.ndarray:
    """Per resample, the count of correct and of incorrect items of each run.

    `outcomes` is one run's outcome codes in gold order (or a list of runs of one benchmark, which
    then share their resamples). Returns int32 counts shaped (2, B) for one run, (runs, 2, B) for
    a list: row 0 counts correct items, row 1 incorrect ones.
    """
    runs = [np.asarray(outcomes)] if isinstance(outcomes, np.ndarray) else list(outcomes)
    if not runs:
        return np.zeros((0, 2, n_resamples), dtype=np.int32)
    n_items = len(runs[0])
    if any(len(run) != n_items for run in runs):
        raise ValueError("the runs of one benchmark must have the same number of items")
    # One byte per item and run: 1 correct, 2 incorrect, 0 anything else.
    codes = [
        np.where(run == OUTCOME_CORRECT, 1, np.where(run == OUTCOME_INCORRECT, 2, 0)).astype(
            np.uint8
        )
        for run in runs
    ]
    if resamples_in_blocks(n_items, n_resamples):
        counts = _block_counts(codes, seed, n_resamples)
        return counts[0] if isinstance(outcomes, np.ndarray) else counts
    counts = np.zeros((len(runs), 2, n_resamples), dtype=np.int32)
    for start, draws in _resample_blocks(n_items, seed, n_resamples):
        stop = start + len(draws)
        for r, code in enumerate(codes):
            drawn = code[draws]
            counts[r, 0, start:stop] = np.count_nonzero(drawn == 1, axis=1)
            counts[r, 1, start:stop] = np.count_nonzero(drawn == 2, axis=1)
    return counts[0] if isinstance(outcomes, np.ndarray) else counts


def _resample_blocks(n_items: int, seed: int, n_resamples: int):
    """Yield (first resample, item indices drawn) in blocks of whole resamples."""
    if n_items * n_resamples <= _CACHED_DRAWS:
        yield 0, _cached_draws(n_items, seed, n_resamples)
        return
    yield from _draw_blocks(n_items, seed, n_resamples)


def _draw_blocks(n_items: int, seed: int, n_resamples: int):
    rng = np.random.default_rng(resample_seed(seed))
    rows = max(1, _BLOCK_DRAWS // max(n_items, 1))
    index_type = np.int32 if n_items < 2**31 else np.int64
    for start in range(0, n_resamples, rows):
        count = min(rows, n_resamples - start)
        # Always drawn as int64, the generator's stream, whatever the block size or cache.
        yield start, rng.integers(0, n_items, size=(count, n_items)).astype(index_type)


@lru_cache(maxsize=2)
def _cached_draws(n_items: int, seed: int, n_resamples: int) -> np.ndarray:
    draws = np.concatenate([block for _, block in _draw_blocks(n_items, seed, n_resamples)])
    draws.setflags(write=False)
    return draws


def resamples_in_blocks(n_items: int, n_resamples: int = N_RESAMPLES) -> bool:
    """Whether a benchmark of `n_items` items is resampled in blocks of items (see the module's
    first lines), not item by item: when its B × N item draws would be over 16 million."""
    return n_items * n_resamples > _ITEM_DRAWS_MAX


def _block_counts(codes: list[np.ndarray], seed: int, n_resamples: int) -> np.ndarray:
    """`bootstrap_counts` of runs coded 1 (correct), 2 (incorrect), 0, resampled in blocks.

    Each run's correct and incorrect items are summed per block; a resample's count is then the
    sum over blocks of how often it drew each block times the block's sum: one product of the
    resamples' block multiplicities with the runs' block sums, O(N) per run plus B × blocks.
    """
    n_items = len(codes[0])
    block, drawn = _item_blocks(n_items, seed, n_resamples)
    n_blocks = drawn.shape[1]
    # Exact in floating point: every partial sum is a whole number of at most N items.
    exact = np.float32 if n_items < 2**24 else np.float64
    sums = np.empty((n_blocks, 2 * len(codes)), dtype=exact)
    for r, code in enumerate(codes):
        for row, value in enumerate((1, 2)):
            sums[:, 2 * r + row] = np.bincount(block[code == value], minlength=n_blocks)
    counts = np.empty((n_resamples, 2 * len(codes)), dtype=np.int32)
    rows = max(1, _BLOCK_MULTIPLICITIES // n_blocks)
    for start in range(0, n_resamples, rows):
        stop = min(start + rows, n_resamples)
        counts[start:stop] = np.rint(drawn[start:stop].astype(exact) @ sums)
    return counts.T.reshape(len(codes), 2, n_resamples).copy()


@lru_cache(maxsize=2)
def _item_blocks(n_items: int, seed: int, n_resamples: int) -> tuple[np.ndarray, np.ndarray]:
    """Which block each item is in, and how often each resample draws each block, (B, blocks).

    N = m·K + r items are dealt at random into K blocks: r blocks of m + 1 items, K − r of m.
    Blocks are drawn with replacement among those of their size (as many of each size as there
    are), so that every resample holds exactly N items. The generator is the benchmark's own,
    apart from the one its item-by-item draws would come from.
    """
    n_blocks = min(n_items, _ITEM_BLOCKS)
    rng = np.random.default_rng(np.random.SeedSequence([0x5EED, int(seed), 0xB10C]))
    block = np.empty(n_items, dtype=np.int32)
    block[rng.permutation(n_items)] = np.arange(n_items, dtype=np.int64) % n_blocks
    larger = n_items % n_blocks  # blocks 0 … r − 1 hold one item more
    # A block drawn 256 times among at most 16,000 draws (about once each) never happens.
    drawn = np.empty((n_resamples, n_blocks), dtype=np.uint8)
    rows = max(1, _BLOCK_MULTIPLICITIES // n_blocks)  # a few resamples at a time: little memory
    for start in range(0, n_resamples, rows):
        stop = min(start + rows, n_resamples)
        picks = np.empty((stop - start, n_blocks), dtype=np.int64)
        # Resample by resample, each size of block in turn: the same draws however many
        # resamples are counted at a time.
        for row in range(stop - start):
            for low, high in ((0, larger), (larger, n_blocks)):
                if high > low:
                    picks[row, low:high] = rng.integers(low, high, size=high - low, dtype=np.int32)
        picks += np.arange(stop - start, dtype=np.int64)[:, None] * n_blocks
        times = np.bincount(picks.ravel(), minlength=picks.size).reshape(picks.shape)
        if times.max() > 255:
            raise OverflowError("a block was drawn more than 255 times in one resample")
        drawn[start:stop] = times
    block.setflags(write=False)
    drawn.setflags(write=False)
    return block, drawn


def resample_indices(n_items: int, *, seed: int, n_resamples: int = N_RESAMPLES) -> np.ndarray:
    """Every resample's item indices, shaped (B, N): what `bootstrap_counts` counts over on a
    benchmark resampled item by item (not `resamples_in_blocks`).

    For checks and small benchmarks; large ones are counted block by block without this matrix.
    """
    return np.concatenate([block for _, block in _draw_blocks(n_items, seed, n_resamples)])


def interval(samples: ArrayLike, level: float = INTERVAL_LEVEL) -> Interval:
    """The percentile interval of a statistic's bootstrap samples."""
    values = np.asarray(samples, dtype=float)
    tail = (1 - level) / 2
    low, high = np.quantile(values, [tail, 1 - tail])
    return Interval(float(low), float(high))


def rate_samples(counts: np.ndarray, n_items: int) -> dict[str, np.ndarray]:
    """Each rate of SPEC §5, per resample, from a run's (2, B) bootstrap counts."""
    correct, incorrect = counts[0].astype(float), counts[1].astype(float)
    return {
        "accuracy": metrics.accuracy(correct, n_items),
        "error_rate": metrics.error_rate(incorrect, n_items),
        "abstention_rate": metrics.abstention_rate(n_items - correct - incorrect, n_items),
        "accuracy_given_attempted": metrics.accuracy_given_attempted(correct, incorrect),
    }


def score_samples(counts: np.ndarray, n_items: int, t: float) -> np.ndarray:
    """A rubric's score per resample, from a run's (2, B) bootstrap counts."""
    return np.asarray(metrics.score_at_target(counts[0], counts[1], n_items, t), dtype=float)


def run_intervals(
    counts: np.ndarray, n_items: int, rubrics: tuple[float, ...]
) -> dict[str, object]:
    """The 95% interval of every rate, and of the run's score under every rubric."""
    out: dict[str, object] = {
        name: interval(samples).to_list() for name, samples in rate_samples(counts, n_items).items()
    }
    out["scores"] = {
        metrics.target_key(t): interval(score_samples(counts, n_items, t)).to_list()
        for t in rubrics
    }
    return out


def behaviourally_calibrated(accuracy_given_attempted: float, target: float | None) -> bool | None:
    """Whether a run prompted at t answers as t asks: accuracy on the items it answered ≥ t.

    A model that answers exactly when it is more than t confident has that; None for a run not
    prompted at any target.
    """
    if target is None:
        return None
    return bool(accuracy_given_attempted >= target)


# --- ranks ---------------------------------------------------------------------------------


def higher(first: ArrayLike, second: ArrayLike) -> np.ndarray:
    """Where `first` scores above `second` by more than rounding: as ranks do
    (`metrics.SCORE_TIE_TOLERANCE`), scores equal in exact arithmetic are a tie, though
    t/(1 − t) in floating point may leave one a hair above the other."""
    return np.subtract(first, second) > metrics.SCORE_TIE_TOLERANCE


@dataclass(frozen=True)
class SignificanceRanks:
    """Per submission: 1 + how many beat it (`rank`), and the worst rank it could have (`low`).

    NaN for submissions without a score under the rubric.
    """

    rank: np.ndarray
    low: np.ndarray
    beats: np.ndarray  # beats[i, j]: share of resamples in which j scores higher than i


def significance_ranks(
    samples: ArrayLike, share: float = BEATS_SHARE, *, comparable: np.ndarray | None = None
) -> SignificanceRanks:
    """Significance-aware ranks from each submission's per-resample scores, shaped (M, B).

    Rows of NaN (no score under this rubric) take part in nothing. With `comparable` (M × M),
    j beats i only where `comparable[i, j]`: on a benchmark whose gold is hidden, a pair whose
    counts differ by fewer than K items is never told apart, since which of so few items are
    right would decide it.
    """
    scores = np.asarray(samples, dtype=float)
    if scores.ndim != 2:
        raise ValueError("samples must be shaped (submissions, resamples)")
    m, n_resamples = scores.shape
    present = ~np.isnan(scores).any(axis=1) if m else np.zeros(0, dtype=bool)
    beats = np.full((m, m), np.nan)
    kept = np.flatnonzero(present)
    scored = scores[kept]
    if len(kept):
        # Two submissions whose resampled scores do not overlap need no comparison: one is
        # higher in every resample. Only the overlapping pairs, the close ones, are counted.
        low, high = scored.min(axis=1), scored.max(axis=1)
        above = higher(low[None, :], high[:, None])  # [i, j]: j above i in every resample
        overlap = ~above & ~higher(low[:, None], high[None, :])
        shares = above.astype(float)
        for i in range(len(kept)):
            close = np.flatnonzero(overlap[i])
            count = np.count_nonzero(higher(scored[close], scored[i]), axis=1)
            shares[i, close] = count / n_resamples
        beats[np.ix_(kept, kept)] = shares
    if comparable is not None:
        beats = np.where(np.asarray(comparable, dtype=bool), beats, np.nan)
    rank, low_rank = ranks_from_significant(beats >= share, present)  # NaN compares False
    return SignificanceRanks(rank=rank, low=low_rank, beats=beats)


def ranks_from_significant(
    significant: np.ndarray, present: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Significance-aware ranks from `significant[i, j]`, true where j beats i: 1 + how many beat
    each submission, and the worst rank it could have (how many have a score, minus those it
    beats). NaN where `present` is false (no score)."""
    kept = int(np.count_nonzero(present))
    rank = np.where(present, 1 + significant.sum(axis=1), np.nan)
    low = np.where(present, kept - significant.sum(axis=0), np.nan)
    return rank, low


def significant_with_more(
    significant: np.ndarray,
    samples: np.ndarray,
    more: np.ndarray,
    share: float = BEATS_SHARE,
    *,
    comparable: np.ndarray | None = None,
) -> np.ndarray:
    """`significant` (n × n, [i, j] true where j beats i) grown by `more` submissions.

    `samples` are the per-resample scores (n × B, NaN rows for no score) of the n submissions
    `significant` was computed from; `more` those of the k added ones (k × B). Only the pairs an
    added submission takes part in are counted, O(k·(n+k)·B) instead of O((n+k)²·B), and each
    exactly as `significance_ranks` counts it: the result is what it gives for all n + k,
    `comparable` ((n + k) × (n + k)) included.
    """
    scores = np.vstack([samples, more]) if len(more) else samples
    total, n_resamples = scores.shape
    n = len(samples)
    grown = np.zeros((total, total), dtype=bool)
    grown[:n, :n] = significant
    present = ~np.isnan(scores).any(axis=1)
    kept = np.flatnonzero(present)
    low, high = scores[kept].min(axis=1), scores[kept].max(axis=1)
    for a in range(n, total):
        if not present[a]:
            continue
        at = np.searchsorted(kept, a)
        # As `significance_ranks`: pairs whose resampled scores do not overlap need no count.
        above = higher(low, high[at])  # higher than a in every resample
        below = higher(low[at], high)
        close = ~above & ~below
        more = np.where(above, n_resamples, 0)
        less = np.where(below, n_resamples, 0)
        near = scores[kept[close]]
        more[close] = np.count_nonzero(higher(near, scores[a]), axis=1)
        less[close] = np.count_nonzero(higher(scores[a], near), axis=1)
        grown[a, kept] = more / n_resamples >= share
        grown[kept, a] = less / n_resamples >= share
    if comparable is not None:
        grown &= np.asarray(comparable, dtype=bool)
    return grown


# --- stated confidences --------------------------------------------------------------------


def confidence_calibration(
    outcomes: np.ndarray,
    confidence: np.ndarray,
    *,
    n_bins: int = N_CONFIDENCE_BINS,
    min_items: int = 0,
    targets: tuple[float, ...] = (),
) -> dict[str, object] | None:
    """How well a run's stated confidences match how often it is right.

    Over the items answered (correct or incorrect) with a stated confidence; None if there are
    none. Bins are [0, 0.1), [0.1, 0.2), …, [0.9, 1.0], the last one closed.

    With `min_items` (a benchmark whose gold is hidden) every figure comes from one set of bins
    (`confidence_parts`: the ten, cut also at the `targets`, neighbours merged until each holds
    `min_items` answers): the risk–coverage curve has a point at each bin's edge, its area is
    computed as if the confidences within a bin were equal, and the Brier score, which weighs
    every answer by its own confidence, is left out. None when the parts cannot be formed.
    """
    outcomes = np.asarray(outcomes)
    confidence = np.asarray(confidence, dtype=float)
    answered = _attempted(outcomes) & ~np.isnan(confidence)
    n = int(np.count_nonzero(answered))
    if not n:
        return None
    conf = confidence[answered]
    right = (outcomes[answered] == OUTCOME_CORRECT).astype(float)
    if min_items:
        edges = confidence_parts(
            outcomes, confidence, min_items=min_items, targets=targets, n_bins=n_bins
        )
        if edges is None:
            return None
        part = np.searchsorted(edges, conf, side="right")
    else:
        edges = np.arange(1, n_bins) / n_bins
        part = np.minimum((conf * n_bins).astype(np.int64), n_bins - 1)
    bounds = np.concatenate([[0.0], edges, [1.0]])
    in_part = np.bincount(part, minlength=len(bounds) - 1)
    conf_sum = np.bincount(part, weights=conf, minlength=len(bounds) - 1)
    right_sum = np.bincount(part, weights=right, minlength=len(bounds) - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = conf_sum / in_part
        part_accuracy = right_sum / in_part
    filled = in_part > 0
    ece = float(np.sum(in_part[filled] / n * np.abs(part_accuracy[filled] - mean_conf[filled])))
    if min_items:
        # Answers within a bin count as equally confident: the curve then depends on the
        # bins' counts alone, and has a point where each bin ends.
        coverage, risk, ends = _risk_coverage(part.astype(float), right)
        points = ends - 1
    else:
        coverage, risk, _ = _risk_coverage(conf, right)
        points = np.arange(n)
    return {
        "n_answered": n,
        "bins": [
            {
                "low": float(bounds[k]),
                "high": float(bounds[k + 1]),
                "n": int(in_part[k]),
                "confidence": float(mean_conf[k]) if filled[k] else None,
                "accuracy": float(part_accuracy[k]) if filled[k] else None,
            }
            for k in range(len(bounds) - 1)
        ],
        "ece": ece,
        "brier": None if min_items else float(np.mean((conf - right) ** 2)),
        "aurc": float(np.mean(risk)),
        "risk_coverage": _curve_points(coverage[points], risk[points]),
    }


def confidence_parts(
    outcomes: np.ndarray,
    confidence: np.ndarray,
    *,
    min_items: int,
    targets: tuple[float, ...] = (),
    n_bins: int = N_CONFIDENCE_BINS,
) -> np.ndarray | None:
    """The inner edges of the confidence bins every figure of a run's stated confidences comes
    from when no figure may cover fewer than `min_items` answers (hidden gold).

    Candidate edges are those of the ten bins and the targets (so that the score abstaining
    below a target can be one of the figures); going up from 0, neighbouring bins are merged
    until each holds `min_items` answers, a remainder at the top joining the last. Any figure
    that is a sum over whole bins then tells nothing about fewer answers. Which items a run
    answered and with what confidence needs no gold, so neither do these edges.

    None when the answers that state a confidence, or those that do not, are fewer than
    `min_items` (but not none): with the run's own counts, they would be a figure of their own.
    """
    outcomes = np.asarray(outcomes)
    confidence = np.asarray(confidence, dtype=float)
    attempted = _attempted(outcomes)
    stated = attempted & ~np.isnan(confidence)
    n = int(np.count_nonzero(stated))
    if not n or not _enough(n, min_items):
        return None
    if not _enough(int(np.count_nonzero(attempted)) - n, min_items):
        return None
    candidates = np.union1d(
        np.arange(1, n_bins) / n_bins, [t for t in targets if 0 < t < 1]
    ).astype(float)
    part = np.searchsorted(candidates, confidence[stated], side="right")
    in_part = np.bincount(part, minlength=len(candidates) + 1)
    kept: list[float] = []
    count = 0
    for k, in_k in enumerate(in_part[:-1]):
        count += int(in_k)
        if count >= min_items:
            kept.append(float(candidates[k]))
            count = 0
    if kept and count + int(in_part[-1]) < min_items:
        kept.pop()  # the top remainder joins the bin below it
    return np.asarray(kept, dtype=float)


def _attempted(outcomes: np.ndarray) -> np.ndarray:
    return (outcomes == OUTCOME_CORRECT) | (outcomes == OUTCOME_INCORRECT)


def _enough(count: int, min_items: int) -> bool:
    """Whether a group of answered items may be counted apart: none, or at least `min_items`."""
    return count == 0 or count >= min_items


def risk_coverage(confidence: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Answer the most confident items first: after k answers, coverage k/n and risk (share
    wrong among those k), for k = 1…n.

    Items of equal confidence are answered together: within such a group the risk is what a
    random order of the group gives on average, so the curve does not depend on the file's order.
    """
    coverage, risk, _ = _risk_coverage(confidence, right)
    return coverage, risk


def _risk_coverage(
    confidence: np.ndarray, right: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`risk_coverage`, and the number of answers k at the end of each group of equal
    confidence."""
    confidence = np.asarray(confidence, dtype=float)
    n = len(confidence)
    order = np.argsort(-confidence, kind="stable")
    conf_sorted = confidence[order]
    # Group boundaries: where the confidence changes.
    starts = np.flatnonzero(np.concatenate([[True], conf_sorted[1:] != conf_sorted[:-1]]))
    del conf_sorted
    ends = np.append(starts[1:], n)
    wrong_sorted = 1.0 - np.asarray(right, dtype=float)[order]
    del order
    group_wrong = np.add.reduceat(wrong_sorted, starts)
    del wrong_sorted
    group_size = ends - starts
    before = np.concatenate([[0.0], np.cumsum(group_wrong)[:-1]])
    group = np.repeat(np.arange(len(starts), dtype=np.intp), group_size)
    k = np.arange(1, n + 1)
    # before + (k − start) · (wrong / size) of each item's group, then / k: computed in place,
    # operation by operation as written, so that a million answers need a few arrays, not ten.
    expected_wrong = np.subtract(k, starts[group]).astype(float)
    expected_wrong *= (group_wrong / group_size)[group]
    expected_wrong += before[group]
    del group
    expected_wrong /= k
    return k / n, expected_wrong, ends


def _curve_points(coverage: np.ndarray, risk: np.ndarray) -> dict[str, list[float]]:
    if len(coverage) > CURVE_POINTS:
        keep = np.unique(np.linspace(0, len(coverage) - 1, CURVE_POINTS).round().astype(int))
        coverage, risk = coverage[keep], risk[keep]
    return {"coverage": [float(c) for c in coverage], "risk": [float(r) for r in risk]}
