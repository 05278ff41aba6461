"""Reading answers the way the graders compare them: normalised text, the letter a choice answer
picks, and numbers (with thousands separators and a relative tolerance).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

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
