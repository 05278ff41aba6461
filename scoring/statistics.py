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
- **Large boards.** Above `PAIRED_MAX_ROWS` submissions, j counts as beating i when j's 13th
  smallest of its 1,000 resampled scores is above i's 13th largest (`separation_bounds`): j is
  then higher in at least 976 of the paired resamples, so the paired test would say the same.
  Such bounds leave close pairs tied more often, never separate a pair the paired test does not,
  and cost n log n instead of n² (`ranks_from_bounds`).
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
from scoring.benchmark import N_RESAMPLES, target_key
from scoring.outcomes import OUTCOME_CORRECT, OUTCOME_INCORRECT

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
        target_key(t): interval(score_samples(counts, n_items, t)).to_list() for t in rubrics
    }
    return out


def run_bounds(
    counts: np.ndarray, n_items: int, rubrics: tuple[float, ...]
) -> dict[str, list[float] | None]:
    """The run's separation bounds (`separation_bounds`) under every rubric, by rubric key:
    [lo, hi], kept with the run so that a large board ranks without its resamples; None where
    the run has no resampled score."""
    out: dict[str, list[float] | None] = {}
    for t in rubrics:
        lo, hi = separation_bounds(score_samples(counts, n_items, t))
        out[target_key(t)] = None if np.isnan(lo) or np.isnan(hi) else [float(lo), float(hi)]
    return out


def behaviourally_calibrated(accuracy_given_attempted: float, target: float | None) -> bool | None:
    """Whether a run prompted at t answers as t asks: accuracy on the items it answered ≥ t.

    A model that answers exactly when it is more than t confident has that; None for a run not
    prompted at any target.
    """
    if target is None:
        return None
    return bool(accuracy_given_attempted >= target)


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


# Boards with more scored submissions than this rank by each row's separation bounds
# (`separation_bounds`, `ranks_from_bounds`), which cost n log n; up to it, by the paired test
# (`significance_ranks`), which costs n² resample comparisons: 0.03–0.07 s at 300 rows of 1,000
# resamples, 0.4–0.9 s at 1,000 and, by the fitted exponent, 15–40 s at 10,000 (bench/ranks.py).
PAIRED_MAX_ROWS = 300


def separation_depth(n_resamples: int, share: float = BEATS_SHARE) -> int:
    """How many resamples each end of a row's separation bounds leaves out: the largest k with
    (B − 2k) / B ≥ `share`, so that two rows' 2k left-out resamples together stay within what
    the paired test lets a winner lose (12 of 1,000 at 97.5%)."""
    k = max(0, int(np.floor(n_resamples * (1 - share) / 2)) + 1)
    while k > 0 and (n_resamples - 2 * k) / n_resamples < share:
        k -= 1
    return k


