"""A benchmark's vocabulary: its settings (grader, confidence targets, limits), its items (Gold),
the graders and default abstention phrases, and how a target is keyed in scores and URLs.

Nothing here reads files, grades or scores; every other part of the package builds on it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

GRADERS = ("exact", "choice", "numeric", "pregraded")
DEFAULT_ABSTENTION_PHRASES = (
    "i don't know",
    "i do not know",
    "idk",
    "not sure",
    "i'm not sure",
    "unknown",
    "cannot answer",
    "no answer",
    "n/a",
)
DEFAULT_TARGETS = (0.5, 0.75, 0.9)
# How a harness's partial grade (Inspect's "P") counts: "" refuses a log that holds one.
PARTIAL_CREDIT = ("", "correct", "incorrect", "not_attempted")
# Targets closer than this are one target.
TARGET_EQUAL_TOLERANCE = 1e-9
# The rubric key of binary grading (t = 0), as target_key writes it.
BINARY_KEY = "0"
# Bootstrap resamples of the items, unless a benchmark says otherwise.
N_RESAMPLES = 1000


def target_key(t: float) -> str:
    """A target as the shortest decimal, as keyed in scores and URLs: 0.75 → "0.75", 0 → "0"."""
    return format(float(t), ".15g")


@dataclass(frozen=True)
class BenchmarkConfig:
    """How a benchmark grades and scores: grader, confidence targets and limits.

    Targets are sorted and deduplicated (within 1e-9); binary (t = 0) is always scored besides.
    """

    grader: str
    targets: tuple[float, ...] = DEFAULT_TARGETS
    abstention_phrases: tuple[str, ...] = DEFAULT_ABSTENTION_PHRASES
    min_coverage: float = 0.0
    numeric_tolerance: float = 1e-6
    max_bytes: int = 50 * 1024 * 1024
    # The bootstrap: resamples of the items, drawn from this seed (one per benchmark, so that
    # every submission of it is resampled alike); 0 resamples skips it.
    seed: int = 0
    n_resamples: int = N_RESAMPLES
    # For a benchmark whose gold is not public: no figure (a run, a category row, a reliability
    # bin, a step of the risk–coverage curve) covers fewer than this many answered items, and
    # runs are limited to the targets and the default run; 0 (public gold) shows every figure.
    min_items_per_figure: int = 0
    # How a harness log's "partial" grade counts on a pregraded benchmark: "" refuses the log
    # (naming the samples), else one of correct, incorrect, not_attempted.
    partial_credit: str = ""

    def __post_init__(self) -> None:
        if self.grader not in GRADERS:
            raise ValueError(
                f"unknown grader {self.grader!r}; expected one of {', '.join(GRADERS)}"
            )
        targets: list[float] = []
        for t in sorted(float(t) for t in self.targets):
            if not 0 < t < 1:
                raise ValueError(f"target {t!r} is not between 0 and 1 (both excluded)")
            if not targets or t - targets[-1] > TARGET_EQUAL_TOLERANCE:
                targets.append(t)
        object.__setattr__(self, "targets", tuple(targets))
        object.__setattr__(self, "abstention_phrases", tuple(map(str, self.abstention_phrases)))
        if not 0 <= self.min_coverage <= 1:
            raise ValueError(f"min_coverage {self.min_coverage!r} is not in [0, 1]")
        if not (math.isfinite(self.numeric_tolerance) and self.numeric_tolerance >= 0):
            raise ValueError(f"numeric_tolerance {self.numeric_tolerance!r} is not a number ≥ 0")
        if self.max_bytes <= 0:
            raise ValueError(f"max_bytes {self.max_bytes!r} is not positive")
        if self.n_resamples < 0:
            raise ValueError(f"n_resamples {self.n_resamples!r} is negative")
        if self.min_items_per_figure < 0:
            raise ValueError(f"min_items_per_figure {self.min_items_per_figure!r} is negative")
        if self.partial_credit not in PARTIAL_CREDIT:
            raise ValueError(
                f"partial_credit {self.partial_credit!r} is not one of "
                + ", ".join(map(repr, PARTIAL_CREDIT))
            )

    @property
    def rubrics(self) -> tuple[float, ...]:
        """Binary first, then every target."""
        return (0.0, *self.targets)

    def to_dict(self) -> dict[str, object]:
        """Every setting, as JSON values: what the site's benchmark.json carries (SPEC §6).

        Each field travels by its own name, so a setting added to this class reaches the local
        CLI with no other change; `from_dict` reads it back.
        """
        return {
            setting.name: _json_setting(getattr(self, setting.name))
            for setting in dataclasses.fields(self)
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> BenchmarkConfig:
        """The settings `to_dict` wrote. Keys that are not settings are ignored and missing ones
        take their defaults (except the grader); ValueError names any unusable value."""
        values: dict[str, object] = {}
        for setting in dataclasses.fields(cls):
            if setting.name not in data:
                continue
            value = data[setting.name]
            default = setting.default
            if setting.default_factory is not dataclasses.MISSING:
                default = setting.default_factory()
            if not _fits(value, default):
                raise ValueError(f"{setting.name} {value!r} is not {_kind(default)}")
            values[setting.name] = tuple(value) if isinstance(value, list) else value
        if "grader" not in values:
            raise ValueError("no grader")
        try:
            return cls(**values)
        except TypeError as error:  # e.g. a target that is not a number
            raise ValueError(str(error)) from None


def _json_setting(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


def _fits(value: object, default: object) -> bool:
    """Whether a JSON value can stand for a setting whose default is `default`."""
    if default is dataclasses.MISSING or default is None:
        return isinstance(value, str) if default is dataclasses.MISSING else True
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, tuple):
        return isinstance(value, list)
    if isinstance(default, float):
        return isinstance(value, int | float)
    if isinstance(default, int):
        # Counts, sizes and seeds: none of them is ever negative.
        return isinstance(value, int) and value >= 0
    return isinstance(value, type(default))


def _kind(default: object) -> str:
    if default is dataclasses.MISSING:
        return "a text"
    if isinstance(default, tuple):
        return "a list"
    return {bool: "true or false", int: "a whole number ≥ 0", float: "a number", str: "a text"}.get(
        type(default), f"a {type(default).__name__}"
    )


@dataclass(frozen=True)
class ColumnReport:
    """Which column of the file was used for each field, and which columns were ignored; for a
    harness log, also what was read from it (`log`: `scoring.reading.logs.LogReport.to_dict()`,
    None for a table of our own)."""

    used: dict[str, str]
    ignored: list[str]
    log: dict[str, object] | None = None

    def to_dict(self) -> dict[str, object]:
        data: dict[str, object] = {"used": dict(self.used), "ignored": list(self.ignored)}
        if self.log is not None:
            data["log"] = dict(self.log)
        return data


@dataclass(frozen=True, eq=False)
class Gold:
    """A benchmark's items: id, gold answer (a letter for `choice`), aliases, question, category,
    and the number of options (`n_options`, NA where the file gives none).

    `items` is in file order with unique ids. Identity, not content, is its equality, so graders
    can cache what they derive from it.
    """

    items: pd.DataFrame
    columns: ColumnReport

    @property
    def n_items(self) -> int:
        return len(self.items)

    @cached_property
    def digest(self) -> str:
        """A SHA-256 of the items: equal for equal gold, whichever file or store it came from."""
        columns = []
        for name in ("id", "answer", "question", "category"):
            column = self.items[name].astype(object)
            columns.append(column.where(column.notna(), None).tolist())
        columns.append(self.items["aliases"].tolist())  # tuples of texts, dumped as arrays
        return hashlib.sha256(json.dumps(columns, ensure_ascii=False).encode()).hexdigest()

    @cached_property
    def id_index(self) -> pd.Index:
        """The item ids as an index."""
        return pd.Index(self.items["id"])

    def positions_of(self, ids: pd.Series | np.ndarray) -> np.ndarray:
        """Each id's row in gold order, −1 for ids that are not items of this benchmark."""
        values = np.asarray(ids, dtype=object)
        known = self.items["id"].to_numpy(dtype=object)
        if (
            len(values) == len(known)
            and len(known)
            and values[0] == known[0]
            and (values == known).all()
        ):
            return np.arange(len(known))  # a file in gold order, the usual case
        if self._id_hashes is None:
            return self.id_index.get_indexer(values)
        # Looking up hashes, then comparing each id with the item found, is faster than a table
        # of strings, whose every probe compares strings scattered in memory.
        found = self._id_hashes.get_indexer(_hashes(values))
        if (found >= 0).all():
            wrong = np.flatnonzero(known[found] != values)
        else:
            hit = np.flatnonzero(found >= 0)
            wrong = hit[known[found[hit]] != values[hit]]
        if len(wrong):
            found[wrong] = self.id_index.get_indexer(values[wrong])
        return found

    @cached_property
    def _id_hashes(self) -> pd.Index | None:
        """The ids' hashes as an index, or None if two ids share a hash."""
        hashes = pd.Index(_hashes(self.items["id"].to_numpy(dtype=object)))
        return hashes if hashes.is_unique else None

    @cached_property
    def answer_codes(self) -> tuple[np.ndarray, np.ndarray]:
        """The gold answers factorized: each item's code and the distinct answers."""
        return pd.factorize(self.items["answer"].to_numpy(dtype=object))

    @cached_property
    def category_codes(self) -> tuple[np.ndarray, list[str]]:
        """Each item's category number (−1 without one) and the category names, sorted."""
        categories = self.items["category"].to_numpy(dtype=object)
        if pd.isna(categories).all():
            return np.full(len(categories), -1, dtype=np.intp), []
        codes, names = pd.factorize(categories, sort=True, use_na_sentinel=True)
        return codes, [str(name) for name in names]


def _hashes(values: np.ndarray) -> np.ndarray:
    """Python's hash of each value (strings cache theirs), as int64."""
    return np.fromiter(map(hash, values), dtype=np.int64, count=len(values))
