"""Scoring a submission: a benchmark's settings, each run's counts, and each rubric's score.

A prediction file holds one run per stated target t plus possibly a default run (no target). Each
run is graded into outcomes and counted; each rubric (binary t = 0 and every benchmark target)
then takes its score from the run prompted at t when there is one, else from the default run
("same answers"). Formulas come from `scoring.metrics`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from scoring import metrics, statistics
from scoring.benchmark import (
    TARGET_EQUAL_TOLERANCE,
    BenchmarkConfig,
    ColumnReport,
    Gold,
    target_key,
)
from scoring.grading import grade_outcomes, item_positions
from scoring.outcomes import (
    OUTCOME_ABSTAINED,
    OUTCOME_CORRECT,
    OUTCOME_INCORRECT,
    OUTCOME_MISSING,
    counted_abstained,
)
from scoring.reading.gold import read_gold
from scoring.reading.predictions import Predictions, read_predictions
from scoring.reading.raw import Source

DEFAULT_RUN_KEY = "default"


@dataclass(frozen=True, eq=False)
class RunScore:
    """One run's counts and rates. `abstained` includes missing items; `outcomes` is in gold
    order (see OUTCOME_* codes).

    A result read back from storage may leave out what its reader does not need: the outcomes,
    the bootstrap and the separation bounds (None), and for a board the categories, the scores
    abstaining below each target and the confidence calibration (None too; `has_confidence`
    still says whether the run stated confidences).
    """

    target: float | None
    key: str
    n_items: int
    present: int
    correct: int
    incorrect: int
    abstained: int
    coverage: float
    accuracy: float
    error_rate: float
    abstention_rate: float
    accuracy_given_attempted: float
    f1: float
    outcomes: np.ndarray | None = field(default=None, repr=False)
    categories: dict[str, dict] | None = field(default_factory=dict, repr=False)
    # Categories left out of `categories` on a benchmark whose gold is hidden (too few answers).
    categories_not_shown: int = 0
    has_confidence: bool = False
    scores_abstaining_below: dict[str, float] | None = field(default_factory=dict)
    # Stated confidences against outcomes (statistics.confidence_calibration), when given.
    confidence_calibration: dict[str, object] | None = None
    # Per bootstrap resample, the count of correct and of incorrect items: shape (2, B).
    bootstrap: np.ndarray | None = field(default=None, repr=False)
    # The 95% interval of every rate and of the run's score under every rubric.
    intervals: dict[str, object] = field(default_factory=dict)
    # The separation bounds of the run's score under every rubric ({key: [lo, hi]}): what a
    # board too large for the paired test ranks by (statistics.run_bounds).
    bounds: dict[str, list[float] | None] | None = field(default_factory=dict, repr=False)

    def score_at(self, t: float) -> float:
        """This run's score under the rubric of target t."""
        return metrics.score_at_target(self.correct, self.incorrect, self.n_items, t)

    def score_interval(self, key: str) -> list[float] | None:
        """The 95% interval of this run's score under the rubric of this key, None without."""
        return self.intervals.get("scores", {}).get(key) if self.intervals else None

    @property
    def is_default(self) -> bool:
        """Whether this is the default run (rows without a target)."""
        return self.target is None

    @property
    def behaviourally_calibrated(self) -> bool | None:
        return statistics.behaviourally_calibrated(self.accuracy_given_attempted, self.target)

    def to_dict(self) -> dict[str, object]:
        return {
            "key": self.key,
            "target": self.target,
            "n_items": self.n_items,
            "present": self.present,
            "coverage": self.coverage,
            "counts": {
                "correct": self.correct,
                "incorrect": self.incorrect,
                "abstained": self.abstained,
            },
            "accuracy": self.accuracy,
            "error_rate": self.error_rate,
            "abstention_rate": self.abstention_rate,
            "accuracy_given_attempted": self.accuracy_given_attempted,
            "f1": self.f1,
            "has_confidence": self.has_confidence,
            "scores_abstaining_below": _json_numbers(self.scores_abstaining_below),
            "categories": {name: _json_numbers(row) for name, row in self.categories.items()},
            "categories_not_shown": self.categories_not_shown,
            "intervals": self.intervals,
            "behaviourally_calibrated": self.behaviourally_calibrated,
            "confidence_calibration": self.confidence_calibration,
        }

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RunScore):
            return NotImplemented
        return self.to_dict() == other.to_dict() and np.array_equal(self.outcomes, other.outcomes)

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True)
class RubricScore:
    """A rubric's score and where it comes from: the run prompted at t, or the default run."""

    target: float
    key: str
    score: float | None
    prompted: bool
    run_key: str | None
    interval: list[float] | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "target": self.target,
            "score": _json_number(self.score),
            "prompted": self.prompted,
            "run": self.run_key,
            "interval": self.interval,
        }


