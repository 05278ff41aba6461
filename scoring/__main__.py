"""`python -m scoring GOLD PREDICTIONS`: score one prediction file locally (SPEC §6).

No database or server: reads both files, prints a readable summary, or with --json the one object
that tools rely on. Either file may be a harness log (`scoring.reading.logs`), recognised from the
file or named with --format; --filter, --epoch and --scorer choose what a log holds several of,
and the --json object's `columns.log` reports what was read from it. A rejected file exits 1
with its errors (as {"errors": [...]} with --json). With `--benchmark` the settings (and the
gold, when public) come from the site's benchmark.json, a file or its URL, so that the numbers
are exactly the board's; bad arguments exit 2.

`python -m scoring submit ...` is another command: it uploads a file to a leaderboard's API and
waits for its scores (`scoring.submit`).
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from scoring.benchmark import (
    DEFAULT_ABSTENTION_PHRASES,
    DEFAULT_TARGETS,
    GRADERS,
    N_RESAMPLES,
    PARTIAL_CREDIT,
    BenchmarkConfig,
    Gold,
)
from scoring.reading.errors import FileRejected
from scoring.reading.gold import gold_from_frame, read_gold
from scoring.reading.logs import LOG_FORMATS, TABLE_FORMAT, LogOptions
from scoring.reading.predictions import read_predictions
from scoring.scores import SubmissionScore, score_predictions
from scoring.submit import whole_number

# Seconds to wait for the site before giving up on a benchmark.json URL.
FETCH_TIMEOUT = 60
BENCHMARK_FILE = "benchmark.json"
# The settings --benchmark takes from the site, which the command line may then not change.
_SITE_SETTINGS = {
    "grader": "--grader",
    "targets": "--targets",
    "abstention_phrases": "--abstention-phrases",
    "min_coverage": "--min-coverage",
    "resamples": "--resamples",
    "seed": "--seed",
    "partial_credit": "--partial-credit",
}


class _Unusable(Exception):
    """A benchmark.json that cannot be had or read: a usage error (exit 2)."""


@dataclass(frozen=True)
class _Benchmark:
    """A benchmark as the site describes it in benchmark.json."""

    slug: str
    source: str
    config: BenchmarkConfig
    ids: list[str]
    # Item records with the gold answers, or None when the site keeps them hidden.
    gold_items: list[dict] | None


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["submit"]:
        # A file named "submit" is scored as ./submit.
        from scoring import submit

        return submit.main(argv[1:])
    parser = argparse.ArgumentParser(
        prog="python -m scoring",
        description="Score a prediction file under binary grading and confidence targets.",
        epilog="python -m scoring submit --site URL --benchmark SLUG --model NAME FILE uploads "
        "a file to a leaderboard and waits for its scores instead: see python -m scoring submit "
        "--help.",
    )
    parser.add_argument(
        "gold",
        metavar="GOLD",
        type=Path,
        nargs="?",
        help="the benchmark's gold file (with --benchmark, only when its gold is not public)",
    )
    parser.add_argument("predictions", metavar="PREDICTIONS", type=Path, help="the predictions")
    parser.add_argument(
        "--benchmark",
        metavar="FILE_OR_URL",
        help="the site's benchmark.json, its URL or the benchmark page's URL: score with exactly "
        "the site's settings (and its gold, when public)",
    )
    parser.add_argument("--grader", choices=GRADERS, help="(default: exact)")
    parser.add_argument(
        "--targets",
        type=_targets,
        help="comma-separated confidence targets in (0, 1) (default: 0.5,0.75,0.9)",
    )
    parser.add_argument(
        "--abstention-phrases",
        metavar="PHRASES",
        type=_phrases,
        help='|-separated answers that count as abstaining, "" for none '
        "(default: " + "|".join(DEFAULT_ABSTENTION_PHRASES) + ")",
    )
    parser.add_argument(
        "--min-coverage",
        type=float,
        help="reject runs covering less than this share of the items (default: 0)",
    )
    parser.add_argument(
        "--resamples",
        type=int,
        help="bootstrap resamples of the items for the 95%% intervals; 0 skips them "
        "(default: 1000)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        help="seed of the resamples; the site uses one per benchmark, given in its "
        "benchmark.json (default: 0)",
    )
    parser.add_argument(
        "--partial-credit",
        choices=[value for value in PARTIAL_CREDIT if value],
        help="on a pregraded benchmark, how a log's partial grade (Inspect's P) counts "
        "(default: a log holding one is refused)",
    )
    logs = parser.add_argument_group(
        "harness logs",
        "PREDICTIONS (and GOLD) may be a harness log, recognised from the file: "
        + "; ".join(LOG_FORMATS.values()),
    )
    logs.add_argument(
        "--format",
        choices=[TABLE_FORMAT, *LOG_FORMATS],
        help="read PREDICTIONS as this format (table: our own CSV, JSONL or JSON) instead of "
        "recognising it",
    )
    logs.add_argument(
        "--filter", help="lm-evaluation-harness: the filter whose responses are the answers"
    )
    logs.add_argument(
        "--epoch",
        type=whole_number,
        help="Inspect AI: the epoch to score, when the log ran several",
    )
    logs.add_argument(
        "--scorer", help="Inspect AI: the scorer whose answers and grades to read, if several"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.gold is None and args.benchmark is None:
        parser.error("GOLD is needed unless --benchmark gives the benchmark")
    for path in (args.gold, args.predictions):
        if path is not None and not path.is_file():
            parser.error(f"{path}: no such file")

    benchmark = None
    if args.benchmark is not None:
        given = [flag for name, flag in _SITE_SETTINGS.items() if getattr(args, name) is not None]
        if given:
            parser.error(
                f"{', '.join(given)}: --benchmark sets the site's own settings; leave "
                f"{'it' if len(given) == 1 else 'them'} out"
            )
        try:
            benchmark = _load_benchmark(args.benchmark)
        except _Unusable as unusable:
            parser.error(str(unusable))
        config = benchmark.config
        if args.gold is None and benchmark.gold_items is None and config.grader != "pregraded":
            parser.error(
                f"the gold of {benchmark.slug} is not public: give its GOLD file "
                f"(python -m scoring --benchmark {args.benchmark} GOLD PREDICTIONS)"
            )
    else:
        try:
            config = BenchmarkConfig(
                grader=args.grader or "exact",
                targets=DEFAULT_TARGETS if args.targets is None else args.targets,
                abstention_phrases=(
                    DEFAULT_ABSTENTION_PHRASES
                    if args.abstention_phrases is None
                    else args.abstention_phrases
                ),
                min_coverage=args.min_coverage or 0.0,
                seed=args.seed or 0,
                n_resamples=N_RESAMPLES if args.resamples is None else args.resamples,
                partial_credit=args.partial_credit or "",
            )
        except ValueError as error:
            parser.error(str(error))

    options = LogOptions(
        format=args.format, filter=args.filter, epoch=args.epoch, scorer=args.scorer
    )
    path = args.gold
    try:
        if args.gold is not None:
            gold = read_gold(
                args.gold,
                filename=args.gold.name,
                grader=config.grader,
                max_bytes=config.max_bytes,
                log=_gold_options(args, options),
            )
            if benchmark is not None:
                gold = _in_item_order(gold, benchmark)
        else:
            try:
                gold = _benchmark_gold(benchmark)
            except FileRejected as rejected:
                parser.error(f"{benchmark.source}: items unusable: {rejected.errors[0]}")
        path = args.predictions
        predictions = read_predictions(
            args.predictions,
            filename=args.predictions.name,
            gold=gold,
            config=config,
            log=options,
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
        against = args.gold.name if benchmark is None else f"{benchmark.slug} ({benchmark.source})"
        print(_summary(result, against, args.predictions, config))
    return 0


def _load_benchmark(source: str) -> _Benchmark:
    """The benchmark described by a benchmark.json file or URL; _Unusable says why not."""
    if source.startswith(("http://", "https://")):
        source = _benchmark_url(source)
        data = _fetch(source)
    else:
        try:
            data = Path(source).read_bytes()
        except OSError as error:
            raise _Unusable(f"{source}: cannot be read ({error.strerror or error})") from None
    try:
        if data.startswith(b"\x1f\x8b"):
            data = gzip.decompress(data)
        document = json.loads(data)
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, ValueError) as error:
        raise _Unusable(f"{source}: not a benchmark.json (not JSON: {error})") from None
    if not isinstance(document, dict) or not isinstance(document.get("items"), list):
        raise _Unusable(f"{source}: not a benchmark.json (no list of items)")
    items = document["items"]
    if not all(isinstance(item, dict) and _is_id(item.get("id")) for item in items):
        raise _Unusable(f"{source}: not a benchmark.json (an item without an id)")
    if document.get("n_items", len(items)) != len(items):
        raise _Unusable(
            f"{source}: holds {_count(len(items), 'item')} where it announces "
            f"{document['n_items']!r}"
        )
    ids = [str(item["id"]) for item in items]
    if len(set(ids)) != len(ids):
        raise _Unusable(f"{source}: not a benchmark.json (an item id appears twice)")
    try:
        config = BenchmarkConfig.from_dict(document)
    except ValueError as error:
        raise _Unusable(f"{source}: not a benchmark.json ({error})") from None
    answered = sum("answer" in item for item in items)
    if 0 < answered < len(items):
        raise _Unusable(f"{source}: only {answered:,} of {len(items):,} items have an answer")
    return _Benchmark(
        slug=str(document.get("benchmark") or source),
        source=source,
        config=config,
        ids=ids,
        gold_items=items if items and answered == len(items) else None,
    )


def _benchmark_url(url: str) -> str:
    """The benchmark.json of a URL: itself, or that of the benchmark page it points at."""
    parts = urllib.parse.urlsplit(url)
    if parts.path.endswith(".json"):
        return url
    path = parts.path.rstrip("/") + "/" + BENCHMARK_FILE
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _fetch(url: str) -> bytes:
    request = urllib.request.Request(
        url,
        headers={
            "Accept": "application/json",
            "Accept-Encoding": "gzip",
            "User-Agent": "python -m scoring",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT) as response:
            return response.read()
    except urllib.error.HTTPError as error:
        hint = " (no such benchmark, or not published)" if error.code == 404 else ""
        message = f"{url}: the site answered HTTP {error.code} {error.reason}{hint}"
        raise _Unusable(message) from None
    except urllib.error.URLError as error:
        raise _Unusable(f"{url}: unreachable ({error.reason})") from None
    except (TimeoutError, OSError, http.client.HTTPException, ValueError) as error:
        raise _Unusable(f"{url}: unreachable ({error or type(error).__name__})") from None


def _is_id(value: object) -> bool:
    return isinstance(value, str | int) and not isinstance(value, bool) and str(value) != ""


def _benchmark_gold(benchmark: _Benchmark) -> Gold:
    """The gold the site's benchmark.json holds; for pregraded hidden gold, its ids alone."""
    config = benchmark.config
    if benchmark.gold_items is not None:
        frame = pd.DataFrame(
            {
                "id": benchmark.ids,
                "answer": [item["answer"] for item in benchmark.gold_items],
                "aliases": [tuple(item.get("aliases") or ()) for item in benchmark.gold_items],
                "question": [item.get("question") or None for item in benchmark.gold_items],
                "category": [item.get("category") or None for item in benchmark.gold_items],
            }
        )
    else:
        # A pregraded file carries its own grades: the grader never reads a gold answer, so each
        # item gets a stand-in.
        frame = pd.DataFrame({"id": benchmark.ids, "answer": "(not public)"})
    return gold_from_frame(frame, grader=config.grader)


