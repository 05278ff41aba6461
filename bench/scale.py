"""Benchmark: one board at 200, 1,000 and 10,000 submissions, side by side in one run.

Creates its own PostgreSQL database, migrates it, collects the static files and seeds MMLU-Pro as
``manage.py seed_demo --only mmlu-pro`` does (its 29 real models, each scored). Then, for each
size in turn, it clones the scored submissions in SQL (with their runs, bootstrap included) until
the board holds one fewer than the size, and measures:

- **scoring adds**: the time of storing one more scored result (``services._store_result``,
  whatever it does to the board included), in a child process with the site's environment,
  which first scores a perturbed copy of a demo prediction file (that part is not timed). The
  stored result makes the board exactly the size;
- through gunicorn (one sync worker, started afresh for each size), the benchmark page and
  ``leaderboard.json`` uncached (the bench's cache database emptied before each request) and
  cached, the page's HTML size;
- the **cache per generation**: the bytes in the cache once the board, its page and its JSON
  have been computed from an empty cache (the bench's cache database holds nothing else);
- the **peak memory** (VmHWM) of the gunicorn worker that built the board, and of the process
  that stored the result;
- for each figure, its **growth exponent**: the slope of log(figure) on log(submissions), fitted
  over the sizes; n log n over the same sizes has the slope printed beside it.

Figures are medians of ``--repeat`` requests, with the fastest and slowest; a request slower
than ``--slow`` seconds is not repeated. The targets at the largest size: a scoring adds ≤ 1 s,
the uncached page ≤ 1 s and ≤ 1 MB of HTML, peak memory ≤ 500 MB, growth no worse than n log n;
each is marked PASS or MISS.

Every process the bench starts is limited to ``--memory-limit-mb`` of address space, so that a
board too large to build fails with an error instead of exhausting the machine, and the stored
result to ``--store-timeout`` seconds: such a figure is printed as "failed", with the reason.
Gunicorn runs with ``--timeout`` raised to ``--request-timeout`` so that a
slow board is measured rather than cut at gunicorn's default 30 s (a request slower than that
would time out in production).

    .venv/bin/python bench/scale.py [--sizes 200,1000,10000] [--repeat 3] \\
        [--database-url postgres://postgres@127.0.0.1:5432/leaderboard_scale_bench] \\
        [--cache-url redis://127.0.0.1:6379/11] [--broker-url redis://127.0.0.1:6379/10]

The bench empties the Redis database of ``--cache-url`` before every uncached request: give it
one that nothing else uses. The exit status is non-zero only when something failed to run, not
when a target is missed. Gunicorn is stopped and the bench database dropped at the end.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import math
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import psycopg
import redis
from _site import (
    SLUG,
    BenchFailed,
    database_urls,
    drop_database,
    migrate_and_collect,
    perturbed,
    prediction_files,
    read_predictions,
    recreate_database,
    site_env,
    step,
)

from tests.processes import HOST, StartFailed, children, start_gunicorn, stop

REPO = Path(__file__).resolve().parents[1]
PAGE_PATH = f"/benchmarks/{SLUG}/"
JSON_PATH = f"/benchmarks/{SLUG}/leaderboard.json"
# Targets at the largest size.
TARGET_SCORING_SECONDS = 1.0
TARGET_PAGE_SECONDS = 1.0
TARGET_HTML_BYTES = 1_000_000
TARGET_PEAK_BYTES = 500 * 1_000_000
# Requests whose answer comes from the cache, per URL and size.
CACHED_REQUESTS = 5


@dataclass
class Size:
    """What was measured at one board size; None where the measurement failed."""

    submissions: int
    store_seconds: float | None = None
    store_peak: int | None = None
    store_error: str = ""
    page: list[float] = field(default_factory=list)
    page_cached: list[float] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    json: list[float] = field(default_factory=list)
    json_cached: list[float] = field(default_factory=list)
    json_errors: list[str] = field(default_factory=list)
    html_bytes: int | None = None
    json_bytes: int | None = None
    cache_bytes: int | None = None
    cache_keys: int | None = None
    worker_peak: int | None = None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="200,1000,10000", help="board sizes, ascending")
    parser.add_argument("--repeat", type=int, default=3, help="uncached requests per URL")
    parser.add_argument("--slow", type=float, default=20.0, help="do not repeat slower requests")
    parser.add_argument("--seed", type=int, default=0, help="seed of the perturbed file")
    parser.add_argument("--memory-limit-mb", type=int, default=6000)
    parser.add_argument("--request-timeout", type=int, default=600)
    parser.add_argument(
        "--store-timeout", type=int, default=900, help="seconds the stored result may take"
    )
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/leaderboard_scale_bench"
    )
    parser.add_argument("--cache-url", default="redis://127.0.0.1:6379/11")
    parser.add_argument("--broker-url", default="redis://127.0.0.1:6379/10")
    parser.add_argument(
        "--keep-database",
        action="store_true",
        help="keep the bench database at the end, and use it again if it is seeded already "
        "(its clones are deleted first)",
    )
    parser.add_argument("--store-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.store_child is not None:
        return store_one(args.store_child, args.seed)
    sizes = sorted({int(size) for size in args.sizes.split(",")})
    if sizes[0] < 30 or args.repeat < 1:
        parser.error("every size must be at least 30 (the demo has 29 models); --repeat ≥ 1")

    database_url, admin_url, name = database_urls(parser, args.database_url)
    results: list[Size] = []
    with tempfile.TemporaryDirectory(prefix="leaderboard-scale-") as directory:
        temp = Path(directory)
        env = site_env(temp, database_url, cache_url=args.cache_url, broker_url=args.broker_url)
        cache = redis.Redis.from_url(args.cache_url)
        try:
            reused = args.keep_database and seeded(database_url)
            if not reused:
                recreate_database(admin_url, name)
            migrate_and_collect(env)
            cache.flushdb()
            if reused:
                delete_clones(database_url)
            else:
                step(
                    f"seed_demo --only {SLUG}",
                    [sys.executable, "manage.py", "seed_demo", "--only", SLUG],
                    env,
                    timeout=1800,
                )
            # From here on every process started is limited (children inherit the limit).
            limit = args.memory_limit_mb * 1_000_000
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
            for size in sizes:
                results.append(measure_size(size, args, env, temp, database_url, cache))
                print_table(results, final=False)
        except (BenchFailed, StartFailed, subprocess.TimeoutExpired, psycopg.Error) as failure:
            print(f"\nbench failed: {failure}", file=sys.stderr)
            return 1
        finally:
            if not args.keep_database:
                drop_database(admin_url, name)
    print_table(results, final=True)
    return 0


# --- One size ---------------------------------------------------------------------------------


def measure_size(
    size: int,
    args: argparse.Namespace,
    env: dict[str, str],
    temp: Path,
    database_url: str,
    cache: redis.Redis,
) -> Size:
    print(f"\n== {size:,} submissions", flush=True)
    result = Size(size)
    clone_to(database_url, size - 1)
    store_in_child(result, args, env)
    server, url = start_gunicorn(
        env, temp / f"gunicorn-{size}.log", options=("--timeout", str(args.request_timeout))
    )
    print(f"gunicorn: one worker on {url}/", flush=True)
    try:
        port = urlsplit(url).port
        connection = http.client.HTTPConnection(HOST, port, timeout=args.request_timeout + 30)
        for path, times, errors in (
            (PAGE_PATH, result.page, result.page_errors),
            (JSON_PATH, result.json, result.json_errors),
        ):
            for _ in range(args.repeat):
                cache.flushdb()
                seconds, status, body = timed_get(connection, path)
                if status != 200:
                    errors.append(f"HTTP {status} after {seconds:.1f} s")
                    break
                times.append(seconds)
                if path == PAGE_PATH:
                    result.html_bytes = len(body)
                else:
                    result.json_bytes = len(body)
                if seconds > args.slow:
                    break
        # The board, its figures, page and JSON computed once from an empty cache.
        cache.flushdb()
        pages_ok = True
        for path in (PAGE_PATH, JSON_PATH):
            _, status, _ = timed_get(connection, path)
            pages_ok = pages_ok and status == 200
        if pages_ok:
            result.cache_bytes, result.cache_keys = cache_size(cache)
            for path, times in ((PAGE_PATH, result.page_cached), (JSON_PATH, result.json_cached)):
                for _ in range(CACHED_REQUESTS):
                    seconds, status, _ = timed_get(connection, path)
                    if status == 200:
                        times.append(seconds)
        connection.close()
        result.worker_peak = peak_of_workers(server.pid)
    finally:
        stop(server)
        print("gunicorn: stopped", flush=True)
    return result


def timed_get(connection: http.client.HTTPConnection, path: str) -> tuple[float, int, bytes]:
    """GET ``path`` (the connection reopens by itself after a server that closed it): the
    seconds it took, the status (0 for no answer) and the body."""
    started = time.perf_counter()
    try:
        connection.request("GET", path, headers={"Host": HOST})
        response = connection.getresponse()
        status, body = response.status, response.read()
    except (OSError, http.client.HTTPException) as error:
        connection.close()
        print(f"  {path}: {type(error).__name__}: {error}", flush=True)
        return time.perf_counter() - started, 0, b""
    return time.perf_counter() - started, status, body


def cache_size(cache: redis.Redis) -> tuple[int, int]:
    """Bytes stored under every key of the cache database, and how many keys."""
    total = keys = 0
    for key in cache.scan_iter(count=1000):
        total += cache.strlen(key) if cache.type(key) == b"string" else 0
        keys += 1
    return total, keys


def peak_of_workers(master: int) -> int | None:
    """The largest peak resident size (VmHWM) among the children of gunicorn's master."""
    peaks = []
    for pid in children(master):
        try:
            peaks.append(_vm_hwm(Path(f"/proc/{pid}/status")))
        except (OSError, ValueError):
            continue  # the worker ended meanwhile
    return max(peaks) if peaks else None


