"""Reading and validating a prediction file against a benchmark (SPEC §3): answers, grades,
abstentions, confidences, and the grouping of rows into runs by stated target.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scoring import grading
from scoring.benchmark import (
    TARGET_EQUAL_TOLERANCE,
    BenchmarkConfig,
    ColumnReport,
    Gold,
    target_key,
)
from scoring.reading import logs
from scoring.reading.cells import (
    _accepted_names,
    _drop_blank_rows,
    _duplicates,
    _filled,
    _first_places,
    _frame,
    _lookup,
    _match_columns,
    _no_id_column,
    _text,
)
from scoring.reading.errors import FileRejected, _percent, _quote
from scoring.reading.logs import LogOptions
from scoring.reading.raw import Source, _read_bytes
from scoring.reading.tables import (
    ROWS_PER_ITEM_AND_RUN,
    _check_row_limit,
    _Problems,
    _read_table,
    _Table,
    _table_from_bytes,
)

# A run costs a pass over the items when scored; a file stating hundreds of distinct targets is a
# mistake (or an attack), not a set of prompted runs.
MAX_RUNS = 20
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


def read_predictions(
    source: Source,
    *,
    filename: str,
    gold: Gold,
    config: BenchmarkConfig,
    log: LogOptions | None = None,
) -> Predictions:
    """Read and validate a prediction file against a benchmark; raise FileRejected if unusable.

    The file is a table of our own (CSV, JSON Lines, JSON) or a harness log (`logs`): the
    format `log.format` names ("table" for ours), else the one recognised from the file. A
    log's rows are validated as a table's, and its report is the column report's `log`.
    """
    row_limit = ROWS_PER_ITEM_AND_RUN * gold.n_items * (len(config.targets) + 1)
    if log is not None and log.format == logs.TABLE_FORMAT:
        table = _read_table(
            source, filename=filename, max_bytes=config.max_bytes, row_limit=row_limit
        )
        return _predictions_from_table(table, gold, config)
    data = _read_bytes(source, filename, config.max_bytes)
    key = logs.log_format(data, filename, log)
    if key is None:
        table = _table_from_bytes(data, filename=filename, row_limit=row_limit)
        return _predictions_from_table(table, gold, config)
    samples = logs.read_samples(
        data, key, filename=filename, options=log or LogOptions(), max_bytes=config.max_bytes
    )
    table, report = logs.prediction_table(samples, gold, config)
    # The samples of the benchmark's items are its rows, under the bound every file has
    # (SPEC §7); those of other items were left out, and the size limit bounds them.
    _check_row_limit(len(table.frame), row_limit)
    predictions = _predictions_from_table(table, gold, config)
    columns = dataclasses.replace(predictions.columns, log=report.to_dict())
    return Predictions(rows=predictions.rows, columns=columns)


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
