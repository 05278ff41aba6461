"""Grading: turning one run's answers into an outcome per benchmark item (SPEC §4).

Four graders: `exact` (normalised text equal to the gold answer or an alias), `choice` (a letter),
`numeric` (a number within a relative tolerance) and `pregraded` (the submitter's own grade). For
every grader an abstention (the abstain flag, a not_attempted grade, an empty answer or an
abstention phrase) is never correct or incorrect. The work is done once per distinct answer, so a
million rows of letters cost little more than ten.
"""

from __future__ import annotations

import functools
import weakref

import numpy as np
import pandas as pd

from scoring.answers import (
    _choice_codes,
    _letter_codes,
    _normalise,
    normalise_text,
    numbers_match,
    parse_numbers,
)
from scoring.benchmark import BenchmarkConfig, Gold
from scoring.outcomes import OUTCOME_ABSTAINED, OUTCOME_CORRECT, OUTCOME_INCORRECT, OUTCOME_MISSING

# What a grader derives from a gold (normalised answers, numbers, letters) is kept while the gold
# lives, so scoring many files against one benchmark does it once.
_derived: weakref.WeakKeyDictionary[Gold, dict[str, object]] = weakref.WeakKeyDictionary()


def grade_outcomes(
    gold: Gold, predictions_of_one_run: pd.DataFrame, config: BenchmarkConfig
) -> np.ndarray:
    """The outcome code of every gold item, in gold order, for the rows of one run.

    Items without a row are OUTCOME_MISSING (counted as abstained, and lowering coverage).
    """
    rows = predictions_of_one_run
    positions = item_positions(gold, rows)
    codes, uniques, normalised, abstained = _answers(rows, config)
    correct = _correct(gold, rows, positions, codes, uniques, normalised, config)
    outcomes = np.full(gold.n_items, OUTCOME_MISSING, dtype=np.int8)
    outcomes[positions] = np.where(
        abstained, OUTCOME_ABSTAINED, np.where(correct, OUTCOME_CORRECT, OUTCOME_INCORRECT)
    )
    return outcomes


def abstentions(rows: pd.DataFrame, config: BenchmarkConfig) -> np.ndarray:
    """Per row of a prediction file, whether it abstains; this needs no gold."""
    return _answers(rows, config)[3]


def _answers(
    rows: pd.DataFrame, config: BenchmarkConfig
) -> tuple[np.ndarray, pd.Series, pd.Series, np.ndarray]:
    """The rows' distinct answers (`codes` maps rows to them, −1: no answer), stripped and
    normalised, and whether each row abstains."""
    # Each distinct answer is graded once.
    codes, uniques = pd.factorize(rows["answer"].to_numpy(dtype=object), use_na_sentinel=True)
    uniques = pd.Series(uniques, dtype=object).str.strip()
    # A pregraded file may leave out the answer column; the grade then decides alone.
    answered_by_grade = config.grader == "pregraded" and (codes < 0).all()

    normalised = _normalise(uniques)
    # Blank is judged before normalising, which turns an answer such as "a" into "".
    blank = uniques.to_numpy(dtype=object) == ""
    phrase = normalised.isin(_normalised_phrases(config.abstention_phrases)).to_numpy(dtype=bool)
    abstained = rows["abstain"].to_numpy(dtype=bool) | (rows["grade"] == "not_attempted").to_numpy(
        dtype=bool
    )
    if not answered_by_grade:
        abstained |= np.append(blank | phrase, True)[codes]
    return codes, uniques, normalised, abstained


@functools.lru_cache(maxsize=64)
def _normalised_phrases(phrases: tuple[str, ...]) -> list[str]:
    normalised = normalise_text(pd.Series(list(phrases), dtype=object))
    return sorted(set(normalised) - {""})


