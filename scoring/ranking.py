"""Ranking submissions against each other under every rubric (SPEC §5, ranks and tau).

The input is one row per submission and one score column per rubric key ("0" is binary); the
output adds each rubric's rank and the rank shift against binary, and Kendall's tau-b says how
much each target reorders the binary board.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from scoring.benchmark import BINARY_KEY
from scoring.metrics import kendall_tau_b, rank_with_ties


def rank_table(
    scores: pd.DataFrame, rubric_keys: Sequence[str]
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Rank submissions under each rubric.

    `scores` is indexed by submission id with one float column per rubric key (NaN: no score).
    Returns the table with `rank_<k>` for every key and `rank_shift_<k>` (binary rank − rank at
    k, so positive means the submission moved up) for every target, ordered by binary rank with
    rows lacking a binary score last (by their best rank); and Kendall's tau-b between the binary
    ranking and each target's, over rows having both (NaN with fewer than two).
    """
    keys = list(rubric_keys)
    if BINARY_KEY not in keys:
        raise ValueError(f'the rubric keys must include binary, "{BINARY_KEY}"')
    missing = [key for key in keys if key not in scores.columns]
    if missing:
        raise ValueError(f"no score column for rubric keys {missing}")

    ranks = {key: rank_with_ties(scores[key].to_numpy(dtype=float)) for key in keys}
    binary = ranks[BINARY_KEY]
    others = [column for column in scores.columns if column not in keys]
    columns: dict[str, object] = {column: scores[column] for column in others}
    for key in keys:
        columns[key] = scores[key].astype(float)
        columns[f"rank_{key}"] = ranks[key]
        if key != BINARY_KEY:
            columns[f"rank_shift_{key}"] = rank_shift(binary, ranks[key])
    table = pd.DataFrame(columns, index=scores.index)

    stacked = np.column_stack([ranks[key] for key in keys])
    best = np.nan_to_num(np.fmin.reduce(stacked, axis=1), nan=np.inf)
    has_binary = ~np.isnan(binary)
    order = np.lexsort((np.arange(len(table)), np.where(has_binary, binary, best), ~has_binary))
    taus = {key: kendall_tau_b(binary, ranks[key]) for key in keys if key != BINARY_KEY}
    return table.iloc[order], taus


def rank_shift(binary_rank: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """The policy "rank shift": binary rank − rank at the target, so a positive shift means the
    submission moved up when wrong answers cost points (NaN where either rank is missing)."""
    return binary_rank - rank
