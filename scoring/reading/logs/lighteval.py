"""lighteval `--save-details` files: `details_<task>_<date>.parquet`, one row per document, as
`EvaluationTracker.save` writes them (a `datasets.Dataset` of `asdict(Detail)`, columns sorted,
saved with `to_parquet`). Read with pyarrow, only the columns used.

Two shapes exist:
- lighteval 0.11 and later: three struct columns, `doc` (lighteval's `Doc`: `id`, `query`,
  `choices`, `gold_index`, `task_name`, ...), `model_response` (`text`, `text_post_processed`,
  `logprobs`, ...) and `metric` (a field per metric);
- lighteval 0.8 to 0.10: flat columns `example`, `choices`, `gold`, `gold_index`,
  `predictions` (the generated texts, or a `[logprob, is_greedy]` pair per option), `metrics`.
  These rows carry no id: the row number (from 0) stands for it.
Files of lighteval 0.7 and earlier, which wrote every column as text, are refused.

A zip of one task's details file with the run's `results_<date>.json` also reads: the results
name the model (`config_general.model_name`).

Multiple-choice documents (two options or more, a log-probability each) answer with the most
likely option's letter; its softmax share over the options is the confidence.
"""

from __future__ import annotations

import io
import math
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from scoring.reading.errors import FileRejected, _quote, _size
from scoring.reading.logs import LogOptions, LogSamples, samples_frame
from scoring.reading.logs.archives import Archive, is_zip
from scoring.reading.logs.likelihoods import LETTERS, metric_grades, run_results

FORMAT = "lighteval"
NAME = "lighteval details (.parquet)"
ID_FIELD = (
    "doc.id (the document's number in the task's evaluation split; lighteval 0.8 to 0.10 "
    "store no id, and the row number, from 0, stands for it)"
)

_PARQUET_MAGIC = b"PAR1"
_DETAILS = re.compile(
    r"(?:^|/)details_(?P<task>.+)_(?P<date>\d{4}-\d{2}-\d{2}T[0-9.\-]+)\.parquet$"
)

# Columns read, per shape: (path in the file, our name); a name ending in "?" may be absent.
_NEW = (
    ("doc.id", "id?"),
    ("doc.query", "question?"),
    ("doc.choices", "choices"),
    ("doc.gold_index", "gold_index"),
    ("doc.task_name", "task?"),
    ("model_response.text", "text"),
    ("model_response.text_post_processed", "text_post_processed?"),
    ("model_response.logprobs", "logprobs"),
    ("metric", "metric"),
)
_OLD = (
    ("example", "question?"),
    ("choices", "choices"),
    ("gold", "gold?"),
    ("gold_index", "gold_index"),
    ("predictions", "predictions"),
    ("metrics", "metric"),
)


def looks_like(data: bytes, filename: str) -> bool:
    if is_zip(data):
        try:
            names = Archive(data, max_bytes=len(data)).names
        except FileRejected:
            return False
        return any(_DETAILS.search(name) for name in names)
    # The start only: a truncated file is still recognised, and then refused with the reason.
    return data.startswith(_PARQUET_MAGIC)