def _in_item_order(gold: Gold, benchmark: _Benchmark) -> Gold:
    """A GOLD file given with --benchmark, in the site's item order (which the bootstrap's
    resamples follow); FileRejected unless it holds exactly the benchmark's items."""
    positions = gold.positions_of(np.array(benchmark.ids, dtype=object))
    missing = [benchmark.ids[i] for i in np.flatnonzero(positions < 0)]
    extra = gold.n_items - (len(benchmark.ids) - len(missing))
    problems = []
    if missing:
        problems.append(
            f"{_count(len(missing), 'item')} of {benchmark.slug} not in this gold file "
            f"(the first is {missing[0]!r}): is it the gold of another benchmark?"
        )
    if extra:
        problems.append(f"{_count(extra, 'item')} of this gold file not in {benchmark.slug}")
    if problems:
        raise FileRejected(problems)
    if (positions == np.arange(len(positions))).all():
        return gold
    return gold_from_frame(
        gold.items.iloc[positions].reset_index(drop=True), grader=benchmark.config.grader
    )


def _gold_options(args: argparse.Namespace, options: LogOptions) -> LogOptions:
    """How GOLD is read: recognised from the file; a log that is PREDICTIONS itself is read
    with the same choices (the gold of its chosen epoch and scorer)."""
    same = args.gold.resolve() == args.predictions.resolve()
    return options if same else LogOptions()


