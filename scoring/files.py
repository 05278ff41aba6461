"""Reading uploaded gold and prediction files into validated tables (SPEC §3).

Both kinds of file come as CSV, JSON Lines or JSON, each optionally gzip-compressed, with column
names matched case-insensitively through the alias tables below. Every problem found is reported
with its place in the file (CSV row, JSONL line, JSON item) so that the person who uploaded it can
fix it. Gold answers and question texts never appear in a message: a benchmark's gold may be
private, and admins' files are validated by the same code.
"""

from __future__ import annotations

import ast
import codecs
import csv
import hashlib
import io
import json
import re
import sys
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import IO, TYPE_CHECKING, TypeAlias

import numpy as np
import pandas as pd

from scoring import grading
from scoring.grading import GRADERS, parse_numbers
from scoring.metrics import TARGET_EQUAL_TOLERANCE, target_key

if TYPE_CHECKING:
    from scoring.runs import BenchmarkConfig

Source: TypeAlias = str | Path | bytes | bytearray | memoryview | IO[bytes]

MAX_ERRORS_SHOWN = 20
# A run costs a pass over the items when scored; a file stating hundreds of distinct targets is a
# mistake (or an attack), not a set of prompted runs.
MAX_RUNS = 20
ROWS_PER_ITEM_AND_RUN = 10

GOLD_FIELDS: dict[str, tuple[str, ...]] = {
    "id": ("id", "question_id", "qid", "item_id"),
    "answer": ("answer", "gold", "target_answer", "gold_answer"),
    "answer_index": ("answer_index",),
    "aliases": ("aliases",),
    "question": ("question", "problem", "prompt"),
    "category": ("category", "topic", "subject"),
    "metadata": ("metadata",),
    "n_options": ("n_options",),
    "options": ("options", "options_json"),
}

PREDICTION_FIELDS: dict[str, tuple[str, ...]] = {
    "id": ("id", "question_id", "qid", "item_id"),
    "answer": ("answer", "prediction", "pred", "predicted_answer", "response", "output"),
    "grade": ("grade", "label", "judgement", "grade_str"),
    "abstain": ("abstain", "abstained", "idk"),
    "confidence": ("confidence", "conf", "p_correct", "probability"),
    "target": ("target", "t", "confidence_target"),
}

GRADES = ("correct", "incorrect", "not_attempted")
_GRADE_WORDS = {
    "correct": "correct",
    "incorrect": "incorrect",
    "not_attempted": "not_attempted",
    "not attempted": "not_attempted",
    "not-attempted": "not_attempted",
    # SimpleQA's grader answers with a letter.
    "a": "correct",
    "b": "incorrect",
    "c": "not_attempted",
}
_BOOLEAN_WORDS = {
    "true": True,
    "false": False,
    "1": True,
    "0": False,
    "yes": True,
    "no": False,
    "t": True,
    "f": False,
    "": False,
}
_CHOICE_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_FORMATS = (".csv", ".jsonl", ".json")
_GZIP_MAGIC = b"\x1f\x8b"
# Metadata dicts longer than this are not parsed: literal_eval of a huge nested literal can
# exhaust the stack, and no real topic needs it.
_MAX_METADATA_CHARS = 100_000
# A prediction file needs six fields and a gold file seven; a table far wider than that is a
# mistake (or an attack) whose cells would fill the memory.
MAX_COLUMNS = 200
# Concatenated gzip files and block-compressed ones (BGZF) have a member per 64 KB at most; tens
# of thousands of tiny members only cost time.
MAX_GZIP_MEMBERS = 10_000
_GZIP_SLICE = 1 << 16
# Python's parser gives up on JSON nested about a thousand levels deep; the message places the
# problem where the nesting passes this depth, which no prediction file comes near.
MAX_JSON_DEPTH = 100
# The longest item id and category the site stores (its Item model uses these as column sizes):
# a gold file is refused, with the rows, rather than failing when its items are saved.
MAX_ID_CHARS = 255
MAX_CATEGORY_CHARS = 200
# Text a database cannot store: the zero character (PostgreSQL refuses it in text and JSON) and
# lone surrogates, which a JSON escape can produce but which are not UTF-8.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class FileRejected(Exception):
    """An uploaded file that cannot be used, with the reasons.

    `errors` holds at most 20 messages, then if there were more a last line saying how many more;
    `n_errors` is the true total.
    """

    def __init__(self, errors: Sequence[str], n_errors: int | None = None) -> None:
        shown = list(errors)[:MAX_ERRORS_SHOWN]
        total = len(errors) if n_errors is None else n_errors
        if total > len(shown):
            more = total - len(shown)
            shown.append(f"… and {more} more error{'s' if more != 1 else ''}")
        self.errors: list[str] = shown
        self.n_errors: int = total
        super().__init__("\n".join(shown))

    def __str__(self) -> str:
        return "\n".join(self.errors)


@dataclass(frozen=True)
class ColumnReport:
    """Which column of the file was used for each field, and which columns were ignored."""

    used: dict[str, str]
    ignored: list[str]

    def to_dict(self) -> dict[str, object]:
        return {"used": dict(self.used), "ignored": list(self.ignored)}


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

    @classmethod
    def from_records(cls, records: Iterable[Mapping], *, grader: str = "exact") -> Gold:
        """Rebuild a Gold from stored items, validated as an uploaded file would be.

        `grader` adds the checks of that grader (choice letters, numeric answers); the default
        checks only what every grader needs.
        """
        frame = pd.DataFrame.from_records(list(records))
        return cls.from_frame(frame, grader=grader)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, *, grader: str = "exact") -> Gold:
        """Rebuild a Gold from a table with the gold file's columns (any alias)."""
        if frame.empty:
            raise FileRejected(["there are no items"])
        table = _Table.of_values(frame.astype(object), unit="item")
        return _gold_from_table(table, grader)

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


@dataclass(frozen=True)
class Predictions:
    """The validated rows of one prediction file.

    `rows` has one row per (id, target): `id`; `answer` (text, "" for an empty cell, NA only when
    the file has no answer column); `grade` ("correct", "incorrect", "not_attempted" or NA);
    `abstain` (bool); `confidence` (float, NaN when not stated); `target` (float, NaN for the
    default run; targets within 1e-9 of each other, or of a benchmark target, are one value);
    and `position`, the item's row in the gold.
    """

    rows: pd.DataFrame
    columns: ColumnReport

    @property
    def n_rows(self) -> int:
        return len(self.rows)


def read_gold(
    source: Source, *, filename: str, grader: str, max_bytes: int = 50 * 1024 * 1024
) -> Gold:
    """Read and validate a benchmark's gold file; raise FileRejected with every problem found."""
    table = _read_table(source, filename=filename, max_bytes=max_bytes, row_limit=None)
    return _gold_from_table(table, grader)


def read_predictions(
    source: Source, *, filename: str, gold: Gold, config: BenchmarkConfig
) -> Predictions:
    """Read and validate a prediction file against a benchmark; raise FileRejected if unusable."""
    row_limit = ROWS_PER_ITEM_AND_RUN * gold.n_items * (len(config.targets) + 1)
    table = _read_table(source, filename=filename, max_bytes=config.max_bytes, row_limit=row_limit)
    return _predictions_from_table(table, gold, config)


# --- reading bytes into a table -------------------------------------------------------------


@dataclass
class _Table:
    """A parsed file before validation: cells by column position, and each row's place."""

    frame: pd.DataFrame  # columns 0..k-1
    names: list[str]
    unit: str  # "row", "line" or "item"
    places: np.ndarray  # the number a message gives each row
    # False when no cell can hold a space or tab, so nothing needs stripping.
    padded: bool = True

    @classmethod
    def of_values(
        cls, frame: pd.DataFrame, *, unit: str, places: np.ndarray | None = None
    ) -> _Table:
        names = [str(name) for name in frame.columns]
        frame = frame.set_axis(range(len(names)), axis=1).reset_index(drop=True)
        if places is None:
            places = np.arange(1, len(frame) + 1)
        return cls(frame, names, unit, places)

    def take(self, keep: np.ndarray) -> _Table:
        return _Table(
            self.frame[keep].reset_index(drop=True),
            self.names,
            self.unit,
            self.places[keep],
            self.padded,
        )