def read(data: bytes, *, filename: str, options: LogOptions, max_bytes: int) -> LogSamples:
    model = None
    if is_zip(data):
        filename, data, model = _from_zip(data, max_bytes)
    try:
        parquet = pq.ParquetFile(io.BytesIO(data))
    except (pa.ArrowException, OSError, ValueError):
        raise FileRejected(
            ["the file is not a parquet file, or it is truncated (its footer cannot be read)"]
        ) from None
    schema = parquet.schema_arrow
    names = schema.names
    if "doc" in names and "model_response" in names:
        shape, wanted = "new", _NEW
    elif "predictions" in names and "example" in names:
        shape, wanted = "old", _OLD
    else:
        shown = ", ".join(_quote(name) for name in names[:20])
        raise FileRejected(
            [
                f"the parquet file's columns ({shown}) are not those of lighteval details: "
                "doc, model_response, metric (lighteval 0.11 and later) or example, predictions, "
                "metrics (lighteval 0.8 to 0.10)"
            ]
        )
    if shape == "old" and pa.types.is_string(schema.field("predictions").type):
        raise FileRejected(
            [
                "the details were written by lighteval 0.7 or earlier, which stores every column "
                "as text; run the evaluation again with lighteval 0.8 or later"
            ]
        )
    columns = _read_columns(parquet, wanted, max_bytes)
    n = parquet.metadata.num_rows
    if n == 0:
        raise FileRejected(["the file holds no samples"])

    if shape == "new":
        ids = _ids(columns.get("id"), n)
        loglikelihoods = columns["logprobs"]
        texts = _first_values(columns["text"], n)
        if "text_post_processed" in columns:
            # lighteval's final_text: the post-processed text where there is one.
            processed = _first_values(columns["text_post_processed"], n)
            texts = np.where(pd.isna(processed), texts, processed)
        golds = None
    else:
        ids = np.arange(n).astype(str).astype(object)
        predictions = columns["predictions"]
        kind = predictions.type.value_type
        texts = np.full(n, None, dtype=object)
        if pa.types.is_list(kind) or pa.types.is_large_list(kind):
            # A [logprob, is_greedy] pair per option (is_greedy stored as 0.0 / 1.0).
            loglikelihoods = _first_of_pairs(predictions)
        elif pa.types.is_floating(kind) or pa.types.is_integer(kind):
            loglikelihoods = predictions
        else:
            loglikelihoods = pa.chunked_array([pa.array([[]] * n, type=pa.list_(pa.float64()))])
            texts = _first_values(predictions, n)
        golds = _first_values(columns["gold"], n) if "gold" in columns else None

    choices = _combined(columns["choices"])
    n_choices = _lengths(choices)
    gold_index = _gold_index(columns["gold_index"], n)
    answer, confidence, multiple_choice = _best_options(loglikelihoods, n_choices, n)
    no_answer = ~multiple_choice & pd.isna(texts)
    if no_answer.any():
        raise FileRejected(
            [
                f"row {i + 1} (id {_quote(ids[i])}): the model response holds no text and no "
                "log-probability per option"
                for i in np.flatnonzero(no_answer)
            ]
        )
    answers = np.where(multiple_choice, answer, _stripped(texts, ~multiple_choice))
    has_gold = (gold_index >= 0) & (gold_index < n_choices)
    letters = np.asarray(list(LETTERS), dtype=object)
    gold_letters = np.where(
        has_gold & multiple_choice, letters[np.clip(gold_index, 0, len(LETTERS) - 1)], None
    )
    if golds is None:
        # The gold of a generative document is its gold_index among the doc's choices.
        values = choices.values.to_numpy(zero_copy_only=False)
        starts = choices.offsets.to_numpy()[:-1]
        at = np.where(has_gold, starts + gold_index, 0)
        golds = np.where(has_gold, values[at] if len(values) else None, None)
    # lighteval's choices start with the space the prompt leaves before an answer.
    gold = np.where(multiple_choice, gold_letters, _stripped(golds, ~multiple_choice))
    options = pd.Series(
        pa.ListArray.from_arrays(
            choices.offsets, pc.utf8_trim_whitespace(choices.values)
        ).to_pylist()
        if multiple_choice.any()
        else [None] * n,
        dtype=object,
    ).where(multiple_choice, None)

    grades = _grades(columns["metric"], n)
    task_match = _DETAILS.search(filename)
    task = task_match["task"] if task_match else None
    if task is None and "task" in columns:
        task = next((t for t in columns["task"].to_pylist() if t), None)
    question = (
        columns["question"].to_numpy().astype(object)
        if "question" in columns
        else np.full(n, None, dtype=object)
    )
    frame = samples_frame(
        id=ids,
        answer=answers,
        extracted=answers != "",
        grade=grades,
        confidence=confidence,
        gold=gold,
        question=np.where(pd.isna(question) | (question == ""), None, question),
        options=options,
    )
    return LogSamples(
        format=FORMAT,
        id_field=ID_FIELD,
        frame=frame,
        places=np.arange(1, n + 1, dtype=np.int64),
        model=model,
        task=task,
    )


