"""Benchmark: significance-aware ranks by the paired test and by separation bounds, side by side.

On synthetic boards shaped like MMLU-Pro (12,032 items, 1,000 paired resamples, the score at
t = 0.75 from each run's resampled counts of correct and wrong answers), it times in one run:

- the paired test (`significance_ranks`), which compares every pair of rows resample by
  resample, at 100, 200, 300 and 1,000 rows (at 10,000 it would need n² · B comparisons and an
  n × n matrix of shares: its time there is extrapolated from the fitted exponent, not run);
- the separation bounds of large boards: each row's bounds (`separation_bounds`, a cost paid once
  per submission when it is scored, shown per row) and the ranks from them (`ranks_from_bounds`)
  at 200, 1,000 and 10,000 rows;
- both again with the rule of hidden-gold benchmarks (pairs closer than K = 25 items in both
  counts never separated), and the bounds on the rule's hardest case: 10,000 submissions crowded
  on a 300-item benchmark at t = 0.9, where many rows close in counts are far apart in score.

Figures are medians over `--repeat` runs, with the fastest and slowest. It checks on every board
where both run that the bounds separate no pair the paired test does not, says what share of the
paired test's separations they keep, and prints the fitted growth exponent of each method.
`statistics.PAIRED_MAX_ROWS` is where the board switches from one to the other.

    .venv/bin/python bench/ranks.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from scoring import metrics, statistics  # noqa: E402

N_ITEMS = 12_032
TARGET = 0.75
HIDDEN_K = 25  # HIDDEN_GOLD_MIN_ITEMS
PAIRED_SIZES = (100, 200, 300, 1_000)
BOUNDS_SIZES = (200, 1_000, 10_000)
TARGET_SECONDS = 1.0  # ranks of a 10,000-row board


def board(
    n: int, seed: int, n_items: int = N_ITEMS, target: float = TARGET
) -> tuple[np.ndarray, np.ndarray]:
    """n runs' scores per resample (n × B) and their counts of correct and wrong answers.

    Each run answers right with probability p and wrong with q; a resample's counts are its
    counts plus multinomial noise, half of which every run shares (the paired resamples draw the
    same items for all), rounded to whole answers.
    """
    rng = np.random.default_rng(seed)
    right = rng.uniform(0.2, 0.8, n)
    wrong = rng.uniform(0.02, 1 - right)
    counts = np.rint(np.column_stack([right, wrong]) * n_items)
    shared = rng.normal(size=(2, statistics.N_RESAMPLES))
    own = rng.normal(size=(n, 2, statistics.N_RESAMPLES))
    noise = np.sqrt(0.5) * shared + np.sqrt(0.5) * own
    spread = np.sqrt(n_items * np.column_stack([right * (1 - right), wrong * (1 - wrong)]))
    resampled = np.rint(counts[:, :, None] + spread[:, :, None] * noise)
    scores = metrics.score_at_target(resampled[:, 0], resampled[:, 1], n_items, target)
    return np.asarray(scores, dtype=float), counts


def far_enough_apart(counts: np.ndarray, k: int) -> np.ndarray:
    """As the board decides it for a hidden-gold benchmark: 〈counts differ by ≥ k in either〉."""
    return (np.abs(counts[:, None, :] - counts[None, :, :]) >= k).any(axis=2)


def timed(repeat: int, run, *args, **kwargs) -> tuple[float, float, float, object]:
    """Median, fastest and slowest time of `run(*args, **kwargs)` over `repeat` samples, and its
    last result. A call quicker than 20 ms is repeated within each sample and the sample's time
    divided, so that sub-millisecond figures are not the timer's noise."""
    started = time.perf_counter()
    result = run(*args, **kwargs)
    calls = max(1, int(0.02 / max(time.perf_counter() - started, 1e-6)))
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(calls):
            result = run(*args, **kwargs)
        times.append((time.perf_counter() - started) / calls)
    return float(np.median(times)), min(times), max(times), result


def exponent(sizes, seconds) -> float:
    """The slope of log time against log size, least squares."""
    return float(np.polyfit(np.log(sizes), np.log(seconds), 1)[0])


