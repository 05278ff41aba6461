"""Bytes into a table of cells: CSV, JSON Lines and JSON, with each row's place in the file for
messages, and the problems found in a table collected in file order.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scoring.reading.errors import MAX_ERRORS_SHOWN, FileRejected, _quote
from scoring.reading.raw import Source, _check_text, _decode, _not_utf8, _read_bytes

ROWS_PER_ITEM_AND_RUN = 10
_FORMATS = (".csv", ".jsonl", ".json")

# A prediction file needs six fields and a gold file seven; a table far wider than that is a
# mistake (or an attack) whose cells would fill the memory.
MAX_COLUMNS = 200

# Python's parser gives up on JSON nested about a thousand levels deep; the message places the
# problem where the nesting passes this depth, which no prediction file comes near.
MAX_JSON_DEPTH = 100


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
    return _table_from_bytes(data, filename=filename, row_limit=row_limit)


def _table_from_bytes(data: bytes, *, filename: str, row_limit: int | None) -> _Table:
    """A table from a file's bytes, already read within the size limit and uncompressed."""
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