def _read_table(source: Source, *, filename: str, max_bytes: int, row_limit: int | None) -> _Table:
    data = _read_bytes(source, filename, max_bytes)
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    if not data or data.isspace():
        raise FileRejected(["the file is empty"])
    _check_text(data)
    kind = _format(filename)
    if kind == ".csv":
        return _read_csv(data, row_limit)
    text = _decode(data)
    if kind == ".jsonl":
        return _read_json_lines(text, row_limit)
    return _read_json(text, row_limit)


def _format(filename: str) -> str:
    name = filename.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    for suffix in _FORMATS:
        if name.endswith(suffix):
            return suffix
    raise FileRejected(
        [f"{_quote(filename)} is not a .csv, .jsonl or .json file (each may end in .gz)"]
    )


def _read_bytes(source: Source, filename: str, max_bytes: int) -> bytes:
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
    elif isinstance(source, str | Path):
        with open(source, "rb") as handle:
            data = handle.read(max_bytes + 1)
    else:
        data = source.read(max_bytes + 1)
        if isinstance(data, str):
            raise TypeError("open the file in binary mode")
    if len(data) > max_bytes:
        line = data.count(b"\n", 0, max_bytes) + 1
        raise FileRejected([f"the file is larger than the limit of {_size(max_bytes)}{_at(line)}"])
    if data.startswith(_GZIP_MAGIC):
        return _gunzip(data, max_bytes)
    if filename.lower().endswith(".gz"):
        raise FileRejected(["the file name ends in .gz but the file is not gzip-compressed"])
    return data


def _at(line: int) -> str:
    return f" (it passes the limit in line {line:,})"


def _gunzip(data: bytes, max_bytes: int) -> bytes:
    # Asking for at most one byte over the limit stops a gzip bomb there, instead of after it
    # has filled the memory.
    parts: list[bytes] = []
    room = max_bytes + 1
    view = memoryview(data)
    offset = members = 0
    while offset < len(data):  # one pass per gzip member; most files have one
        members += 1
        if members > MAX_GZIP_MEMBERS:
            raise FileRejected(
                [
                    f"the gzip file is made of more than {MAX_GZIP_MEMBERS:,} parts (members); "
                    "compress the file again in one piece"
                ]
            )
        member = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        # A member that ends copies the input left after it: growing slices keep that copy
        # small when a file is made of many tiny members.
        size = _GZIP_SLICE
        while not member.eof:
            if offset >= len(data):
                raise FileRejected(["the gzip data ends early: the file is truncated"])
            piece = view[offset : offset + size]
            try:
                parts.append(member.decompress(piece, room))
            except zlib.error:
                where = "" if members == 1 else f" after its first {offset:,} bytes"
                raise FileRejected([f"the file is not valid gzip data{where}"]) from None
            room -= len(parts[-1])
            if room <= 0:
                # Exactly max_bytes + 1 bytes came out: the last one is past the limit.
                newlines = sum(part.count(b"\n") for part in parts)
                last = next(part for part in reversed(parts) if part)
                line = newlines - last.endswith(b"\n") + 1
                raise FileRejected(
                    [
                        "uncompressed, the file is larger than the limit of "
                        f"{_size(max_bytes)}{_at(line)}"
                    ]
                )
            offset += len(piece) - len(member.unused_data) - len(member.unconsumed_tail)
            size = min(2 * size, 1 << 24)
    return b"".join(parts)


_OTHER_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)


def _check_text(data: bytes) -> None:
    """Refuse UTF-16, UTF-32 and binary files before a parser misreads them."""
    for bom, encoding in _OTHER_BOMS:
        if data.startswith(bom):
            raise FileRejected(
                [
                    f"the file is {encoding}, not UTF-8 (it starts with a {encoding} byte order "
                    "mark); save it as UTF-8"
                ]
            )
    # Text saved as UTF-8 has no zero bytes; UTF-16 without its mark, and binary files, do.
    zero = data.find(b"\x00")
    if zero >= 0:
        try:
            data[:zero].decode("utf-8")
        except UnicodeDecodeError as error:  # a binary file: name its first unreadable byte
            raise FileRejected([_not_utf8(data, error)]) from None
        line = data.count(b"\n", 0, zero) + 1
        raise FileRejected(
            [
                f"line {line}: the file holds a zero byte (0x00), which is not text: it may be "
                "UTF-16 or not a text file at all; save it as UTF-8"
            ]
        )


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise FileRejected([_not_utf8(data, error)]) from None


def _not_utf8(data: bytes, error: UnicodeDecodeError) -> str:
    line = data.count(b"\n", 0, error.start) + 1
    return (
        f"line {line}: the file is not UTF-8 (byte 0x{data[error.start]:02x} cannot be read); "
        "save it as UTF-8"
    )


def _read_csv(data: bytes, row_limit: int | None) -> _Table:
    _check_header_width(data)
    try:
        # header=None keeps duplicate and differently-cased column names as written, which
        # pandas would otherwise rename.
        frame = pd.read_csv(
            io.BytesIO(data),
            header=None,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,
            encoding="utf-8",
            nrows=None if row_limit is None else row_limit + 2,
        )
    except UnicodeDecodeError:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise FileRejected([_not_utf8(data, error)]) from None
        raise
    except pd.errors.EmptyDataError:
        raise FileRejected(["the file is empty"]) from None
    except pd.errors.ParserError as error:
        raise FileRejected([_csv_error(str(error))]) from None
    names = [str(name).strip() for name in frame.iloc[0]]
    frame = frame.iloc[1:]
    _check_row_limit(len(frame), row_limit)
    if frame.empty:
        raise FileRejected(["the file has a header but no rows"])
    table = _Table.of_values(frame, unit="row", places=np.arange(2, len(frame) + 2))
    table.names = names
    table.padded = b" " in data or b"\t" in data
    return table


def _check_header_width(data: bytes) -> None:
    end = data.find(b"\n")
    end = len(data) if end < 0 else end
    if data.count(b",", 0, end) < MAX_COLUMNS:
        return
    header = data[:end]
    # Commas inside quotes are not separators: count the fields properly before refusing.
    try:
        width = len(next(csv.reader([header.decode("utf-8", errors="replace")]), []))
    except csv.Error:  # a field longer than the csv module takes: the commas are separators
        width = header.count(b",") + 1
    if width > MAX_COLUMNS:
        raise FileRejected(
            [f"row 1: the header has {width:,} columns; a file may have at most {MAX_COLUMNS}"]
        )


def _csv_error(message: str) -> str:
    fields = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", message)
    if fields:
        expected, row, saw = fields.groups()
        return f"row {row}: {saw} fields where the header has {expected}"
    quote = re.search(r"EOF inside string starting at row (\d+)", message)
    if quote:
        return f"row {int(quote.group(1)) + 1}: a quoted field is never closed"
    return "the file is not valid CSV: " + message.removeprefix("Error tokenizing data. C error: ")


def _check_row_limit(n_rows: int, row_limit: int | None) -> None:
    if row_limit is not None and n_rows > row_limit:
        raise FileRejected(
            [
                f"the file has more than {row_limit:,} rows, this benchmark's limit "
                f"({ROWS_PER_ITEM_AND_RUN} rows per item and run)"
            ]
        )


def _json_loads(text: str) -> object:
    try:
        # NaN and Infinity are not JSON; keeping them as text lets the column checks name them.
        return json.loads(text, parse_constant=str)
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise _JsonBeyondLimits(text, deep=True) from None
    except ValueError:
        # Python refuses to read integers longer than sys.get_int_max_str_digits() digits.
        raise _JsonBeyondLimits(text, deep=False) from None


