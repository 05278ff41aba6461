"""Harness logs (Inspect AI, lm-evaluation-harness, lighteval, HELM, Every Eval Ever) read into
the rows of a prediction file, and into the items of a gold file.

Each format has a module of its own exposing `FORMAT` (the key), `NAME` (in words), `ID_FIELD`
(which field of a sample becomes our item id, in words, as the README documents it),
`looks_like(data, filename)` and `read(data, filename=..., options=..., max_bytes=...)`, which
returns the log's `LogSamples`. What every format shares (choosing the format, the "I don't know"
option, partial credit, the report of what matched) lives here; the table the rows become is then
validated by the same code as a CSV file (`scoring.reading.predictions`, `scoring.reading.gold`).

Messages name the sample (its number in the log, and its id where it has one), the field and the
reason. Gold answers and question texts never appear in a message.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

# The columns of LogSamples.frame, in this order.
#   id         str: the item id (ID_FIELD of the format)
#   answer     str: the model's answer as the harness extracted it ("" when it extracted none);
#              for a multiple-choice sample, the chosen option's letter (A, B, ...)
#   extracted  bool: False where the harness could not extract an answer (the upload report
#              counts these; the empty answer is an abstention, SPEC §4)
#   grade      object: the harness's own grade, "correct", "incorrect", "not_attempted" or
#              "partial", None where it gives none
#   confidence float: the model's probability of its answer being right (NaN when unknown)
#   gold       object: the log's target for the sample (a letter for multiple choice), None if none
#   question   object: the question text, None if none
#   options    object: the multiple-choice option texts in letter order (a list), None otherwise
#   category   object: a subject or topic the log gives the sample, None if none
SAMPLE_COLUMNS = (
    "id",
    "answer",
    "extracted",
    "grade",
    "confidence",
    "gold",
    "question",
    "options",
    "category",
)
HARNESS_GRADES = ("correct", "incorrect", "not_attempted", "partial")


@dataclass(frozen=True)
class LogOptions:
    """What the uploader chose about how a log is read; None leaves each to the log itself."""

    format: str | None = None  # a FORMAT key; None detects it from the file
    filter: str | None = None  # lm-evaluation-harness: which filter's responses are the answers
    epoch: int | None = None  # Inspect AI: which epoch, when a log holds several
    scorer: str | None = None  # Inspect AI: which scorer, when a log holds several

    def to_dict(self) -> dict[str, object]:
        return {key: value for key, value in vars(self).items() if value is not None}

    @classmethod
    def from_dict(cls, data: dict[str, object] | None) -> LogOptions:
        data = data or {}
        names = ("format", "filter", "epoch", "scorer")
        return cls(**{key: data[key] for key in names if key in data})


@dataclass
class LogSamples:
    """One harness log, read: a row per sample (and epoch), in SAMPLE_COLUMNS.

    `places` holds each row's sample number in the log (1-based), which messages give;
    `found` lists, per option the uploader may choose (filter, epoch, scorer), the values the
    log holds; `used`, the value each option took.
    """

    format: str
    id_field: str
    frame: pd.DataFrame
    places: np.ndarray
    model: str | None = None
    task: str | None = None
    found: dict[str, list[str]] = field(default_factory=dict)
    used: dict[str, str] = field(default_factory=dict)

    @property
    def n_rows(self) -> int:
        return len(self.frame)


def samples_frame(rows: dict[str, object] | None = None, **columns: object) -> pd.DataFrame:
    """A frame with exactly SAMPLE_COLUMNS, from whole columns (lists or arrays); a column not
    given is filled with its empty value."""
    given = dict(rows or {}, **columns)
    lengths = {len(value) for value in given.values()}  # type: ignore[arg-type]
    if len(lengths) > 1:
        raise ValueError(f"columns of different lengths: {sorted(lengths)}")
    n = lengths.pop() if lengths else 0
    empty = {
        "id": lambda: [""] * n,
        "answer": lambda: [""] * n,
        "extracted": lambda: np.ones(n, dtype=bool),
        "grade": lambda: [None] * n,
        "confidence": lambda: np.full(n, np.nan),
        "gold": lambda: [None] * n,
        "question": lambda: [None] * n,
        "options": lambda: [None] * n,
        "category": lambda: [None] * n,
    }
    unknown = set(given) - set(SAMPLE_COLUMNS)
    if unknown:
        raise ValueError(f"not a sample column: {', '.join(sorted(unknown))}")
    frame = pd.DataFrame(
        {name: given[name] if name in given else empty[name]() for name in SAMPLE_COLUMNS}
    )
    frame["id"] = frame["id"].astype(str)
    frame["answer"] = frame["answer"].fillna("").astype(str)
    frame["extracted"] = frame["extracted"].astype(bool)
    frame["confidence"] = frame["confidence"].astype(float)
    return frame
