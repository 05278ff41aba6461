"""Reads: the leaderboard of a benchmark as one user may see it, and its exports."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import math
import pickle
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import ClassVar, TypeVar

import numpy as np
import pandas as pd
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Count, Max

import scoring
from leaderboard.models import METRICS, Benchmark, Item, Run, Submission

BOARD_CACHE_SECONDS = 24 * 3600
# A model named first whose file leaves out at least this share of the items is named with it.
OMITTED_WORTH_SAYING = 0.01
# The rates whose 95% intervals the board shows and exports.
INTERVAL_METRICS = ("accuracy", "error_rate", "abstention_rate", "accuracy_given_attempted")
# How long one process may hold the right to recompute a cached board, figure or page before
# another may try: a process that dies while computing frees it by itself after this.
RECOMPUTE_LOCK_SECONDS = 30

T = TypeVar("T")


@contextmanager
def recomputing(benchmark: Benchmark, kind: str) -> Iterator[bool]:
    """The right to compute one cached value of the benchmark's current results.

    True when this process holds it (until the block ends); False while another process does.
    """
    lock_key = f"{benchmark.results_cache_key(kind)}:computing"
    locked = cache.add(lock_key, 1, RECOMPUTE_LOCK_SECONDS)
    try:
        yield locked
    finally:
        if locked:
            cache.delete(lock_key)


def cached_results(
    benchmark: Benchmark, kind: str, build: Callable[[], T], *, stale_ok: bool = False
) -> T:
    """A value computed from the benchmark's public results, cached under its results generation.

    Every change of results bumps the generation, so each cached value misses once per change
    (the board, its figures and its JSON not even once: ``cache_public_results`` computes them
    with the change). On a miss one process computes the value while holding the right to
    (``recomputing``); a reader that comes meanwhile with ``stale_ok`` is given the newest
    value computed for an earlier generation instead of computing it too. Without that, every
    web worker would compute the same page at once after each scoring while all readers wait.
    Such a reader is at most one computation behind, and only while that computation runs;
    without ``stale_ok`` (or before any value exists) a reader computes the value itself.
    """
    key = benchmark.results_cache_key(kind)
    value = cache.get(key)
    if value is not None:
        return value
    latest_key = f"{kind}:{benchmark.pk}:latest"
    with recomputing(benchmark, kind) as mine:
        if not mine and stale_ok:
            value = cache.get(latest_key)
            if value is not None:
                return value
        value = build()
        cache.set_many({key: value, latest_key: value}, BOARD_CACHE_SECONDS)
    return value


@dataclass(frozen=True)
class Rubric:
    key: str
    target: float

    @property
    def is_binary(self) -> bool:
        return self.target == 0

    @property
    def penalty(self) -> float:
        return float(scoring.penalty(self.target))

    @property
    def label(self) -> str:
        return "binary" if self.is_binary else f"t = {self.key}"


@dataclass(frozen=True)
class Cell:
    score: float | None
    rank: int | None
    rank_shift: int | None
    prompted: bool
    # The score's 95% bootstrap interval, and the ranks the paired bootstrap allows: from
    # 1 + how many beat this one (`significant_rank`) to the worst it could be (`rank_low`).
    interval: list[float] | None = None
    significant_rank: int | None = None
    rank_low: int | None = None
    # The submission's run that this score comes from ("default", or a target's key), and that
    # run's correct and incorrect counts.
    run: str | None = None
    answered: tuple[int, int] | None = None

    @property
    def tied(self) -> str:
        """Text such as "tied 2–4" when the data cannot tell this rank from others, or ""."""
        if self.significant_rank is None or self.rank_low is None:
            return ""
        if self.significant_rank == self.rank_low:
            return ""
        return f"tied {self.significant_rank}–{self.rank_low}"

    def to_dict(self) -> dict:
        return {
            "score": self.score,
            "rank": self.rank,
            "rank_shift": self.rank_shift,
            "prompted": self.prompted,
            "interval": self.interval,
            "rank_significant": self.significant_rank,
            "rank_range": (
                None if self.significant_rank is None else [self.significant_rank, self.rank_low]
            ),
        }


@dataclass(frozen=True)
class Row:
    id: int
    model: str
    organisation: str
    url: str
    self_graded: bool
    private: bool
    metrics: dict[str, float]
    counts: dict[str, int]
    cells: dict[str, Cell]
    # 95% intervals of the headline run's rates ({"accuracy": [low, high], …}).
    intervals: dict[str, list[float]] = field(default_factory=dict)
    # The runs prompted at a target: {"target", "accuracy_given_attempted", "interval",
    # "error_rate", "abstention_rate", "score", "calibrated"} each, by target.
    behaviour: list[dict] = field(default_factory=list)

    is_baseline: ClassVar[bool] = False

    @property
    def n_items(self) -> int:
        return sum(self.counts.get(name, 0) for name in ("correct", "incorrect", "abstained"))

    @property
    def omitted_rate(self) -> float:
        """The share of the benchmark's items that the file leaves out: 1 − coverage."""
        coverage = self.metrics.get("coverage")
        return 0.0 if coverage is None else 1.0 - coverage

    @property
    def omitted(self) -> int:
        """Items not in the file; the spec counts them among the abstentions."""
        return round(self.n_items * self.omitted_rate)

    @property
    def stated_abstentions(self) -> int:
        """Items the file holds and abstains on."""
        return self.counts.get("abstained", 0) - self.omitted

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "model": self.model,
            "organisation": self.organisation,
            "self_graded": self.self_graded,
            **{name: self.metrics.get(name) for name in METRICS},
            "omitted_rate": self.omitted_rate,
            "counts": {
                "correct": self.counts.get("correct", 0),
                "incorrect": self.counts.get("incorrect", 0),
                "abstained": self.counts.get("abstained", 0),
                "omitted": self.omitted,
            },
            "intervals": {name: self.intervals.get(name) for name in INTERVAL_METRICS},
            "scores": {key: cell.to_dict() for key, cell in self.cells.items()},
            "behavioural_calibration": self.behaviour,
        }