@dataclass(frozen=True, eq=False)
class SubmissionScore:
    """Everything scored from one prediction file. `primary` holds the headline metrics."""

    n_items: int
    self_graded: bool
    runs: tuple[RunScore, ...]
    rubrics: dict[str, RubricScore]
    primary: RunScore
    columns: ColumnReport

    @classmethod
    def of_runs(
        cls,
        runs: list[RunScore] | tuple[RunScore, ...],
        *,
        rubric_targets: tuple[float, ...] | list[float],
        self_graded: bool,
        columns: ColumnReport,
    ) -> SubmissionScore:
        """A submission's result from its runs (the default run, if any, first, then by target):
        each rubric's score and the headline run follow from them (`rubric_run`, `primary_run`),
        so a stored result is its runs and these few facts."""
        runs = tuple(runs)
        chosen = [(t, *rubric_run(runs, t)) for t in rubric_targets]
        scored = [(t, run) for t, run, _ in chosen if run is not None]
        # Every score in one call, elementwise as `RunScore.score_at` gives each (a board reads
        # thousands of results at once).
        scores = iter(
            np.atleast_1d(
                metrics.score_at_target(
                    [run.correct for _, run in scored],
                    [run.incorrect for _, run in scored],
                    [run.n_items for _, run in scored],
                    [t for t, _ in scored],
                )
            ).tolist()
        )
        rubrics: dict[str, RubricScore] = {}
        for t, run, prompted in chosen:
            key = target_key(t)
            if run is not None:
                rubrics[key] = RubricScore(
                    t, key, next(scores), prompted, run.key, run.score_interval(key)
                )
            else:
                rubrics[key] = RubricScore(t, key, None, False, None)
        return cls(
            n_items=runs[0].n_items,
            self_graded=self_graded,
            runs=runs,
            rubrics=rubrics,
            primary=primary_run(runs),
            columns=columns,
        )

    def run(self, key: str | None) -> RunScore | None:
        """The run with this key ("default" or a target's key), None if there is none."""
        return next((run for run in self.runs if run.key == key), None)

    def to_dict(self) -> dict[str, object]:
        """The object `python -m scoring --json` prints (SPEC §6)."""
        primary = self.primary
        return {
            "n_items": self.n_items,
            "coverage": primary.coverage,
            "counts": {
                "correct": primary.correct,
                "incorrect": primary.incorrect,
                "abstained": primary.abstained,
            },
            "accuracy": primary.accuracy,
            "error_rate": primary.error_rate,
            "abstention_rate": primary.abstention_rate,
            "accuracy_given_attempted": primary.accuracy_given_attempted,
            "f1": primary.f1,
            "scores": {key: _json_number(rubric.score) for key, rubric in self.rubrics.items()},
            "runs": [run.to_dict() for run in self.runs],
            "self_graded": self.self_graded,
            "primary_run": primary.key,
            "rubrics": {key: rubric.to_dict() for key, rubric in self.rubrics.items()},
            "columns": self.columns.to_dict(),
        }

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SubmissionScore):
            return NotImplemented
        pairs = zip(self.runs, other.runs, strict=True)
        return self.to_dict() == other.to_dict() and all(
            np.array_equal(a.outcomes, b.outcomes) for a, b in pairs
        )

    __hash__ = None  # type: ignore[assignment]


