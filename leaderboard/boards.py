"""The board as pages, exports and figures read it: its rubrics, rows, cells and baselines, and
what it says in words. Pure: built by ``selectors`` from the database, never querying it.
"""

from __future__ import annotations

import gc
import json
import pickle
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from typing import ClassVar, TypeVar, overload

import numpy as np
from django.core.signals import request_finished, request_started

import scoring
from leaderboard.models import METRICS, Benchmark

T = TypeVar("T")

# A model named first whose file leaves out at least this share of the items is named with it.
OMITTED_WORTH_SAYING = 0.01
# The rates whose 95% intervals the board shows and exports.
INTERVAL_METRICS = ("accuracy", "error_rate", "abstention_rate", "accuracy_given_attempted")


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


# A row's fields besides its cells, and a cell's, as a board's columns hold them (``RowTable``).
ROW_COLUMNS = (
    "id",
    "model",
    "organisation",
    "url",
    "self_graded",
    "private",
    "intervals",
    "behaviour",
)
CELL_FIELDS = tuple(item.name for item in fields(Cell))
COUNTS = ("correct", "incorrect", "abstained")


def made(kind: type[T], **values) -> T:
    """An instance of a frozen dataclass from all its fields, made without running its
    ``__init__`` (these have no checks to run, and a frozen one sets each field through
    ``object.__setattr__``): a board of 10,000 rows holds fifty thousand cells."""
    instance = object.__new__(kind)
    instance.__dict__.update(values)
    return instance


class JSONTexts:
    """Values held as JSON text, each decoded the first time it is read (and kept)."""

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self._decoded: dict[int, object] = {}

    def value(self, at: int) -> object:
        found = self._decoded.get(at, self)
        if found is self:
            found = self._decoded[at] = json.loads(self.texts[at])
        return found

    def __getstate__(self) -> dict:
        return {"texts": self.texts}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["texts"])


class JSONColumn(Sequence):
    """A column of a ``RowTable`` whose values are read from JSON text when a row is: a board
    of 10,000 rows holds the intervals of every run, and its page shows a hundred.

    Entry i is the value at `path` in text `at[i]` of `texts` (an index of −1: none), `missing`
    where there is none.
    """

    def __init__(
        self, texts: JSONTexts, at: list[int], path: tuple[str, ...] = (), missing=None
    ) -> None:
        self.texts = texts
        self.at = at
        self.path = path
        self.missing = missing

    def __len__(self) -> int:
        return len(self.at)

    def __getitem__(self, index: int):  # type: ignore[override]
        at = self.at[index]
        value = None if at < 0 else self.texts.value(at)
        for part in self.path:
            value = value.get(part) if value else None
        return self.missing if value is None else value

    def __iter__(self) -> Iterator:
        return (self[index] for index in range(len(self)))

    def taken(self, order: list[int]) -> JSONColumn:
        return JSONColumn(self.texts, [self.at[index] for index in order], self.path, self.missing)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, JSONColumn | list):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]


def _taken(values: list | JSONColumn, order: list[int]) -> list | JSONColumn:
    if isinstance(values, JSONColumn):
        return values.taken(order)
    return [values[at] for at in order]


def _concatenated(
    columns: list[list | JSONColumn], joined: dict[tuple[int, ...], JSONTexts]
) -> list | JSONColumn:
    """Columns one after another: a JSONColumn where all are of the same path, reading the texts
    of theirs put one after another (`joined`, by the texts' ids: the columns that read the same
    texts still share them, and each text is decoded once)."""
    first = columns[0]
    if isinstance(first, JSONColumn) and all(
        isinstance(column, JSONColumn)
        and (column.path, column.missing) == (first.path, first.missing)
        for column in columns
    ):
        sources = tuple(id(column.texts) for column in columns)
        texts = joined.get(sources)
        if texts is None:
            texts = joined[sources] = JSONTexts(
                [text for column in columns for text in column.texts.texts]
            )
        at, offset = [], 0
        for column in columns:
            at.extend(-1 if index < 0 else index + offset for index in column.at)
            offset += len(column.texts.texts)
        return JSONColumn(texts, at, first.path, first.missing)
    return [value for column in columns for value in column]