ABSTAIN_EVERYWHERE = "abstain on everything"
UNIFORM_GUESSING = "uniform guessing"
# What a board says of a score that does not beat abstaining on everything beyond noise.
BELOW_ABSTAINING = "scores below abstaining on everything"
LEVEL_WITH_ABSTAINING = "scores no better than abstaining on everything"
ABOVE_ABSTAINING_WITHIN_NOISE = "scores above abstaining on everything only within noise"


@dataclass(frozen=True)
class Baseline:
    """A reference line that the board draws and never ranks: what a trivial strategy scores.

    Its rates are expected shares of the items, so its score at t is the same formula as a
    model's (`score_at`).
    """

    name: str
    description: str
    # coverage, accuracy, error_rate and abstention_rate.
    metrics: dict[str, float]
    # By rubric key.
    scores: dict[str, float]

    is_baseline: ClassVar[bool] = True

    def score_at(self, t: float | np.ndarray) -> float | np.ndarray:
        """The expected score at target t (or at each of an array of targets)."""
        return scoring.score_at_target(self.metrics["accuracy"], self.metrics["error_rate"], 1, t)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "description": self.description,
            "scores": self.scores,
            **self.metrics,
        }


def baselines_of(benchmark: Benchmark, rubrics: list[Rubric]) -> tuple[list[Baseline], list[str]]:
    """The benchmark's reference lines, and why a line it lacks is missing.

    Abstaining on everything scores 0 under every rubric. On a `choice` benchmark, uniform
    guessing scores what picking one of an item's options at random is expected to score
    (scoring.uniform_guessing_score), from each item's number of options: the gold file's,
    else the benchmark's.
    """
    baselines = [
        Baseline(
            name=ABSTAIN_EVERYWHERE,
            description="answers “I don't know” to every item",
            metrics={"coverage": 1.0, "accuracy": 0.0, "error_rate": 0.0, "abstention_rate": 1.0},
            scores={rubric.key: 0.0 for rubric in rubrics},
        )
    ]
    notes = []
    if benchmark.grader != Benchmark.Grader.CHOICE or not benchmark.n_items:
        return baselines, notes
    # Items by number of options: a few groups, however many items.
    groups = (
        Item.objects.filter(benchmark=benchmark)
        .values_list("n_options")
        .annotate(items=Count("pk"))
        .order_by()
    )
    options, counts = [], []
    for n_options, items in groups:
        options.append(n_options or benchmark.n_options)
        counts.append(items)
    unknown = sum(items for n, items in zip(options, counts, strict=True) if n is None)
    if unknown:
        notes.append(
            f"No uniform-guessing line: {unknown:,} of {sum(counts):,} items have no number of "
            "options (the gold file has no n_options or options column for them, and the "
            "benchmark states none)."
        )
        return baselines, notes
    per_item = np.repeat(np.array(options, dtype=float), counts)
    chance = scoring.uniform_guessing_score(per_item, 0.0)
    baselines.append(
        Baseline(
            name=UNIFORM_GUESSING,
            description="picks one of each item's options at random (expected score)",
            metrics={
                "coverage": 1.0,
                "accuracy": chance,
                "error_rate": 1.0 - chance,
                "abstention_rate": 0.0,
            },
            scores={
                rubric.key: scoring.uniform_guessing_score(per_item, rubric.target)
                for rubric in rubrics
            },
        )
    )
    return baselines, notes


def _score_of(line: Row | Baseline, key: str) -> float | None:
    return line.scores[key] if line.is_baseline else line.cells[key].score


def _joined(words: list[str]) -> str:
    """["0.5", "0.75", "0.9"] → "0.5, 0.75 and 0.9"."""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


