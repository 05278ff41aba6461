"""The board ranked at any confidence target t from 0 to 0.95: the target slider's ranking.

At one of the board's own targets a model is scored by the run that scores that rubric (the run
prompted at t when its file has one, SPEC §5), so the slider agrees with that column. Between
the targets every model is scored by the run of its binary column (its default run, or the t = 0
run of a file that has only targeted runs) rescored at t by the closed form (C − t/(1−t)·W)/N.
static/js/target-slider.js computes the same in the browser from the counts this module puts on
the page, which the board already shows (each run's own counts, SPEC §7).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

import scoring
from leaderboard.boards import ABSTAIN_EVERYWHERE, Baseline, Board, Row

# The slider's range and step; a t in the address is read to this step, so that the cache
# holds at most one page per position of the slider.
MAX_T = 0.95
STEP = 0.01
# Above this many rows the slider is not offered: every row is on the page, in one list.
MAX_ROWS = 500


def parse_t(text: str | None) -> float | None:
    """The t of `?t=`, to the slider's step; None when it is missing, not a number, or outside
    0 to 0.95 (the page then shows its default, with no error)."""
    if not text or len(text) > 20:
        return None
    try:
        t = float(text)
    except ValueError:
        return None
    if not math.isfinite(t) or not 0 <= t <= MAX_T:
        return None
    return round(round(t / STEP) * STEP, 2)


@dataclass(frozen=True)
class LiveLine:
    """One line of the slider's ranking: a model's row, or the abstain-everything line."""

    row: Row | Baseline
    rank: int | None
    score: float | None
    # "key:correct:incorrect" per rubric of the board whose run the row has, for the browser.
    runs: str = ""

    @property
    def is_baseline(self) -> bool:
        return isinstance(self.row, Baseline)


def rubric_key_at(board: Board, t: float) -> str:
    """The key of the board's rubric at t (within 1e-9), else binary's: the column whose run
    scores a model at t."""
    for rubric in board.rubrics:
        if abs(rubric.target - t) <= scoring.TARGET_EQUAL_TOLERANCE:
            return rubric.key
    return scoring.BINARY_KEY


def _runs(board: Board, row: Row) -> str:
    return " ".join(
        f"{rubric.key}:{cell.answered[0]}:{cell.answered[1]}"
        for rubric in board.rubrics
        if (cell := row.cells.get(rubric.key)) is not None and cell.answered is not None
    )


def ranked_at(board: Board, t: float) -> list[LiveLine]:
    """Every row of the board by its score at t, highest first; scores within 1e-12 share the
    best rank (1, 2, 2, 4), equal ranks by name, rows without a score last. The
    abstain-everything line (score 0) comes after the rows scoring above 0."""
    key = rubric_key_at(board, t)
    rows = list(board.rows)
    scores = np.full(len(rows), np.nan)
    for at, row in enumerate(rows):
        cell = row.cells.get(key)
        if cell is not None and cell.answered is not None and row.n_items:
            correct, incorrect = cell.answered
            scores[at] = scoring.score_at_target(correct, incorrect, row.n_items, t)
    ranks = scoring.rank_with_ties(scores)
    order = sorted(
        range(len(rows)),
        key=lambda at: (
            bool(np.isnan(ranks[at])),
            0 if np.isnan(ranks[at]) else ranks[at],
            rows[at].model.lower(),
        ),
    )
    lines = [
        LiveLine(
            row=rows[at],
            rank=None if np.isnan(ranks[at]) else int(ranks[at]),
            score=None if np.isnan(scores[at]) else float(scores[at]),
            runs=_runs(board, rows[at]),
        )
        for at in order
    ]
    abstaining = next((line for line in board.baselines if line.name == ABSTAIN_EVERYWHERE), None)
    if abstaining is not None:
        at = next(
            (
                index
                for index, line in enumerate(lines)
                if line.score is None or line.score <= scoring.SCORE_TIE_TOLERANCE
            ),
            len(lines),
        )
        lines.insert(at, LiveLine(row=abstaining, rank=None, score=0.0))
    return lines


@dataclass(frozen=True)
class Slider:
    """What the board page shows of the slider: its t, the ranking there and its ticks."""

    t: float
    # Whether t came from the address (`?t=`), rather than being the page's default.
    asked: bool
    lines: list[LiveLine]
    # (target, label) for each of the board's rubrics, binary included.
    ticks: list[tuple[float, str]]

    @functools.cached_property
    def by_id(self) -> dict[int, LiveLine]:
        """Each model's line, by the id of its row: the All-metrics table's live column."""
        return {line.row.id: line for line in self.lines if not line.is_baseline}

    @functools.cached_property
    def by_name(self) -> dict[str, LiveLine]:
        """The abstain-everything line, by its name: the one reference line the slider ranks."""
        return {line.row.name: line for line in self.lines if line.is_baseline}

    def ordered(self, lines: list[Row | Baseline]) -> list[Row | Baseline]:
        """One page of the All-metrics table in this ranking's order: its rows and the
        abstain-everything line where the slider lists them, the other reference lines last.
        Only the page's own lines move: a page of a long board is reordered within itself."""
        place = {
            (line.row.name if line.is_baseline else line.row.id): at
            for at, line in enumerate(self.lines)
        }
        return sorted(
            lines,
            key=lambda line: place.get(
                line.name if isinstance(line, Baseline) else line.id, len(place)
            ),
        )

    @property
    def penalty(self) -> float:
        return float(scoring.penalty(self.t))

    @property
    def value_text(self) -> str:
        """The slider's spoken value: "t = 0.80, a wrong answer costs 4 points"."""
        points = f"{round(self.penalty, 2):g}"
        return (
            f"t = {self.t:.2f}, a wrong answer costs {points} point{'' if points == '1' else 's'}"
        )


def slider_of(board: Board, t: float | None) -> Slider | None:
    """The slider at t, or at the board's strictest target when the address names none; None
    when the board has no rows or too many to list on one page."""
    if not len(board.rows) or len(board.rows) > MAX_ROWS:
        return None
    asked = t is not None
    if t is None:
        t = board.strictest.target if board.strictest is not None else 0.5
    return Slider(
        t=t,
        asked=asked,
        lines=ranked_at(board, t),
        ticks=[(rubric.target, rubric.label) for rubric in board.rubrics],
    )