def _phrases(text: str) -> tuple[str, ...]:
    return tuple(phrase.strip() for phrase in text.split("|") if phrase.strip())


def _targets(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a comma-separated list of numbers"
        ) from None


def _summary(
    result: SubmissionScore, against: str, predictions_path: Path, config: BenchmarkConfig
) -> str:
    primary = result.primary
    lines = [
        f"{predictions_path.name} against {against}: "
        f"{result.n_items:,} items, grader {config.grader}"
        + (" (grades are the submitter's own: self-graded)" if result.self_graded else ""),
        f"Settings: targets {', '.join(map(str, config.targets)) or 'none'}; abstention phrases "
        f"{' | '.join(config.abstention_phrases) or 'none'}; minimum coverage "
        f"{config.min_coverage:g}; {config.n_resamples:,} resamples from seed {config.seed}",
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
    if result.columns.log is not None:
        lines += ["", *_log_lines(result.columns.log)]
        return "\n".join(lines)
    used = ", ".join(f"{field} ← {name!r}" for field, name in result.columns.used.items())
    lines += ["", f"Columns used: {used}"]
    if result.columns.ignored:
        lines.append("Columns ignored: " + ", ".join(map(repr, result.columns.ignored)))
    return "\n".join(lines)


def _log_lines(log: dict) -> list[str]:
    """What the summary says of a harness log: what it is and what was read from it."""
    about = ", ".join(
        f"{what} {log[key]}" for key, what in (("model", "model"), ("task", "task")) if log[key]
    )
    lines = [f"Read as {log['format_name']}" + (f" ({about})" if about else "")]
    lines.append(
        f"  {_count(log['rows'], 'sample')}: {log['matched']:,} matched an item by "
        f"{log['id_field']}, {log['unmatched']:,} did not"
        + (
            " (the first: " + ", ".join(map(repr, log["first_unmatched"])) + ")"
            if log["first_unmatched"]
            else ""
        )
    )
    lines.append(
        f"  {log['unextracted']:,} without an answer the harness could extract; "
        f'{log["idk_abstentions"]:,} "I don\'t know" options taken as abstentions'
        + (
            f"; {log['partial']:,} partial grades counted as {log['partial_credit']}"
            if log.get("partial")
            else ""
        )
    )
    if log["options"]:
        chosen = ", ".join(f"{name} {value}" for name, value in log["options"].items())
        lines.append(f"  chosen: {chosen}")
    lines += [f"  note: {note}" for note in log.get("notes", [])]
    return lines


def _percent(share: float) -> str:
    return f"{100 * share:6.2f}%"


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


if __name__ == "__main__":
    sys.exit(main())
