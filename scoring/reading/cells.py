"""Cells and columns of a parsed table: matching column names to fields through the alias
tables, reading cells as text, and the shared checks (blank rows, duplicates).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from scoring.benchmark import ColumnReport
from scoring.reading.errors import FileRejected, _quote, _shown
from scoring.reading.tables import _Table


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
