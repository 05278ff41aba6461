"""Reads: the leaderboard of a benchmark as one user may see it, and its exports."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field

import pandas as pd
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache

import scoring
from leaderboard.models import METRICS, Benchmark, Submission

BOARD_CACHE_SECONDS = 24 * 3600


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

    def to_dict(self) -> dict:
        return {
            "score": self.score,
            "rank": self.rank,
            "rank_shift": self.rank_shift,
            "prompted": self.prompted,
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

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "model": self.model,
            "organisation": self.organisation,
            "self_graded": self.self_graded,
            **{name: self.metrics.get(name) for name in METRICS},
            "scores": {key: cell.to_dict() for key, cell in self.cells.items()},
        }


@dataclass(frozen=True)
class Board:
    benchmark: Benchmark
    rubrics: list[Rubric]
    rows: list[Row]
    taus: dict[str, float | None] = field(default_factory=dict)
    # True for the board every visitor sees, which is cached; False for one that shows a
    # viewer's own private rows, or everything to staff.
    public: bool = True

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

    def headline(self) -> str:
        """In words, computed from the board: how much rewarding abstention reorders it."""
        if len(self.rows) < 2:
            return ""
        strictest = self.strictest
        if strictest is None:
            return ""
        ranked = [row for row in self.rows if row.cells[strictest.key].rank is not None]
        moved = [row for row in ranked if row.cells[strictest.key].rank_shift not in (0, None)]
        if not moved:
            return (
                f"Rewarding abstention leaves this board's order as it is: at t = "
                f"{strictest.key} every model keeps its binary rank."
            )
        sentence = (
            f"Rewarding abstention reorders this board: at t = {strictest.key}, "
            f"{len(moved)} of {len(ranked)} models change rank"
        )
        leader = self.leader("0")
        new_leader = self.leader(strictest.key)
        if leader is not None:
            rank = leader.cells[strictest.key].rank
            if rank is not None and rank > 1:
                sentence += f"; the binary leader {leader.model} falls to #{rank}"
                was = new_leader.cells["0"].rank if new_leader is not None else None
                if was is not None:
                    sentence += f" and {new_leader.model} climbs from #{was} to #1"
            else:
                sentence += f"; the binary leader {leader.model} stays first"
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

    def columns(self, limit: int | None = None) -> list[tuple[Rubric, list[Row]]]:
        """Each rubric with its ranking, the first `limit` rows of each when given."""
        return [(rubric, self.ranking(rubric.key)[:limit]) for rubric in self.rubrics]

    def to_json(self) -> dict:
        return {
            "benchmark": self.benchmark.slug,
            "n_items": self.benchmark.n_items,
            "targets": [rubric.target for rubric in self.targets],
            "kendall_tau_b": self.taus,
            "rows": [row.to_dict() for row in self.rows],
        }

    def to_csv(self) -> str:
        header = ["id", "model", "organisation", "self_graded", *METRICS]
        for rubric in self.rubrics:
            header += [f"score_{rubric.key}", f"rank_{rubric.key}"]
            if not rubric.is_binary:
                header += [f"rank_shift_{rubric.key}", f"prompted_{rubric.key}"]
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
            for rubric in self.rubrics:
                cell = row.cells[rubric.key]
                line += [cell.score, cell.rank]
                if not rubric.is_binary:
                    line += [cell.rank_shift, cell.prompted]
            writer.writerow(["" if value is None else value for value in line])
        return out.getvalue()


def board_for(benchmark: Benchmark, user) -> Board:
    """The leaderboard of a benchmark, with the submissions this user may see.

    The public board, which most visitors see, is cached under the benchmark's results
    generation: scoring or hiding a submission bumps it, so the cache never serves a stale board.
    """
    if not _sees_more_than_public(benchmark, user):
        key = benchmark.results_cache_key("board")
        board = cache.get(key)
        if board is None:
            board = _build_board(benchmark, AnonymousUser(), public=True)
            cache.set(key, board, BOARD_CACHE_SECONDS)
        return board
    return _build_board(benchmark, user, public=False)


def _sees_more_than_public(benchmark: Benchmark, user) -> bool:
    if user.is_staff:
        return True
    if not user.is_authenticated:
        return False
    return (
        Submission.objects.filter(benchmark=benchmark, owner=user)
        .on_board(user)
        .filter(visibility=Submission.Visibility.PRIVATE)
        .exists()
    )


def _build_board(benchmark: Benchmark, user, *, public: bool) -> Board:
    rubrics = [Rubric(key=scoring.target_key(t), target=t) for t in benchmark.config().rubrics]
    keys = [rubric.key for rubric in rubrics]
    submissions = list(
        Submission.objects.filter(benchmark=benchmark)
        .on_board(user)
        .only("id", "model_name", "organisation", "url", "self_graded", "summary", "visibility")
    )
    if not submissions:
        return Board(benchmark=benchmark, rubrics=rubrics, rows=[], taus={}, public=public)

    scores = pd.DataFrame(
        [[_rubric_score(submission, key) for key in keys] for submission in submissions],
        index=[submission.pk for submission in submissions],
        columns=keys,
        dtype=float,
    )
    table, taus = scoring.rank_table(scores, keys)
    by_id = {submission.pk: submission for submission in submissions}
    rows = []
    for submission_id, ranks in table.iterrows():
        submission = by_id[submission_id]
        summary = submission.summary or {}
        rubric_info = summary.get("rubrics", {})
        cells = {
            key: Cell(
                score=_number(ranks[key]),
                rank=_integer(ranks[f"rank_{key}"]),
                rank_shift=0 if key == "0" else _integer(ranks.get(f"rank_shift_{key}")),
                prompted=bool(rubric_info.get(key, {}).get("prompted", False)),
            )
            for key in keys
        }
        rows.append(
            Row(
                id=submission.pk,
                model=submission.model_name,
                organisation=submission.organisation,
                url=submission.url,
                self_graded=submission.self_graded,
                private=submission.visibility == Submission.Visibility.PRIVATE,
                metrics={name: summary.get(name) for name in METRICS},
                counts=summary.get("counts", {"correct": 0, "incorrect": 0, "abstained": 0}),
                cells=cells,
            )
        )
    return Board(
        benchmark=benchmark,
        rubrics=rubrics,
        rows=rows,
        taus={key: _number(tau) for key, tau in taus.items()},
        public=public,
    )


def _rubric_score(submission: Submission, key: str) -> float:
    score = submission.rubric_scores().get(key, {}).get("score")
    return math.nan if score is None else float(score)


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
    """The board's figures as JSON text, cached with the public board."""
    from leaderboard import charts

    rows = board.rows if show_all else board.rows[:CHART_TOP]

    def build() -> dict[str, str]:
        if not rows:
            return {}
        return {
            "bump": charts.bump_chart(board, rows),
            "curves": charts.score_curves(board, rows),
            "outcomes": charts.outcome_bars(
                [
                    (
                        row.model,
                        row.metrics["accuracy"],
                        row.metrics["abstention_rate"],
                        row.metrics["error_rate"],
                    )
                    for row in rows
                ]
            ),
        }

    if not board.public:
        return build()
    key = board.benchmark.results_cache_key(f"charts-{'all' if show_all else 'top'}")
    figures = cache.get(key)
    if figures is None:
        figures = build()
        cache.set(key, figures, BOARD_CACHE_SECONDS)
    return figures


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