@dataclass(frozen=True)
class Board:
    benchmark: Benchmark
    rubrics: list[Rubric]
    rows: list[Row]
    taus: dict[str, float | None] = field(default_factory=dict)
    # True for the board every visitor sees, which is cached; False for one that shows a
    # viewer's own private rows, or everything to staff.
    public: bool = True
    # Per rubric key, [i, j] true where submission j beats submission i: it scores higher in at
    # least 97.5% of the paired resamples. Rows and columns follow `positions` (submission id to
    # index). Empty without bootstraps.
    beats: dict[str, np.ndarray] = field(default_factory=dict)
    positions: dict[int, int] = field(default_factory=dict)
    # Reference lines, never ranked (`baselines_of`), and why one is missing.
    baselines: list[Baseline] = field(default_factory=list)
    baseline_notes: list[str] = field(default_factory=list)

    @property
    def targets(self) -> list[Rubric]:
        return [rubric for rubric in self.rubrics if not rubric.is_binary]

    @property
    def strictest(self) -> Rubric | None:
        """The highest target: the rubric that punishes a wrong answer most."""
        return self.targets[-1] if self.targets else None

    def leader(self, key: str) -> Row | None:
        ranking = self.ranking(key)
        return ranking[0] if ranking else None

    def ranking(self, key: str) -> list[Row]:
        """Rows in rank order under one rubric, those without a score left out."""
        ranked = [row for row in self.rows if row.cells[key].rank is not None]
        return sorted(ranked, key=lambda row: (row.cells[key].rank, row.model.lower()))

    def rubric(self, key: str | None) -> Rubric:
        """The rubric with this key, binary when there is none."""
        return next((rubric for rubric in self.rubrics if rubric.key == key), self.rubrics[0])

    def beats_beyond_noise(self, key: str, winner: Row, loser: Row) -> bool:
        """Whether `winner` scores above `loser` in at least 97.5% of the paired resamples."""
        matrix = self.beats.get(key)
        if matrix is None:
            return False
        return bool(matrix[self.positions[loser.id], self.positions[winner.id]])

    def moved_beyond_noise(self, row: Row, key: str) -> bool:
        """Whether the ranks the bootstrap allows under binary and at `key` do not overlap."""
        before, after = row.cells["0"], row.cells[key]
        if None in (before.significant_rank, before.rank_low, after.significant_rank):
            return False
        return after.rank_low < before.significant_rank or after.significant_rank > before.rank_low

    def beats_abstaining(self, row: Row, key: str) -> bool:
        """Whether the row scores above abstaining on everything (0) at this rubric, beyond noise:
        its 95% interval, where one is stored, lies above 0 too."""
        cell = row.cells[key]
        if cell.score is None or cell.score <= scoring.SCORE_TIE_TOLERANCE:
            return False
        return not cell.interval or cell.interval[0] > scoring.SCORE_TIE_TOLERANCE

    def against_abstaining(self, row: Row, key: str) -> str:
        """How the row's score at this rubric stands against abstaining on everything, in words;
        "" when it beats it beyond noise (or has no score)."""
        score = row.cells[key].score
        if score is None or self.beats_abstaining(row, key):
            return ""
        if score < -scoring.SCORE_TIE_TOLERANCE:
            return BELOW_ABSTAINING
        if score <= scoring.SCORE_TIE_TOLERANCE:
            return LEVEL_WITH_ABSTAINING
        return ABOVE_ABSTAINING_WITHIN_NOISE

    def unbeaten_by_models(self) -> list[Rubric]:
        """The targets at which no model here beats abstaining on everything beyond noise."""
        if not self.rows:
            return []
        return [
            rubric
            for rubric in self.targets
            if not any(self.beats_abstaining(row, rubric.key) for row in self.rows)
        ]

    def abstaining_verdict(self) -> str:
        """In words: the targets at which no model here does better than abstaining everywhere.

        A model above 0 only within noise does not count as beating it, and is named as such.
        """
        unbeaten = self.unbeaten_by_models()
        none_above = [
            rubric
            for rubric in unbeaten
            if all(
                (row.cells[rubric.key].score or 0) <= scoring.SCORE_TIE_TOLERANCE
                for row in self.rows
            )
        ]
        sentences = []
        if none_above:
            sentences.append(
                f"At t = {_joined([rubric.key for rubric in none_above])} no model here does "
                "better than answering “I don't know” to everything, which scores 0."
            )
        noisy = [rubric for rubric in unbeaten if rubric not in none_above]
        if noisy:
            above = [
                row.model
                for row in self.rows
                if any(
                    self.against_abstaining(row, rubric.key) == ABOVE_ABSTAINING_WITHIN_NOISE
                    for rubric in noisy
                )
            ]
            sentences.append(
                f"At t = {_joined([rubric.key for rubric in noisy])} no model here does better "
                "than answering “I don't know” to everything beyond noise: "
                f"{_joined(above)} {'scores' if len(above) == 1 else 'score'} above 0, but "
                f"{'its 95% interval reaches' if len(above) == 1 else 'their 95% intervals reach'}"
                " 0."
            )
        return " ".join(sentences)

    def leader_context(self, row: Row, key: str) -> str:
        """What a reader must know of a model named first at a rubric: that it does not beat
        abstaining on everything, and how much of the benchmark it omits; "" when neither."""
        parts = [self.against_abstaining(row, key)]
        if row.omitted_rate >= OMITTED_WORTH_SAYING:
            parts.append(f"omits {row.omitted_rate:.1%} of the items")
        return " and ".join(part for part in parts if part)

    def headline(self) -> str:
        """In words, computed from the board: how much rewarding abstention reorders it, and the
        targets at which no model beats abstaining on everything (`abstaining_verdict`)."""
        return " ".join(part for part in (self._reordering(), self.abstaining_verdict()) if part)

    def _reordering(self) -> str:
        """How much rewarding abstention reorders the board.

        With the paired bootstrap at hand it claims no reordering that is within noise: a model
        counts as moved beyond noise only when its possible ranks under binary and at the target
        do not overlap, and a new leader is named only when it beats the binary leader in at
        least 97.5% of the resamples. A model named first is named with `leader_context`.
        """
        if len(self.rows) < 2:
            return ""
        strictest = self.strictest
        if strictest is None:
            return ""
        key = strictest.key
        ranked = [row for row in self.rows if row.cells[key].rank is not None]
        moved = [row for row in ranked if row.cells[key].rank_shift not in (0, None)]
        if not moved:
            return (
                f"Rewarding abstention leaves this board's order as it is: at t = "
                f"{key} every model keeps its binary rank."
            )
        known = key in self.beats and "0" in self.beats
        sentence = (
            f"Rewarding abstention reorders this board: at t = {key}, "
            f"{len(moved)} of {len(ranked)} models change rank"
        )
        if known:
            beyond = sum(self.moved_beyond_noise(row, key) for row in moved)
            sentence += f", {beyond} beyond noise" if beyond else ", each within noise"
        leader = self.leader("0")
        new_leader = self.leader(key)
        if leader is not None:
            rank = leader.cells[key].rank
            if rank is not None and rank > 1 and new_leader is not None:
                context = self.leader_context(new_leader, key)
                if known and not self.beats_beyond_noise(key, new_leader, leader):
                    sentence += (
                        f"; the binary leader {leader.model} and {new_leader.model}, first at "
                        f"t = {key}{f' (where it {context})' if context else ''}, are within "
                        "noise of each other"
                    )
                else:
                    sentence += f"; the binary leader {leader.model} falls to #{rank}"
                    was = new_leader.cells["0"].rank
                    if was is not None:
                        sentence += f" and {new_leader.model} climbs from #{was} to #1"
                        if context:
                            sentence += f" but {context}"
            else:
                sentence += f"; the binary leader {leader.model} stays first"
                context = self.leader_context(leader, key)
                if context:
                    sentence += f" but {context} at t = {key}"
        return sentence + "."

    def sorted_by(self, key: str) -> list[Row]:
        """Every row, by rank under one rubric; rows without a score there come last."""
        return sorted(
            self.rows,
            key=lambda row: (
                row.cells[key].rank is None,
                row.cells[key].rank or 0,
                row.model.lower(),
            ),
        )

    def columns(self, limit: int | None = None) -> list[tuple[Rubric, list[Row | Baseline]]]:
        """Each rubric with its ranking, the first `limit` rows of each when given, and the
        baselines placed among them (`with_baselines`)."""
        return [
            (rubric, self.with_baselines(rubric.key, self.ranking(rubric.key)[:limit]))
            for rubric in self.rubrics
        ]

    def with_baselines(self, key: str, rows: list[Row]) -> list[Row | Baseline]:
        """Rows in rank order under one rubric with each baseline where its score falls: after
        the rows scoring above it, before those level with or below it (or without a score)."""
        lines: list[Row | Baseline] = list(rows)
        for baseline in sorted(self.baselines, key=lambda line: -line.scores[key]):
            score = baseline.scores[key]
            at = next(
                (
                    index
                    for index, line in enumerate(lines)
                    if _score_of(line, key) is None
                    or _score_of(line, key) <= score + scoring.SCORE_TIE_TOLERANCE
                ),
                len(lines),
            )
            lines.insert(at, baseline)
        return lines

    def to_json(self) -> dict:
        return {
            "benchmark": self.benchmark.slug,
            "n_items": self.benchmark.n_items,
            "targets": [rubric.target for rubric in self.targets],
            "kendall_tau_b": self.taus,
            "rows": [row.to_dict() for row in self.rows],
            "baselines": [baseline.to_dict() for baseline in self.baselines],
        }

    def to_csv(self) -> str:
        header = ["id", "model", "organisation", "self_graded", *METRICS, "omitted_rate"]
        header += ["correct", "incorrect", "abstained", "omitted"]
        for name in INTERVAL_METRICS:
            header += [f"{name}_low", f"{name}_high"]
        for rubric in self.rubrics:
            header += [f"score_{rubric.key}", f"rank_{rubric.key}"]
            if not rubric.is_binary:
                header += [f"rank_shift_{rubric.key}", f"prompted_{rubric.key}"]
            header += [
                f"score_low_{rubric.key}",
                f"score_high_{rubric.key}",
                f"rank_significant_{rubric.key}",
                f"rank_low_{rubric.key}",
            ]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        for row in self.rows:
            line = [
                row.id,
                _csv_text(row.model),
                _csv_text(row.organisation),
                row.self_graded,
            ]
            line += [row.metrics.get(name) for name in METRICS]
            line += [row.omitted_rate, *row.to_dict()["counts"].values()]
            for name in INTERVAL_METRICS:
                line += row.intervals.get(name) or [None, None]
            for rubric in self.rubrics:
                cell = row.cells[rubric.key]
                line += [cell.score, cell.rank]
                if not rubric.is_binary:
                    line += [cell.rank_shift, cell.prompted]
                line += [*(cell.interval or [None, None]), cell.significant_rank, cell.rank_low]
            writer.writerow(["" if value is None else value for value in line])
        return out.getvalue()