class _JsonBeyondLimits(ValueError):
    """Well-formed JSON that Python's parser refuses: nested too deep, or an integer too long."""

    def __init__(self, text: str, *, deep: bool) -> None:
        super().__init__("nested too deep" if deep else "integer too long")
        self.text = text
        self.deep = deep

    def locate(self) -> tuple[int, str]:
        """Where in the text the problem starts (an offset), and its cause in words."""
        if self.deep:
            return _too_deep_at(self.text), (
                f"arrays and objects nested more than {MAX_JSON_DEPTH} levels deep"
            )
        digits = sys.get_int_max_str_digits()
        return _long_number_at(self.text, digits), f"a number with more than {digits:,} digits"


_JSON_STRING = r'"[^"\\]*(?:\\.[^"\\]*)*"'
_JSON_BRACKETS = re.compile(_JSON_STRING + r"|[\[\]{}]", re.DOTALL)


def _too_deep_at(text: str) -> int:
    # Only ever run on a file the parser refused, so a loop over its brackets costs nothing on
    # the files that are read.
    depth = 0
    for match in _JSON_BRACKETS.finditer(text):
        char = text[match.start()]
        if char in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return match.start()
        elif char in "]}":
            depth -= 1
    return 0


def _long_number_at(text: str, digits: int) -> int:
    numbers = re.compile(_JSON_STRING + rf"|-?\d{{{digits + 1},}}(?![.eE\d])", re.DOTALL)
    for match in numbers.finditer(text):
        if text[match.start()] != '"':
            return match.start()
    return 0


def _line_and_column(text: str, offset: int) -> tuple[int, int]:
    line_start = text.rfind("\n", 0, offset) + 1
    return text.count("\n", 0, offset) + 1, offset - line_start + 1


def _json_reason(error: json.JSONDecodeError) -> str:
    """The parser's reason, naming the character it stopped at when that cannot be seen."""
    if error.msg.startswith("Unexpected UTF-8 BOM"):
        return "a byte order mark, the invisible character U+FEFF, where a value should start"
    text, offset = error.doc, error.pos
    if offset >= len(text) or text[offset].isprintable():
        return error.msg
    return f"{error.msg}, where there is the invisible character U+{ord(text[offset]):04X}"


def _read_json_lines(text: str, row_limit: int | None) -> _Table:
    lines = pd.Series(text.split("\n"), dtype=object)
    filled = ~lines.str.strip().eq("").to_numpy()
    numbers = np.flatnonzero(filled) + 1
    _check_row_limit(len(numbers), row_limit)
    kept = lines[filled].tolist()
    try:
        values = _json_loads("[" + ",\n".join(kept) + "]")
    except (json.JSONDecodeError, _JsonBeyondLimits):
        messages = [
            f"line {numbers[index]}: {message}" for index, message in _json_line_errors(kept)
        ]
        raise FileRejected(messages) from None
    if len(values) != len(kept):
        raise FileRejected(["the file is not JSON Lines: some lines hold more than one value"])
    return _records_table(values, unit="line", places=numbers)


def _json_line_errors(lines: list[str]) -> list[tuple[int, str]]:
    """Find the first unparseable lines, resuming the parse after each (a loop over errors)."""
    found: list[tuple[int, str]] = []
    start = 0
    while start < len(lines):
        try:
            _json_loads("[" + ",\n".join(lines[start:]) + "]")
            break
        except (json.JSONDecodeError, _JsonBeyondLimits) as error:
            if len(found) == MAX_ERRORS_SHOWN - 1:
                found.append((start, "this line or a later one is not valid JSON either"))
                break
            if isinstance(error, json.JSONDecodeError):
                reported = start + error.lineno - 1
            else:
                reported = len(lines) - 1  # no line given: search them all
            bad = _first_bad_line(lines, start, reported)
            found.append((bad, _json_line_message(lines[bad])))
            start = bad + 1
    return found


def _first_bad_line(lines: list[str], start: int, reported: int) -> int:
    """The first line from `start` on that is not one JSON value by itself.

    The parser notices an unclosed bracket only lines later, so the reported line is a bound:
    bisect for the longest prefix that parses into exactly one value per line.
    """

    def parses(stop: int) -> bool:
        try:
            return len(_json_loads("[" + ",\n".join(lines[start:stop]) + "]")) == stop - start
        except (json.JSONDecodeError, _JsonBeyondLimits):
            return False

    reported = min(reported, len(lines) - 1)
    if parses(reported) and not _parses_alone(lines[reported]):
        return reported
    low, high = start, reported  # parses(low) holds; the first bad line is at most `high`
    while low < high:
        middle = (low + high + 1) // 2
        if parses(middle):
            low = middle
        else:
            high = middle - 1
    return low


def _parses_alone(line: str) -> bool:
    try:
        _json_loads(line)
    except (json.JSONDecodeError, _JsonBeyondLimits):
        return False
    return True


def _json_line_message(line: str) -> str:
    try:
        _json_loads(line)
    except json.JSONDecodeError as error:
        return f"not valid JSON ({_json_reason(error)} at column {error.colno})"
    except _JsonBeyondLimits as error:
        offset, cause = error.locate()
        return f"{cause} (at column {offset + 1})"
    return "not valid JSON together with the lines around it"


def _read_json(text: str, row_limit: int | None) -> _Table:
    try:
        document = _json_loads(text)
    except json.JSONDecodeError as error:
        raise FileRejected(
            [f"line {error.lineno}, column {error.colno}: not valid JSON ({_json_reason(error)})"]
        ) from None
    except _JsonBeyondLimits as error:
        offset, cause = error.locate()
        line, column = _line_and_column(text, offset)
        raise FileRejected([f"line {line}, column {column}: {cause}"]) from None
    if isinstance(document, dict):
        key = next((key for key in ("predictions", "items") if key in document), None)
        if key is None or not isinstance(document[key], list):
            raise FileRejected(['the JSON object has no "predictions" or "items" array of rows'])
        document = document[key]
    if not isinstance(document, list):
        raise FileRejected(["the JSON file must hold an array of objects"])
    _check_row_limit(len(document), row_limit)
    return _records_table(document, unit="item", places=np.arange(1, len(document) + 1))


# Beyond this many cells, a table whose records mostly lack its keys is refused rather than built.
_MAX_SPARSE_CELLS = 10_000_000


def _records_table(values: list, *, unit: str, places: np.ndarray) -> _Table:
    if not values:
        raise FileRejected([f"the file has no {unit}s"])
    kinds = pd.Series(values, dtype=object).map(type)
    not_object = np.flatnonzero(kinds.ne(dict).to_numpy())
    if len(not_object):
        messages = [
            f"{unit} {places[index]}: expected a JSON object, found {_json_kind(values[index])}"
            for index in not_object[:MAX_ERRORS_SHOWN]
        ]
        raise FileRejected(messages, len(not_object))
    # The table gets a column per distinct key and a cell per record and key: records that
    # each bring keys of their own would fill the memory.
    n_keys = len(set().union(*values))
    if n_keys > MAX_COLUMNS:
        raise FileRejected(
            [f"the {unit}s use {n_keys:,} different keys; a file may have at most {MAX_COLUMNS}"]
        )
    cells = n_keys * len(values)
    if cells > _MAX_SPARSE_CELLS and cells > 2 * sum(map(len, values)):
        raise FileRejected(
            [
                f"the {unit}s use {n_keys} different keys, most of them in only a few {unit}s; "
                f"give every {unit} the same keys"
            ]
        )
    # dtype=object keeps large integer ids exact instead of turning them into floats.
    frame = pd.DataFrame(values, dtype=object)
    return _Table.of_values(frame, unit=unit, places=places)


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"


# --- columns and cells ----------------------------------------------------------------------