def score_predictions(
    gold: Gold, predictions: Predictions, config: BenchmarkConfig
) -> SubmissionScore:
    """Grade every run of a prediction file and score each rubric."""
    rows = predictions.rows
    targets = rows["target"].to_numpy(dtype=float)
    is_default = np.isnan(targets)
    runs: list[RunScore] = []
    if is_default.any() or not len(rows):
        default_rows = rows if is_default.all() else rows[is_default]
        runs.append(_score_run(gold, default_rows, None, config))
    for t in np.unique(targets[~is_default]):
        runs.append(_score_run(gold, rows[targets == t], float(t), config))
    if config.n_resamples:
        runs = _with_bootstrap(runs, config)
    return SubmissionScore.of_runs(
        runs,
        rubric_targets=config.rubrics,
        self_graded=config.grader == "pregraded",
        columns=predictions.columns,
    )


def score_file(
    gold_source: Source,
    predictions_source: Source,
    *,
    gold_filename: str,
    predictions_filename: str,
    config: BenchmarkConfig,
) -> SubmissionScore:
    """Read a gold file and a prediction file and score them; FileRejected if either is bad."""
    gold = read_gold(
        gold_source, filename=gold_filename, grader=config.grader, max_bytes=config.max_bytes
    )
    predictions = read_predictions(
        predictions_source, filename=predictions_filename, gold=gold, config=config
    )
    return score_predictions(gold, predictions, config)


def _with_bootstrap(runs: list[RunScore], config: BenchmarkConfig) -> list[RunScore]:
    """Each run with its bootstrap counts, intervals and separation bounds; all runs share the
    same resamples."""
    counts = statistics.bootstrap_counts(
        [run.outcomes for run in runs], seed=config.seed, n_resamples=config.n_resamples
    )
    out = []
    for run, run_counts in zip(runs, counts, strict=True):
        run_counts.setflags(write=False)
        intervals = statistics.run_intervals(run_counts, run.n_items, config.rubrics)
        bounds = statistics.run_bounds(run_counts, run.n_items, config.rubrics)
        out.append(
            dataclasses.replace(run, bootstrap=run_counts, intervals=intervals, bounds=bounds)
        )
    return out


def run_order(target: float | None) -> tuple[bool, float]:
    """Where a run of this target comes among a submission's runs, as `score_predictions` makes
    them and the policies below take them: the default run (None) first, then by target."""
    return (target is not None, target or 0.0)


def primary_run(runs: Sequence[RunScore]) -> RunScore:
    """The policy "which run's metrics are the headline ones": the default run when there is
    one, else the run prompted at binary (t = 0), else the first run.

    `runs` as `rubric_run` takes them.
    """
    if runs[0].target is None:
        return runs[0]
    prompted = _prompted_run(runs, 0.0)
    return runs[0] if prompted is None else prompted


def rubric_run(runs: Sequence[RunScore], t: float) -> tuple[RunScore | None, bool]:
    """The policy "which run scores a rubric": the run prompted at t when there is one, else the
    default run ("same answers"), else none; and whether the run was prompted at t.

    `runs` is a submission's runs as `score_predictions` makes them, the default run (if any)
    first.
    """
    prompted = _prompted_run(runs, t)
    if prompted is not None:
        return prompted, True
    default = runs[0] if runs and runs[0].target is None else None
    return default, False


def _prompted_run(runs: Sequence[RunScore], t: float) -> RunScore | None:
    for run in runs:
        if run.target is not None and abs(run.target - t) <= TARGET_EQUAL_TOLERANCE:
            return run
    return None


