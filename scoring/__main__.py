"""`python -m scoring GOLD PREDICTIONS`: score one prediction file locally (SPEC §6).

No database or server: reads both files, prints a readable summary, or with --json the one object
that tools rely on. A rejected file exits 1 with its errors (as {"errors": [...]} with --json).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from scoring.files import FileRejected, read_gold, read_predictions
from scoring.grading import GRADERS
from scoring.runs import DEFAULT_TARGETS, BenchmarkConfig, SubmissionScore, score_predictions
from scoring.statistics import N_RESAMPLES


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scoring",
        description="Score a prediction file under binary grading and confidence targets.",
    )
    parser.add_argument("gold", metavar="GOLD", type=Path, help="the benchmark's gold file")
    parser.add_argument("predictions", metavar="PREDICTIONS", type=Path, help="the predictions")
    parser.add_argument("--grader", choices=GRADERS, default="exact")
    parser.add_argument(
        "--targets",
        type=_targets,
        default=DEFAULT_TARGETS,
        help="comma-separated confidence targets in (0, 1) (default: 0.5,0.75,0.9)",
    )
    parser.add_argument(
        "--min-coverage",
        type=float,
        default=0.0,
        help="reject runs covering less than this share of the items (default: 0)",
    )
    parser.add_argument(
        "--resamples",
        type=int,
        default=N_RESAMPLES,
        help="bootstrap resamples of the items for the 95%% intervals; 0 skips them "
        "(default: 1000)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the resamples; the site uses one per benchmark (default: 0)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    for path in (args.gold, args.predictions):
        if not path.is_file():
            parser.error(f"{path}: no such file")
    try:
        config = BenchmarkConfig(
            grader=args.grader,
            targets=args.targets,
            min_coverage=args.min_coverage,
            seed=args.seed,
            n_resamples=args.resamples,
        )
    except ValueError as error:
        parser.error(str(error))

    path = args.gold
    try:
        gold = read_gold(
            args.gold, filename=args.gold.name, grader=config.grader, max_bytes=config.max_bytes
        )
        path = args.predictions
        predictions = read_predictions(
            args.predictions, filename=args.predictions.name, gold=gold, config=config
        )
    except FileRejected as rejected:
        if args.json:
            print(json.dumps({"errors": rejected.errors, "file": str(path)}, ensure_ascii=False))
        else:
            print(f"{path}: rejected ({_count(rejected.n_errors, 'error')})", file=sys.stderr)
            for message in rejected.errors:
                print(f"  {message}", file=sys.stderr)
        return 1

    result = score_predictions(gold, predictions, config)
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        print(_summary(result, args.gold, args.predictions, config))
    return 0


def _targets(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a comma-separated list of numbers"
        ) from None


def _summary(
    result: SubmissionScore, gold_path: Path, predictions_path: Path, config: BenchmarkConfig
) -> str:
    primary = result.primary
    lines = [
        f"{predictions_path.name} against {gold_path.name}: "
        f"{result.n_items:,} items, grader {config.grader}"
        + (" (grades are the submitter's own: self-graded)" if result.self_graded else ""),
        "",
        f"  coverage                  {_percent(primary.coverage)}  "
        f"({primary.present:,} of {primary.n_items:,} items present)",
        f"  correct                   {primary.correct:>7,}",
        f"  incorrect                 {primary.incorrect:>7,}",
        f"  abstained                 {primary.abstained:>7,}  (missing items included)",
        f"  accuracy                  {_percent(primary.accuracy)}",
        f"  error rate                {_percent(primary.error_rate)}",
        f"  abstention rate           {_percent(primary.abstention_rate)}",
        f"  accuracy given attempted  {_percent(primary.accuracy_given_attempted)}",
        f"  F1                        {_percent(primary.f1)}",
        "",
        "Scores (correct +1, wrong −t/(1−t), abstained 0; per item), with 95% bootstrap intervals:",
    ]
    for rubric in result.rubrics.values():
        name = "binary (t = 0)" if rubric.target == 0 else f"t = {rubric.key}"
        if rubric.score is None:
            lines.append(f"  {name:<16} {'—':>8}   no default run and no run prompted at t")
            continue
        source = (
            f"prompted at t (run {rubric.run_key})"
            if rubric.prompted
            else f"same answers (run {rubric.run_key})"
        )
        spread = (
            f"  [{rubric.interval[0]:.4f}, {rubric.interval[1]:.4f}]" if rubric.interval else ""
        )
        lines.append(f"  {name:<16} {rubric.score:>8.4f}{spread}   {source}")
    lines += ["", "Runs:"]
    for run in result.runs:
        name = "default" if run.target is None else f"t = {run.key}"
        lines.append(
            f"  {name:<10} {run.present:>7,} present  correct {run.correct:,}, "
            f"incorrect {run.incorrect:,}, abstained {run.abstained:,}; "
            f"accuracy {_percent(run.accuracy)}, error rate {_percent(run.error_rate)}"
        )
        if run.scores_abstaining_below:
            below = ", ".join(
                f"t = {key}: {score:.4f}" for key, score in run.scores_abstaining_below.items()
            )
            lines.append(f"             abstaining below t (from confidences): {below}")
    used = ", ".join(f"{field} ← {name!r}" for field, name in result.columns.used.items())
    lines += ["", f"Columns used: {used}"]
    if result.columns.ignored:
        lines.append("Columns ignored: " + ", ".join(map(repr, result.columns.ignored)))
    return "\n".join(lines)


def _percent(share: float) -> str:
    return f"{100 * share:6.2f}%"


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


if __name__ == "__main__":
    sys.exit(main())