def _match_columns(
    names: list[str], fields: Mapping[str, tuple[str, ...]]
) -> tuple[dict[str, int], ColumnReport]:
    lowered = [name.strip().lower() for name in names]
    positions: dict[str, int] = {}
    for field, aliases in fields.items():
        for alias in aliases:
            hits = [i for i, name in enumerate(lowered) if name == alias]
            if hits:
                positions[field] = hits[0]
                break
    taken = set(positions.values())
    report = ColumnReport(
        used={field: _shown(names[i]) for field, i in positions.items()},
        ignored=[_shown(name) for i, name in enumerate(names) if i not in taken],
    )
    return positions, report


def _shown(name: str) -> str:
    """A column name as the report shows it: invisible characters written out, long ones cut."""
    if len(name) > 100:
        name = name[:99] + "…"
    return name if name.isprintable() else "".join(map(_visible, name))


def _visible(char: str) -> str:
    if char.isprintable():
        return char
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _no_id_column(fields: Mapping[str, tuple[str, ...]], names: list[str]) -> str:
    message = f"no id column (accepted names: {_accepted_names(fields, 'id')})"
    if len(names) == 1:
        # A spreadsheet saved with the separator of its locale, or a TSV named .csv.
        for separator, word in ((";", "semicolons"), ("\t", "tabs"), ("|", "bars")):
            if separator in names[0]:
                return (
                    f"{message}; the header is one column, {_quote(names[0])}: separate the "
                    f"columns with commas, not {word}"
                )
    return message


def _accepted_names(fields: Mapping[str, tuple[str, ...]], field: str) -> str:
    return ", ".join(fields[field])


_KIND_TEXT, _KIND_BOOL, _KIND_INT, _KIND_FLOAT, _KIND_NONE = range(5)
_KINDS = {
    str: _KIND_TEXT,
    bool: _KIND_BOOL,
    np.bool_: _KIND_BOOL,
    int: _KIND_INT,
    np.int64: _KIND_INT,
    np.int32: _KIND_INT,
    float: _KIND_FLOAT,
    np.float64: _KIND_FLOAT,
    np.float32: _KIND_FLOAT,
    type(None): _KIND_NONE,
}