def _from_zip(data: bytes, max_bytes: int) -> tuple[str, bytes, str | None]:
    """The details file of a zip (of one task) and the model its results file names."""
    archive = Archive(data, max_bytes=max_bytes)
    details = [name for name in archive.names if _DETAILS.search(name)]
    if not details:
        raise FileRejected(
            ["the zip file holds no lighteval details file (details_<task>_<date>.parquet)"]
        )
    if len(details) > 1:
        tasks = ", ".join(_quote(_DETAILS.search(name)["task"]) for name in details[:10])  # type: ignore[index]
        raise FileRejected(
            [
                f"the zip file holds {len(details)} details files ({tasks}); a submission is one "
                "task: upload that task's details_<task>_<date>.parquet (with its results json)"
            ]
        )
    name = details[0]
    date = _DETAILS.search(name)["date"]  # type: ignore[index]
    results = run_results(archive, date)
    model = _model(results[1]) if results else None
    return name, archive.read(name), model


def _model(results: object) -> str | None:
    general = results.get("config_general") if isinstance(results, dict) else None
    model = general.get("model_name") if isinstance(general, dict) else None
    return model if isinstance(model, str) and model else None


def _read_columns(
    parquet: pq.ParquetFile, wanted: tuple[tuple[str, str], ...], max_bytes: int
) -> dict[str, pa.ChunkedArray]:
    schema = parquet.schema_arrow
    present: list[tuple[str, str]] = []
    missing: list[str] = []
    for path, name in wanted:
        if _has_path(schema, path):
            present.append((path, name.rstrip("?")))
        elif not name.endswith("?"):
            missing.append(path)
    if missing:
        raise FileRejected(
            [f"the lighteval details have no column {_quote(path)}" for path in missing]
        )
    _check_size(parquet, [path for path, _ in present], max_bytes)
    try:
        table = parquet.read(columns=[path for path, _ in present])
    except (pa.ArrowException, OSError, ValueError):
        raise FileRejected(
            ["the parquet file is damaged or truncated (its data cannot be read)"]
        ) from None
    return {name: _column(table, path) for path, name in present}


def _column(table: pa.Table, path: str) -> pa.ChunkedArray:
    """A column, or a field of a struct column ("doc.id")."""
    head, *parts = path.split(".")
    column = table.column(head)
    for part in parts:
        column = pa.chunked_array(
            [chunk.field(part) for chunk in column.chunks],
            type=column.type.field(part).type,
        )
    return column


def _has_path(schema: pa.Schema, path: str) -> bool:
    head, _, rest = path.partition(".")
    if head not in schema.names:
        return False
    kind = schema.field(head).type
    for part in rest.split(".") if rest else []:
        if not pa.types.is_struct(kind) or kind.get_field_index(part) < 0:
            return False
        kind = kind.field(part).type
    return True


def _check_size(parquet: pq.ParquetFile, paths: list[str], max_bytes: int) -> None:
    """The columns read may unpack to at most the upload limit, as a zip may."""
    metadata = parquet.metadata
    total = 0
    for group in range(metadata.num_row_groups):
        row_group = metadata.row_group(group)
        for column in range(row_group.num_columns):
            chunk = row_group.column(column)
            if any(
                chunk.path_in_schema == p or chunk.path_in_schema.startswith(p + ".") for p in paths
            ):
                total += chunk.total_uncompressed_size
    if total > max_bytes:
        raise FileRejected(
            [f"unpacked, the parquet file is larger than the limit of {_size(max_bytes)}"]
        )


def _ids(column: pa.ChunkedArray | None, n: int) -> np.ndarray:
    values = column.to_numpy() if column is not None else np.full(n, None, dtype=object)
    if pd.isna(values).all() or (values == "").all():
        return np.arange(n).astype(str).astype(object)
    return np.where(pd.isna(values), "", values).astype(str).astype(object)


def _combined(column: pa.ChunkedArray) -> pa.Array:
    return column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)