class RowTable(Sequence[Row]):
    """A board's rows, held as columns and each made into a ``Row`` when it is read.

    A board of 10,000 rows is built, cached and read back as a few hundred thousand values in
    lists, not as sixty thousand objects, and its page reads only the hundred rows it shows
    (``Board`` answers what it says of all of them from the columns). A row read by its index
    is kept, so that reading it again gives the same object; rows read by going through the
    table are not, so that an export of every row holds them one piece at a time.

    `columns` holds a list per name of ``ROW_COLUMNS``, per metric of ``METRICS`` and per count
    of ``COUNTS``; `cells` a list per name of ``CELL_FIELDS`` per rubric key, in the board's
    order of rubrics.
    """

    def __init__(self, columns: dict[str, list], cells: dict[str, dict[str, list]]) -> None:
        self.columns = columns
        self.cells = cells
        self._made: dict[int, Row] = {}

    @classmethod
    def empty(cls, keys: list[str]) -> RowTable:
        """A table of no rows, with cells under these rubric keys."""
        return cls(
            {name: [] for name in (*ROW_COLUMNS, *METRICS, *COUNTS)},
            {key: {name: [] for name in CELL_FIELDS} for key in keys},
        )

    def __len__(self) -> int:
        return len(self.columns["id"])

    @overload
    def __getitem__(self, at: int) -> Row: ...

    @overload
    def __getitem__(self, at: slice) -> list[Row]: ...

    def __getitem__(self, at: int | slice) -> Row | list[Row]:
        if isinstance(at, slice):
            return [self[index] for index in range(*at.indices(len(self)))]
        if at < 0:
            at += len(self)
        if not 0 <= at < len(self):
            raise IndexError("row index out of range")
        row = self._made.get(at)
        if row is None:
            row = self._made[at] = self._row(at)
        return row

    def __iter__(self) -> Iterator[Row]:
        for at in range(len(self)):
            yield self._made.get(at) or self._row(at)

    def _row(self, at: int) -> Row:
        columns = self.columns
        return made(
            Row,
            **{name: columns[name][at] for name in ROW_COLUMNS},
            metrics={name: columns[name][at] for name in METRICS},
            counts={name: columns[name][at] for name in COUNTS},
            cells={
                key: made(Cell, **{name: values[at] for name, values in cell.items()})
                for key, cell in self.cells.items()
            },
        )

    def column(self, name: str) -> Sequence:
        return self.columns[name]

    def cell_column(self, key: str, name: str) -> Sequence:
        return self.cells[key][name]

    def taken(
        self, order: Iterable[int], cells: dict[str, dict[str, list]] | None = None
    ) -> RowTable:
        """The rows at these indices, in this order; with `cells`, some cell columns (by rubric
        key, then name) replaced by these, already in the new order."""
        order = list(order)
        columns = {name: _taken(values, order) for name, values in self.columns.items()}
        taken = {}
        for key, cell in self.cells.items():
            given = (cells or {}).get(key, {})
            taken[key] = {
                name: given[name] if name in given else _taken(values, order)
                for name, values in cell.items()
            }
        return RowTable(columns, taken)

    @classmethod
    def joined(cls, tables: list[RowTable]) -> RowTable:
        """The rows of these tables (with the same rubric keys), one table after another."""
        first = tables[0]
        joined: dict[tuple[int, ...], JSONTexts] = {}
        columns = {
            name: _concatenated([t.columns[name] for t in tables], joined) for name in first.columns
        }
        cells = {
            key: {
                name: _concatenated([t.cells[key][name] for t in tables], joined) for name in cell
            }
            for key, cell in first.cells.items()
        }
        return cls(columns, cells)

    def __getstate__(self) -> dict:
        return {"columns": self.columns, "cells": self.cells}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["columns"], state["cells"])

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RowTable):
            return self.columns == other.columns and self.cells == other.cells
        if isinstance(other, list):
            return list(self) == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<RowTable of {len(self)} rows>"