def rubric_runs(
    owner: np.ndarray, run_targets: np.ndarray, t: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """`rubric_run` for many submissions at once, from their runs as columns: a board reads
    thousands of results.

    `owner[r]` is the submission (0 … n − 1) of run r and `run_targets[r]` its target (NaN for
    the default run), each submission's runs in the order `rubric_run` takes them; `t[i]` is the
    target of submission i's rubric (NaN: it has none). Returns per submission the index of the
    run scoring the rubric (−1: none) and whether that run was prompted at t.
    """
    owner = np.asarray(owner, dtype=np.int64)
    run_targets = np.asarray(run_targets, dtype=float)
    t = np.asarray(t, dtype=float)
    runs = np.arange(len(owner))
    with np.errstate(invalid="ignore"):
        at_t = np.abs(run_targets - t[owner]) <= TARGET_EQUAL_TOLERANCE
    # The first such run of each submission (written last-first, so that the first one stays).
    chosen = np.full(len(t), -1, dtype=np.int64)
    found = runs[at_t][::-1]
    chosen[owner[found]] = found
    prompted = chosen >= 0
    default = _default_runs(owner, run_targets, len(t))
    chosen = np.where(prompted | np.isnan(t), chosen, default)
    return chosen, prompted


def primary_runs(owner: np.ndarray, run_targets: np.ndarray, n: int) -> np.ndarray:
    """`primary_run` for many submissions at once, from their runs as columns (`rubric_runs`):
    per submission, the index of its headline run (−1: it has no run)."""
    owner = np.asarray(owner, dtype=np.int64)
    run_targets = np.asarray(run_targets, dtype=float)
    binary, prompted = rubric_runs(owner, run_targets, np.zeros(n))
    default = _default_runs(owner, run_targets, n)
    return np.where(default >= 0, default, np.where(prompted, binary, _first_runs(owner, n)))


def _first_runs(owner: np.ndarray, n: int) -> np.ndarray:
    """Per submission, the index of its first run (−1: none)."""
    first = np.full(n, -1, dtype=np.int64)
    # Written last-first, so that the first run of each submission stays.
    first[owner[::-1]] = np.arange(len(owner))[::-1]
    return first


def _default_runs(owner: np.ndarray, run_targets: np.ndarray, n: int) -> np.ndarray:
    """Per submission, the index of its default run, which comes first (−1: none)."""
    first = _first_runs(owner, n)
    default = np.full(n, -1, dtype=np.int64)
    has = first >= 0
    default[has] = np.where(np.isnan(run_targets[first[has]]), first[has], -1)
    return default


def _score_run(
    gold: Gold, rows: pd.DataFrame, target: float | None, config: BenchmarkConfig
) -> RunScore:
    n = gold.n_items
    outcomes = grade_outcomes(gold, rows, config)
    outcomes.setflags(write=False)
    missing, correct, incorrect, abstained = (
        int(count) for count in np.bincount(outcomes, minlength=4)[:4]
    )
    abstained = counted_abstained(abstained, missing)
    accuracy = metrics.accuracy(correct, n)
    given_attempted = metrics.accuracy_given_attempted(correct, incorrect)

    k = config.min_items_per_figure
    confidence = rows["confidence"].to_numpy(dtype=float)
    has_confidence = bool(len(confidence)) and not np.isnan(confidence).all()
    below: dict[str, float | None] = {}
    calibration = None
    parts = None
    # Hidden gold: which confidence bin each answer falls in (those without a confidence apart),
    # for category rows that must not cut a bin into a few answers.
    bins = np.zeros(n, dtype=np.int64)
    if has_confidence:
        per_item = np.full(n, np.nan)
        per_item[item_positions(gold, rows)] = confidence
        parts = (
            statistics.confidence_parts(outcomes, per_item, min_items=k, targets=config.targets)
            if k
            else None
        )
        if parts is not None:
            stated = ~np.isnan(per_item)
            bins[stated] = np.searchsorted(parts, per_item[stated], side="right")
            bins[~stated] = len(parts) + 1
        below = {
            target_key(t): (
                metrics.score_abstaining_below(outcomes, per_item, t)
                if not k or _drops_whole_parts(outcomes, per_item, t, parts)
                else None
            )
            for t in config.rubrics
        }
        calibration = statistics.confidence_calibration(
            outcomes, per_item, min_items=k, targets=config.targets
        )
    categories, categories_not_shown = _categories(gold, outcomes, k, bins)
    return RunScore(
        target=target,
        key=DEFAULT_RUN_KEY if target is None else target_key(target),
        n_items=n,
        present=n - missing,
        correct=correct,
        incorrect=incorrect,
        abstained=abstained,
        coverage=metrics.coverage(n - missing, n),
        accuracy=accuracy,
        error_rate=metrics.error_rate(incorrect, n),
        abstention_rate=metrics.abstention_rate(abstained, n),
        accuracy_given_attempted=given_attempted,
        f1=metrics.f1(accuracy, given_attempted),
        outcomes=outcomes,
        categories=categories,
        categories_not_shown=categories_not_shown,
        has_confidence=has_confidence,
        scores_abstaining_below=below,
        confidence_calibration=calibration,
    )


def _drops_whole_parts(
    outcomes: np.ndarray, confidence: np.ndarray, t: float, parts: np.ndarray | None
) -> bool:
    """On a benchmark whose gold is hidden, whether the score abstaining below t may be shown:
    the answers it drops are none, or whole bins of `statistics.confidence_parts`, so that it
    is a sum of figures already shown and tells nothing about fewer answers."""
    answered = (outcomes == OUTCOME_CORRECT) | (outcomes == OUTCOME_INCORRECT)
    dropped = answered & (confidence < t)
    if not dropped.any():
        return True
    if parts is None:
        return False
    stated = answered & ~np.isnan(confidence)
    part = np.searchsorted(parts, confidence[stated], side="right")
    below = dropped[stated]
    return not np.intersect1d(part[below], part[~below]).size


def _categories(
    gold: Gold, outcomes: np.ndarray, min_items: int, bins: np.ndarray
) -> tuple[dict[str, dict], int]:
    """Each category's counts, and how many categories are not shown.

    With `min_items` (hidden gold) the run's answers are split by category and by the confidence
    bin its figures come from (`bins`, per item): every figure is then a sum of such cells, so
    each cell of a category shown, and of the answers outside the categories shown (their counts
    follow from the run's), must hold none or at least `min_items` answers. A category with a
    smaller cell is left out; while the answers outside have a small cell, the category with
    fewest answers there joins them.
    """
    codes, names = gold.category_codes
    if not names:
        return {}, 0
    k = len(names)
    has = codes >= 0
    # One count per (category, outcome code).
    table = np.bincount(codes[has] * 4 + outcomes[has], minlength=4 * k).reshape(k, 4)
    n_items = table.sum(axis=1)
    correct = table[:, OUTCOME_CORRECT]
    incorrect = table[:, OUTCOME_INCORRECT]
    abstained = counted_abstained(table[:, OUTCOME_ABSTAINED], table[:, OUTCOME_MISSING])
    accuracy = metrics.accuracy(correct, n_items)
    error_rate = metrics.error_rate(incorrect, n_items)
    abstention_rate = metrics.abstention_rate(abstained, n_items)
    shown = np.ones(k, dtype=bool)
    if min_items:
        answered = (outcomes == OUTCOME_CORRECT) | (outcomes == OUTCOME_INCORRECT)
        width = int(bins.max()) + 1
        # cells[c, b]: answers of category c in bin b; every answer, whatever its category.
        cells = np.bincount(
            codes[has & answered] * width + bins[has & answered], minlength=k * width
        ).reshape(k, width)
        every = np.bincount(bins[answered], minlength=width)
        shown = cells.sum(axis=1) >= min_items
        shown &= ((cells == 0) | (cells >= min_items)).all(axis=1)
        while True:
            rest = every - cells[shown].sum(axis=0)
            small = np.flatnonzero((rest > 0) & (rest < min_items))
            if not len(small):
                break
            b = small[0]
            # Fewest answers first (then by name), so the fewest are given up.
            candidates = np.flatnonzero(shown & (cells[:, b] > 0))
            if not len(candidates):  # cannot happen with bins of min_items; never risk it
                shown[:] = False
                break
            drop = min(candidates, key=lambda i: (cells[i].sum(), names[i]))
            shown[drop] = False
    rows = {
        name: {
            "n_items": int(n_items[i]),
            "correct": int(correct[i]),
            "incorrect": int(incorrect[i]),
            "abstained": int(abstained[i]),
            "accuracy": float(accuracy[i]),
            "error_rate": float(error_rate[i]),
            "abstention_rate": float(abstention_rate[i]),
        }
        for i, name in enumerate(names)
        if shown[i]
    }
    return rows, int(k - np.count_nonzero(shown))


def _json_number(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def _json_numbers(values: Mapping[str, object]) -> dict[str, object]:
    return {
        key: _json_number(value) if isinstance(value, float) else value
        for key, value in values.items()
    }