def _vm_hwm(status: Path) -> int:
    for line in status.read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise ValueError("no VmHWM")


# --- Cloning in SQL ---------------------------------------------------------------------------


def clone_to(database_url: str, total: int) -> None:
    """Clone the benchmark's seeded submissions (their runs with them) until it holds `total`."""
    started = time.perf_counter()
    with psycopg.connect(database_url, autocommit=False) as connection:
        benchmark = connection.execute(
            "SELECT id FROM leaderboard_benchmark WHERE slug = %s", [SLUG]
        ).fetchone()[0]
        have = connection.execute(
            "SELECT count(*) FROM leaderboard_submission WHERE benchmark_id = %s", [benchmark]
        ).fetchone()[0]
        missing = total - have
        if missing <= 0:
            return
        # The demo's own submissions are the originals: the first scored ones, by id.
        sources = [
            row[0]
            for row in connection.execute(
                "SELECT id FROM leaderboard_submission WHERE benchmark_id = %s "
                "AND status = 'scored' AND NOT model_name LIKE ANY(%s) ORDER BY id",
                [benchmark, list(ADDED)],
            )
        ]
        connection.execute(
            "CREATE TEMP TABLE clone_map ON COMMIT DROP AS "
            "SELECT source, number,"
            " nextval(pg_get_serial_sequence('leaderboard_submission', 'id')) AS id"
            " FROM (SELECT (%(sources)s::bigint[])[1 + number %% %(count)s::int] AS source, number"
            " FROM generate_series(%(first)s::int, %(last)s::int) AS number) AS numbered",
            {"sources": sources, "count": len(sources), "first": have, "last": total - 1},
        )
        overrides = {
            "id": "m.id",
            "model_name": "s.model_name || '-copy-' || m.number",
            "created_at": "s.created_at - m.number * interval '1 second'",
        }
        _insert_select(
            connection,
            "leaderboard_submission",
            overrides,
            "FROM clone_map m JOIN leaderboard_submission s ON s.id = m.source",
            "s",
        )
        _insert_select(
            connection,
            "leaderboard_run",
            {"submission_id": "m.id"},
            "FROM clone_map m JOIN leaderboard_run r ON r.submission_id = m.source",
            "r",
            skip=("id",),
        )
        connection.commit()
    print(f"cloned {missing:,} submissions in SQL ({time.perf_counter() - started:.1f} s)")


