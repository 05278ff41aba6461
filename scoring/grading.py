"""Grading: turning one run's answers into an outcome per benchmark item (SPEC §4).

Four graders: `exact` (normalised text equal to the gold answer or an alias), `choice` (a letter),
`numeric` (a number within a relative tolerance) and `pregraded` (the submitter's own grade). For
every grader an abstention (the abstain flag, a not_attempted grade, an empty answer or an
abstention phrase) is never correct or incorrect. The work is done once per distinct answer, so a
million rows of letters cost little more than ten.
"""

from __future__ import annotations

import functools
import re
import weakref
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from scoring.files import Gold
    from scoring.runs import BenchmarkConfig

GRADERS = ("exact", "choice", "numeric", "pregraded")

DEFAULT_ABSTENTION_PHRASES = (
    "i don't know",
    "i do not know",
    "idk",
    "not sure",
    "i'm not sure",
    "unknown",
    "cannot answer",
    "no answer",
    "n/a",
)

OUTCOME_MISSING = 0
OUTCOME_CORRECT = 1
OUTCOME_INCORRECT = 2
OUTCOME_ABSTAINED = 3

# One character per outcome code, for storing a run's outcomes compactly.
_OUTCOME_CHARS = b"-CWA"
_CHAR_OUTCOMES = np.full(256, -1, dtype=np.int8)
_CHAR_OUTCOMES[np.frombuffer(_OUTCOME_CHARS, dtype=np.uint8)] = np.arange(4, dtype=np.int8)

_PUNCTUATION = re.compile(r"[^\w\s]|_")
# Articles and whitespace in one pass: each run of them becomes one space.
_ARTICLES_AND_SPACES = re.compile(r"(?:\s|\b(?:a|an|the)\b)+")

# Forms a letter is taken from, tried in this order at the start of the answer: the answer alone
# ("B", "(b)", "B."); "answer is B" / "Answer: (B)" anywhere; a leading "(B)" or "B)"; an uppercase
# "(B)" anywhere. A bare word never yields a letter ("I think so" is not "I"), and after "answer
# is" a lowercase letter counts only in parentheses, since "a" is also a word.
_LETTER_FORMS = re.compile(
    r"(?s)^(?:"
    r"\(?([A-Za-z])\)?[.:]?$"
    r"|.*?(?i:\banswer\s*(?:is|:))\s*:?\s*(?:\(([A-Za-z])\)|([A-Z])(?![\w'’]))"
    r"|\(?([A-Za-z])\)"
    r"|.*?\(([A-Z])\)"
    r")"
)
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?(?:[eE][+-]?\d+)?$")

# What a grader derives from a gold (normalised answers, numbers, letters) is kept while the gold
# lives, so scoring many files against one benchmark does it once.
_derived: weakref.WeakKeyDictionary[Gold, dict[str, object]] = weakref.WeakKeyDictionary()


def _as_text(texts: pd.Series) -> pd.Series:
    """Text with NaN as the empty string, so str methods never meet a missing value."""
    return texts.fillna("") if texts.hasnans else texts


def normalise_text(texts: pd.Series) -> pd.Series:
    """NFKC, casefold, drop punctuation and the articles a/an/the, collapse whitespace."""
    return _normalise(_as_text(texts))


def _normalise(texts: pd.Series) -> pd.Series:
    return (
        texts.str.normalize("NFKC")
        .str.casefold()
        .str.replace(_PUNCTUATION, "", regex=True)
        .str.replace(_ARTICLES_AND_SPACES, " ", regex=True)
        .str.strip()
    )


def choice_letters(texts: pd.Series) -> pd.Series:
    """The uppercase letter each answer picks (`B`, `(b)`, `B)`, `answer is B`), NaN if none."""
    codes = _choice_codes(texts)
    letters = np.array(list(_ALPHABET) + [np.nan], dtype=object)[codes]
    return pd.Series(letters, index=texts.index, dtype=object)


def _choice_codes(texts: pd.Series, *, stripped: bool = False) -> np.ndarray:
    """The letter each answer picks as 0 (A) to 25 (Z), −1 if none."""
    if not stripped:
        texts = _as_text(texts).str.strip()
    found = texts.str.extract(_LETTER_FORMS).to_numpy(dtype=object)
    missing = pd.isna(found)
    # The regex's groups are its forms in order of preference: take the first that matched.
    first = np.argmin(missing, axis=1)
    letters = found[np.arange(len(found)), first]
    letters[missing.all(axis=1)] = ""
    return _letter_codes(letters)


def _letter_codes(letters: np.ndarray) -> np.ndarray:
    """A=0 … Z=25 for single letters of either case, −1 for anything else."""
    letters = np.asarray(letters, dtype=object)
    letters = np.where(pd.isna(letters), "", letters)
    single = np.char.str_len(letters.astype(str)) == 1
    points = np.char.upper(letters.astype("U1")).view(np.uint32).astype(np.int64) - ord("A")
    points[~single | (points < 0) | (points > 25)] = -1
    return points.astype(np.int16)


def parse_numbers(texts: pd.Series) -> np.ndarray:
    """Each text as a float (NaN when it is not a number).

    Accepted: thousands separators ("1,234"), scientific notation ("1.2e3"), a Unicode minus, and
    a trailing % read as a unit ("50%" is 50, like "50"). Anything else around the number ("$5",
    "5 apples") makes it unparseable.
    """
    texts = _as_text(texts).str.strip().str.replace("\u2212", "-", regex=False)
    texts = texts.str.replace(r"\s*%$", "", regex=True)
    grouped = texts.str.match(_THOUSANDS).to_numpy(dtype=bool)
    if grouped.any():
        texts = texts.copy()
        texts[grouped] = texts[grouped].str.replace(",", "", regex=False)
    numbers = pd.to_numeric(texts, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return np.where(np.isfinite(numbers), numbers, np.nan)


def numbers_match(predicted: np.ndarray, gold: np.ndarray, tolerance: float) -> np.ndarray:
    """|p − g| ≤ tolerance · max(|p|, |g|): relative, so 0 matches only 0 exactly."""
    with np.errstate(invalid="ignore"):
        return np.abs(predicted - gold) <= tolerance * np.maximum(np.abs(predicted), np.abs(gold))


def encode_outcomes(outcomes: np.ndarray) -> str:
    """One character per item: C correct, W wrong, A abstained, - missing."""
    table = np.frombuffer(_OUTCOME_CHARS, dtype=np.uint8)
    return table[np.asarray(outcomes, dtype=np.intp)].tobytes().decode("ascii")


def decode_outcomes(encoded: str) -> np.ndarray:
    """The outcome codes of a string written by encode_outcomes."""
    try:
        raw = np.frombuffer(encoded.encode("ascii"), dtype=np.uint8)
    except UnicodeEncodeError:
        raise ValueError("outcomes hold characters other than C, W, A and -") from None
    outcomes = _CHAR_OUTCOMES[raw]
    if (outcomes < 0).any():
        raise ValueError("outcomes hold characters other than C, W, A and -")
    return outcomes


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
