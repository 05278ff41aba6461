"""Reading and validating a benchmark's gold file into a Gold (SPEC §3).

Gold answers and question texts never appear in a message: a benchmark's gold may be private.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import re
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from scoring.answers import parse_numbers
from scoring.benchmark import GRADERS, Gold, _hashes
from scoring.reading import logs
from scoring.reading.cells import (
    _accepted_names,
    _drop_blank_rows,
    _duplicates,
    _filled,
    _first_places,
    _frame,
    _match_columns,
    _no_id_column,
    _text,
)
from scoring.reading.errors import FileRejected, _quote
from scoring.reading.logs import LogOptions
from scoring.reading.raw import Source, _read_bytes
from scoring.reading.tables import (
    _json_line_errors,
    _json_loads,
    _JsonBeyondLimits,
    _Problems,
    _read_table,
    _Table,
    _table_from_bytes,
)

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
_CHOICE_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

# Metadata dicts longer than this are not parsed: literal_eval of a huge nested literal can
# exhaust the stack, and no real topic needs it.
_MAX_METADATA_CHARS = 100_000

# The longest item id and category the site stores (its Item model uses these as column sizes):
# a gold file is refused, with the rows, rather than failing when its items are saved.
MAX_ID_CHARS = 255
MAX_CATEGORY_CHARS = 200

# Text a database cannot store: the zero character (PostgreSQL refuses it in text and JSON) and
# lone surrogates, which a JSON escape can produce but which are not UTF-8.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def read_gold(
    source: Source,
    *,
    filename: str,
    grader: str,
    max_bytes: int = 50 * 1024 * 1024,
    log: LogOptions | None = None,
) -> Gold:
    """Read and validate a benchmark's gold file; raise FileRejected with every problem found.

    A harness log (the format `log.format` names, else the one recognised; "table" forces our
    own) makes a gold of its samples' ids and targets, with their questions, categories and
    options, validated as a gold file is; the report of what was read is the gold's column
    report's `log`. The gold of an Inspect log that ran several epochs is that of epoch 1
    unless another is chosen: every epoch has the same targets.
    """
    if log is not None and log.format == logs.TABLE_FORMAT:
        table = _read_table(source, filename=filename, max_bytes=max_bytes, row_limit=None)
        return _gold_from_table(table, grader)
    data = _read_bytes(source, filename, max_bytes)
    key = logs.log_format(data, filename, log)
    if key is None:
        table = _table_from_bytes(data, filename=filename, row_limit=None)
        return _gold_from_table(table, grader)
    options = log or LogOptions()
    if key == "inspect" and options.epoch is None:
        options = dataclasses.replace(options, epoch=1)
    samples = logs.read_samples(data, key, filename=filename, options=options, max_bytes=max_bytes)
    table, report = logs.gold_table(samples)
    gold = _gold_from_table(table, grader)
    return Gold(items=gold.items, columns=dataclasses.replace(gold.columns, log=report.to_dict()))


def gold_from_records(records: Iterable[Mapping], *, grader: str = "exact") -> Gold:
    """Rebuild a Gold from stored items, validated as an uploaded file would be.

    `grader` adds the checks of that grader (choice letters, numeric answers); the default
    checks only what every grader needs.
    """
    frame = pd.DataFrame.from_records(list(records))
    return gold_from_frame(frame, grader=grader)


def gold_from_frame(frame: pd.DataFrame, *, grader: str = "exact") -> Gold:
    """Rebuild a Gold from a table with the gold file's columns (any alias)."""
    if frame.empty:
        raise FileRejected(["there are no items"])
    table = _Table.of_values(frame.astype(object), unit="item")
    return _gold_from_table(table, grader)


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