# The model names the bench gives what it adds: clones, and the submissions it scores.
ADDED = ("%-copy-%", "scale-%")


def seeded(database_url: str) -> bool:
    """Whether the bench database exists and holds the seeded benchmark."""
    try:
        with psycopg.connect(database_url, connect_timeout=10) as connection:
            return bool(
                connection.execute(
                    "SELECT count(*) FROM leaderboard_benchmark WHERE slug = %s", [SLUG]
                ).fetchone()[0]
            )
    except psycopg.Error:
        return False


def delete_clones(database_url: str) -> None:
    """Delete what an earlier run added to a kept database: the seeded board is left."""
    with psycopg.connect(database_url) as connection:
        added = "(SELECT id FROM leaderboard_submission WHERE model_name LIKE ANY(%s))"
        ids = [list(ADDED)]
        connection.execute(f"DELETE FROM leaderboard_run WHERE submission_id IN {added}", ids)
        connection.execute(f"DELETE FROM leaderboard_submission WHERE id IN {added}", ids)
        connection.execute(
            "UPDATE leaderboard_benchmark SET results_generation = results_generation + 1"
        )
    print("kept database: its clones deleted")


def _insert_select(
    connection: psycopg.Connection,
    table: str,
    overrides: dict[str, str],
    source: str,
    alias: str,
    skip: tuple[str, ...] = (),
) -> None:
    columns = [
        row[0]
        for row in connection.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
            "ORDER BY ordinal_position",
            [table],
        )
        if row[0] not in skip
    ]
    values = ", ".join(overrides.get(column, f"{alias}.{column}") for column in columns)
    connection.execute(f"INSERT INTO {table} ({', '.join(columns)}) SELECT {values} {source}")


