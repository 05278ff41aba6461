"""Harness logs (Inspect AI, lm-evaluation-harness, lighteval, HELM, Every Eval Ever) read into
the rows of a prediction file, and into the items of a gold file.

Each format has a module of its own exposing `FORMAT` (the key), `NAME` (in words), `ID_FIELD`
(which field of a sample becomes our item id, in words, as the README documents it),
`looks_like(data, filename)` and `read(data, filename=..., options=..., max_bytes=...)`, which
returns the log's `LogSamples`. What every format shares (choosing the format, the "I don't know"
option, partial credit, the report of what matched) lives here; the table the rows become is then
validated by the same code as a CSV file (`scoring.reading.predictions`, `scoring.reading.gold`).

The formats are registered from `_FORMAT_MODULES` (`LOG_FORMATS`, in detection order); a module
named there that does not exist is not registered, so a format is added by writing its module.

Messages name the sample (its number in the log, and its id where it has one), the field and the
reason. Gold answers and question texts never appear in a message.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from types import ModuleType

import numpy as np
import pandas as pd

from scoring.answers import _choice_codes, normalise_text
from scoring.benchmark import BenchmarkConfig, Gold
from scoring.grading import _normalised_phrases
from scoring.reading.errors import MAX_ERRORS_SHOWN, FileRejected, _quote
from scoring.reading.raw import Source, _read_bytes
from scoring.reading.tables import _Table

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
    log holds (a format lists there every option it reads, even with one value); `used`, the
    value each option took; `notes`, what the upload report should say about the log as a
    whole (an Inspect run that stopped with an error, say).
    """

    format: str
    id_field: str
    frame: pd.DataFrame
    places: np.ndarray
    model: str | None = None
    task: str | None = None
    found: dict[str, list[str]] = field(default_factory=dict)
    used: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

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