class InOrder(Sequence[Row]):
    """The rows of a table in another order (a view: each row read from the table)."""

    def __init__(self, table: RowTable, order: list[int]) -> None:
        self.table = table
        self.order = order

    def __len__(self) -> int:
        return len(self.order)

    @overload
    def __getitem__(self, at: int) -> Row: ...

    @overload
    def __getitem__(self, at: slice) -> InOrder: ...

    def __getitem__(self, at: int | slice) -> Row | InOrder:
        if isinstance(at, slice):
            return InOrder(self.table, self.order[at])
        return self.table[self.order[at]]

    def __iter__(self) -> Iterator[Row]:
        return (self.table[at] for at in self.order)


EMPTY_CELL = Cell(score=None, rank=None, rank_shift=None, prompted=False)

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


def baselines_of(
    rubrics: list[Rubric], item_options: list[tuple[int | None, int]] | None
) -> tuple[list[Baseline], list[str]]:
    """The benchmark's reference lines, and why a line it lacks is missing.

    Abstaining on everything scores 0 under every rubric. On a `choice` benchmark, uniform
    guessing scores what picking one of an item's options at random is expected to score
    (scoring.uniform_guessing_score), from each item's number of options: the gold file's,
    else the benchmark's. `item_options` holds the items by number of options, as (options,
    items) pairs, options None where neither states it; None when there is no uniform-guessing
    line to draw (not a `choice` benchmark, or no items yet).
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
    if item_options is None:
        return baselines, notes
    options, counts = [], []
    for n_options, items in item_options:
        options.append(n_options)
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


def _beats_abstaining(score: float | None, interval: list[float] | None) -> bool:
    """``Board.beats_abstaining`` of a score with its interval."""
    if score is None or score <= scoring.SCORE_TIE_TOLERANCE:
        return False
    return not interval or interval[0] > scoring.SCORE_TIE_TOLERANCE


def _against_abstaining(score: float | None, interval: list[float] | None) -> str:
    """``Board.against_abstaining`` of a score with its interval."""
    if score is None or _beats_abstaining(score, interval):
        return ""
    if score < -scoring.SCORE_TIE_TOLERANCE:
        return BELOW_ABSTAINING
    if score <= scoring.SCORE_TIE_TOLERANCE:
        return LEVEL_WITH_ABSTAINING
    return ABOVE_ABSTAINING_WITHIN_NOISE


def _joined(words: list[str]) -> str:
    """["0.5", "0.75", "0.9"] → "0.5, 0.75 and 0.9"."""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


@contextmanager
def cycle_collection_paused() -> Iterator[None]:
    """Python's cycle collector paused while a board is built or read back from the cache.

    A board is tens of thousands of small objects (a row, its cells and their dicts per
    submission), none of them in a reference cycle; while they pile up the collector walks them
    again and again, which on a board of 10,000 rows took as long as building the board, and
    five times as long as reading it back. Reference counting frees everything as usual; the
    collector runs again afterwards: in a request, once its response has been sent, when the
    board has been rendered and let go (else the first collection after the build walks the
    whole board, and the next ones while its page is rendered), otherwise at once.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        if getattr(_request, "open", False):
            _request.collect_after = True
        else:
            gc.enable()


# Per thread, whether a request is being answered, and whether the cycle collector is to run
# again when it has been (``cycle_collection_paused``).
_request = threading.local()


def _request_opened(**kwargs) -> None:
    _request.open = True


def _request_closed(**kwargs) -> None:
    _request.open = False
    if getattr(_request, "collect_after", False):
        _request.collect_after = False
        gc.enable()