def board_for(benchmark: Benchmark, user, *, stale_ok: bool = False) -> Board:
    """The leaderboard of a benchmark, with the submissions this user may see.

    The public board, which most visitors see, is cached under the benchmark's results
    generation: scoring or hiding a submission bumps it, and computes the new board before the
    change commits. Should it be missing, with ``stale_ok`` (the busy public reads) a visitor
    who comes while another process computes it is given the one before (``cached_results``);
    without, the board is never older than the last change.

    A viewer who may see private submissions (their own, or all of them for staff) is given the
    public board with those rows merged in (``_merged_board``), never older than the last change.
    """
    return _board_adding(benchmark, _private_submissions(benchmark, user), stale_ok=stale_ok)


def _board_adding(benchmark: Benchmark, more: list[Submission], *, stale_ok: bool) -> Board:
    """The public board, with these private submissions merged in if there are any."""
    if not more:
        return _public_board(benchmark, stale_ok=stale_ok)
    return cached_results(
        benchmark,
        f"board-with-{_digest([submission.pk for submission in more])}",
        lambda: _merged_board(benchmark, _public_board(benchmark), more),
    )


def _public_board(benchmark: Benchmark, *, stale_ok: bool = False) -> Board:
    def build() -> Board:
        board, samples = _board_with_samples(benchmark, AnonymousUser(), public=True)
        # Kept for the boards that add private rows to this one (``_public_samples``).
        cache.set(benchmark.results_cache_key("samples"), samples, BOARD_CACHE_SECONDS)
        return board

    return cached_results(benchmark, "board", build, stale_ok=stale_ok)