def metadata_category(metadata: object) -> str | None:
    """The subject or category a sample's metadata gives it (`subject`, else `category`)."""
    if not isinstance(metadata, dict):
        return None
    for key in ("subject", "category"):
        value = metadata.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def first_text(value: object) -> str | None:
    """A target or reference as text: a string or number as it is written, the first of a list
    (harnesses list several accepted answers); None for anything else."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value)
    return None


def describe_sample(number: int, sample_id: object = None, epoch: object = None) -> str:
    """How a message names a sample: `sample 12 (id "q-7", epoch 2)`."""
    details = []
    if sample_id is not None and str(sample_id) != "":
        details.append(f"id {_quote(sample_id)}")
    if epoch is not None:
        details.append(f"epoch {epoch}")
    return f"sample {number}" + (f" ({', '.join(details)})" if details else "")


# The letters of multiple-choice options, in order: importers write the chosen one as the answer.
CHOICE_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass(frozen=True)
class LogReport:
    """What was read from a harness log, for the upload report (`to_dict` is what the site
    stores in a submission's column report and `python -m scoring --json` prints).

    `rows` counts the log's rows (a sample per epoch chosen); `matched` those whose id is an
    item of the benchmark, which alone are scored; `unextracted`, `idk_abstentions` and
    `partial` count among the matched rows.
    """

    format: str
    format_name: str
    id_field: str
    model: str | None
    task: str | None
    rows: int
    matched: int
    unmatched: int
    first_unmatched: list[str]
    unextracted: int
    idk_abstentions: int
    partial: int = 0
    partial_credit: str = ""
    options: dict[str, str] = field(default_factory=dict)
    found: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {
            "format": self.format,
            "format_name": self.format_name,
            "id_field": self.id_field,
            "model": self.model,
            "task": self.task,
            "rows": self.rows,
            "matched": self.matched,
            "unmatched": self.unmatched,
            "first_unmatched": list(self.first_unmatched),
            "unextracted": self.unextracted,
            "idk_abstentions": self.idk_abstentions,
            "partial": self.partial,
            "partial_credit": self.partial_credit,
            "options": dict(self.options),
            "found": {key: list(values) for key, values in self.found.items()},
            "notes": list(self.notes),
        }


# --- The formats ---------------------------------------------------------------------------

# What uploads accept besides .csv, .jsonl and .json (which logs use too).
LOG_SUFFIXES = (".eval", ".zip", ".parquet")
# `LogOptions.format` that reads the file as our own CSV, JSON Lines or JSON table.
TABLE_FORMAT = "table"
# The modules of this package that read a format, in the order detection tries them (the
# strictest look first). A module not written yet is simply not registered.
_FORMAT_MODULES = ("inspect_log", "every_eval_ever", "lm_eval", "lighteval", "helm")
# Options an uploader may choose; a format reads those it lists in LogSamples.found.
_OPTION_NAMES = ("filter", "epoch", "scorer")

# FORMAT → NAME, and FORMAT → module, filled by _register() at the end of this file.
LOG_FORMATS: dict[str, str] = {}
_READERS: dict[str, ModuleType] = {}
# How many unmatched ids the report lists.
MAX_UNMATCHED_SHOWN = 10


def detect_format(data: bytes, filename: str) -> str | None:
    """The FORMAT of the first registered format whose module recognises the file, else None
    (a table of our own, or nothing we read)."""
    for key, module in _READERS.items():
        if module.looks_like(data, filename):
            return key
    return None


def log_format(data: bytes, filename: str, options: LogOptions | None) -> str | None:
    """Which log format to read the file as, or None to read it as our own table.

    `options.format` decides when given ("table", or a FORMAT key); otherwise the file is
    recognised by its first bytes. A file with a log's suffix (.eval, .zip, .parquet) that no
    format recognises is refused here, with the formats this site reads.
    """
    chosen = options.format if options is not None else None
    if chosen == TABLE_FORMAT:
        return None
    if chosen:
        if chosen not in _READERS:
            known = ", ".join([TABLE_FORMAT, *_READERS])
            raise FileRejected([f"unknown format {_quote(chosen)} (formats: {known})"])
        return chosen
    detected = detect_format(data, filename)
    if detected is None and _suffix(filename) in LOG_SUFFIXES:
        raise FileRejected(
            [
                f"{_quote(filename)} is not a harness log this site reads; it reads "
                + "; ".join(LOG_FORMATS.values())
            ]
        )
    return detected


def _suffix(filename: str) -> str:
    name = filename.lower().removesuffix(".gz")
    dot = name.rfind(".")
    return name[dot:] if dot >= 0 else ""


def read_log(
    source: Source, *, filename: str, options: LogOptions | None = None, max_bytes: int
) -> LogSamples:
    """Read a harness log (its format chosen or recognised) into LogSamples; FileRejected if it
    is no log this site reads, or cannot be read. The bytes go through the upload's size
    limit and gzip, as a table's do."""
    options = options or LogOptions()
    data = _read_bytes(source, filename, max_bytes)
    key = log_format(data, filename, options)
    if key is None:
        raise FileRejected(
            [f"{_quote(filename)} is not a harness log (formats: {', '.join(_READERS)})"]
        )
    return read_samples(data, key, filename=filename, options=options, max_bytes=max_bytes)


def read_samples(
    data: bytes, key: str, *, filename: str, options: LogOptions, max_bytes: int
) -> LogSamples:
    """The log's samples, read by the module of format `key` from bytes already read."""
    module = _READERS[key]
    if not data or data.isspace():
        raise FileRejected(["the file is empty"])
    samples = module.read(data, filename=filename, options=options, max_bytes=max_bytes)
    refused = [
        name
        for name in _OPTION_NAMES
        if getattr(options, name) is not None
        and name not in samples.found
        and name not in samples.used
    ]
    if refused:
        raise FileRejected(
            [
                f"the option {name} does not apply to this file, read as {module.NAME}: "
                f"it has no {name}s to choose from"
                for name in refused
            ]
        )
    if samples.n_rows == 0:
        raise FileRejected(["the log holds no samples"])
    return samples


# --- Logs as predictions and as gold ---------------------------------------------------------


def prediction_table(
    samples: LogSamples, gold: Gold, config: BenchmarkConfig
) -> tuple[_Table, LogReport]:
    """The rows of a log as a prediction table (unit "sample"), which `read_predictions`
    validates as it does a CSV file, and the report of what was read.

    Rows whose id is not an item of the benchmark are left out and reported (refused only if
    none matches). A chosen "I don't know" option becomes an abstention; the harness's grade is
    the grade column on a pregraded benchmark only (partial grades counted as the benchmark's
    `partial_credit` says, or refused).
    """
    frame = samples.frame
    ids = frame["id"].astype(str)
    found = gold.positions_of(ids.to_numpy(dtype=object))
    retry = np.flatnonzero(found < 0)
    if len(retry):
        stripped = ids.iloc[retry].str.strip()
        found[retry] = gold.positions_of(stripped.to_numpy(dtype=object))
        ids = ids.copy()
        ids.iloc[retry] = stripped.to_numpy(dtype=object)
    matched = found >= 0
    if not matched.any():
        first = ids.iloc[0]
        task = f" (the log's task is {_quote(samples.task)})" if samples.task else ""
        raise FileRejected(
            [
                f"no sample id in the log is an item of this benchmark (the first is "
                f"{_quote(first)}){task}: is it a log of another task?"
            ]
        )
    unmatched_ids = pd.unique(ids[~matched].to_numpy(dtype=object))
    keep = np.flatnonzero(matched)
    rows = frame.iloc[keep].reset_index(drop=True)
    places = samples.places[keep]
    ids = ids.iloc[keep].reset_index(drop=True)
    pregraded = config.grader == "pregraded"

    answers = rows["answer"].astype(str)
    extracted = rows["extracted"].to_numpy(dtype=bool)
    answers = answers.where(extracted, "")
    idk = _idk_options(answers, rows["options"], config)

    grades = rows["grade"].to_numpy(dtype=object)
    partial = grades == "partial"
    if pregraded and partial.any():
        if not config.partial_credit:
            bad = np.flatnonzero(partial)
            raise FileRejected(
                [
                    f"{describe_sample(int(places[i]), ids.iloc[i])}: the harness graded it "
                    "partially correct, and this benchmark does not say how partial credit "
                    "counts (its partial credit setting is empty: ask its staff to set it to "
                    "correct, incorrect or not attempted)"
                    for i in bad[:MAX_ERRORS_SHOWN]
                ],
                len(bad),
            )
        grades = np.where(partial, config.partial_credit, grades)

    columns: dict[str, object] = {
        "id": ids.to_numpy(dtype=object),
        "answer": answers.to_numpy(dtype=object),
        "abstain": idk,
    }
    if pregraded:
        columns["grade"] = grades
    confidence = rows["confidence"].to_numpy(dtype=float)
    if not np.isnan(confidence).all():
        columns["confidence"] = np.where(np.isnan(confidence), None, confidence).astype(object)
    table = _Table.of_values(pd.DataFrame(columns, dtype=object), unit="sample", places=places)
    report = _report(
        samples,
        matched=len(keep),
        unmatched_ids=unmatched_ids,
        unmatched=int((~matched).sum()),
        unextracted=int((~extracted).sum()),
        idk=int(idk.sum()),
        partial=int(partial.sum()) if pregraded else 0,
        partial_credit=config.partial_credit if pregraded else "",
    )
    return table, report


def _idk_options(answers: pd.Series, options: pd.Series, config: BenchmarkConfig) -> np.ndarray:
    """Whether each row chose a multiple-choice option whose text is an abstention phrase of
    the benchmark ("I don't know"), whatever its letter; normalised as the graders normalise."""
    lists = _option_lists(options)
    has_options = np.fromiter((value is not None for value in lists), dtype=bool, count=len(lists))
    out = np.zeros(len(lists), dtype=bool)
    if not has_options.any() or not config.abstention_phrases:
        return out
    rows = np.flatnonzero(has_options)
    letters = _choice_codes(answers.iloc[rows].reset_index(drop=True))
    chosen = [
        str(lists[row][code]) if 0 <= code < len(lists[row]) else ""
        for row, code in zip(rows, letters.tolist(), strict=True)
    ]
    normalised = normalise_text(pd.Series(chosen, dtype=object))
    out[rows] = normalised.isin(_normalised_phrases(config.abstention_phrases)).to_numpy(bool)
    return out


def _option_lists(options: pd.Series) -> np.ndarray:
    """Each row's options as a list of texts (a format may give tuples or arrays), else None."""
    out = np.full(len(options), None, dtype=object)
    for row, value in enumerate(options.tolist()):
        # One by one: NumPy would make a 2-D array of lists of equal length.
        if isinstance(value, list | tuple | np.ndarray) and len(value):
            out[row] = [str(option) for option in value]
    return out


def gold_table(samples: LogSamples) -> tuple[_Table, LogReport]:
    """The rows of a log as a gold table (unit "sample"): id, the log's target as answer, the
    question, the category and the options, validated by `read_gold` as a gold file is."""
    frame = samples.frame
    columns = {
        "id": frame["id"].to_numpy(dtype=object),
        "answer": frame["gold"].to_numpy(dtype=object),
        "question": frame["question"].to_numpy(dtype=object),
        "category": frame["category"].to_numpy(dtype=object),
    }
    options = _option_lists(frame["options"])
    if any(value is not None for value in options):
        columns["options"] = options
    table = _Table.of_values(
        pd.DataFrame(columns, dtype=object), unit="sample", places=samples.places
    )
    report = _report(
        samples,
        matched=samples.n_rows,
        unmatched_ids=np.array([], dtype=object),
        unmatched=0,
        unextracted=0,
        idk=0,
    )
    return table, report


def _report(
    samples: LogSamples,
    *,
    matched: int,
    unmatched_ids: np.ndarray,
    unmatched: int,
    unextracted: int,
    idk: int,
    partial: int = 0,
    partial_credit: str = "",
) -> LogReport:
    module = _READERS[samples.format]
    return LogReport(
        format=samples.format,
        format_name=module.NAME,
        id_field=samples.id_field,
        model=samples.model,
        task=samples.task,
        rows=samples.n_rows,
        matched=matched,
        unmatched=unmatched,
        first_unmatched=[str(value) for value in unmatched_ids[:MAX_UNMATCHED_SHOWN]],
        unextracted=unextracted,
        idk_abstentions=idk,
        partial=partial,
        partial_credit=partial_credit,
        options={key: str(value) for key, value in samples.used.items()},
        found={key: [str(value) for value in values] for key, values in samples.found.items()},
        notes=list(samples.notes),
    )


def _register() -> None:
    """Import each format's module; one that does not exist yet is left out."""
    for name in _FORMAT_MODULES:
        qualified = f"{__name__}.{name}"
        try:
            module = importlib.import_module(qualified)
        except ModuleNotFoundError as error:
            if error.name == qualified:
                continue
            raise
        _READERS[module.FORMAT] = module
        LOG_FORMATS[module.FORMAT] = module.NAME


# Last, once every name above exists: the format modules import them from this package.
_register()
