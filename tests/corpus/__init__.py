"""The corpus of bad prediction files, and what must become of each one.

Every file in `predictions/` has a case here: the benchmark it goes to (grader, minimum coverage,
size limit) and all the errors it must be rejected with, or, for the files whose odd content is no
error (formula-like answers), the counts it must score. README.md says in words what is wrong with
each file. `tests/scoring/test_corpus.py` reads every file with the scoring package, and
`tests/web/test_bad_files.py` uploads every one through the submit form.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import scoring

CORPUS = Path(__file__).resolve().parent
GOLD = CORPUS / "gold.csv"
PREDICTIONS = CORPUS / "predictions"
README = CORPUS / "README.md"

DEFAULT_MAX_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class Case:
    name: str
    errors: tuple[str, ...] = ()
    # The true number of errors, when there are more than the twenty shown.
    n_errors: int | None = None
    grader: str = "exact"
    min_coverage: float = 0.0
    # A lower size limit than the site's default, for the file that is over it.
    max_bytes: int = DEFAULT_MAX_BYTES
    # The submit form's message when it refuses the file before saving anything.
    refused: str = ""
    # correct, incorrect, abstained: for the files that are no error and must be scored.
    counts: tuple[int, int, int] | None = None

    @property
    def path(self) -> Path:
        return PREDICTIONS / self.name

    @property
    def scored(self) -> bool:
        return self.counts is not None

    @property
    def total_errors(self) -> int:
        return len(self.errors) if self.n_errors is None else self.n_errors

    def config(self) -> scoring.BenchmarkConfig:
        return scoring.BenchmarkConfig(
            grader=self.grader, min_coverage=self.min_coverage, max_bytes=self.max_bytes
        )


NOT_UTF8 = "the file is not UTF-8 (byte 0x{} cannot be read); save it as UTF-8"
ZERO_BYTE = (
    "the file holds a zero byte (0x00), which is not text: it may be UTF-16 or not a text file "
    "at all; save it as UTF-8"
)
NO_ID = "no id column (accepted names: id, question_id, qid, item_id)"
NO_ANSWER = (
    "no answer column (accepted names: answer, prediction, pred, predicted_answer, response, "
    "output)"
)
NOT_BOOLEAN = "is not true or false (use true/false, yes/no or 1/0)"
GRADES = "(use correct, incorrect or not_attempted, or the letters A, B, C)"
MISSING_GRADE = "missing grade (this benchmark is pregraded: every row needs a grade)"
UNKNOWN = "(not an item of this benchmark)"
TOO_DEEP = "arrays and objects nested more than 100 levels deep"

CASES: tuple[Case, ...] = (
    # --- the errors of SPEC §3 -------------------------------------------------------------
    Case("empty.csv", ("the file is empty",), refused="The submitted file is empty."),
    Case("blank-lines.jsonl", ("the file is empty",)),
    Case("bom-only.csv", ("the file is empty",)),
    Case("header-only.csv", ("the file has a header but no rows",)),
    Case("empty-array.json", ("the file has no items",)),
    Case("latin-1.csv", ("line 3: " + NOT_UTF8.format("fc"),)),
    Case("mixed-encodings.csv", ("line 4: " + NOT_UTF8.format("fc"),)),
    Case(
        "utf-16.csv",
        (
            "the file is UTF-16, not UTF-8 (it starts with a UTF-16 byte order mark); "
            "save it as UTF-8",
        ),
    ),
    Case("utf-16-without-bom.jsonl", ("line 1: " + ZERO_BYTE,)),
    Case(
        "utf-32.json",
        (
            "the file is UTF-32, not UTF-8 (it starts with a UTF-32 byte order mark); "
            "save it as UTF-8",
        ),
    ),
    Case("windows-1252-quotes.jsonl", ("line 2: " + NOT_UTF8.format("93"),)),
    Case(
        "single-quotes.jsonl",
        ("line 3: not valid JSON (Expecting property name enclosed in double quotes at column 2)",),
    ),
    Case(
        "unclosed-brace.jsonl", ("line 2: not valid JSON (Expecting ',' delimiter at column 31)",)
    ),
    Case("trailing-comma.json", ("line 4, column 1: not valid JSON (Expecting value)",)),
    Case("no-id-column.csv", (NO_ID,)),
    Case("no-answer-column.csv", (NO_ANSWER,)),
    Case(
        "duplicate-id.csv", ('row 4: duplicate id "q02" in the default run (first seen at row 3)',)
    ),
    Case(
        "duplicate-id-and-target.jsonl",
        ('line 3: duplicate id "q01" for target 0.5 (first seen at line 1)',),
    ),
    Case(
        "unknown-id.csv",
        (f'row 3: unknown id "q99" {UNKNOWN}', f'row 4: unknown id "Q02" {UNKNOWN}'),
    ),
    Case("missing-id.csv", ("row 3: missing id", "row 4: missing id")),
    Case(
        "confidence-not-a-number.csv",
        (
            'row 2: confidence "high" is not a number',
            'row 3: confidence "50%" is not a number',
            'row 4: confidence "0,9" is not a number',
        ),
    ),
    Case(
        "confidence-out-of-range.jsonl",
        (
            'line 1: confidence "1.5" is out of range [0, 1]',
            'line 2: confidence "-0.2" is out of range [0, 1]',
        ),
    ),
    Case(
        "target-not-a-number.csv",
        ('row 2: target "t=0.5" is not a number', 'row 3: target "strict" is not a number'),
    ),
    Case(
        "target-out-of-range.csv",
        (
            'row 2: target "1" is out of range [0, 1)',
            'row 3: target "-0.5" is out of range [0, 1)',
            'row 4: target "75" is out of range [0, 1)',
        ),
    ),
    Case(
        "unknown-grade.csv",
        (
            f'row 3: unknown grade "D" {GRADES}',
            f'row 4: unknown grade "maybe" {GRADES}',
            f'row 5: unknown grade "TRUE" {GRADES}',
        ),
    ),
    Case(
        "no-grade-column.csv",
        (
            "no grade column: this benchmark is pregraded, so every row needs a grade (correct, "
            "incorrect, not_attempted, or A, B, C); accepted names: grade, label, judgement, "
            "grade_str",
        ),
        grader="pregraded",
    ),
    Case(
        "missing-grade.jsonl",
        (f"line 2: {MISSING_GRADE}", f"line 3: {MISSING_GRADE}", f"line 4: {MISSING_GRADE}"),
        grader="pregraded",
    ),
    Case(
        "too-large.csv",
        ("the file is larger than the limit of 4 KB (it passes the limit in line 92)",),
        max_bytes=4096,
        refused="The file is larger than the limit of 4.0\xa0KB; nothing was kept.",
    ),
    Case(
        "low-coverage.csv",
        ('coverage 25% of run "default" is below this benchmark\'s minimum of 50%',),
        min_coverage=0.5,
    ),
    Case(
        "low-coverage-prompted-run.csv",
        ('coverage 12.5% of run "0.9" is below this benchmark\'s minimum of 50%',),
        min_coverage=0.5,
    ),
    # --- beyond SPEC §3 ----------------------------------------------------------------------
    Case("random-bytes.csv", ("line 1: " + NOT_UTF8.format("fb"),)),
    Case("random-bytes-without-zeros.json", ("line 1: " + NOT_UTF8.format("86"),)),
    Case("image.csv", ("line 1: " + NOT_UTF8.format("89"),)),
    Case(
        "zip-bomb.csv.gz",
        (
            "uncompressed, the file is larger than the limit of 50 MB "
            "(it passes the limit in line 1)",
        ),
    ),
    Case(
        "one-gigabyte-line.csv.gz",
        (
            "uncompressed, the file is larger than the limit of 50 MB "
            "(it passes the limit in line 2)",
        ),
    ),
    Case("zip-archive.csv.gz", ("the file name ends in .gz but the file is not gzip-compressed",)),
    Case("not-gzip.jsonl.gz", ("the file name ends in .gz but the file is not gzip-compressed",)),
    Case("truncated.csv.gz", ("the gzip data ends early: the file is truncated",)),
    Case("gzip-then-garbage.csv.gz", ("the file is not valid gzip data after its first 55 bytes",)),
    Case(
        "many-gzip-members.csv.gz",
        (
            "the gzip file is made of more than 10,000 parts (members); compress the file again "
            "in one piece",
        ),
    ),
    Case("unclosed-quote.csv", ("row 3: a quoted field is never closed",)),
    Case("mismatched-quotes.csv", ("row 3: 3 fields where the header has 2",)),
    Case("comma-in-answer.csv", ("row 3: 3 fields where the header has 2",)),
    Case("deep-nesting.json", (f"line 3, column 125: {TOO_DEEP}",)),
    Case("deep-nesting.jsonl", (f"line 2: {TOO_DEEP} (at column 635)",)),
    Case(
        "nan-and-infinity.jsonl",
        (
            'line 1: confidence "NaN" is not a number',
            'line 2: confidence "Infinity" is out of range [0, 1]',
            'line 3: target "-Infinity" is out of range [0, 1)',
        ),
    ),
    Case(
        "nan-and-infinity.csv",
        (
            'row 2: confidence "nan" is not a number',
            'row 3: confidence "inf" is out of range [0, 1]',
            'row 4: target "-inf" is out of range [0, 1)',
            'row 5: confidence "NaN" is not a number',
            'row 5: target "NaN" is not a number',
        ),
    ),
    Case(
        "huge-numbers.json",
        (
            'item 1: confidence "inf" is out of range [0, 1]',
            'item 2: target "-inf" is out of range [0, 1)',
        ),
    ),
    Case("huge-integer.json", ("line 2, column 9: a number with more than 4,300 digits",)),
    Case(
        "other-benchmark-ids.csv",
        (
            'no id in the file is an item of this benchmark (the first is "70"): '
            "is it a file for another benchmark?",
            *(f'row {row}: unknown id "{row + 68}" {UNKNOWN}' for row in range(2, 21)),
            "… and 11 more errors",
        ),
        n_errors=31,
    ),
    Case("formula-answers.csv", counts=(2, 5, 1)),
    Case("formula-answers.jsonl", counts=(2, 5, 1)),
    Case(
        "formula-id.csv",
        (f'row 3: unknown id "=HYPERLINK(\\"http://attacker.example\\",\\"q02\\")" {UNKNOWN}',),
    ),
    Case("html-id.jsonl", (f'line 2: unknown id "<script>alert(1)</script>" {UNKNOWN}',)),
    Case("not-an-array.json", ("the JSON file must hold an array of objects",)),
    Case(
        "object-without-rows.json",
        ('the JSON object has no "predictions" or "items" array of rows',),
    ),
    Case(
        "rows-not-objects.json",
        (
            "item 2: expected a JSON object, found an array",
            "item 3: expected a JSON object, found a string",
            "item 4: expected a JSON object, found a number",
            "item 5: expected a JSON object, found null",
            "item 6: expected a JSON object, found a boolean",
        ),
    ),
    Case("two-values-per-line.jsonl", ("line 1: not valid JSON (Extra data at column 34)",)),
    Case(
        "cells-not-text.json",
        (
            "item 1: id is not a text or a number",
            "item 2: answer is not a text or a number",
            "item 3: grade is not a text",
        ),
    ),
    Case(
        "bad-abstain.csv",
        (f'row 3: abstain "maybe" {NOT_BOOLEAN}', f'row 4: abstain "unsure" {NOT_BOOLEAN}'),
    ),
    Case(
        "too-many-rows.csv",
        ("the file has more than 320 rows, this benchmark's limit (10 rows per item and run)",),
    ),
    Case(
        "too-many-targets.csv",
        ("the file states 25 different targets; at most 20 runs are allowed",),
    ),
    Case(
        "predictions.txt",
        ('"predictions.txt" is not a .csv, .jsonl or .json file (each may end in .gz)',),
        refused=(
            "“predictions.txt” is not a file type we read: upload a .csv, .jsonl or .json file, "
            "optionally gzip-compressed (.gz), or a harness log (.json, .jsonl, .eval, .zip or "
            ".parquet)."
        ),
    ),
    Case(
        "semicolons.csv",
        (
            f'{NO_ID}; the header is one column, "id;answer": separate the columns with commas, '
            "not semicolons",
            NO_ANSWER,
        ),
    ),
    Case(
        "tabs.csv",
        (
            f'{NO_ID}; the header is one column, "id\\tanswer": separate the columns with commas, '
            "not tabs",
            NO_ANSWER,
        ),
    ),
    Case("many-columns.csv", ("row 1: the header has 302 columns; a file may have at most 200",)),
    Case("many-keys.jsonl", ("the lines use 252 different keys; a file may have at most 200",)),
    Case("lone-surrogate.jsonl", (f'line 2: unknown id "q02\\ud800" {UNKNOWN}',)),
    Case("invisible-characters.csv", (f'row 3: unknown id "\\u200bq02" {UNKNOWN}',)),
    Case(
        "bom-in-the-middle.jsonl",
        (
            "line 3: not valid JSON (a byte order mark, the invisible character U+FEFF, where a "
            "value should start at column 1)",
        ),
    ),
    Case(
        "spreadsheet-errors.csv",
        (
            'row 2: confidence "#VALUE!" is not a number',
            'row 3: confidence "#DIV/0!" is not a number',
            'row 5: confidence "#REF!" is not a number',
        ),
    ),
)