def board_json(benchmark: Benchmark, user, *, stale_ok: bool = False) -> bytes:
    """The board as ``leaderboard.json`` sends it; the public one cached like the board.

    A viewer who sees private rows, or private submissions being rescored, gets a JSON of their
    own, cached under exactly those: no viewer is ever given another's private names.
    """
    more = _private_submissions(benchmark, user)
    waiting = being_rescored(benchmark, user)
    if user.is_authenticated and (more or waiting != being_rescored(benchmark, AnonymousUser())):
        shown = _digest([submission.pk for submission in more])
        listed = _digest([submission["id"] for submission in waiting])
        return cached_results(
            benchmark,
            f"json-with-{shown}-{listed}",
            lambda: _json_bytes(_board_adding(benchmark, more, stale_ok=False), waiting),
        )
    return cached_results(
        benchmark,
        "json",
        lambda: _json_bytes(board_for(benchmark, AnonymousUser()), waiting),
        stale_ok=stale_ok,
    )


def _json_bytes(board: Board, waiting: list[dict]) -> bytes:
    data = board.to_json()
    # Listed apart from the rows: their results are under earlier settings.
    data["being_rescored"] = [{"id": each["id"], "model": each["model"]} for each in waiting]
    return json.dumps(data, cls=DjangoJSONEncoder).encode()


def benchmark_json_gzip(benchmark: Benchmark) -> bytes:
    """``benchmark.json``, gzip-compressed: what ``python -m scoring --benchmark`` needs to give
    the board's numbers (SPEC §6). Cached until the benchmark's settings, results or items change.
    """
    # Keyed by what it holds, however that was changed (a save, or an update that leaves
    # `updated_at` alone): the settings, whether the gold is public, and the items, which are
    # replaced as a whole with new keys, so that the newest key marks the current gold.
    newest_item = benchmark.items.aggregate(newest=Max("pk"))["newest"]
    contents = json.dumps([benchmark.config().to_dict(), benchmark.gold_public, newest_item])
    kind = f"benchmark-json-{hashlib.sha256(contents.encode()).hexdigest()[:24]}"
    return cached_results(benchmark, kind, lambda: _benchmark_json_gzip(benchmark))


def _benchmark_json_gzip(benchmark: Benchmark) -> bytes:
    items = benchmark.items.order_by("position")
    if benchmark.gold_public:
        records = [
            {
                "id": item_id,
                "answer": answer,
                "aliases": aliases,
                "question": question or None,
                "category": category or None,
            }
            for item_id, answer, aliases, question, category in items.values_list(
                "item_id", "answer", "aliases", "question", "category"
            )
        ]
    else:
        # Ids only: an answer, a question or even a category would give the gold away.
        records = [{"id": item_id} for item_id in items.values_list("item_id", flat=True)]
    document = {
        "benchmark": benchmark.slug,
        **benchmark.config().to_dict(),
        "gold_public": benchmark.gold_public,
        "n_items": len(records),
        "items": records,
    }
    return gzip.compress(
        json.dumps(document, ensure_ascii=False).encode(), compresslevel=6, mtime=0
    )


def cache_public_results(benchmark: Benchmark) -> None:
    """Compute the public board, its figures, its JSON and its resampled scores for the current
    results, and cache them.

    The writer of a change of results calls this before the change commits
    (``services.benchmark_results_changed``), so that readers find them ready the moment they
    see the change.
    """
    # Anything already under these keys was computed by a transaction that then rolled back.
    kinds = ("board", "json", "samples", "being-rescored")
    cache.delete_many([benchmark.results_cache_key(kind) for kind in kinds])
    # The board caches its resampled scores as it is built, and its JSON the being-rescored list.
    board = board_for(benchmark, AnonymousUser())
    charts_for(board, show_all=False)
    board_json(benchmark, AnonymousUser())


def being_rescored(benchmark: Benchmark, user) -> list[dict]:
    """Submissions this user would see on the board whose results are under earlier settings
    and are being computed again: not ranked until then, and named as such.

    Each as {"id", "model", "url"}; the public list is cached with the board.
    """
    if not user.is_authenticated:
        return cached_results(
            benchmark, "being-rescored", lambda: _being_rescored(benchmark, AnonymousUser())
        )
    return _being_rescored(benchmark, user)


def _being_rescored(benchmark: Benchmark, user) -> list[dict]:
    waiting = (
        Submission.objects.filter(benchmark=benchmark, hidden=False)
        .being_rescored()
        .listed_for(user)
    )
    return [
        {"id": submission.pk, "model": submission.model_name, "url": submission.get_absolute_url()}
        for submission in waiting.only("id", "model_name").order_by("model_name", "pk")
    ]


# The fields a board row is made of.
ROW_FIELDS = ("id", "model_name", "organisation", "url", "self_graded", "summary", "visibility")


def _private_submissions(benchmark: Benchmark, user) -> list[Submission]:
    """The private submissions on the board this user sees: their own, or every one for staff."""
    if not user.is_authenticated:
        return []
    return list(
        _on_board(benchmark, user)
        .filter(visibility=Submission.Visibility.PRIVATE)
        .only(*ROW_FIELDS)
    )