def separation_bounds(
    samples: ArrayLike, share: float = BEATS_SHARE
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's separation bounds from its own resampled scores, shaped (…, B): `lo`, its
    (k+1)-th smallest score, and `hi`, its (k+1)-th largest, k = `separation_depth(B)`.

    When j's `lo` is higher than i's `hi` (`higher`), j is at or above its `lo` in all but at
    most k resamples and i at or below its `hi` in all but at most k others, so j scores higher
    than i in at least B − 2k of the paired resamples, at least `share` of them: j beats i in
    the paired test too. Rounding cannot undo this: where S_j ≥ lo_j and S_i ≤ hi_i, S_j − S_i
    rounds to no less than lo_j − hi_i does, so it is above the tie tolerance too. A row's bounds
    need no other row, so they can be kept with its scores.
    NaN for a row with a NaN score (no score under the rubric) or no resamples.
    """
    scores = np.asarray(samples, dtype=float)
    n_resamples = scores.shape[-1]
    shape = scores.shape[:-1]
    if not n_resamples:
        return np.full(shape, np.nan), np.full(shape, np.nan)
    k = separation_depth(n_resamples, share)
    ordered = np.sort(scores, axis=-1)  # faster than partitioning at two places
    missing = np.isnan(scores).any(axis=-1)
    lo = np.where(missing, np.nan, ordered[..., k])
    hi = np.where(missing, np.nan, ordered[..., n_resamples - 1 - k])
    return lo, hi


def ranks_from_bounds(
    lo: ArrayLike,
    hi: ArrayLike,
    *,
    answered: ArrayLike | None = None,
    min_items: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Significance-aware ranks of a large board from each row's separation bounds.

    j counts as beating i where `higher(lo[j], hi[i])`; `separation_bounds` shows that the paired
    test then finds the same, so these ranks never separate two rows that `significance_ranks`
    would not (they may separate fewer). As `ranks_from_significant`: 1 + how many beat each row,
    and the worst rank it could have (how many have bounds, minus those it beats); NaN for rows
    without bounds.

    With `min_items` and `answered` (each row's counts of correct and of wrong answers, shaped
    (M, 2), NaN where unknown), a pair whose counts differ by fewer than `min_items` in both is
    never separated, nor a row without counts from any other: the rule of hidden-gold benchmarks.

    Cost: sorting and a binary search per row, n log n. Under `min_items`, a binary search per
    row in each of the nine cells of the count grid around its counts, and the rows there that
    are above or below it checked one by one when they are few, or else read from per-cell
    tables of n × (`min_items` + 1)² entries: for a given `min_items`, still n log n.
    """
    lo = np.asarray(lo, dtype=float)
    hi = np.asarray(hi, dtype=float)
    present = ~np.isnan(lo) & ~np.isnan(hi)
    kept = np.flatnonzero(present)
    n = len(kept)
    low_bound, high_bound = lo[kept], hi[kept]
    lo_order = np.argsort(low_bound, kind="stable")
    hi_order = np.argsort(high_bound, kind="stable")
    lo_sorted, hi_sorted = low_bound[lo_order], high_bound[hi_order]
    # The rows above row i are those from `above_from[i]` on in `lo_sorted`; the rows below it,
    # those before `below_until[i]` in `hi_sorted`. `higher` is monotone in each argument, so
    # a binary search on it finds the same rows as a comparison of every pair.
    tolerance = metrics.SCORE_TIE_TOLERANCE
    above_from = _first_where(
        lo_sorted,
        high_bound,
        np.searchsorted(lo_sorted, high_bound + tolerance, side="right"),
        lambda value, row_hi: higher(value, row_hi),
    )
    below_until = _first_where(
        hi_sorted,
        low_bound,
        np.searchsorted(hi_sorted, low_bound - tolerance, side="left"),
        lambda value, row_lo: ~higher(row_lo, value),
    )
    beaten_by = n - above_from
    beats = below_until.copy()
    if min_items and answered is not None and n:
        lo_place = np.empty(n, dtype=np.int64)
        lo_place[lo_order] = np.arange(n)
        hi_place = np.empty(n, dtype=np.int64)
        hi_place[hi_order] = np.arange(n)
        counts = np.asarray(answered, dtype=float).reshape(-1, 2)[kept]
        close_above, close_below = _too_close(
            counts, min_items, lo_place, hi_place, above_from, below_until
        )
        beaten_by -= close_above
        beats -= close_below
    rank = np.full(len(lo), np.nan)
    worst = np.full(len(lo), np.nan)
    rank[kept] = 1 + beaten_by
    worst[kept] = n - beats
    return rank, worst


def _first_where(values: np.ndarray, of: np.ndarray, guess: np.ndarray, reached) -> np.ndarray:
    """For each row, the first place in the sorted `values` where `reached(value, of[row])`
    holds (len(values) if none), given that it holds from some place on.

    `guess` (a binary search on the rounded threshold) is right but where rounding puts a value
    on the other side: from there, each row steps over whole runs of equal values until the
    value before its place misses and the one at it holds, so ties cost no extra steps.
    """
    at = guess.copy()
    while True:
        rows = np.flatnonzero(at > 0)
        rows = rows[reached(values[at[rows] - 1], of[rows])]
        if not len(rows):
            break
        at[rows] = np.searchsorted(values, values[at[rows] - 1], side="left")
    while True:
        rows = np.flatnonzero(at < len(values))
        rows = rows[~reached(values[at[rows]], of[rows])]
        if not len(rows):
            return at
        at[rows] = np.searchsorted(values, values[at[rows]], side="right")


# Pairs of rows looked at together at most, to bound memory.
_CLOSE_BLOCK = 1_000_000
# Counts per cell kept at most (4 bytes each) when close rows are counted by table instead.
_TABLE_BUDGET = 16_000_000
# What checking one pair of rows costs, in table entries: the table is used when cheaper.
_PAIR_COST = 8
# The eight cells around a row's own, as steps of its cell in each count.
_AROUND = [(dc, dw) for dc in (-1, 0, 1) for dw in (-1, 0, 1) if dc or dw]


def _too_close(
    counts: np.ndarray,
    min_items: int,
    lo_place: np.ndarray,
    hi_place: np.ndarray,
    above_from: np.ndarray,
    below_until: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Per row, how many of the rows above it and of those below it (as `ranks_from_bounds`
    finds them) may not be told apart from it under `min_items`.

    A row without counts may be told apart from none. The others are put on a grid of cells
    `min_items` wide in both counts: the rows too close to a row are in its own cell (all of
    them) or in one of the eight around it. Within each cell the rows are kept in the order of
    each bound, so one binary search per cell finds how many are above (below) the row. Of those
    in the eight cells around it, the ones too close are then either checked one by one (few,
    as rows whose counts are that close are seldom far apart in score) or, where there would be
    many, read from each cell's running table of counts (`_close_by_table`).
    """
    n = len(counts)
    known = ~np.isnan(counts).any(axis=1)
    close_above = np.where(known, 0, n - above_from)
    close_below = np.where(known, 0, below_until)
    unknown = np.flatnonzero(~known)
    if len(unknown):
        close_above[known] += len(unknown) - np.searchsorted(
            np.sort(lo_place[unknown]), above_from[known]
        )
        close_below[known] += np.searchsorted(np.sort(hi_place[unknown]), below_until[known])
    rows = np.flatnonzero(known)
    if not len(rows):
        return close_above, close_below
    counts = counts[rows]
    grid = np.floor(counts / min_items).astype(np.int64)
    grid -= grid.min(axis=0)
    width = int(grid[:, 1].max()) + 3  # room for a step either way without wrapping
    cell_key = (grid[:, 0] + 1) * width + grid[:, 1] + 1
    keys, cell = np.unique(cell_key, return_inverse=True)
    cell = cell.reshape(-1)
    # Each cell's rows in the order of each bound: key = cell · n + place.
    lo_order = np.argsort(cell * n + lo_place[rows], kind="stable")
    hi_order = np.argsort(cell * n + hi_place[rows], kind="stable")
    lo_keys = (cell * n + lo_place[rows])[lo_order]
    hi_keys = (cell * n + hi_place[rows])[hi_order]
    cell_start = np.searchsorted(lo_keys, np.arange(len(keys)) * n)
    cell_stop = np.searchsorted(lo_keys, (np.arange(len(keys)) + 1) * n)

    def in_cell(step: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The rows whose cell moved by `step` exists, that cell, and how many of its rows
        are above each and below each."""
        target = np.searchsorted(keys, cell_key + step)
        found = np.flatnonzero(keys[np.minimum(target, len(keys) - 1)] == cell_key + step)
        other = target[found]
        above = cell_stop[other] - np.searchsorted(lo_keys, other * n + above_from[rows[found]])
        below = np.searchsorted(hi_keys, other * n + below_until[rows[found]]) - cell_start[other]
        return found, other, above, below

    # A row's own cell: every row in it is too close.
    found, _, above, below = in_cell(0)
    close_above[rows[found]] += above
    close_below[rows[found]] += below
    around = [in_cell(dc * width + dw) for dc, dw in _AROUND]
    one_by_one = sum(int(above.sum() + below.sum()) for _, _, above, below in around)
    table = 2 * (len(rows) + len(keys)) * (min_items + 1) ** 2
    whole = bool(np.all(counts == np.round(counts)))
    if whole and table <= _TABLE_BUDGET and one_by_one * _PAIR_COST > table:
        near_above, near_below = _close_by_table(
            counts, min_items, cell, lo_order, hi_order, cell_start, around
        )
        close_above[rows] += near_above
        close_below[rows] += near_below
        return close_above, close_below
    for found, other, above, below in around:
        for order, first, size, close in (
            (lo_order, cell_stop[other] - above, above, close_above),
            (hi_order, cell_start[other], below, close_below),
        ):
            close[rows] += _count_close(counts, min_items, found, order, first, size)
    return close_above, close_below


def _count_close(
    counts: np.ndarray,
    min_items: int,
    found: np.ndarray,
    order: np.ndarray,
    first: np.ndarray,
    size: np.ndarray,
) -> np.ndarray:
    """Per row, how many of the rows `order[first[k]:first[k] + size[k]]` (row `found[k]`)
    have counts within `min_items` of its own in both, looked at in blocks."""
    close = np.zeros(len(counts), dtype=np.int64)
    ends = np.cumsum(size)
    if not len(ends) or not ends[-1]:
        return close
    cuts = np.searchsorted(ends, np.arange(_CLOSE_BLOCK, ends[-1], _CLOSE_BLOCK), side="right")
    for block in np.split(np.arange(len(found)), cuts):
        owner = np.repeat(found[block], size[block])
        near = order[_ranges(first[block], size[block])]
        # The rule of `leaderboard.boards.far_enough_apart`, negated.
        too_close = (np.abs(counts[owner] - counts[near]) < min_items).all(axis=1)
        close += np.bincount(owner[too_close], minlength=len(counts))
    return close


def _close_by_table(
    counts: np.ndarray,
    min_items: int,
    cell: np.ndarray,
    lo_order: np.ndarray,
    hi_order: np.ndarray,
    cell_start: np.ndarray,
    around: list,
) -> tuple[np.ndarray, np.ndarray]:
    """`_too_close` for the eight cells around each row, by table, for whole counts.

    A row's place within its cell is 0 … `min_items` − 1 in each count. For each cell and each
    t, a table tallies the places of the cell's first t rows: from the top in the order of `lo`
    (so the rows above a row come first), from the bottom in the order of `hi`. The rows of a
    neighbouring cell above a row that are too close to it are then one rectangle of the table
    after as many rows as are above it. The cost is rows × `min_items`², whatever the board.
    """
    k = min_items
    place = (counts - k * np.floor(counts / k)).astype(np.int64)
    n_rows, n_cells = len(counts), len(cell_start)
    size = np.bincount(cell, minlength=n_cells)
    # Cell c's table after t rows is table base[c] + t; tables run on across cells, so a cell's
    # own tally is its table less its first one.
    base = cell_start + np.arange(n_cells)
    near = []
    for order, top_down, which in ((lo_order, True, 0), (hi_order, False, 1)):
        position = np.empty(n_rows, dtype=np.int64)
        position[order] = np.arange(n_rows)
        rank = position - cell_start[cell]
        if top_down:
            rank = size[cell] - 1 - rank
        tables = np.zeros((n_rows + n_cells, k + 1, k + 1), dtype=np.int32)
        tables[base[cell] + rank + 1, place[:, 0] + 1, place[:, 1] + 1] = 1
        for axis in range(3):
            np.cumsum(tables, axis=axis, out=tables)
        close = np.zeros(n_rows, dtype=np.int64)
        for (dc, dw), (found, other, *taken) in zip(_AROUND, around, strict=True):
            c0, c1 = _span(dc, place[found, 0], k)
            w0, w1 = _span(dw, place[found, 1], k)
            for table, sign in ((base[other] + taken[which], 1), (base[other], -1)):
                close[found] += sign * (
                    tables[table, c1, w1]
                    - tables[table, c0, w1]
                    - tables[table, c1, w0]
                    + tables[table, c0, w0]
                )
        near.append(close)
    return near[0], near[1]


def _span(step: int, at: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The places within a neighbouring cell `step` away (−1, 0, 1) whose count is within k of
    a row at place `at` of its own cell, as a half-open range [start, stop) of table edges."""
    if step > 0:
        return np.zeros_like(at), at  # counts above: closer than k only below the row's place
    if step < 0:
        return at + 1, np.full_like(at, k)
    return np.zeros_like(at), np.full_like(at, k)


def _ranges(start: np.ndarray, size: np.ndarray) -> np.ndarray:
    """start[0], start[0] + 1, …, start[0] + size[0] − 1, start[1], …: the ranges end to end."""
    ends = np.cumsum(size)
    return np.arange(ends[-1] if len(ends) else 0) + np.repeat(start - ends + size, size)


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
