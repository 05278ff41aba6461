"""The bytes the board's exports send: ``leaderboard.json``, ``leaderboard.csv`` and
``benchmark.json``; and a submission's JSON, ``/submissions/<id>.json``, and its outcome per
item, ``/submissions/<id>/outcomes.csv``."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import math
from collections.abc import Iterable, Iterator

import numpy as np
import pandas as pd
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Max

import scoring
from leaderboard.boards import INTERVAL_METRICS, Board, Row
from leaderboard.models import METRICS, Benchmark, Run, Submission
from leaderboard.results_cache import cached_results

# Rows formatted per piece of a streamed export: a piece of about a megabyte at most.
ROWS_PER_PIECE = 500


def board_json_bytes(board: Board, waiting: list[dict]) -> bytes:
    """The board as ``leaderboard.json`` sends it, with the submissions being rescored."""
    return b"".join(board_json_pieces(board, waiting))


def board_json_pieces(board: Board, waiting: list[dict]) -> Iterator[bytes]:
    """``leaderboard.json`` in pieces of ``ROWS_PER_PIECE`` rows, each formatted as it is sent:
    the same bytes as the document dumped whole, never all of them in memory at once."""
    encoder = DjangoJSONEncoder()
    data = board.to_json(rows=False)
    # Listed apart from the rows: their results are under earlier settings.
    data["being_rescored"] = [{"id": each["id"], "model": each["model"]} for each in waiting]
    # The document around the rows, cut where they go.
    data["rows"] = ROWS_GO_HERE
    head, tail = encoder.encode(data).split(encoder.encode(ROWS_GO_HERE))
    yield f"{head}[".encode()
    for at, rows in enumerate(_pieces(board.rows)):
        text = ", ".join(encoder.encode(row.to_dict()) for row in rows)
        yield f"{', ' if at else ''}{text}".encode()
    yield f"]{tail}".encode()


# Marks where the rows go in the document around them: no text stored in PostgreSQL holds a NUL.
ROWS_GO_HERE = "\x00rows\x00"


def board_csv(board: Board) -> str:
    """The board as ``leaderboard.csv`` sends it."""
    return "".join(board_csv_pieces(board))


def board_csv_pieces(board: Board) -> Iterator[str]:
    """``leaderboard.csv`` in pieces: the header, then ``ROWS_PER_PIECE`` rows at a time."""
    yield _csv_lines([csv_header(board)])
    for rows in _pieces(board.rows):
        yield _csv_lines(csv_record(board, row) for row in rows)


def csv_header(board: Board) -> list[str]:
    header = ["id", "model", "organisation", "self_graded", *METRICS, "omitted_rate"]
    header += ["correct", "incorrect", "abstained", "omitted"]
    for name in INTERVAL_METRICS:
        header += [f"{name}_low", f"{name}_high"]
    for rubric in board.rubrics:
        header += [f"score_{rubric.key}", f"rank_{rubric.key}"]
        if not rubric.is_binary:
            header += [f"rank_shift_{rubric.key}", f"prompted_{rubric.key}"]
        header += [
            f"score_low_{rubric.key}",
            f"score_high_{rubric.key}",
            f"rank_significant_{rubric.key}",
            f"rank_low_{rubric.key}",
        ]
    return header


def csv_record(board: Board, row: Row) -> list:
    """One row of ``leaderboard.csv``, in the order of ``csv_header``."""
    line = [
        row.id,
        _csv_text(row.model),
        _csv_text(row.organisation),
        row.self_graded,
    ]
    line += [row.metrics.get(name) for name in METRICS]
    line += [row.omitted_rate, *row.to_dict()["counts"].values()]
    for name in INTERVAL_METRICS:
        line += row.intervals.get(name) or [None, None]
    for rubric in board.rubrics:
        cell = row.cells[rubric.key]
        line += [cell.score, cell.rank]
        if not rubric.is_binary:
            line += [cell.rank_shift, cell.prompted]
        line += [*(cell.interval or [None, None]), cell.significant_rank, cell.rank_low]
    return ["" if value is None else value for value in line]


def _csv_lines(records: Iterable[list]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(records)
    return out.getvalue()


def _pieces(rows: list[Row]) -> Iterator[list[Row]]:
    for start in range(0, len(rows), ROWS_PER_PIECE):
        yield rows[start : start + ROWS_PER_PIECE]


# What the sample prediction file answers, by grader: a made-up answer of the right form.
SAMPLE_ANSWERS = {
    Benchmark.Grader.CHOICE: "A",
    Benchmark.Grader.NUMERIC: "0",
}
SAMPLE_ANSWER = "the model's answer"
# Per row of the sample, in turn: answered with some confidence, abstained, answered.
SAMPLE_PATTERN = (("false", "0.9"), ("true", "0.2"), ("false", "0.6"))
SAMPLE_GRADES = ("correct", "not_attempted", "incorrect")


def sample_predictions_csv(benchmark: Benchmark, *, rows: int) -> str:
    """A prediction file of the benchmark's first `rows` items, by their position in the gold
    file: real ids, made-up answers (never the gold), one abstention, in the columns the upload
    form reads."""
    ids = list(benchmark.items.order_by("position").values_list("item_id", flat=True)[:rows])
    answer = SAMPLE_ANSWERS.get(benchmark.grader, SAMPLE_ANSWER)
    if benchmark.self_graded:
        header = ["id", "grade", "answer", "abstain", "confidence"]
    else:
        header = ["id", "answer", "abstain", "confidence"]
    records = [header]
    for at, item_id in enumerate(ids):
        abstain, confidence = SAMPLE_PATTERN[at % len(SAMPLE_PATTERN)]
        said = "I don't know" if abstain == "true" else answer
        if benchmark.self_graded:
            grade = SAMPLE_GRADES[at % len(SAMPLE_GRADES)]
            records.append([item_id, grade, said, abstain, confidence])
        else:
            records.append([item_id, "" if abstain == "true" else said, abstain, confidence])
    return _csv_lines(records)


# A cell starting with one of these is run as a formula by spreadsheets.
FORMULA_STARTS = "=+-@\t\r"


def _csv_text(value: str) -> str:
    if value and value[0] in FORMULA_STARTS:
        return "'" + value
    return value


# The words outcomes.csv writes, indexed by outcome code (scoring.outcomes).
OUTCOME_WORDS = np.empty(4, dtype=object)
OUTCOME_WORDS[
    [
        scoring.OUTCOME_MISSING,
        scoring.OUTCOME_CORRECT,
        scoring.OUTCOME_INCORRECT,
        scoring.OUTCOME_ABSTAINED,
    ]
] = ["missing", "correct", "incorrect", "abstained"]
# Items formatted per piece of outcomes.csv.
ITEMS_PER_PIECE = 10_000


def outcomes_csv_pieces(submission: Submission) -> Iterator[str] | None:
    """``/submissions/<id>/outcomes.csv`` in pieces: ``id,run,outcome``, a row per item (in the
    benchmark's order) and run (in scoring's order), the item's outcome in words. None when the
    stored outcomes are not those of the benchmark's items (a benchmark whose gold is being
    replaced)."""
    runs = sorted(
        Run.objects.filter(submission=submission).values_list("key", "target", "outcomes"),
        key=lambda run: scoring.scores.run_order(run[1]),
    )
    n_items = submission.benchmark.items.count()
    if not runs or any(len(outcomes) != n_items for _, _, outcomes in runs):
        return None
    keys = np.array([key for key, _, _ in runs], dtype=object)
    codes = np.stack([scoring.decode_outcomes(outcomes) for _, _, outcomes in runs], axis=1)
    return _outcomes_csv_pieces(submission.benchmark, keys, codes)


def _outcomes_csv_pieces(
    benchmark: Benchmark, keys: np.ndarray, codes: np.ndarray
) -> Iterator[str]:
    # codes: one row per item, one column per run.
    yield "id,run,outcome\n"
    items = benchmark.items.order_by("position")
    done = 0
    last = -1
    while done < len(codes):
        # A query per piece, from where the last one ended: never all the ids in memory.
        rows = list(
            items.filter(position__gt=last).values_list("position", "item_id")[:ITEMS_PER_PIECE]
        )
        if not rows:
            return
        last = rows[-1][0]
        ids = pd.Series([item_id for _, item_id in rows], dtype=object)
        ids = ids.where(~ids.str[:1].isin(list(FORMULA_STARTS)), "'" + ids)
        piece = codes[done : done + len(ids)]
        frame = pd.DataFrame(
            {
                "id": np.repeat(ids.to_numpy(), len(keys)),
                "run": np.tile(keys, len(ids)),
                "outcome": OUTCOME_WORDS[piece.ravel()],
            }
        )
        yield frame.to_csv(index=False, header=False, lineterminator="\n")
        done += len(ids)


def benchmark_json_gzip(benchmark: Benchmark) -> bytes:
    """``benchmark.json``, gzip-compressed: what ``python -m scoring --benchmark`` needs to give
    the board's numbers (SPEC §6). Cached until the benchmark's settings, results or items change.
    """
    # Keyed by what it holds, however that was changed (a save, or an update that leaves
    # `updated_at` alone): the settings, whether the gold is public, and the items, which are
    # replaced as a whole with new keys, so that the newest key marks the current gold.
    newest_item = benchmark.items.aggregate(newest=Max("pk"))["newest"]
    contents = json.dumps([benchmark.config().to_dict(), benchmark.gold_public, newest_item])
    kind = f"benchmark-json-{hashlib.sha256(contents.encode()).hexdigest()[:24]}"
    return cached_results(benchmark, kind, lambda: _benchmark_json_gzip(benchmark))


def _benchmark_json_gzip(benchmark: Benchmark) -> bytes:
    items = benchmark.items.order_by("position")
    if benchmark.gold_public:
        records = [
            {
                "id": item_id,
                "answer": answer,
                "aliases": aliases,
                "question": question or None,
                "category": category or None,
            }
            for item_id, answer, aliases, question, category in items.values_list(
                "item_id", "answer", "aliases", "question", "category"
            )
        ]
    else:
        # Ids only: an answer, a question or even a category would give the gold away.
        records = [{"id": item_id} for item_id in items.values_list("item_id", flat=True)]
    document = {
        "benchmark": benchmark.slug,
        **benchmark.config().to_dict(),
        "gold_public": benchmark.gold_public,
        "n_items": len(records),
        "items": records,
    }
    return gzip.compress(
        json.dumps(document, ensure_ascii=False).encode(), compresslevel=6, mtime=0
    )


def submission_json_data(submission: Submission, result: scoring.SubmissionScore | None) -> dict:
    """``/submissions/<id>.json``: the submission's status and, once scored, its result under
    ``metrics``, as the README documents it ("A submission as JSON"). Field names are those of
    ``leaderboard.json`` where they mean the same."""
    data = {
        "id": submission.pk,
        "benchmark": submission.benchmark.slug,
        "model": submission.model_name,
        "organisation": submission.organisation,
        "visibility": submission.visibility,
        "status": submission.status,
        "progress": submission.progress,
        "errors": submission.errors,
        "n_errors": submission.n_errors,
        "created_at": submission.created_at.isoformat(),
        "finished_at": submission.finished_at.isoformat() if submission.finished_at else None,
        # How a harness log was read (README, "A submission as JSON"); None for a file of ours.
        "source": submission.source,
    }
    if submission.status == Submission.Status.SCORED and result is not None:
        data["metrics"] = _result_data(result)
    return data


def _result_data(result: scoring.SubmissionScore) -> dict:
    primary = result.primary
    return {
        "n_items": result.n_items,
        "self_graded": result.self_graded,
        "primary_run": primary.key,
        **_rates_data(primary),
        "scores": {
            key: {
                "score": _finite(rubric.score),
                "prompted": rubric.prompted,
                "run": rubric.run_key,
                "interval": rubric.interval,
            }
            for key, rubric in result.rubrics.items()
        },
        "runs": [_run_data(run) for run in result.runs],
        "columns": result.columns.to_dict(),
    }


def _rates_data(run: scoring.RunScore) -> dict:
    """A run's rates, counts and their intervals, named as on a row of ``leaderboard.json``."""
    return {
        **{name: getattr(run, name) for name in METRICS},
        "counts": {"correct": run.correct, "incorrect": run.incorrect, "abstained": run.abstained},
        "intervals": {name: (run.intervals or {}).get(name) for name in INTERVAL_METRICS},
    }


def _run_data(run: scoring.RunScore) -> dict:
    return {
        "key": run.key,
        "target": run.target,
        "n_items": run.n_items,
        "present": run.present,
        **_rates_data(run),
        "behaviourally_calibrated": run.behaviourally_calibrated,
        "has_confidence": run.has_confidence,
        "scores_abstaining_below": {
            key: _finite(score) for key, score in run.scores_abstaining_below.items()
        },
        "confidence_calibration": run.confidence_calibration,
        "categories": run.categories,
        "categories_not_shown": run.categories_not_shown,
    }


def _finite(value: float | None) -> float | None:
    """A number JSON can carry: None for none, and for NaN or an infinity."""
    return None if value is None or not math.isfinite(value) else float(value)
