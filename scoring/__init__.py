"""Scoring prediction files under binary grading and under explicit confidence targets.

Plain Python over pandas and NumPy, with no Django. Its rooms, each importing only rooms listed
before it:

- `outcomes`: the outcome codes (correct, incorrect, abstained, missing) and their stored form;
- `benchmark`: a benchmark's vocabulary: BenchmarkConfig, Gold, ColumnReport, the graders,
  default targets and abstention phrases, and rubric keys (`target_key`, BINARY_KEY);
- `answers`: normalising answer text, choice letters and numbers;
- `metrics`: every formula of SPEC §5;
- `grading`: answers into an outcome per item;
- `reading/`: reading and validating uploaded files (`errors`, `raw`, `tables`, `cells`,
  `logs/` for harness logs (the shared code, `archives`, and a module per format: Inspect AI,
  Every Eval Ever, lm-evaluation-harness, lighteval, HELM), `gold`, `predictions`);
- `statistics`: bootstrap intervals, significance-aware ranks and calibration;
- `scores`: scoring a submission's runs and rubrics;
- `ranking`: ranking submissions under every rubric;
- `compare`: two submissions side by side, item by item.

Policies each live in one function: missing items count as abstained
(`outcomes.counted_abstained`), which run scores a rubric (`scores.rubric_run`), which run's
metrics are the headline ones (`scores.primary_run`) and the rank shift (`ranking.rank_shift`).

`python -m scoring` scores one file locally; `python -m scoring submit` uploads one to a
leaderboard's API and waits for its scores (`submit`, which needs the standard library only).
"""

# First: how pandas stores text, before any frame is made.
import scoring.text_storage  # noqa: F401
from scoring.benchmark import (
    BINARY_KEY,
    DEFAULT_ABSTENTION_PHRASES,
    DEFAULT_TARGETS,
    GRADERS,
    PARTIAL_CREDIT,
    TARGET_EQUAL_TOLERANCE,
    BenchmarkConfig,
    ColumnReport,
    Gold,
    target_key,
)
from scoring.compare import AGREEMENT_OUTCOMES, agreement_disclosed, agreement_matrix
from scoring.grading import grade_outcomes
from scoring.metrics import (
    SCORE_TIE_TOLERANCE,
    kendall_tau_b,
    penalty,
    rank_with_ties,
    score_at_target,
    uniform_guessing_score,
)
from scoring.outcomes import (
    OUTCOME_ABSTAINED,
    OUTCOME_CORRECT,
    OUTCOME_INCORRECT,
    OUTCOME_MISSING,
    decode_outcomes,
    encode_outcomes,
)
from scoring.ranking import rank_table
from scoring.reading.errors import FileRejected
from scoring.reading.gold import (
    MAX_CATEGORY_CHARS,
    MAX_ID_CHARS,
    gold_from_frame,
    gold_from_records,
    read_gold,
)
from scoring.reading.logs import (
    LOG_FORMATS,
    LOG_SUFFIXES,
    TABLE_FORMAT,
    LogOptions,
    LogReport,
    LogSamples,
    detect_format,
    read_log,
)
from scoring.reading.predictions import Predictions, read_predictions
from scoring.scores import RubricScore, RunScore, SubmissionScore, score_file, score_predictions

__all__ = [
    "AGREEMENT_OUTCOMES",
    "BINARY_KEY",
    "agreement_disclosed",
    "agreement_matrix",
    "DEFAULT_ABSTENTION_PHRASES",
    "DEFAULT_TARGETS",
    "MAX_CATEGORY_CHARS",
    "MAX_ID_CHARS",
    "GRADERS",
    "LOG_FORMATS",
    "LOG_SUFFIXES",
    "PARTIAL_CREDIT",
    "OUTCOME_ABSTAINED",
    "OUTCOME_CORRECT",
    "OUTCOME_INCORRECT",
    "OUTCOME_MISSING",
    "SCORE_TIE_TOLERANCE",
    "TABLE_FORMAT",
    "TARGET_EQUAL_TOLERANCE",
    "BenchmarkConfig",
    "ColumnReport",
    "FileRejected",
    "Gold",
    "LogOptions",
    "LogReport",
    "LogSamples",
    "Predictions",
    "RubricScore",
    "RunScore",
    "SubmissionScore",
    "decode_outcomes",
    "detect_format",
    "encode_outcomes",
    "gold_from_frame",
    "gold_from_records",
    "grade_outcomes",
    "kendall_tau_b",
    "penalty",
    "rank_table",
    "rank_with_ties",
    "read_gold",
    "read_log",
    "read_predictions",
    "score_at_target",
    "score_file",
    "score_predictions",
    "target_key",
    "uniform_guessing_score",
]
