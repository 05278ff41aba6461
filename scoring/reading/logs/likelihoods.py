"""What lm-evaluation-harness and lighteval share: a multiple-choice answer taken from the
log-likelihood of each option, a harness's per-sample metric read as a grade, and the run's
results file found beside its samples in a zip."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence

import numpy as np

from scoring.reading.errors import FileRejected, _quote
from scoring.reading.logs.archives import Archive

# Both harnesses name a run's results file after the run's date, as they name its samples.
RESULTS_FILE = re.compile(r"(?:^|/)results_(?P<date>\d{4}-\d{2}-\d{2}T[0-9.\-]+)\.json$")

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def best_option(loglikelihoods: Sequence[float]) -> tuple[str, float]:
    """The letter of the most likely option, and its softmax share over the options: the
    probability the model gives that option when it must pick one of them."""
    top = max(loglikelihoods)
    weights = [math.exp(value - top) for value in loglikelihoods]
    best = loglikelihoods.index(top)
    return LETTERS[best], weights[best] / sum(weights)


def letter(index: int, n_options: int) -> str | None:
    return LETTERS[index] if 0 <= index < n_options <= len(LETTERS) else None


def metric_grades(values: Sequence[object] | np.ndarray) -> list[str | None]:
    """A harness's per-sample metric (accuracy, exact match) as grades: 1 correct, 0 incorrect,
    a share in between partial. A metric that is not a share of 0 to 1 on every sample (BLEU,
    perplexity) grades nothing: every grade is None."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "biuf":
        # A column of numbers (from parquet): the same rule over the whole column at once.
        numbers = values.astype(float)
        if np.isnan(numbers).any() or (numbers < 0).any() or (numbers > 1).any():
            return [None] * len(values)
        grades = np.where(numbers == 1, "correct", np.where(numbers == 0, "incorrect", "partial"))
        return grades.astype(object).tolist()
    numbers: list[float] = []
    for value in values:
        # bool is an int: True and False pass as 1 and 0.
        if isinstance(value, int | float) and not math.isnan(value) and 0 <= value <= 1:
            numbers.append(float(value))
        else:
            return [None] * len(values)
    return ["correct" if v == 1 else "incorrect" if v == 0 else "partial" for v in numbers]


def run_results(archive: Archive, date: str) -> tuple[str, object] | None:
    """The results file of the run dated `date` in a zip (else the zip's only results file),
    parsed: its name and JSON value; None when the zip holds none."""
    results = [name for name in archive.names if RESULTS_FILE.search(name)]
    same_run = [name for name in results if RESULTS_FILE.search(name)["date"] == date]  # type: ignore[index]
    results = same_run or (results if len(results) == 1 else [])
    if not results:
        return None
    name = results[0]
    try:
        return name, json.loads(archive.read(name))
    except (ValueError, UnicodeDecodeError) as error:
        raise FileRejected([f"{_quote(name)} is not valid JSON ({error})"]) from None
