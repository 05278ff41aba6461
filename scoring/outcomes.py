"""What grading makes of each item (correct, incorrect, abstained or missing) as small
integer codes, and their compact one-character-per-item form for storing a run's outcomes.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np

OUTCOME_MISSING = 0
OUTCOME_CORRECT = 1
OUTCOME_INCORRECT = 2
OUTCOME_ABSTAINED = 3

# Counts, or arrays of counts.
T = TypeVar("T", int, np.ndarray)

# One character per outcome code, for storing a run's outcomes compactly.
_OUTCOME_CHARS = b"-CWA"
_CHAR_OUTCOMES = np.full(256, -1, dtype=np.int8)
_CHAR_OUTCOMES[np.frombuffer(_OUTCOME_CHARS, dtype=np.uint8)] = np.arange(4, dtype=np.int8)


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


def counted_abstained(abstained: T, missing: T) -> T:
    """The policy "missing items count as abstained": the A of every formula (SPEC §5).

    An item the file has no row for is neither right nor wrong, so it scores as an abstention
    (it lowers coverage besides). Takes counts, or arrays of counts, of abstained and of missing
    items. The bootstrap follows the same rule without counting either: it takes A as N − C − W
    (`statistics.rate_samples`).
    """
    return abstained + missing


def counted_outcome(outcome: int) -> int:
    """The outcome an item counts as under `counted_abstained`: missing counts as abstained."""
    return OUTCOME_ABSTAINED if outcome == OUTCOME_MISSING else outcome
