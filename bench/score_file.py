"""Benchmark: scoring files against merely reading them with pandas.

Measures the in-process work of `python -m scoring` (read and validate the gold and the
predictions, grade, score) through the public API, side by side with
`pandas.read_csv(..., dtype=str, keep_default_na=False)` of the same files, on the 29 MMLU-Pro
prediction files and on a generated benchmark of a million choice items with a million prediction
rows. The generated predictions come twice: in the benchmark's order with 1% of the items left out,
as evaluation harnesses write them, and shuffled, the worst case for matching ids. Each side runs in
its own child process, so its peak memory (maxrss) is its own. Also times real
`python -m scoring --json` calls per case (`--repeat` of them: median and range), bootstrap
included, and checks the million-row ones against their target (≤ 5 s): PASS or MISS.

Then the harness logs: for each format the importers read, a log of `--samples` samples made
from the real one of `../shared/real-clients` (bench/_logs.py), read three ways, each in its own
child process: the format's bare parse (`json`, a zip of JSON files, or pyarrow), our importer
(`scoring.reading.logs.read_log`), and the whole reading of it as a prediction file
(`read_predictions`: the importer, then the checks every file goes through, against a gold made
from the same log). The importer's target is ≤ 2× the bare parse.

    .venv/bin/python bench/score_file.py [--data ../shared/data] [--rows 1000000] [--repeat 3]
        [--clients ../shared/real-clients] [--samples 100000] [--only logs|files]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
TARGET_RATIO = 2.0
TARGET_SECONDS_1M = 10.0
TARGET_BYTES_1M = 1024**3
# A whole `python -m scoring` call on a million rows, with its bootstrap.
TARGET_CLI_SECONDS_1M = 5.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs per side; the best counts for files, the median for harness logs",
    )
    parser.add_argument("--clients", type=Path, default=REPO.parent / "shared" / "real-clients")
    parser.add_argument("--samples", type=int, default=100_000, help="samples per harness log")
    parser.add_argument("--only", choices=("files", "logs"), help="measure only these")
    parser.add_argument("--child", nargs=3, metavar=("SIDE", "GOLD", "PREDICTIONS"))
    args = parser.parse_args()
    if args.child:
        side, gold, predictions = args.child
        if side == "log-make":
            sys.path.insert(0, str(REPO / "bench"))
            import _logs

            filename, data = _logs.MAKERS[gold][0](args.clients, args.samples)
            (Path(predictions) / filename).write_bytes(data)
            print(Path(predictions) / filename)
        elif side.startswith("log-"):
            _log_child(side, gold, Path(predictions), args.repeat)
        else:
            _child(side, Path(gold), sorted(Path(predictions).glob("*.csv")), args.repeat)
        return
    if args.only != "logs":
        _files(args)
    if args.only != "files":
        _logs_section(args)


def _files(args: argparse.Namespace) -> None:
    mmlu = args.data / "mmlu-pro"
    print(
        f"{'case':<28} {'read':>8} {'score':>8} {'ratio':>6} {'read peak':>10} "
        f"{'score peak':>11} {'CLI call (median, range)':>26}"
    )
    if mmlu.is_dir():
        _case(
            "mmlu-pro, 29 files",
            mmlu / "questions.csv.gz",
            mmlu / "predictions",
            args.repeat,
            one_file=mmlu / "predictions" / "Meta-Llama-3-70B.csv",
        )
    else:
        print(f"{'mmlu-pro, 29 files':<28} skipped: {mmlu} not found")
    measured = []
    with tempfile.TemporaryDirectory() as directory:
        gold, in_order, shuffled = _generate(Path(directory), args.rows)
        for name, predictions in (("in order", in_order), ("shuffled", shuffled)):
            measured.append(
                _case(
                    f"{args.rows:,} rows, {name}",
                    gold,
                    predictions.parent,
                    args.repeat,
                    one_file=predictions,
                )
            )
    slowest = max(seconds for seconds, _, _ in measured)
    largest = max(peak for _, peak, _ in measured)
    cli = max(call for _, _, call in measured)
    print(
        f"\ntargets: ratio ≤ {TARGET_RATIO:g}; 1M rows ≤ {TARGET_SECONDS_1M:g} s and "
        f"≤ {TARGET_BYTES_1M / 1024**3:g} GB "
        f"(here at most {slowest:.2f} s and {largest / 1024**2:,.0f} MB)"
    )
    if args.rows >= 1_000_000:
        verdict = "PASS" if cli <= TARGET_CLI_SECONDS_1M else "MISS"
        print(
            f"python -m scoring on {args.rows:,} rows, bootstrap included: ≤ "
            f"{TARGET_CLI_SECONDS_1M:g} s (here a median of at most {cli:.2f} s): {verdict}"
        )


def _case(
    name: str, gold: Path, predictions: Path, repeat: int, *, one_file: Path
) -> tuple[float, int, float]:
    read = _run_child("read", gold, predictions, repeat)
    score = _run_child("score", gold, predictions, repeat)
    calls = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "scoring",
                str(gold),
                str(one_file),
                "--grader",
                "choice",
                "--json",
            ],
            cwd=REPO,
            check=True,
            capture_output=True,
        )
        calls.append(time.perf_counter() - started)
    cli = float(np.median(calls))
    ratio = score["seconds"] / read["seconds"]
    flag = "" if ratio <= TARGET_RATIO else "  (over target)"
    print(
        f"{name:<28} {read['seconds']:>7.3f}s {score['seconds']:>7.3f}s {ratio:>6.2f} "
        f"{read['peak'] / 1024**2:>8,.0f}MB {score['peak'] / 1024**2:>9,.0f}MB "
        f"{cli:>8.2f}s ({min(calls):.2f}–{max(calls):.2f}){flag}"
    )
    return score["seconds"], score["peak"], cli


def _logs_section(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(REPO / "bench"))
    import _logs

    print(
        f"\n{'harness log, ' + format(args.samples, ',') + ' samples':<34} {'size':>7} "
        f"{'bare parse':>11} {'importer':>9} {'ratio (range)':>18} {'+ checks':>9} "
        f"{'parse peak':>11} {'import peak':>12}"
    )
    worst = 0.0
    with tempfile.TemporaryDirectory() as directory:
        for name, (_, grader) in _logs.MAKERS.items():
            # Made in a child too: a process's peak memory outlives exec, so a parent that had
            # held the log would lend its size to every measuring child started after.
            made = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--clients",
                    str(args.clients),
                    "--samples",
                    str(args.samples),
                    "--child",
                    "log-make",
                    name,
                    directory,
                ],
                cwd=REPO,
                check=True,
                capture_output=True,
                text=True,
            )
            path = Path(made.stdout.strip())
            filename = path.name
            bare = _run_child("log-bare", grader, path, args.repeat)
            read = _run_child("log-import", grader, path, args.repeat)
            checked = _run_child("log-predictions", grader, path, args.repeat)
            ratio = read["seconds"] / bare["seconds"]
            # The spread of the ratio: its lowest and highest over the pairs of runs.
            ratios = [r / b for r, b in zip(read["times"], bare["times"], strict=True)]
            worst = max(worst, ratio)
            flag = "" if ratio <= TARGET_RATIO else "  (over target)"
            print(
                f"{name:<34} {path.stat().st_size / 1024**2:>5,.0f}MB "
                f"{bare['seconds']:>10.2f}s {read['seconds']:>8.2f}s {ratio:>6.2f} "
                f"({min(ratios):.2f}–{max(ratios):.2f}) "
                f"{checked['seconds']:>8.2f}s {bare['peak'] / 1024**2:>9,.0f}MB "
                f"{read['peak'] / 1024**2:>10,.0f}MB{flag}"
            )
            if filename.endswith(".parquet"):
                # pyarrow's read makes no Python value (Arrow keeps the columns in buffers of
                # its own); json.loads makes one of every value. Reading the table into Python
                # values too puts the two kinds of bare parse on a level.
                python = _run_child("log-bare-python", grader, path, args.repeat)
                print(
                    f"{'  … read into Python values':<34} {'':>7} {python['seconds']:>10.2f}s "
                    f"{read['seconds']:>8.2f}s {read['seconds'] / python['seconds']:>6.2f}"
                )
            path.unlink()
    verdict = "PASS" if worst <= TARGET_RATIO else "MISS"
    print(
        f"importers: ≤ {TARGET_RATIO:g}× the bare parse, medians of {args.repeat} runs "
        f"(here at most {worst:.2f}×): {verdict}"
    )


def _log_child(side: str, grader: str, path: Path, repeat: int) -> None:
    sys.path.insert(0, str(REPO))
    sys.path.insert(0, str(REPO / "bench"))
    import _logs

    from scoring import BenchmarkConfig, read_gold, read_predictions
    from scoring.reading.logs import LogOptions, read_log

    # No upload limit: the logs are far over the default one, unpacked.
    limit = 1 << 36
    if side == "log-predictions":
        gold = read_gold(path.read_bytes(), filename=path.name, grader=grader, max_bytes=limit)
        config = BenchmarkConfig(grader=grader, n_resamples=0, max_bytes=limit)

    def work() -> None:
        data = path.read_bytes()
        if side == "log-bare":
            _logs.bare_parse(path.name, data)
        elif side == "log-bare-python":
            _logs.bare_parse(path.name, data).to_pylist()
        elif side == "log-import":
            read_log(data, filename=path.name, options=LogOptions(), max_bytes=limit)
        else:
            read_predictions(data, filename=path.name, gold=gold, config=config)

    _report(_timings(work, repeat), median=True)


def _timings(work, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return times


def _report(times: list[float], *, median: bool) -> None:
    """A child's answer to its parent: the time that counts (median or best), every time, and
    the child's peak memory."""
    seconds = float(np.median(times)) if median else min(times)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux
    print(json.dumps({"seconds": seconds, "times": times, "peak": peak}))


