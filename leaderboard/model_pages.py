"""Reads: one model across benchmarks, as its page and its JSON show it.

Every figure is read from the public board of each benchmark (``selectors.board_for`` for a
visitor, cached under the benchmark's results generation): the model page shows what the boards
show, no more, and never a private or hidden submission, nor one of a draft benchmark. A benchmark
whose gold is hidden gives the board's figures only.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser

from leaderboard import charts
from leaderboard.boards import Board, Row, Rubric
from leaderboard.models import Benchmark, Model, Submission
from leaderboard.selectors import board_for


@dataclass(frozen=True)
class Standing:
    """The model's place under one rubric of one board: its board cell, and of how many."""

    rubric: Rubric
    score: float | None
    rank: int | None
    rank_shift: int | None
    interval: list[float] | None
    tied: str
    significant_rank: int | None
    rank_low: int | None
    n_ranked: int

    def to_dict(self) -> dict:
        return {
            "target": self.rubric.target,
            "score": self.score,
            "rank": self.rank,
            "of": self.n_ranked,
            "rank_shift": self.rank_shift,
            "interval": self.interval,
            "rank_range": (
                None if self.significant_rank is None else [self.significant_rank, self.rank_low]
            ),
        }


@dataclass(frozen=True)
class OnBenchmark:
    """The model on one benchmark: its best-ranked row under binary, and how many it has."""

    benchmark: Benchmark
    row: Row
    n_submissions: int
    standings: list[Standing]

    @property
    def binary(self) -> Standing:
        return self.standings[0]

    @property
    def strictest(self) -> Standing | None:
        """Its standing at the benchmark's highest target, None without targets."""
        return self.standings[-1] if len(self.standings) > 1 else None

    def to_dict(self) -> dict:
        return {
            "benchmark": self.benchmark.slug,
            "name": self.benchmark.name,
            "gold_public": self.benchmark.gold_public,
            "submission": self.row.id,
            "submissions_of_model": self.n_submissions,
            "scores": {standing.rubric.key: standing.to_dict() for standing in self.standings},
        }


@dataclass(frozen=True)
class AtTarget:
    """How the model's rank moves against binary at one target, over the benchmarks having it."""

    # None for each benchmark's highest target, whichever it is.
    target: float | None
    improved: int
    worsened: int
    unchanged: int
    mean_shift: float

    @property
    def n_benchmarks(self) -> int:
        return self.improved + self.worsened + self.unchanged

    @property
    def sentence(self) -> str:
        return f"At t = {self.target:g}: {_moves(self)}."

    def to_dict(self) -> dict:
        return {
            "target": self.target,
            "benchmarks": self.n_benchmarks,
            "improved": self.improved,
            "worsened": self.worsened,
            "unchanged": self.unchanged,
            "mean_rank_shift": self.mean_shift,
        }


@dataclass(frozen=True)
class ModelPage:
    model: Model
    benchmarks: list[OnBenchmark]
    targets: list[AtTarget]
    # Over each benchmark's highest target: the verdict in words.
    strictest: AtTarget | None

    @property
    def verdict(self) -> str:
        """In words: whether rewarding abstention helps or hurts this model overall."""
        if not self.benchmarks:
            return ""
        if self.strictest is None:
            return (
                "No benchmark it was scored on rewards abstention: it is ranked under binary only."
            )
        moves = _moves(self.strictest)
        name = self.model.name
        if self.strictest.mean_shift > 0:
            opening = f"Rewarding abstention helps {name} overall"
        elif self.strictest.mean_shift < 0:
            opening = f"Rewarding abstention hurts {name} overall"
        else:
            opening = f"Rewarding abstention neither helps nor hurts {name} overall"
        return f"{opening}: at each benchmark's highest target {moves}."

    def figure(self) -> str | None:
        """One chart of its rank under each rubric, a line per benchmark."""
        if not self.benchmarks:
            return None
        return charts.model_ranks(
            [
                (
                    entry.benchmark.name,
                    [
                        (standing.rubric, standing.rank, standing.n_ranked)
                        for standing in entry.standings
                    ],
                )
                for entry in self.benchmarks
            ]
        )

    def to_dict(self) -> dict:
        return {
            "model": {
                "slug": self.model.slug,
                "name": self.model.name,
                "organisation": self.model.organisation,
            },
            "benchmarks": [entry.to_dict() for entry in self.benchmarks],
            "summary": {
                "verdict": self.verdict,
                "highest_targets": None if self.strictest is None else self.strictest.to_dict(),
                "targets": [at.to_dict() for at in self.targets],
            },
        }


