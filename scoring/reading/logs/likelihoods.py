"""What lm-evaluation-harness and lighteval share: a multiple-choice answer taken from the
log-likelihood of each option, and a harness's per-sample metric read as a grade."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

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