def _on_board(benchmark: Benchmark, user):
    # Newest first, in a fixed order: rows of equal rank are listed in this order.
    return (
        Submission.objects.filter(benchmark=benchmark).on_board(user).order_by("-created_at", "-pk")
    )


def _digest(ids: list[int]) -> str:
    """A short name for a set of submissions, for the cache keys of the boards that add them."""
    text = ",".join(str(pk) for pk in sorted(ids))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _rubrics(benchmark: Benchmark) -> list[Rubric]:
    return [Rubric(key=scoring.target_key(t), target=t) for t in benchmark.config().rubrics]


def _build_board(benchmark: Benchmark, user, *, public: bool) -> Board:
    """The board of every submission this user sees, computed from the database."""
    return _board_with_samples(benchmark, user, public=public)[0]


def _board_with_samples(
    benchmark: Benchmark, user, *, public: bool
) -> tuple[Board, dict[str, np.ndarray]]:
    """The board of every submission this user sees, and its rows' resampled scores
    (``_sample_matrices``, in the order of ``Board.positions``)."""
    rubrics = _rubrics(benchmark)
    submissions = list(_on_board(benchmark, user).only(*ROW_FIELDS))
    rows = [_unranked_row(submission) for submission in submissions]
    samples = _sample_matrices(benchmark, rows, rubrics)
    min_items = benchmark.config().min_items_per_figure
    significant = {
        key: scoring.statistics.significance_ranks(
            matrix, comparable=far_enough_apart(rows, key, min_items)
        ).beats
        >= scoring.statistics.BEATS_SHARE
        for key, matrix in samples.items()
        if matrix.shape[1]
    }
    return _ranked_board(benchmark, rubrics, rows, significant, public=public), samples


def _merged_board(benchmark: Benchmark, board: Board, more: list[Submission]) -> Board:
    """The public board with more submissions on it, as ``_build_board`` would compute it.

    The public rows keep everything but their ranks; ranks, rank shifts and Kendall's tau are
    computed again over all rows (cheap), and the significance-aware ranks from the public
    board's paired comparisons plus those of the added rows with all the others, on the public
    rows' resampled scores cached with it (``_public_samples``).
    """
    rubrics = board.rubrics
    more = [submission for submission in more if submission.pk not in board.positions]
    public = sorted(board.rows, key=lambda row: board.positions[row.id])
    added = [_unranked_row(submission) for submission in more]
    # Every row in the order the database lists them (``_on_board``): newest first.
    created = dict(
        Submission.objects.filter(pk__in=[row.id for row in [*public, *added]]).values_list(
            "pk", "created_at"
        )
    )
    # (A row deleted since the public board was computed goes last, until the next change.)
    oldest = datetime.min.replace(tzinfo=UTC)
    rows = sorted(
        [*public, *added], key=lambda row: (created.get(row.id, oldest), row.id), reverse=True
    )
    public_samples = _public_samples(benchmark, board)
    added_samples = _sample_matrices(benchmark, added, rubrics)
    min_items = benchmark.config().min_items_per_figure
    # From the public rows then the added ones to the order of `rows`.
    order = {row.id: at for at, row in enumerate([*public, *added])}
    index = np.array([order[row.id] for row in rows])
    significant = {}
    for rubric in rubrics:
        key = rubric.key
        known, extra = public_samples.get(key), added_samples.get(key)
        if known is None or extra is None:
            continue  # a run without its bootstrap: no significance-aware ranks, as in a rebuild
        widths = {matrix.shape[1] for matrix in (known, extra) if matrix.shape[1]}
        if len(widths) != 1:
            continue
        width = widths.pop()
        if not extra.shape[1]:
            extra = np.full((len(added), width), np.nan)
        comparable = far_enough_apart([*public, *added], key, min_items)
        if known.shape[1]:
            grown = scoring.statistics.significant_with_more(
                board.beats[key], known, extra, comparable=comparable
            )
        else:
            # No public row has a score here: the added rows are all there is to compare.
            known = np.full((len(public), width), np.nan)
            grown = scoring.statistics.significance_ranks(
                np.vstack([known, extra]), comparable=comparable
            ).beats
            grown = grown >= scoring.statistics.BEATS_SHARE
        significant[key] = grown[np.ix_(index, index)]
    return _ranked_board(benchmark, rubrics, rows, significant, public=False)


def _unranked_row(submission: Submission) -> Row:
    """A submission's row, with its scores but no ranks yet (``_ranked_board`` gives them)."""
    summary = submission.summary or {}
    rubric_info = summary.get("rubrics", {})
    runs = summary.get("runs", [])
    counts = {run["key"]: run["counts"] for run in runs}
    cells = {}
    for key, info in rubric_info.items():
        run_counts = counts.get(info.get("run"))
        cells[key] = Cell(
            score=_number(info.get("score")),
            rank=None,
            rank_shift=None,
            prompted=bool(info.get("prompted", False)),
            interval=info.get("interval"),
            run=info.get("run"),
            answered=(
                None if run_counts is None else (run_counts["correct"], run_counts["incorrect"])
            ),
        )
    primary = next((run for run in runs if run["key"] == summary.get("primary_run")), {})
    return Row(
        id=submission.pk,
        model=submission.model_name,
        organisation=submission.organisation,
        url=submission.url,
        self_graded=submission.self_graded,
        private=submission.visibility == Submission.Visibility.PRIVATE,
        metrics={name: summary.get(name) for name in METRICS},
        counts=summary.get("counts", {"correct": 0, "incorrect": 0, "abstained": 0}),
        cells=cells,
        intervals=primary.get("intervals") or {},
        behaviour=behaviour_of(runs),
    )