def figure(median: float, fastest: float, slowest: float) -> str:
    return f"{median:9.5f} s ({fastest:.5f}–{slowest:.5f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    repeat = args.repeat
    ok = True

    print(
        f"paired resamples B = {statistics.N_RESAMPLES}, bounds leave out "
        f"k = {statistics.separation_depth(statistics.N_RESAMPLES)} per side; "
        f"boards switch above {statistics.PAIRED_MAX_ROWS} rows"
    )
    print(
        f"{'rows':>7} {'K':>3}  {'paired test':>28}  {'bounds per row':>14}  "
        f"{'ranks from bounds':>28}  separations kept"
    )
    timings: dict[tuple[str, int], list[float]] = {}
    for k in (0, HIDDEN_K):
        for n in sorted(set(PAIRED_SIZES) | set(BOUNDS_SIZES)):
            samples, counts = board(n, seed=n)
            comparable = far_enough_apart(counts, k) if k else None
            paired_cell = f"{'—':>28}"
            if n in PAIRED_SIZES:
                median, fastest, slowest, paired = timed(
                    repeat, statistics.significance_ranks, samples, comparable=comparable
                )
                timings.setdefault(("paired", k), []).append(median)
                paired_cell = figure(median, fastest, slowest)
            bounds_cell, ranks_cell, kept = f"{'—':>14}", f"{'—':>28}", ""
            if n in BOUNDS_SIZES or n in PAIRED_SIZES:
                per_board, _, _, (lo, hi) = timed(repeat, statistics.separation_bounds, samples)
                bounds_cell = f"{per_board / n * 1e6:11.1f} µs"
                median, fastest, slowest, (rank, worst) = timed(
                    repeat,
                    statistics.ranks_from_bounds,
                    lo,
                    hi,
                    answered=counts if k else None,
                    min_items=k,
                )
                if n in BOUNDS_SIZES:
                    timings.setdefault(("bounds", k), []).append(median)
                ranks_cell = figure(median, fastest, slowest)
                if n in PAIRED_SIZES:
                    claimed = statistics.higher(lo[None, :], hi[:, None])
                    if comparable is not None:
                        claimed &= comparable
                    beaten = paired.beats >= statistics.BEATS_SHARE
                    wrong = int(np.count_nonzero(claimed & ~beaten))
                    ok &= wrong == 0
                    kept = (
                        f"{np.count_nonzero(claimed):,} of {np.count_nonzero(beaten):,} "
                        f"({np.count_nonzero(claimed) / max(np.count_nonzero(beaten), 1):.1%})"
                        + ("" if not wrong else f", {wrong} NOT SEPARATED BY THE PAIRED TEST")
                    )
                    ok &= bool((rank <= paired.rank).all() and (worst >= paired.low).all())
            print(f"{n:>7,} {k:>3}  {paired_cell}  {bounds_cell}  {ranks_cell}  {kept}")
    print()
    for k in (0, HIDDEN_K):
        paired_slope = exponent(PAIRED_SIZES, timings[("paired", k)])
        bounds_slope = exponent(BOUNDS_SIZES, timings[("bounds", k)])
        at_10k = timings[("paired", k)][-1] * (10_000 / PAIRED_SIZES[-1]) ** paired_slope
        ratio = at_10k / timings[("bounds", k)][-1]
        print(
            f"K = {k:>2}: growth exponent paired {paired_slope:.2f}, bounds {bounds_slope:.2f}; "
            f"at 10,000 rows the paired test would take ~{at_10k:.0f} s, "
            f"{ratio:,.0f}× the bounds"
        )
        ok &= timings[("bounds", k)][-1] <= TARGET_SECONDS
    samples, counts = board(10_000, seed=3, n_items=300, target=0.9)
    lo, hi = statistics.separation_bounds(samples)
    median, fastest, slowest, _ = timed(
        repeat, statistics.ranks_from_bounds, lo, hi, answered=counts, min_items=HIDDEN_K
    )
    print(
        f"crowded: 10,000 rows of a 300-item benchmark at t = 0.9, K = {HIDDEN_K}: "
        f"ranks from bounds {figure(median, fastest, slowest).strip()} (the rule's worst case, "
        "not a target)"
    )
    print(
        f"target: ranks of 10,000 rows ≤ {TARGET_SECONDS:.0f} s, no separation the paired test "
        f"does not make: {'met' if ok else 'NOT MET'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