request_started.connect(_request_opened, dispatch_uid="boards-request-opened")
request_finished.connect(_request_closed, dispatch_uid="boards-request-closed")


def _board_from(data: bytes) -> Board:
    """A board from its fields pickled (``Board.__reduce__``)."""
    with cycle_collection_paused():
        return Board(**pickle.loads(data))


@dataclass(frozen=True)
class Board:
    benchmark: Benchmark
    rubrics: list[Rubric]
    # In binary rank order (``scoring.rank_table``).
    rows: RowTable
    taus: dict[str, float | None] = field(default_factory=dict)
    # True for the board every visitor sees, which is cached; False for one that shows a
    # viewer's own private rows, or everything to staff.
    public: bool = True
    # Per rubric key, [i, j] true where submission j beats submission i: it scores higher in at
    # least 97.5% of the paired resamples. Rows and columns follow `positions` (submission id to
    # index). Empty without bootstraps.
    beats: dict[str, np.ndarray] = field(default_factory=dict)
    # A board too large for paired resamples has instead, per rubric key, its rows' separation
    # bounds (lo, hi; scoring.statistics.separation_bounds), in the order of `positions`: j
    # beats i where j's lo is above i's hi.
    bounds: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    positions: dict[int, int] = field(default_factory=dict)
    # Reference lines, never ranked (`baselines_of`), and why one is missing.
    baselines: list[Baseline] = field(default_factory=list)
    baseline_notes: list[str] = field(default_factory=list)

    def __reduce__(self):
        # Cached boards are read back with the cycle collector paused (`cycle_collection_paused`).
        # Pickled once: a board is cached under its generation and as the latest one, and a
        # board of 10,000 rows takes a fifth of a second to pickle.
        data = self._memo.get("pickled")
        if data is None:
            state = {item.name: getattr(self, item.name) for item in fields(self)}
            data = self._memo["pickled"] = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
        return _board_from, (data,)

    @property
    def _memo(self) -> dict:
        """What this board computes once and keeps (a board never changes): its rows in rank
        order by rubric, its pickled fields. Not one of its fields: never pickled or compared."""
        memo = self.__dict__.get("_computed")
        if memo is None:
            memo = {}
            object.__setattr__(self, "_computed", memo)
        return memo

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

    def row(self, submission_id: int) -> Row | None:
        """The row of this submission, None when it is not on the board."""
        ids = self.rows.column("id")
        try:
            return self.rows[ids.index(submission_id)]
        except ValueError:
            return None

    def ranking(self, key: str) -> Sequence[Row]:
        """Rows in rank order under one rubric, those without a score left out: the first rows
        of ``sorted_by``."""
        rows = self.sorted_by(key)
        ranked = self._memo[("ranked", key)]
        return rows[:ranked]

    def rubric(self, key: str | None) -> Rubric:
        """The rubric with this key, binary when there is none."""
        return next((rubric for rubric in self.rubrics if rubric.key == key), self.rubrics[0])

    def separates(self, key: str) -> bool:
        """Whether the board tells rows apart beyond noise under this rubric: by paired
        resamples, or on a large board by separation bounds."""
        return key in self.beats or key in self.bounds

    def beats_beyond_noise(self, key: str, winner: Row, loser: Row) -> bool:
        """Whether `winner` scores above `loser` in at least 97.5% of the paired resamples; on
        a large board, whether its separation bounds say so (which the paired test then does
        too), the pair's counts far enough apart where the gold is hidden."""
        matrix = self.beats.get(key)
        if matrix is not None:
            return bool(matrix[self.positions[loser.id], self.positions[winner.id]])
        if key not in self.bounds:
            return False
        lo, hi = self.bounds[key]
        above = scoring.statistics.higher(
            lo[self.positions[winner.id]], hi[self.positions[loser.id]]
        )
        apart = far_enough_apart([loser, winner], key, self.benchmark.config().min_items_per_figure)
        return bool(above) and (apart is None or bool(apart[0, 1]))

    def _moved_beyond_noise(self, at: int, key: str) -> bool:
        """Whether the ranks the bootstrap allows the row at this index under binary and at
        `key` do not overlap."""
        before, after = self.rows.cells[scoring.BINARY_KEY], self.rows.cells[key]
        best, worst = before["significant_rank"][at], before["rank_low"][at]
        best_after, worst_after = after["significant_rank"][at], after["rank_low"][at]
        if None in (best, worst, best_after):
            return False
        return worst_after < best or best_after > worst

    def beats_abstaining(self, row: Row, key: str) -> bool:
        """Whether the row scores above abstaining on everything (0) at this rubric, beyond noise:
        its 95% interval, where one is stored, lies above 0 too."""
        cell = row.cells[key]
        return _beats_abstaining(cell.score, cell.interval)

    def against_abstaining(self, row: Row, key: str) -> str:
        """How the row's score at this rubric stands against abstaining on everything, in words;
        "" when it beats it beyond noise (or has no score)."""
        cell = row.cells[key]
        return _against_abstaining(cell.score, cell.interval)

    def unbeaten_by_models(self) -> list[Rubric]:
        """The targets at which no model here beats abstaining on everything beyond noise."""
        if not self.rows:
            return []
        return [rubric for rubric in self.targets if not self._above_zero(rubric.key, beyond=True)]

    def _above_zero(self, key: str, *, beyond: bool) -> list[int]:
        """The indices of the rows that score above abstaining on everything at this rubric:
        beyond noise (``beats_abstaining``; the first found only), or only within noise. The
        intervals are read only for rows scoring above 0, the few on a strict rubric."""
        scores = self.rows.cell_column(key, "score")
        intervals = self.rows.cell_column(key, "interval")
        out = []
        for at, score in enumerate(scores):
            if score is None or score <= scoring.SCORE_TIE_TOLERANCE:
                continue
            if _beats_abstaining(score, intervals[at]) == beyond:
                out.append(at)
                if beyond:
                    break
        return out

    def abstaining_verdict(self) -> str:
        """In words: the targets at which no model here does better than abstaining everywhere.

        A model above 0 only within noise does not count as beating it, and is named as such.
        """
        unbeaten = self.unbeaten_by_models()
        none_above = [
            rubric
            for rubric in unbeaten
            if all(
                (score or 0) <= scoring.SCORE_TIE_TOLERANCE
                for score in self.rows.cell_column(rubric.key, "score")
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
            within_noise = set()
            for rubric in noisy:
                within_noise.update(self._above_zero(rubric.key, beyond=False))
            models = self.rows.column("model")
            above = [models[at] for at in sorted(within_noise)]
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
        ranks = self.rows.cell_column(key, "rank")
        shifts = self.rows.cell_column(key, "rank_shift")
        ranked = [at for at, rank in enumerate(ranks) if rank is not None]
        moved = [at for at in ranked if shifts[at] not in (0, None)]
        if not moved:
            return (
                f"Rewarding abstention leaves this board's order as it is: at t = "
                f"{key} every model keeps its binary rank."
            )
        known = self.separates(key) and self.separates(scoring.BINARY_KEY)
        sentence = (
            f"Rewarding abstention reorders this board: at t = {key}, "
            f"{len(moved)} of {len(ranked)} models change rank"
        )
        if known:
            beyond = sum(self._moved_beyond_noise(at, key) for at in moved)
            sentence += f", {beyond} beyond noise" if beyond else ", each within noise"
        leader = self.leader(scoring.BINARY_KEY)
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
                    was = new_leader.cells[scoring.BINARY_KEY].rank
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

    def sorted_by(self, key: str) -> InOrder:
        """Every row, by rank under one rubric, rows of equal rank by name; rows without a score
        there come last, by name. Sorted once per board and rubric."""
        order = self._memo.get(("sorted", key))
        if order is None:
            ranks = self.rows.cell_column(key, "rank")
            names = [model.lower() for model in self.rows.column("model")]
            order = self._memo[("sorted", key)] = sorted(
                range(len(self.rows)),
                key=lambda at: (ranks[at] is None, ranks[at] or 0, names[at]),
            )
            self._memo[("ranked", key)] = sum(rank is not None for rank in ranks)
        return InOrder(self.rows, order)

    def columns(self, limit: int | None = None) -> list[tuple[Rubric, list[Row | Baseline]]]:
        """Each rubric with its ranking, the first `limit` rows of each when given, and the
        baselines placed among them (`with_baselines`)."""
        return [
            (rubric, self.with_baselines(rubric.key, self.ranking(rubric.key)[:limit]))
            for rubric in self.rubrics
        ]

    def with_baselines(self, key: str, rows: Sequence[Row]) -> list[Row | Baseline]:
        """Rows in rank order under one rubric with each baseline where its score falls: after
        the rows scoring above it, before those level with or below it (or without a score)."""
        rows = list(rows)
        return [
            line if isinstance(line, Baseline) else rows[line]
            for line in self._placed(key, [row.cells[key].score for row in rows])
        ]

    def _placed(self, key: str, scores: list[float | None]) -> list[int | Baseline]:
        """``with_baselines`` of rows of these scores: each row as its index among them."""
        lines: list[int | Baseline] = list(range(len(scores)))
        for baseline in sorted(self.baselines, key=lambda line: -line.scores[key]):
            score = baseline.scores[key]
            at = next(
                (
                    index
                    for index, line in enumerate(lines)
                    if (value := line.scores[key] if isinstance(line, Baseline) else scores[line])
                    is None
                    or value <= score + scoring.SCORE_TIE_TOLERANCE
                ),
                len(lines),
            )
            lines.insert(at, baseline)
        return lines

    def lines_of_page(self, key: str, start: int, stop: int) -> list[Row | Baseline]:
        """The rows ``start`` to ``stop`` (from 0) in rank order under one rubric (``sorted_by``),
        with the baselines placed among the whole board's rows (``with_baselines``) that fall
        among them: each on the page of the row it comes before, or of the last row."""
        rows = self.sorted_by(key)
        scores = self.rows.cell_column(key, "score")
        out: list[Row | Baseline] = []
        seen = 0
        for line in self._placed(key, [scores[at] for at in rows.order]):
            if isinstance(line, Baseline):
                if start <= seen < stop or (seen == len(rows) and stop >= len(rows)):
                    out.append(line)
                continue
            if start <= seen < stop:
                out.append(rows[line])
            seen += 1
        return out

    def to_json(self, *, rows: bool = True) -> dict:
        """The board as ``leaderboard.json`` holds it; with ``rows=False``, its rows left empty
        (for a writer that formats them one piece at a time)."""
        return {
            "benchmark": self.benchmark.slug,
            "n_items": self.benchmark.n_items,
            "targets": [rubric.target for rubric in self.targets],
            "kendall_tau_b": self.taus,
            "rows": [row.to_dict() for row in self.rows] if rows else [],
            "baselines": [baseline.to_dict() for baseline in self.baselines],
        }


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


def behaviour_of(runs: Iterable[scoring.RunScore]) -> list[dict]:
    """The runs prompted at a target above 0, for the behavioural calibration table and chart."""
    out = [
        {
            "target": run.target,
            "key": run.key,
            "accuracy_given_attempted": run.accuracy_given_attempted,
            "interval": (run.intervals or {}).get("accuracy_given_attempted"),
            "error_rate": run.error_rate,
            "abstention_rate": run.abstention_rate,
            "score": float(run.score_at(run.target)),
            "calibrated": run.behaviourally_calibrated,
        }
        for run in runs
        if run.target
    ]
    return sorted(out, key=lambda run: run["target"])