def _ranked_board(
    benchmark: Benchmark,
    rubrics: list[Rubric],
    rows: list[Row],
    significant: dict[str, np.ndarray],
    *,
    public: bool,
) -> Board:
    """The board of these rows (in the order the database lists them), ranked under each rubric.

    `significant[key][i, j]` is true where row j beats row i under that rubric in at least
    97.5% of the paired resamples; a rubric without it has no significance-aware ranks.
    """
    baselines, baseline_notes = baselines_of(benchmark, rubrics)
    if not rows:
        return Board(
            benchmark=benchmark,
            rubrics=rubrics,
            rows=[],
            taus={},
            public=public,
            baselines=baselines,
            baseline_notes=baseline_notes,
        )
    keys = [rubric.key for rubric in rubrics]
    scores = pd.DataFrame(
        [[_cell_score(row, key) for key in keys] for row in rows],
        index=[row.id for row in rows],
        columns=keys,
        dtype=float,
    )
    table, taus = scoring.rank_table(scores, keys)
    position = {row.id: index for index, row in enumerate(rows)}
    by_id = {row.id: row for row in rows}
    present = {key: ~scores[key].isna().to_numpy() for key in significant}
    ranked = {
        key: scoring.statistics.ranks_from_significant(matrix, present[key])
        for key, matrix in significant.items()
    }
    out = []
    for row_id, ranks in table.iterrows():
        row = by_id[row_id]
        at = position[row_id]
        cells = {}
        for key in keys:
            cell = row.cells.get(key) or Cell(
                score=None, rank=None, rank_shift=None, prompted=False
            )
            significance = ranked.get(key)
            cells[key] = replace(
                cell,
                score=_number(ranks[key]),
                rank=_integer(ranks[f"rank_{key}"]),
                rank_shift=0 if key == "0" else _integer(ranks.get(f"rank_shift_{key}")),
                significant_rank=_integer(significance[0][at]) if significance else None,
                rank_low=_integer(significance[1][at]) if significance else None,
            )
        out.append(replace(row, cells=cells))
    return Board(
        benchmark=benchmark,
        rubrics=rubrics,
        rows=out,
        taus={key: _number(tau) for key, tau in taus.items()},
        public=public,
        beats=significant,
        positions=position,
        baselines=baselines,
        baseline_notes=baseline_notes,
    )


def _cell_score(row: Row, key: str) -> float:
    cell = row.cells.get(key)
    return math.nan if cell is None or cell.score is None else float(cell.score)


def _public_samples(benchmark: Benchmark, board: Board) -> dict[str, np.ndarray]:
    """Per rubric key, the public rows' scores on the benchmark's resamples (rows in the order
    of ``board.positions``), cached with the public board when it is computed; a key is missing
    where a run lacks its bootstrap."""
    return cached_results(
        benchmark,
        "samples",
        lambda: _sample_matrices(
            benchmark,
            sorted(board.rows, key=lambda row: board.positions[row.id]),
            board.rubrics,
        ),
    )


def _resampled_scores(
    stored: dict, n_items: int, runs: list[tuple[int, str | None]], rubric: Rubric
) -> list[np.ndarray | None] | None:
    """Each (submission id, run key)'s score under `rubric` on the benchmark's resamples.

    `stored` holds the runs' bootstrap counts (`_bootstraps`). None in the list where there is
    no run to score (no score under this rubric); None for the whole list when a run lacks its
    bootstrap (scored before bootstraps were kept: rescoring adds it).
    """
    samples = []
    for submission_id, run_key in runs:
        if run_key is None:
            samples.append(None)
            continue
        counts = stored.get((submission_id, run_key))
        if counts is None:
            return None
        samples.append(scoring.statistics.score_samples(counts, n_items, rubric.target))
    return samples


def _bootstraps(submission_ids: list[int]) -> dict:
    """The stored bootstrap counts of these submissions' runs, by (submission id, run key)."""
    return {
        (run.submission_id, run.key): run.bootstrap_counts()
        for run in Run.objects.filter(submission_id__in=submission_ids).only(
            "submission_id", "key", "bootstrap"
        )
    }


def _sample_matrices(
    benchmark: Benchmark, rows: list[Row], rubrics: list[Rubric]
) -> dict[str, np.ndarray]:
    """Per rubric key, the rows' scores on the benchmark's resamples (rows × B, in their order).

    Each row's score under a rubric comes from the run that scores it; a row without a score
    has NaN. A rubric is left out when a run lacks its bootstrap (or the runs' resamples differ
    in number); where no row has a score, its matrix has no columns.
    """
    stored = _bootstraps([row.id for row in rows])
    out = {}
    for rubric in rubrics:
        runs = []
        for row in rows:
            cell = row.cells.get(rubric.key)
            runs.append((row.id, cell.run if cell and cell.score is not None else None))
        samples = _resampled_scores(stored, benchmark.n_items, runs, rubric)
        if samples is None:
            continue
        widths = {len(sample) for sample in samples if sample is not None}
        if not widths:
            out[rubric.key] = np.zeros((len(rows), 0))
            continue
        if len(widths) != 1:
            continue
        width = widths.pop()
        out[rubric.key] = np.stack(
            [np.full(width, np.nan) if sample is None else sample for sample in samples]
        ).reshape(len(rows), width)
    return out