def _moves(at: AtTarget) -> str:
    n = at.n_benchmarks
    parts = [f"its rank improves on {at.improved} of {n} benchmark{'s' if n != 1 else ''}"]
    if at.worsened:
        parts.append(f"worsens on {at.worsened}")
    if at.unchanged:
        parts.append(f"stays on {at.unchanged}")
    return ", ".join(parts) + f"; mean rank shift {at.mean_shift:+.1f}"


def _at_target(target: float | None, shifts: list[int]) -> AtTarget:
    return AtTarget(
        target=target,
        improved=sum(shift > 0 for shift in shifts),
        worsened=sum(shift < 0 for shift in shifts),
        unchanged=sum(shift == 0 for shift in shifts),
        mean_shift=sum(shifts) / len(shifts),
    )


def _on_benchmark(board: Board, rows: list[Row]) -> OnBenchmark:
    def binary_rank(row: Row) -> tuple:
        rank = row.cells[board.rubrics[0].key].rank
        return (rank is None, rank or 0, row.id)

    best = min(rows, key=binary_rank)
    standings = []
    for rubric in board.rubrics:
        cell = best.cells[rubric.key]
        standings.append(
            Standing(
                rubric=rubric,
                score=cell.score,
                rank=cell.rank,
                rank_shift=cell.rank_shift,
                interval=cell.interval,
                tied=cell.tied,
                significant_rank=cell.significant_rank,
                rank_low=cell.rank_low,
                n_ranked=len(board.ranking(rubric.key)),
            )
        )
    return OnBenchmark(
        benchmark=board.benchmark, row=best, n_submissions=len(rows), standings=standings
    )


def model_page(model: Model) -> ModelPage:
    """The model on every benchmark where a public board lists it, by benchmark name."""
    anonymous = AnonymousUser()
    listed = (
        Submission.objects.filter(
            model=model, benchmark__in=Benchmark.objects.visible_to(anonymous)
        )
        .filter(status=Submission.Status.SCORED, hidden=False)
        .filter(visibility=Submission.Visibility.PUBLIC)
    )
    ids_by_benchmark: dict[int, set[int]] = {}
    for benchmark_id, pk in listed.values_list("benchmark_id", "pk"):
        ids_by_benchmark.setdefault(benchmark_id, set()).add(pk)
    entries = []
    for benchmark in Benchmark.objects.filter(pk__in=ids_by_benchmark).order_by("name"):
        # The public board: what every visitor sees, whoever reads this page.
        board = board_for(benchmark, anonymous, stale_ok=True)
        ids = ids_by_benchmark[benchmark.pk]
        rows = [board.rows[at] for at, pk in enumerate(board.rows.column("id")) if pk in ids]
        if rows:
            entries.append(_on_benchmark(board, rows))
    shifts: dict[float, list[int]] = {}
    strictest: list[int] = []
    for entry in entries:
        for standing in entry.standings[1:]:
            if standing.rank_shift is not None:
                shifts.setdefault(standing.rubric.target, []).append(standing.rank_shift)
        if entry.strictest is not None and entry.strictest.rank_shift is not None:
            strictest.append(entry.strictest.rank_shift)
    return ModelPage(
        model=model,
        benchmarks=entries,
        targets=[_at_target(target, values) for target, values in sorted(shifts.items())],
        strictest=_at_target(None, strictest) if strictest else None,
    )