def item_positions(gold: Gold, rows: pd.DataFrame) -> np.ndarray:
    """Each row's item, as its place in gold order."""
    if "position" in rows:
        return rows["position"].to_numpy(dtype=np.intp)
    positions = gold.positions_of(rows["id"])
    if (positions < 0).any():
        raise ValueError("the rows hold ids that are not items of this gold")
    return positions


def _correct(
    gold: Gold,
    rows: pd.DataFrame,
    positions: np.ndarray,
    codes: np.ndarray,
    uniques: pd.Series,
    normalised: pd.Series,
    config: BenchmarkConfig,
) -> np.ndarray:
    if config.grader == "pregraded":
        return (rows["grade"] == "correct").to_numpy(dtype=bool)
    if config.grader == "choice":
        predicted = np.append(_choice_codes(uniques, stripped=True), -1)[codes]
        expected = _gold_letters(gold)[positions]
        return (predicted >= 0) & (predicted == expected)
    if config.grader == "numeric":
        predicted = np.append(parse_numbers(uniques), np.nan)[codes]
        answers, aliases = _gold_numbers(gold)
        correct = numbers_match(predicted, answers[positions], config.numeric_tolerance)
        return _or_alias(correct, positions, predicted, aliases, config.numeric_tolerance)
    predicted = np.append(normalised.to_numpy(dtype=object), None)[codes]
    answers, aliases = _gold_normalised(gold)
    correct = predicted == answers[positions]
    return _or_alias(correct, positions, predicted, aliases, None)


def _or_alias(
    correct: np.ndarray,
    positions: np.ndarray,
    predicted: np.ndarray,
    aliases: pd.DataFrame,
    tolerance: float | None,
) -> np.ndarray:
    """Also correct: rows whose answer matches one of their item's aliases."""
    if aliases.empty:
        return correct
    rows = np.flatnonzero(~correct & np.isin(positions, aliases["position"].to_numpy()))
    if not len(rows):
        return correct
    pairs = pd.DataFrame(
        {"row": rows, "position": positions[rows], "answer": predicted[rows]}
    ).merge(aliases, on="position")
    if tolerance is None:
        hits = pairs["answer"].to_numpy() == pairs["alias"].to_numpy()
    else:
        hits = numbers_match(
            pairs["answer"].to_numpy(dtype=float), pairs["alias"].to_numpy(dtype=float), tolerance
        )
    correct = correct.copy()
    correct[pairs["row"].to_numpy()[hits]] = True
    return correct


def _derived_from(gold: Gold) -> dict[str, object]:
    return _derived.setdefault(gold, {})


def _alias_table(gold: Gold) -> pd.Series:
    exploded = gold.items["aliases"].explode().dropna()
    return exploded.astype(str)


def _gold_normalised(gold: Gold) -> tuple[np.ndarray, pd.DataFrame]:
    derived = _derived_from(gold)
    if "normalised" not in derived:
        answers = normalise_text(gold.items["answer"]).to_numpy(dtype=object)
        exploded = _alias_table(gold)
        aliases = pd.DataFrame(
            {"position": exploded.index.to_numpy(), "alias": normalise_text(exploded).to_numpy()}
        )
        derived["normalised"] = (answers, aliases[aliases["alias"] != ""])
    return derived["normalised"]


def _gold_numbers(gold: Gold) -> tuple[np.ndarray, pd.DataFrame]:
    derived = _derived_from(gold)
    if "numbers" not in derived:
        answers = parse_numbers(gold.items["answer"])
        exploded = _alias_table(gold)
        aliases = pd.DataFrame(
            {"position": exploded.index.to_numpy(), "alias": parse_numbers(exploded)}
        )
        derived["numbers"] = (answers, aliases.dropna())
    return derived["numbers"]


def _gold_letters(gold: Gold) -> np.ndarray:
    derived = _derived_from(gold)
    if "letters" not in derived:
        codes, uniques = gold.answer_codes
        derived["letters"] = _letter_codes(uniques)[codes]
    return derived["letters"]