def _run_child(side: str, gold: Path | str, predictions: Path, repeat: int) -> dict:
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--repeat",
            str(repeat),
            "--child",
            side,
            str(gold),
            str(predictions),
        ],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)


def _child(side: str, gold: Path, predictions: list[Path], repeat: int) -> None:
    sys.path.insert(0, str(REPO))
    import pandas as pd

    from scoring import BenchmarkConfig, read_gold, read_predictions, score_predictions

    # Reading and grading only: bench/bootstrap.py measures the bootstrap.
    config = BenchmarkConfig(grader="choice", n_resamples=0)

    def read() -> None:
        pd.read_csv(gold, dtype=str, keep_default_na=False)
        for path in predictions:
            pd.read_csv(path, dtype=str, keep_default_na=False)

    def score() -> None:
        loaded = read_gold(gold, filename=gold.name, grader=config.grader)
        for path in predictions:
            rows = read_predictions(path, filename=path.name, gold=loaded, config=config)
            score_predictions(loaded, rows, config).to_dict()

    work = read if side == "read" else score
    # The best run counts here, as it always has for these files.
    _report(_timings(work, repeat), median=False)


def _generate(directory: Path, n: int) -> tuple[Path, Path, Path]:
    """A choice benchmark of n items and two prediction files for it, with the forms a real
    file holds: letters of either case, "(B)", "Answer: C", empty cells, abstentions, and a
    confidence per row. One is in the benchmark's order with 1% of the items left out; the
    other answers every item, shuffled."""
    import pandas as pd

    rng = np.random.default_rng(0)
    ids = ("item-" + pd.Series(np.arange(n)).astype(str)).to_numpy(dtype=object)
    letters = np.array(list("ABCDEFGHIJ"))[rng.integers(0, 10, n)]
    gold = directory / "gold.csv"
    pd.DataFrame({"id": ids, "answer": letters}).to_csv(gold, index=False)

    guesses = np.where(
        rng.random(n) < 0.6, letters, np.array(list("ABCDEFGHIJ"))[rng.integers(0, 10, n)]
    ).astype(object)
    form = rng.random(n)
    lower, wrapped, stated = (
        form < 0.10,
        (form >= 0.10) & (form < 0.15),
        (form >= 0.15) & (form < 0.17),
    )
    guesses[lower] = np.char.lower(guesses[lower].astype(str))
    guesses[wrapped] = "(" + guesses[wrapped] + ")"
    guesses[stated] = "Answer: " + guesses[stated]
    guesses[(form >= 0.17) & (form < 0.20)] = ""
    guesses[(form >= 0.20) & (form < 0.21)] = "I don't know"
    predictions = pd.DataFrame(
        {"question_id": ids, "prediction": guesses, "confidence": np.round(rng.random(n), 3)}
    )
    files = []
    for name, rows in (
        ("in-order", predictions[rng.random(n) >= 0.01]),
        ("shuffled", predictions.iloc[rng.permutation(n)]),
    ):
        folder = directory / name
        folder.mkdir()
        rows.to_csv(folder / "model.csv", index=False)
        files.append(folder / "model.csv")
    return gold, files[0], files[1]


if __name__ == "__main__":
    main()