# --- Storing one more result, in a child process -----------------------------------------------


def store_in_child(result: Size, args: argparse.Namespace, env: dict[str, str]) -> None:
    command = [sys.executable, __file__, "--store-child", str(result.submissions)]
    command += ["--seed", str(args.seed)]
    started = time.perf_counter()
    try:
        process = subprocess.run(
            command, cwd=REPO, env=env, capture_output=True, text=True, timeout=args.store_timeout
        )
    except subprocess.TimeoutExpired:
        result.store_error = f"not done after {args.store_timeout} s"
        print(f"store one result: {result.store_error}", flush=True)
        return
    answer = next((line for line in process.stdout.splitlines() if line.startswith("{")), None)
    if process.returncode or answer is None:
        result.store_error = (process.stderr or process.stdout).strip().splitlines()[-1:]
        result.store_error = result.store_error[0] if result.store_error else "failed"
        print(f"store one result: failed ({result.store_error})", flush=True)
        return
    figures = json.loads(answer)
    result.store_seconds = figures["store_seconds"]
    result.store_peak = figures["peak"]
    print(
        f"store one result: {result.store_seconds:.2f} s (scoring the file: "
        f"{figures['score_seconds']:.2f} s; child {time.perf_counter() - started:.1f} s)",
        flush=True,
    )


def store_one(number: int, seed: int) -> int:
    """Create, score and store one submission; print its figures as JSON. In the child."""
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.files.base import ContentFile

    import scoring
    from leaderboard import services
    from leaderboard.management.commands.seed_demo import DEMO_OWNER
    from leaderboard.models import Benchmark

    benchmark = Benchmark.objects.get(slug=SLUG)
    owner = get_user_model().objects.get(username=DEMO_OWNER)
    rng = random.Random(seed * 1_000_003 + number)
    path = rng.choice(prediction_files())
    content = perturbed(read_predictions(path), rng.uniform(0, 0.4), rng)
    model = f"scale-{number}"
    submission = services.submission_create(
        benchmark=benchmark,
        owner=owner,
        file=ContentFile(content, name=f"{model}.csv.gz"),
        model_name=model,
        queue=False,
    )
    if not services.submission_claim(submission_id=submission.pk):
        raise BenchFailed("could not claim the submission")
    fingerprint = benchmark.settings_fingerprint
    config = benchmark.config()
    gold = benchmark.gold()
    started = time.perf_counter()
    predictions = scoring.read_predictions(
        io.BytesIO(content), filename=f"{model}.csv.gz", gold=gold, config=config
    )
    result = scoring.score_predictions(gold, predictions, config)
    score_seconds = time.perf_counter() - started
    started = time.perf_counter()
    services._store_result(submission_id=submission.pk, result=result, fingerprint=fingerprint)
    store_seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    figures = {"store_seconds": store_seconds, "score_seconds": score_seconds, "peak": peak}
    print(json.dumps(figures))
    return 0