def _text(column: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """A column as text (NaN where missing) and a mask of cells that are neither text nor number.

    CSV cells are text already. JSON numbers become their shortest decimal, integral floats
    without ".0", so that 70, 70.0 and "70" are the same id.
    """
    if column.dtype != object:
        return column, np.zeros(len(column), dtype=bool)
    values = column.to_numpy()
    kinds = column.map(type).map(_KINDS).to_numpy(dtype=float, na_value=np.nan)
    out = np.full(len(values), np.nan, dtype=object)

    text = kinds == _KIND_TEXT
    out[text] = values[text]
    flags = kinds == _KIND_BOOL
    out[flags] = np.where(values[flags].astype(bool), "true", "false")
    whole = kinds == _KIND_INT
    out[whole] = values[whole].astype(str)
    real = np.flatnonzero(kinds == _KIND_FLOAT)
    numbers = values[real].astype(float)
    # A NaN cell is pandas' fill for a key that a record lacks: that is missing. An infinite one
    # is a number too large for a float (1e400), which the column checks must see.
    given = ~np.isnan(numbers)
    integral = given & (np.floor(numbers) == numbers) & (np.abs(numbers) < 2.0**63)
    written = numbers.astype(str).astype(object)
    written[integral] = numbers[integral].astype(np.int64).astype(str)
    out[real[given]] = written[given]

    bad = np.isnan(kinds)
    return pd.Series(out, dtype=object), bad


def _frame(**columns: pd.Series | np.ndarray | pd.Categorical) -> pd.DataFrame:
    """A table of freshly built columns (Series indexed 0…n−1, or arrays), not copied."""
    return pd.DataFrame(columns, copy=False)


def _hashes(values: np.ndarray) -> np.ndarray:
    """Python's hash of each value (strings cache theirs), as int64."""
    return np.fromiter(map(hash, values), dtype=np.int64, count=len(values))


def _filled(text: pd.Series, padded: bool = True) -> np.ndarray:
    """Cells holding something other than blanks."""
    values = text.to_numpy(dtype=object)
    filled = values != ""
    if text.dtype == object:  # CSV cells are never missing; JSON ones may be
        filled &= ~pd.isna(values)
    if padded and filled.any():
        # isspace() stops at the first visible character, where strip() would copy the text.
        blank = np.zeros(len(values), dtype=bool)
        blank[filled] = text[filled].str.isspace().to_numpy(dtype=bool)
        filled &= ~blank
    return filled


def _lookup(
    text: pd.Series, mapping: Mapping[str, object], missing: object = None
) -> tuple[np.ndarray, np.ndarray]:
    """Map stripped, lowercased text through `mapping`, once per distinct value.

    Returns the mapped values (`missing` where the cell is missing or unknown) and a mask of
    cells whose value is not in the mapping.
    """
    codes, uniques = pd.factorize(text.to_numpy(dtype=object), use_na_sentinel=True)
    cleaned = pd.Series(uniques, dtype=object).str.strip().str.lower()
    known = np.append(cleaned.isin(list(mapping)).to_numpy(dtype=bool), True)
    mapped = np.append(cleaned.map(mapping).to_numpy(dtype=object), missing)
    mapped[~known] = missing
    unknown = ~known[codes]
    return mapped[codes], unknown


def _quote(value: object) -> str:
    text = str(value)
    if len(text) > 60:
        text = text[:57] + "…"
    quoted = json.dumps(text, ensure_ascii=False)
    # A message must show what is there: a byte order mark or a no-break space is otherwise
    # invisible, and a lone surrogate cannot even be stored.
    return quoted if quoted.isprintable() else "".join(map(_visible, quoted))


def _size(n_bytes: int) -> str:
    if n_bytes >= 1024 * 1024:
        return f"{n_bytes / (1024 * 1024):g} MB"
    if n_bytes >= 1024:
        return f"{n_bytes / 1024:g} KB"
    return f"{n_bytes} bytes"


def _percent(share: float) -> str:
    return f"{100 * share:.4g}%"


class _Problems:
    """Errors found in a table, kept in file order: the first 20 messages and the total."""

    def __init__(self, table: _Table) -> None:
        self.table = table
        self.found: list[tuple[float, int, str]] = []
        self.count = 0

    def add(self, message: str, place: float = 0) -> None:
        self.found.append((place, len(self.found), message))
        self.count += 1

    def add_rows(self, mask: np.ndarray, describe: Callable[[int], str]) -> None:
        bad = np.flatnonzero(mask)
        self.count += len(bad)
        for index in bad[:MAX_ERRORS_SHOWN]:
            place = self.table.places[index]
            message = f"{self.table.unit} {place}: {describe(int(index))}"
            self.found.append((float(place), len(self.found), message))

    def check(self) -> None:
        if self.count:
            ordered = [message for _, _, message in sorted(self.found)]
            raise FileRejected(ordered, self.count)


def _duplicates(keys: np.ndarray) -> np.ndarray:
    return pd.Series(keys).duplicated(keep="first").to_numpy()


def _first_places(keys: np.ndarray, places: np.ndarray) -> np.ndarray:
    return pd.Series(places).groupby(keys, sort=False).transform("first").to_numpy()


def _drop_blank_rows(table: _Table, blank_id: np.ndarray) -> tuple[_Table, np.ndarray]:
    """Rows with every cell empty (a stray blank line) are not rows; drop them."""
    candidates = np.flatnonzero(blank_id)
    if not len(candidates):
        return table, np.ones(len(table.frame), dtype=bool)
    empty = np.ones(len(candidates), dtype=bool)
    for position in table.frame.columns:
        cells, _ = _text(table.frame[position].iloc[candidates])
        empty &= ~_filled(cells, table.padded)
    keep = np.ones(len(table.frame), dtype=bool)
    keep[candidates[empty]] = False
    if keep.all():
        return table, keep
    if not keep.any():
        raise FileRejected(["the file has no rows"])
    return table.take(keep), keep


# --- gold -----------------------------------------------------------------------------------


def _gold_from_table(table: _Table, grader: str) -> Gold:
    if grader not in GRADERS:
        raise ValueError(f"unknown grader {grader!r}; expected one of {', '.join(GRADERS)}")
    positions, columns = _match_columns(table.names, GOLD_FIELDS)
    problems = _Problems(table)
    if "id" not in positions:
        problems.add(_no_id_column(GOLD_FIELDS, table.names))
    by_index = grader == "choice" and "answer_index" in positions
    if "answer" not in positions and not by_index:
        problems.add(f"no answer column (accepted names: {_accepted_names(GOLD_FIELDS, 'answer')})")
    problems.check()

    ids, id_bad = _text(table.frame[positions["id"]])
    if table.padded:
        ids = ids.str.strip()
    # Distinct hashes prove distinct ids, none of them empty unless the empty id's hash is
    # among them; only otherwise are the ids themselves compared.
    hashes = pd.Index(_hashes(ids.to_numpy(dtype=object)))
    if (
        hashes.is_unique
        and hash("") not in hashes
        and not id_bad.any()
        and not (ids.dtype == object and ids.hasnans)
    ):
        has_id = np.ones(len(ids), dtype=bool)
    else:
        has_id = _filled(ids, padded=False)
        table, keep = _drop_blank_rows(table, ~has_id & ~id_bad)
        if not keep.all():
            ids, id_bad, has_id = ids[keep].reset_index(drop=True), id_bad[keep], has_id[keep]
        ids = ids.fillna("").astype(str)
        hashes = pd.Index(_hashes(ids.to_numpy(dtype=object)))
    problems = _Problems(table)
    problems.add_rows(id_bad, lambda i: "id is not a text or a number")
    problems.add_rows(~has_id & ~id_bad, lambda i: "missing id")
    if not hashes.is_unique and not pd.Index(ids).is_unique:
        keys = ids.to_numpy(dtype=object)
        repeated = _duplicates(keys) & has_id
        first = _first_places(keys, table.places)
        problems.add_rows(
            repeated,
            lambda i: f"duplicate id {_quote(ids[i])} (first seen at {table.unit} {first[i]})",
        )

    answers, answer_codes = _gold_answers(table, positions, grader, ids, problems)
    aliases = _gold_aliases(table, positions, ids, problems)
    questions = _optional_text(table, positions.get("question"))
    categories = _gold_categories(table, positions)
    _check_storable(problems, ids, answers, aliases, questions, categories)
    n_options = _gold_options(table, positions, grader, answers, ids, problems)
    problems.check()

    items = _frame(
        id=ids.astype(str),
        answer=answers.astype(str),
        aliases=aliases,
        question=questions,
        category=categories,
        n_options=n_options,
    )
    gold = Gold(items=items, columns=columns)
    # What was built to validate is what lookups and graders need: keep it, not build it twice.
    gold.__dict__["_id_hashes"] = hashes if hashes.is_unique else None
    if answer_codes is not None:
        gold.__dict__["answer_codes"] = answer_codes
    return gold


def _check_storable(
    problems: _Problems,
    ids: pd.Series,
    answers: pd.Series,
    aliases: pd.Series,
    questions: pd.Series,
    categories: pd.Series,
) -> None:
    """Refuse what validation accepts but a database cannot hold: long ids or categories, and
    characters that are not storable text (never quoting answers: the gold may be private)."""
    id_text = ids.fillna("").astype(str)
    long_id = _lengths(id_text) > MAX_ID_CHARS
    problems.add_rows(
        long_id,
        lambda i: (
            f"id {_quote(id_text[i])} is {len(id_text[i]):,} characters long; "
            f"an id may have at most {MAX_ID_CHARS}"
        ),
    )
    category_length = _lengths(categories.fillna("").astype(str))
    problems.add_rows(
        category_length > MAX_CATEGORY_CHARS,
        lambda i: (
            f"the category of item {_quote(id_text[i])} is {category_length[i]:,} characters "
            f"long; a category may have at most {MAX_CATEGORY_CHARS}"
        ),
    )
    fields = (
        ("id", lambda: id_text),
        ("answer", lambda: answers),
        ("aliases", lambda: aliases.map(lambda values: "\n".join(map(str, values)))),
        ("question", lambda: questions),
        ("category", lambda: categories),
    )
    for name, column in fields:
        # One search over the whole column first: a gold file almost never holds such a
        # character, and a million cells searched one by one take seconds.
        if name == "aliases":
            cells = [alias for values in aliases.tolist() for alias in values]
        else:
            values = column().astype(object).to_numpy()
            cells = values[~pd.isna(values)].tolist()
        if not _UNSTORABLE.search("\n".join(map(str, cells))):
            continue
        text = column().astype(object).fillna("").astype(str)
        bad = text.str.contains(_UNSTORABLE).to_numpy(dtype=bool)
        if name == "id":
            bad = bad & ~long_id  # reported once, as too long
        problems.add_rows(
            bad,
            lambda i, name=name: (
                f"the {name} of item {_quote(id_text[i])}: not storable text (a zero character "
                "U+0000, or half of a surrogate pair)"
            ),
        )


def _lengths(text: pd.Series) -> np.ndarray:
    """Each text's length in characters."""
    return np.fromiter(map(len, text.tolist()), dtype=np.int64, count=len(text))


def _gold_answers(
    table: _Table, positions: dict[str, int], grader: str, ids: pd.Series, problems: _Problems
) -> tuple[pd.Series, tuple[np.ndarray, np.ndarray] | None]:
    n = len(table.frame)
    if "answer" in positions:
        answers, bad = _text(table.frame[positions["answer"]])
        problems.add_rows(bad, lambda i: f"answer of item {_quote(ids[i])} is not a text")
    else:
        answers, bad = pd.Series(np.full(n, np.nan, dtype=object)), np.zeros(n, dtype=bool)
    if grader == "choice":
        return _gold_letters(table, positions, answers, bad, ids, problems)
    empty = ~_filled(answers, table.padded) & ~bad
    problems.add_rows(empty, lambda i: f"empty answer for item {_quote(ids[i])}")
    answers = answers.fillna("") if empty.any() or bad.any() else answers
    if grader == "numeric":
        unparsed = np.isnan(parse_numbers(answers)) & ~empty & ~bad
        problems.add_rows(unparsed, lambda i: f"answer of item {_quote(ids[i])} is not a number")
    return answers, None


def _gold_letters(
    table: _Table,
    positions: dict[str, int],
    answers: pd.Series,
    bad: np.ndarray,
    ids: pd.Series,
    problems: _Problems,
) -> tuple[pd.Series, tuple[np.ndarray, np.ndarray]]:
    """Gold letters, uppercase; from answer_index (0 is A) where the answer is not a letter.

    Also returns the letters factorized (each item's code, the distinct letters), which graders
    use instead of factorizing again.
    """
    codes, uniques = pd.factorize(answers.to_numpy(dtype=object), use_na_sentinel=True)
    cleaned = pd.Series(uniques, dtype=object).str.strip().str.upper()
    is_letter = cleaned.isin(list(_CHOICE_LETTERS)).to_numpy(dtype=bool)
    lacking = ~np.append(is_letter, False)[codes] | bad
    if not lacking.any() and (cleaned == uniques).all():
        return answers.astype(str), (codes, cleaned.to_numpy(dtype=object))
    letters = np.append(cleaned.where(is_letter, "").to_numpy(dtype=object), "")
    if lacking.any():
        # Items without a letter point at the "" after the distinct answers, or, resolved from
        # answer_index below, at the alphabet after that.
        codes = codes.copy()
        codes[lacking] = len(uniques)
    if lacking.any() and "answer_index" in positions:
        rows = np.flatnonzero(lacking)
        indices, index_bad = _text(table.frame[positions["answer_index"]].iloc[rows])
        numbers = pd.to_numeric(
            indices.astype(object).fillna("").astype(str).str.strip(), errors="coerce"
        ).to_numpy(dtype=float, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            usable = (
                ~index_bad & (numbers >= 0) & (numbers < len(_CHOICE_LETTERS)) & (numbers % 1 == 0)
            )
        alphabet = np.array(list(_CHOICE_LETTERS), dtype=object)
        letters = np.concatenate([letters, alphabet])
        codes[rows[usable]] = len(uniques) + 1 + numbers[usable].astype(int)
        lacking[rows[usable]] = False
        problems.add_rows(
            lacking,
            lambda i: (
                f"item {_quote(ids[i])} has neither a choice letter A–Z as answer "
                "nor an answer_index from 0 to 25"
            ),
        )
    else:
        problems.add_rows(
            lacking, lambda i: f"answer of item {_quote(ids[i])} is not a choice letter A–Z"
        )
    # Distinct letters once each: "b" and "B" are one answer.
    remap, final = pd.factorize(letters)
    codes = remap[codes]
    return pd.Series(final.take(codes), dtype=str), (codes, final)


def _gold_aliases(
    table: _Table, positions: dict[str, int], ids: pd.Series, problems: _Problems
) -> pd.Series:
    """Each item's other accepted answers: a JSON array or `|`-separated text per cell."""
    n = len(table.frame)
    aliases = np.empty(n, dtype=object)
    aliases.fill(())
    if "aliases" not in positions:
        return pd.Series(aliases, dtype=object)
    column = table.frame[positions["aliases"]]
    kinds = column.map(type)
    given = kinds.isin([list, tuple]).to_numpy()
    text, bad = _text(column.where(~given, None))
    problems.add_rows(bad, lambda i: f"aliases of item {_quote(ids[i])} are not a text")
    text = text.fillna("").str.strip()
    as_json = text.str.startswith("[").to_numpy()
    split = ~as_json & text.ne("").to_numpy()
    lists = [column[given], text[split].str.split(r"\s*\|\s*", regex=True)]
    if as_json.any():
        arrays = _json_cells(text, as_json, ids, problems, "aliases")
        if arrays is not None:
            lists.append(pd.Series(arrays, index=np.flatnonzero(as_json), dtype=object))
    lists = pd.concat(lists)
    if lists.empty:
        return pd.Series(aliases, dtype=object)

    is_list = lists.map(type).isin([list, tuple]).to_numpy()
    not_list = np.zeros(n, dtype=bool)
    not_list[lists.index[~is_list]] = True
    problems.add_rows(not_list, lambda i: f"aliases of item {_quote(ids[i])} are not a JSON array")
    lists = lists[is_list]
    exploded = lists.explode()
    alias_text, alias_bad = _text(exploded.astype(object))
    wrong = np.zeros(n, dtype=bool)
    wrong[exploded.index[alias_bad]] = True
    problems.add_rows(
        wrong, lambda i: f"aliases of item {_quote(ids[i])} hold something other than texts"
    )
    usable = _filled(alias_text)
    if usable.all() and exploded.map(type).eq(str).all():
        aliases[lists.index.to_numpy()] = lists.map(tuple).to_numpy()
    else:
        # Numbers become text and empty aliases go; rare enough to regroup item by item.
        alias_text = alias_text.set_axis(exploded.index)[usable].str.strip()
        grouped = alias_text.groupby(level=0, sort=False).agg(tuple)
        aliases[grouped.index.to_numpy()] = grouped.to_numpy()
    return pd.Series(aliases, dtype=object)


def _gold_options(
    table: _Table,
    positions: dict[str, int],
    grader: str,
    answers: pd.Series,
    ids: pd.Series,
    problems: _Problems,
) -> pd.Series:
    """Each item's number of options, NA where the file gives none.

    From an `n_options` column, else from the entries of an options list (a JSON array per
    cell, as MMLU-Pro's `options_json`). The uniform-guessing baseline is computed from them.
    """
    n = len(table.frame)
    stated = np.full(n, np.nan)
    if "n_options" in positions:
        text, bad = _text(table.frame[positions["n_options"]])
        text = text.fillna("").astype(str).str.strip()
        numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        given = text.ne("").to_numpy()
        with np.errstate(invalid="ignore"):
            usable = ~bad & (numbers >= 2) & (numbers % 1 == 0)
        problems.add_rows(
            given & ~usable,
            lambda i: f"n_options of item {_quote(ids[i])} is not a whole number of 2 or more",
        )
        stated[usable] = numbers[usable]
    listed = np.full(n, np.nan)
    if "options" in positions:
        listed = _option_counts(table, positions["options"], ids, problems)
    both = ~np.isnan(stated) & ~np.isnan(listed)
    problems.add_rows(
        both & (stated != listed),
        lambda i: (
            f"item {_quote(ids[i])} has n_options {int(stated[i])} "
            f"but lists {int(listed[i])} options"
        ),
    )
    counts = np.where(np.isnan(stated), listed, stated)
    if grader == "choice":
        with np.errstate(invalid="ignore"):
            too_many = counts > len(_CHOICE_LETTERS)
        problems.add_rows(
            too_many,
            lambda i: f"item {_quote(ids[i])} has {int(counts[i])} options, more than A–Z",
        )
        letters = answers.astype(str).to_numpy(dtype=object)
        known = np.flatnonzero(~np.isnan(counts) & ~too_many)
        index = np.array(
            [_CHOICE_LETTERS.find(letter) if len(letter) == 1 else -1 for letter in letters[known]],
            dtype=float,
        )
        beyond = np.zeros(n, dtype=bool)
        beyond[known] = index >= counts[known]
        problems.add_rows(
            beyond,
            lambda i: (
                f"answer {letters[i]} of item {_quote(ids[i])} is not among its "
                f"{int(counts[i])} options"
            ),
        )
    return pd.Series(counts, dtype="Float64").round().astype("Int64")


def _json_cells(
    text: pd.Series, as_json: np.ndarray, ids: pd.Series, problems: _Problems, what: str
) -> list | None:
    """The JSON values of the cells of `text` marked `as_json`, in their order, parsed at once;
    None, each cell that does not parse reported as `what` of its item, if any does not."""
    rows = np.flatnonzero(as_json)
    # Newlines are whitespace in JSON; flattening them keeps one value per line.
    values = text[as_json].str.replace("\n", " ", regex=False).tolist()
    try:
        arrays = _json_loads("[" + ",\n".join(values) + "]")
    except (json.JSONDecodeError, _JsonBeyondLimits):
        arrays = None
    if arrays is None or len(arrays) != len(rows):
        broken = np.zeros(len(as_json), dtype=bool)
        broken[rows[[index for index, _ in _json_line_errors(values)]]] = True
        problems.add_rows(
            broken, lambda i: f"{what} of item {_quote(ids[i])} are not a valid JSON array"
        )
        return None
    return arrays


def _option_counts(table: _Table, position: int, ids: pd.Series, problems: _Problems) -> np.ndarray:
    """The number of entries of each item's options list (NaN where the cell is empty)."""
    n = len(table.frame)
    counts = np.full(n, np.nan)
    column = table.frame[position]
    given = column.map(type).isin([list, tuple]).to_numpy()
    counts[given] = column[given].map(len).to_numpy(dtype=float)
    text, bad = _text(column.where(~given, None))
    problems.add_rows(bad & ~given, lambda i: f"options of item {_quote(ids[i])} are not a text")
    text = text.fillna("").astype(str).str.strip()
    filled = text.ne("").to_numpy() & ~given & ~bad
    as_json = filled & text.str.startswith("[").to_numpy()
    problems.add_rows(
        filled & ~as_json, lambda i: f"options of item {_quote(ids[i])} are not a JSON array"
    )
    arrays = _json_cells(text, as_json, ids, problems, "options") if as_json.any() else None
    if arrays is not None:
        rows = np.flatnonzero(as_json)
        is_list = np.array([isinstance(array, list) for array in arrays], dtype=bool)
        wrong = np.zeros(n, dtype=bool)
        wrong[rows[~is_list]] = True
        problems.add_rows(wrong, lambda i: f"options of item {_quote(ids[i])} are not a JSON array")
        counts[rows[is_list]] = [len(arrays[index]) for index in np.flatnonzero(is_list)]
    with np.errstate(invalid="ignore"):
        few = counts < 2
    problems.add_rows(few, lambda i: f"item {_quote(ids[i])} lists fewer than 2 options")
    counts[few] = np.nan
    return counts


def _optional_text(table: _Table, position: int | None) -> pd.Series:
    out = np.full(len(table.frame), None, dtype=object)
    if position is not None:
        text, bad = _text(table.frame[position])
        keep = _filled(text, table.padded) & ~bad
        out[keep] = text[keep].str.strip().to_numpy(dtype=object)
    return pd.Series(out, dtype=object)


def _gold_categories(table: _Table, positions: dict[str, int]) -> pd.Series:
    if "category" in positions:
        return _optional_text(table, positions["category"])
    if "metadata" not in positions:
        return pd.Series(np.full(len(table.frame), None, dtype=object), dtype=object)
    column = table.frame[positions["metadata"]]
    out = np.full(len(column), None, dtype=object)
    is_dict = column.map(type).eq(dict).to_numpy()
    if is_dict.any():
        topics = column[is_dict].str.get("topic")
        out[is_dict] = topics.where(topics.map(type).eq(str), None).to_numpy(dtype=object)
    is_text = column.map(type).eq(str).to_numpy()
    # SimpleQA writes the same metadata dict for many items: parse each distinct one once.
    codes, uniques = pd.factorize(column[is_text], use_na_sentinel=True)
    topics = np.array([_topic(value) for value in uniques] + [None], dtype=object)
    out[is_text] = topics[codes]
    return pd.Series(out, dtype=object)


def _topic(metadata: str) -> str | None:
    """The `topic` of a metadata dict written as JSON or as a Python literal (SimpleQA)."""
    if len(metadata) > _MAX_METADATA_CHARS:
        return None
    try:
        parsed = json.loads(metadata)
    except (ValueError, RecursionError):
        try:
            parsed = ast.literal_eval(metadata)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            return None
    topic = parsed.get("topic") if isinstance(parsed, dict) else None
    return (topic.strip() or None) if isinstance(topic, str) else None


# --- predictions ----------------------------------------------------------------------------


def _predictions_from_table(table: _Table, gold: Gold, config: BenchmarkConfig) -> Predictions:
    positions, columns = _match_columns(table.names, PREDICTION_FIELDS)
    pregraded = config.grader == "pregraded"
    problems = _Problems(table)
    if "id" not in positions:
        problems.add(_no_id_column(PREDICTION_FIELDS, table.names))
    if pregraded and "grade" not in positions:
        problems.add(
            "no grade column: this benchmark is pregraded, so every row needs a grade "
            "(correct, incorrect, not_attempted, or A, B, C); accepted names: "
            + _accepted_names(PREDICTION_FIELDS, "grade")
        )
    if not pregraded and "answer" not in positions:
        problems.add(
            "no answer column (accepted names: "
            + _accepted_names(PREDICTION_FIELDS, "answer")
            + ")"
        )
    problems.check()

    ids, id_bad = _text(table.frame[positions["id"]])
    found = gold.positions_of(ids)
    if (found < 0).any():
        missing = found < 0
        has_id = np.ones(len(ids), dtype=bool)
        has_id[missing] = _filled(ids[missing], table.padded)
        table, keep = _drop_blank_rows(table, ~has_id & ~id_bad)
        if not keep.all():
            ids, id_bad, found, has_id = (
                ids[keep].reset_index(drop=True),
                id_bad[keep],
                found[keep],
                has_id[keep],
            )
        # Stray blanks around an id are a formatting slip, not another id.
        retry = np.flatnonzero((found < 0) & has_id)
        stripped = ids.iloc[retry].str.strip()
        found[retry] = gold.positions_of(stripped)
        ids = ids.copy()
        ids.iloc[retry] = stripped
    else:
        has_id = np.ones(len(ids), dtype=bool)
    problems = _Problems(table)
    problems.add_rows(id_bad, lambda i: "id is not a text or a number")
    problems.add_rows(~has_id & ~id_bad, lambda i: "missing id")
    unknown = (found < 0) & has_id & ~id_bad
    if unknown.any() and not (found >= 0).any():
        first = ids.iloc[int(np.argmax(unknown))]
        problems.add(
            f"no id in the file is an item of this benchmark (the first is {_quote(first)}): "
            "is it a file for another benchmark?"
        )
    problems.add_rows(
        unknown, lambda i: f"unknown id {_quote(ids.iloc[i])} (not an item of this benchmark)"
    )

    answers = _prediction_answers(table, positions, problems)
    grades = _prediction_grades(table, positions, pregraded, problems)
    abstain = _prediction_abstain(table, positions, problems)
    confidence, _ = _number_column(table, positions, "confidence", problems, high_open=False)
    targets, target_invalid = _number_column(table, positions, "target", problems, high_open=True)

    valid = (found >= 0) & ~target_invalid
    run_targets, run_codes, run_keys = _runs(targets, valid, config, problems)
    _check_duplicates(found, run_codes, valid, ids, run_targets, gold.n_items, table, problems)
    _check_coverage(found, run_codes, run_keys, valid, gold.n_items, config, problems)
    problems.check()

    rows = _frame(
        id=ids.astype(str),
        answer=answers,
        grade=grades,
        abstain=abstain,
        confidence=confidence,
        target=run_targets,
        position=found.astype(np.int64),
    )
    if config.min_items_per_figure:
        _check_answered(rows, run_codes, run_keys, config)
    return Predictions(rows=rows, columns=columns)


def _prediction_answers(table: _Table, positions: dict[str, int], problems: _Problems) -> pd.Series:
    n = len(table.frame)
    if "answer" not in positions:
        return pd.Series(np.full(n, np.nan, dtype=object), dtype=str)
    answers, bad = _text(table.frame[positions["answer"]])
    problems.add_rows(bad, lambda i: "answer is not a text or a number")
    if answers.dtype == object:
        answers = pd.Series(answers.fillna("").to_numpy(), dtype=str)
    return answers


def _prediction_grades(
    table: _Table, positions: dict[str, int], pregraded: bool, problems: _Problems
) -> pd.Categorical:
    n = len(table.frame)
    if "grade" not in positions:
        return pd.Categorical.from_codes(np.full(n, -1, dtype=np.int8), categories=GRADES)
    text, bad = _text(table.frame[positions["grade"]])
    codes = {word: GRADES.index(grade) for word, grade in _GRADE_WORDS.items()}
    grades, unknown = _lookup(text, codes | {"": -1}, missing=-1)
    grades = grades.astype(np.int8)
    problems.add_rows(bad, lambda i: "grade is not a text")
    problems.add_rows(
        unknown,
        lambda i: (
            f"unknown grade {_quote(text.iloc[i])} (use correct, incorrect or not_attempted, "
            "or the letters A, B, C)"
        ),
    )
    if pregraded:
        problems.add_rows(
            (grades < 0) & ~unknown & ~bad,
            lambda i: "missing grade (this benchmark is pregraded: every row needs a grade)",
        )
    return pd.Categorical.from_codes(grades, categories=GRADES)


def _prediction_abstain(
    table: _Table, positions: dict[str, int], problems: _Problems
) -> np.ndarray:
    n = len(table.frame)
    if "abstain" not in positions:
        return np.zeros(n, dtype=bool)
    text, bad = _text(table.frame[positions["abstain"]])
    flags, unknown = _lookup(text, _BOOLEAN_WORDS, missing=False)
    problems.add_rows(bad, lambda i: "abstain is not true or false")
    problems.add_rows(
        unknown,
        lambda i: (
            f"abstain {_quote(text.iloc[i])} is not true or false (use true/false, yes/no or 1/0)"
        ),
    )
    return flags.astype(bool)


def _number_column(
    table: _Table,
    positions: dict[str, int],
    field: str,
    problems: _Problems,
    *,
    high_open: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """A column of numbers in [0, 1] (or [0, 1)): the values (NaN where empty or invalid) and a
    mask of invalid cells."""
    n = len(table.frame)
    if field not in positions:
        return np.full(n, np.nan), np.zeros(n, dtype=bool)
    text, bad = _text(table.frame[positions[field]])
    numbers = None
    if text.dtype != object:  # CSV cells: text, never missing
        try:
            # Every cell a plain number is the common case, and NumPy reads it fastest.
            numbers = text.to_numpy(dtype=object).astype(float)
            given = np.ones(n, dtype=bool)
        except ValueError:
            numbers = None
    if numbers is None:
        given = _filled(text, table.padded)
        numbers = pd.to_numeric(text.where(given, ""), errors="coerce").to_numpy(
            dtype=float, na_value=np.nan
        )
    not_number = given & np.isnan(numbers) & ~bad
    with np.errstate(invalid="ignore"):
        if high_open:
            out_of_range = given & ((numbers < 0) | (numbers >= 1))
            interval = "[0, 1)"
        else:
            out_of_range = given & ((numbers < 0) | (numbers > 1))
            interval = "[0, 1]"
    problems.add_rows(bad, lambda i: f"{field} is not a number")
    problems.add_rows(not_number, lambda i: f"{field} {_quote(text.iloc[i])} is not a number")
    problems.add_rows(
        out_of_range, lambda i: f"{field} {_quote(text.iloc[i])} is out of range {interval}"
    )
    invalid = bad | not_number | out_of_range
    return np.where(invalid, np.nan, numbers), invalid


def _runs(
    targets: np.ndarray, valid: np.ndarray, config: BenchmarkConfig, problems: _Problems
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Group rows into runs by target; return each row's run target, run number and run keys.

    Targets within 1e-9 of each other are one run, named after the benchmark's target it
    matches, else after its smallest value. Run 0 is the default run (no target).
    """
    stated = np.unique(targets[valid & ~np.isnan(targets)])
    if not len(stated):
        return targets, np.zeros(len(targets), dtype=np.int64), ["default"]
    starts = np.concatenate([[True], np.diff(stated) > TARGET_EQUAL_TOLERANCE])
    firsts = stated[starts]
    if len(firsts) > MAX_RUNS:
        problems.add(
            f"the file states {len(firsts)} different targets; at most {MAX_RUNS} runs are allowed"
        )
    rubrics = np.asarray(config.rubrics)
    named = firsts.copy()
    lasts = np.append(stated[np.flatnonzero(starts)[1:] - 1], stated[-1])
    for index in range(min(len(firsts), MAX_RUNS)):
        matches = rubrics[
            (rubrics >= firsts[index] - TARGET_EQUAL_TOLERANCE)
            & (rubrics <= lasts[index] + TARGET_EQUAL_TOLERANCE)
        ]
        if len(matches):
            named[index] = matches[0]
    codes = np.zeros(len(targets), dtype=np.int64)
    given = ~np.isnan(targets)
    codes[given] = np.searchsorted(firsts, targets[given], side="right")
    if config.min_items_per_figure:
        _check_targets_allowed(firsts, lasts, codes, config, problems)
    run_targets = np.full(len(targets), np.nan)
    run_targets[given] = named[codes[given] - 1]
    return run_targets, codes, ["default"] + [target_key(float(t)) for t in named]


def _check_targets_allowed(
    firsts: np.ndarray,
    lasts: np.ndarray,
    codes: np.ndarray,
    config: BenchmarkConfig,
    problems: _Problems,
) -> None:
    """On a benchmark whose gold is hidden, runs only at its targets: each further run would
    reveal counts of its own (SPEC §7)."""
    allowed = np.asarray(config.targets)
    for index in range(min(len(firsts), MAX_RUNS)):
        if (
            (allowed >= firsts[index] - TARGET_EQUAL_TOLERANCE)
            & (allowed <= lasts[index] + TARGET_EQUAL_TOLERANCE)
        ).any():
            continue
        row = int(np.argmax(codes == index + 1))
        place = problems.table.places[row]
        names = ", ".join(target_key(float(t)) for t in allowed) or "none"
        problems.add(
            f"{problems.table.unit} {place}: target {target_key(float(firsts[index]))} is not a "
            f"target of this benchmark; its answers are hidden, so runs are limited to its "
            f"targets ({names}) and the default run (rows without a target)",
            place=float(place),
        )


def _check_answered(
    rows: pd.DataFrame, run_codes: np.ndarray, run_keys: list[str], config: BenchmarkConfig
) -> None:
    """On a benchmark whose gold is hidden, every run answers at least K items: the counts of a
    run that answers fewer would tell how those few were graded (SPEC §7).

    Answering is attempting: a row that is not an abstention (abstain flag, grade
    not_attempted, empty answer or an abstention phrase). This needs no gold, so the rejection
    tells nothing about the answers.
    """
    answered = ~grading.abstentions(rows, config)
    counts = np.bincount(run_codes[answered], minlength=len(run_keys))
    present = np.bincount(run_codes, minlength=len(run_keys))
    k = config.min_items_per_figure
    messages = [
        f"run {_quote(key)} answers {counts[code]} item{'' if counts[code] == 1 else 's'} "
        f"(abstentions do not count); this benchmark's answers are hidden, so every run must "
        f"answer at least {k}"
        for code, key in enumerate(run_keys)
        if present[code] and counts[code] < k
    ]
    if messages:
        raise FileRejected(messages)


def _check_duplicates(
    found: np.ndarray,
    run_codes: np.ndarray,
    valid: np.ndarray,
    ids: pd.Series,
    run_targets: np.ndarray,
    n_items: int,
    table: _Table,
    problems: _Problems,
) -> None:
    if not valid.any():
        return
    if run_codes.max() == 0:
        present = found if valid.all() else found[valid]
        # Rows in the benchmark's order, as most files are, cannot repeat an item.
        if (np.diff(present) > 0).all() or np.bincount(present, minlength=n_items).max() <= 1:
            return
    keys = np.where(valid, run_codes * n_items + found, -1)
    if pd.Index(keys[valid]).is_unique:
        return
    repeated = _duplicates(keys) & valid
    first = _first_places(keys, table.places)

    def describe(i: int) -> str:
        run = (
            "in the default run"
            if np.isnan(run_targets[i])
            else f"for target {target_key(float(run_targets[i]))}"
        )
        return f"duplicate id {_quote(ids.iloc[i])} {run} (first seen at {table.unit} {first[i]})"

    problems.add_rows(repeated, describe)


def _check_coverage(
    found: np.ndarray,
    run_codes: np.ndarray,
    run_keys: list[str],
    valid: np.ndarray,
    n_items: int,
    config: BenchmarkConfig,
    problems: _Problems,
) -> None:
    if config.min_coverage <= 0:
        return
    for code, key in enumerate(run_keys):
        rows = valid & (run_codes == code)
        if code == 0 and not rows.any() and len(run_keys) > 1:
            continue  # a file of targeted runs only: there is no default run to cover
        present = int(np.count_nonzero(np.bincount(found[rows], minlength=n_items)))
        share = present / n_items
        if share < config.min_coverage:
            problems.add(
                f"coverage {_percent(share)} of run {_quote(key)} is below this benchmark's "
                f"minimum of {_percent(config.min_coverage)}",
                place=np.inf,
            )
