"""Scoring prediction files under binary grading and under explicit confidence targets.

Plain Python over pandas and NumPy, with no Django: `files` reads and validates uploads, `grading`
turns answers into outcomes, `metrics` holds every formula, `runs` scores a submission's runs and
rubrics, `statistics` gives their bootstrap intervals, significance-aware ranks and calibration,
`leaderboard` ranks submissions, and `compare` sets two of them side by side item by item.
`python -m scoring` scores one file locally.
"""

from scoring.compare import AGREEMENT_OUTCOMES, agreement_disclosed, agreement_matrix
from scoring.files import (
    MAX_CATEGORY_CHARS,
    MAX_ID_CHARS,
    ColumnReport,
    FileRejected,
    Gold,
    Predictions,
    read_gold,
    read_predictions,
)
from scoring.grading import (
    DEFAULT_ABSTENTION_PHRASES,
    GRADERS,
    OUTCOME_ABSTAINED,
    OUTCOME_CORRECT,
    OUTCOME_INCORRECT,
    OUTCOME_MISSING,
    decode_outcomes,
    encode_outcomes,
    grade_outcomes,
)
from scoring.leaderboard import rank_table
from scoring.metrics import (
    SCORE_TIE_TOLERANCE,
    TARGET_EQUAL_TOLERANCE,
    kendall_tau_b,
    penalty,
    rank_with_ties,
    score_at_target,
    target_key,
    uniform_guessing_score,
)
from scoring.runs import (
    DEFAULT_TARGETS,
    BenchmarkConfig,
    RubricScore,
    RunScore,
    SubmissionScore,
    score_file,
    score_predictions,
)

__all__ = [
    "AGREEMENT_OUTCOMES",
    "agreement_disclosed",
    "agreement_matrix",
    "DEFAULT_ABSTENTION_PHRASES",
    "DEFAULT_TARGETS",
    "MAX_CATEGORY_CHARS",
    "MAX_ID_CHARS",
    "GRADERS",
    "OUTCOME_ABSTAINED",
    "OUTCOME_CORRECT",
    "OUTCOME_INCORRECT",
    "OUTCOME_MISSING",
    "SCORE_TIE_TOLERANCE",
    "TARGET_EQUAL_TOLERANCE",
    "BenchmarkConfig",
    "ColumnReport",
    "FileRejected",
    "Gold",
    "Predictions",
    "RubricScore",
    "RunScore",
    "SubmissionScore",
    "decode_outcomes",
    "encode_outcomes",
    "grade_outcomes",
    "kendall_tau_b",
    "penalty",
    "rank_table",
    "rank_with_ties",
    "read_gold",
    "read_predictions",
    "score_at_target",
    "score_file",
    "score_predictions",
    "target_key",
    "uniform_guessing_score",
]