def _lengths(lists: pa.Array) -> np.ndarray:
    return pc.fill_null(pc.list_value_length(lists), 0).to_numpy().astype(np.int64)


def _first_values(column: pa.ChunkedArray, n: int) -> np.ndarray:
    """The first element of each row's list (None for an empty or missing list), or the value
    itself in a column of values."""
    lists = _combined(column)
    if not (pa.types.is_list(lists.type) or pa.types.is_large_list(lists.type)):
        return lists.to_numpy(zero_copy_only=False).astype(object)
    out = np.full(n, None, dtype=object)
    if pa.types.is_null(lists.type.value_type):
        return out
    present = _lengths(lists) > 0
    values = lists.values.to_numpy(zero_copy_only=False)
    out[present] = values[lists.offsets.to_numpy()[:-1][present]]
    return out


def _stripped(texts: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The texts of `rows` without surrounding white space; anything else (None, and every
    other row) stays as it is."""
    out = np.asarray(texts, dtype=object).copy()
    is_text = rows.copy()
    is_text[rows] = [isinstance(t, str) for t in out[rows]]
    out[is_text] = pd.Series(out[is_text], dtype=object).str.strip().to_numpy(dtype=object)
    return out


def _first_of_pairs(predictions: pa.ChunkedArray) -> pa.ChunkedArray:
    chunks = []
    for chunk in predictions.chunks:
        pairs = chunk.flatten()
        firsts = pc.list_element(pairs, 0) if len(pairs) else pa.array([], pa.float64())
        chunks.append(pa.ListArray.from_arrays(chunk.offsets, firsts))
    return pa.chunked_array(chunks, type=pa.list_(pa.float64()))


def _gold_index(column: pa.ChunkedArray, n: int) -> np.ndarray:
    """The gold option's index per row (the first, where lighteval lists several); -1 if none."""
    values = _first_values(column, n)
    numbers = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce")
    return numbers.fillna(-1).to_numpy().astype(np.int64)


def _best_options(
    loglikelihoods: pa.ChunkedArray, n_choices: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: the most likely option's letter, its softmax share, and whether the row is a
    multiple-choice one (two options or more, a log-probability for each), over whole columns."""
    combined = loglikelihoods.combine_chunks() if loglikelihoods.num_chunks else pa.array([[]])
    if pa.types.is_null(combined.type.value_type):
        lengths = np.zeros(n, dtype=np.int64)
        values = np.zeros(0)
    else:
        lengths = np.nan_to_num(
            pc.list_value_length(combined).to_numpy(zero_copy_only=False), nan=0
        ).astype(np.int64)
        values = combined.flatten().to_numpy(zero_copy_only=False).astype(float)
    multiple_choice = (lengths >= 2) & (lengths == n_choices) & (lengths <= len(LETTERS))
    rows = np.repeat(np.arange(n), lengths)
    top = np.full(n, -np.inf)
    np.maximum.at(top, rows, np.nan_to_num(values, nan=-np.inf))
    weights = np.exp(values - top[rows])
    totals = np.bincount(rows, weights=np.nan_to_num(weights), minlength=n)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    positions = np.arange(len(values)) - starts[rows]
    best = np.full(n, np.iinfo(np.int64).max)
    is_top = values == top[rows]
    np.minimum.at(best, rows[is_top], positions[is_top])
    usable = multiple_choice & np.isfinite(top) & (totals > 0)
    confidence = np.where(usable, 1.0 / np.where(totals > 0, totals, 1.0), math.nan)
    letters = np.asarray(list(LETTERS) + [""], dtype=object)
    return letters[np.where(usable, best, len(LETTERS))], confidence, usable


def _grades(metric: pa.ChunkedArray, n: int) -> list[str | None]:
    """The first metric lighteval logged (accuracy, exact match) as the harness's grade."""
    kind = metric.type
    if not pa.types.is_struct(kind) or kind.num_fields == 0:
        return [None] * n
    first = metric.combine_chunks().field(0)
    if pa.types.is_integer(first.type) or pa.types.is_floating(first.type):
        return metric_grades(first.to_numpy(zero_copy_only=False))
    return metric_grades(first.to_pylist())