def far_enough_apart(rows: list[Row], key: str, min_items: int) -> np.ndarray | None:
    """[i, j] true where the runs scoring rows i and j under rubric `key` differ by at least
    `min_items` correct or wrong answers; None (every pair) when `min_items` is 0.

    On a benchmark whose gold is hidden only such pairs may be told apart, so that no verdict
    turns on which of a few items are right. Counts are public: the choice itself tells nothing.
    """
    if not min_items:
        return None
    counts = np.full((len(rows), 2), np.nan)
    for index, row in enumerate(rows):
        cell = row.cells.get(key)
        if cell is not None and cell.answered is not None:
            counts[index] = cell.answered
    apart = np.abs(counts[:, None, :] - counts[None, :, :]) >= min_items
    return apart.any(axis=2)


def paired_shares(benchmark: Benchmark, first: Row, second: Row, rubrics: list[Rubric]) -> dict:
    """Per rubric key, the shares of the paired resamples in which `first` scores above
    `second`, and in which `second` scores above `first` (ties count for neither).

    Missing for a rubric that either lacks a score or a stored bootstrap.
    """
    stored = _bootstraps([first.id, second.id])
    shares = {}
    for rubric in rubrics:
        runs = [(row.id, row.cells[rubric.key].run) for row in (first, second)]
        pair = _resampled_scores(stored, benchmark.n_items, runs, rubric)
        if pair is None or any(sample is None for sample in pair):
            continue
        if len(pair[0]) == len(pair[1]):
            shares[rubric.key] = (
                float(np.mean(scoring.statistics.higher(pair[0], pair[1]))),
                float(np.mean(scoring.statistics.higher(pair[1], pair[0]))),
            )
    return shares


def behaviour_of(runs: list[dict]) -> list[dict]:
    """The runs prompted at a target above 0, for the behavioural calibration table and chart."""
    out = []
    for run in runs:
        target = run.get("target")
        if not target:
            continue
        counts = run["counts"]
        out.append(
            {
                "target": target,
                "key": run["key"],
                "accuracy_given_attempted": run["accuracy_given_attempted"],
                "interval": (run.get("intervals") or {}).get("accuracy_given_attempted"),
                "error_rate": run["error_rate"],
                "abstention_rate": run["abstention_rate"],
                "score": float(
                    scoring.score_at_target(
                        counts["correct"], counts["incorrect"], run["n_items"], target
                    )
                ),
                "calibrated": scoring.statistics.behaviourally_calibrated(
                    run["accuracy_given_attempted"], target
                ),
            }
        )
    return sorted(out, key=lambda run: run["target"])


def _number(value) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def _integer(value) -> int | None:
    number = _number(value)
    return None if number is None else int(number)


def _csv_text(value: str) -> str:
    # A leading =, +, - or @ makes spreadsheets run the cell as a formula.
    if value and value[0] in "=+-@\t\r":
        return "'" + value
    return value


# Charts show the top models by binary rank unless the reader asks for all of them.
CHART_TOP = 15


def charts_for(board: Board, *, show_all: bool) -> dict[str, str]:
    """The board's figures as JSON text, cached."""
    from leaderboard import charts

    rows = board.rows if show_all else board.rows[:CHART_TOP]

    def build() -> dict[str, str]:
        if not rows:
            return {}
        figures = {
            "bump": charts.bump_chart(board, rows),
            "curves": charts.score_curves(board, rows),
            "outcomes": charts.outcome_bars(
                [
                    (
                        row.model,
                        row.metrics["accuracy"],
                        row.metrics["abstention_rate"],
                        row.metrics["error_rate"],
                        row.intervals,
                    )
                    for row in rows
                ]
            ),
        }
        prompted = [(row.model, row.behaviour) for row in rows if row.behaviour]
        if prompted:
            figures["behaviour"] = charts.behaviour_chart(prompted)
        return figures

    # Cached under what they are drawn from, never stale: boards whose charted rows are the same
    # (the public board and most boards with private rows added below its top, or the boards
    # before and after a change further down) share their figures instead of drawing them again.
    key = charts_cache_key(board, show_all=show_all)
    figures = cache.get(key)
    if figures is None:
        figures = build()
        cache.set(key, figures, BOARD_CACHE_SECONDS)
    return figures


def charts_cache_key(board: Board, *, show_all: bool) -> str:
    """Where the board's figures are cached: a digest of what they show (the same digest, the
    same figures)."""
    rows = board.rows if show_all else board.rows[:CHART_TOP]
    shown = [
        (
            row.id,
            row.model,
            row.metrics,
            row.counts,
            row.intervals,
            row.behaviour,
            # Not the significance-aware ranks, which no figure shows.
            [replace(cell, significant_rank=None, rank_low=None) for cell in row.cells.values()],
        )
        for row in rows
    ]
    benchmark = board.benchmark
    drawn = (benchmark.n_items, benchmark.updated_at, board.rubrics, board.baselines, shown)
    return f"charts:{benchmark.pk}:{hashlib.sha256(pickle.dumps(drawn, protocol=5)).hexdigest()}"


def category_figure(submission: Submission, categories: list[tuple[str, dict]]) -> str:
    """Outcome bars per category of a scored submission, cached until it is scored again."""
    from leaderboard import charts

    if len(categories) < 2 or submission.finished_at is None:
        return ""
    key = f"categories:{submission.pk}:{submission.finished_at.timestamp()}"
    figure = cache.get(key)
    if figure is None:
        figure = charts.outcome_bars(
            [
                (name, row["accuracy"], row["abstention_rate"], row["error_rate"])
                for name, row in categories
            ]
        )
        cache.set(key, figure, BOARD_CACHE_SECONDS)
    return figure