# --- The table --------------------------------------------------------------------------------


def median(values: list[float]) -> float | None:
    return float(np.median(values)) if values else None


def slope(sizes: list[int], values: list[float | None]) -> float | None:
    """The slope of log(value) on log(size), fitted over the sizes that have a value."""
    pairs = [(n, v) for n, v in zip(sizes, values, strict=True) if v is not None and v > 0]
    if len(pairs) < 2:
        return None
    x = np.log([n for n, _ in pairs])
    y = np.log([v for _, v in pairs])
    return float(np.polyfit(x, y, 1)[0])


def print_table(results: list[Size], *, final: bool) -> None:
    sizes = [r.submissions for r in results]
    n_log_n = slope(sizes, [n * math.log(n) for n in sizes]) if len(sizes) > 1 else None
    store, html, peak = TARGET_SCORING_SECONDS, TARGET_HTML_BYTES, TARGET_PEAK_BYTES
    rows: list[tuple[str, list[float | None], callable, float | None]] = [
        ("scoring adds (s)", [r.store_seconds for r in results], _seconds, store),
        ("page uncached (s)", [median(r.page) for r in results], _seconds, TARGET_PAGE_SECONDS),
        ("page cached (s)", [median(r.page_cached) for r in results], _seconds, None),
        ("page HTML (MB)", [r.html_bytes for r in results], _megabytes, html),
        ("JSON uncached (s)", [median(r.json) for r in results], _seconds, None),
        ("JSON cached (s)", [median(r.json_cached) for r in results], _seconds, None),
        ("JSON (MB)", [r.json_bytes for r in results], _megabytes, None),
        ("cache per generation (MB)", [r.cache_bytes for r in results], _megabytes, None),
        ("peak, web worker (MB)", [r.worker_peak for r in results], _megabytes, peak),
        ("peak, scoring (MB)", [r.store_peak for r in results], _megabytes, peak),
    ]
    print(f"\n{'final' if final else 'so far'}: one board, {len(sizes)} sizes")
    header = f"  {'':<27}" + "".join(f"{n:>12,}" for n in sizes)
    print(header + f"{'growth':>9}   target at {sizes[-1]:,}")
    for label, values, shown, target in rows:
        exponent = slope(sizes, values)
        cells = "".join(f"{shown(v):>12}" for v in values)
        growth = "" if exponent is None else f"{exponent:9.2f}"
        verdicts = []
        if target is not None:
            last = values[-1]
            verdict = "PASS" if last is not None and last <= target else "MISS"
            verdicts.append(f"≤ {shown(target).strip()} {verdict}")
        if exponent is not None and n_log_n is not None:
            verdicts.append(f"growth {'PASS' if exponent <= n_log_n + 0.05 else 'MISS'}")
        print(f"  {label:<27}{cells}{growth:>9}   {', '.join(verdicts)}")
    spreads = []
    for r in results:
        for name, times in (("page", r.page), ("JSON", r.json)):
            if len(times) > 1:
                spreads.append(
                    f"{name} at {r.submissions:,}: {min(times):.2f}–{max(times):.2f} s "
                    f"({len(times)} requests)"
                )
    if spreads:
        print("  uncached spread: " + "; ".join(spreads))
    for r in results:
        for what, error in (
            ("scoring adds", r.store_error),
            ("page", "; ".join(r.page_errors)),
            ("JSON", "; ".join(r.json_errors)),
        ):
            if error:
                print(f"  {what} at {r.submissions:,} failed: {error}")
    if n_log_n is not None:
        print(
            f"  growth: slope of log(figure) on log(submissions); n log n has {n_log_n:.2f} over "
            f"these sizes, n² 2.00 (growth PASS: within 0.05 of n log n or below)"
        )


def _seconds(value: float | None) -> str:
    return "failed" if value is None else f"{value:.2f}"


def _megabytes(value: float | None) -> str:
    return "failed" if value is None else f"{value / 1_000_000:.2f}"


if __name__ == "__main__":
    # Gunicorn and the store child read the limit from their parent; so does this process.
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
