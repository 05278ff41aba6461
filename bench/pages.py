"""Benchmark: the benchmark page against a static file, both served by gunicorn in one run.

Creates its own PostgreSQL database, migrates it, collects the static files, seeds MMLU-Pro with
its 29 real models plus perturbed copies of their prediction files (a random 0-40% of the
answers blanked, with a fixed seed) until the benchmark holds ``--submissions`` scored
submissions, each created and scored through ``leaderboard.services`` as ``seed_demo`` does.
Then it starts gunicorn on 127.0.0.1 and times ``/benchmarks/mmlu-pro/`` and the page's hashed
stylesheet, which WhiteNoise serves from the same server, with requests of both kinds interleaved
from ``--concurrency`` client threads, and prints requests, errors, req/s, p50 and p99 latency
for each and the page/static ratios. Target: page p50 / static p50 ≤ 3.

With more client threads than gunicorn's sync workers, a static request waits behind the page
renders queued ahead of it, so under load the static latency measures that queue more than the
file. A second pass (``--unloaded-requests``, one client thread) shows each URL's own cost, and
the target line gives the ratio of both passes.

    .venv/bin/python bench/pages.py [--submissions 200] [--requests 300] [--concurrency 4] \\
        [--database-url postgres://postgres@127.0.0.1:5432/leaderboard_bench]

The exit status is 0 whether or not the target is met; it is non-zero only when something failed
(a setup step, the server did not start, or a request did not answer 200). Gunicorn is stopped
and the bench database dropped at the end in every case.
"""

from __future__ import annotations

import argparse
import http.client
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
from _site import (
    SLUG,
    BenchFailed,
    database_urls,
    drop_database,
    migrate_and_collect,
    percentile_ms,
    recreate_database,
    seed_board,
    seed_in_child,
    site_env,
)

from tests.processes import HOST, StartFailed, start_gunicorn, stop

PAGE_PATH = f"/benchmarks/{SLUG}/"
TARGET_RATIO = 3.0
STYLESHEET = re.compile(r'href="(/static/css/site\.[0-9a-f]+\.css)"')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=200, help="scored submissions in all")
    parser.add_argument("--requests", type=int, default=300, help="timed requests per URL")
    parser.add_argument("--concurrency", type=int, default=4, help="client threads")
    parser.add_argument("--warmup", type=int, default=10, help="untimed requests per URL first")
    parser.add_argument(
        "--unloaded-requests",
        type=int,
        default=100,
        help="timed requests per URL of the second pass, with one client thread",
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--seed", type=int, default=0, help="seed of the perturbed copies")
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/leaderboard_bench"
    )
    parser.add_argument(
        "--cache-url",
        default="",
        help="CACHE_URL for the site (e.g. redis://127.0.0.1:6379/12); "
        "default: none, each process has its own in-memory cache",
    )
    parser.add_argument("--seed-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.seed_child:
        return seed_board(args.submissions, args.seed)
    if args.submissions < 1 or args.requests < 1 or args.concurrency < 1 or args.workers < 1:
        parser.error("--submissions, --requests, --concurrency and --workers must be at least 1")

    database_url, admin_url, name = database_urls(parser, args.database_url)
    with tempfile.TemporaryDirectory(prefix="leaderboard-bench-") as directory:
        temp = Path(directory)
        env = site_env(temp, database_url, cache_url=args.cache_url)
        server: subprocess.Popen | None = None
        try:
            recreate_database(admin_url, name)
            migrate_and_collect(env)
            seed_in_child(__file__, args.submissions, args.seed, env)
            server, url = start_gunicorn(env, temp / "gunicorn.log", workers=args.workers)
            print(f"gunicorn: {args.workers} workers on {url}/")
            failed = _measure(args, urlsplit(url).port)
        except (BenchFailed, StartFailed, subprocess.TimeoutExpired, psycopg.Error) as failure:
            print(f"\nbench failed: {failure}", file=sys.stderr)
            return 1
        finally:
            if server is not None:
                stop(server)
                print("gunicorn: stopped")
            drop_database(admin_url, name)
    return 1 if failed else 0


# --- Measuring ------------------------------------------------------------------------------


@dataclass
class Series:
    label: str
    path: str
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    bytes: int = 0
    first_error: str = ""


def _measure(args: argparse.Namespace, port: int) -> bool:
    """Time both URLs, interleaved; print the tables. True if any request failed."""
    probe = http.client.HTTPConnection(HOST, port, timeout=60)
    status, body = get(probe, PAGE_PATH)
    probe.close()
    if status != 200:
        raise BenchFailed(f"{PAGE_PATH} answered {status}")
    match = STYLESHEET.search(body.decode("utf-8", "replace"))
    if not match:
        raise BenchFailed(f"no /static/css/site.<hash>.css stylesheet in {PAGE_PATH}")
    stylesheet = match.group(1)

    # Warm-up: every gunicorn worker imports lazily and fills its own cache on first use.
    warmup = [Series("page", PAGE_PATH), Series("static", stylesheet)] * args.warmup
    _run(warmup, max(args.concurrency, args.workers), port)
    print(
        f"\n{args.workers} gunicorn workers, {args.submissions} submissions, "
        f"{args.warmup} warm-up requests per URL, then requests to both URLs interleaved "
        f"(HTTP/1.1 on {HOST})"
    )
    passes = [(args.concurrency, args.requests)]
    if args.concurrency > 1:
        # With more clients than sync workers, a static request waits for the page renders
        # ahead of it, and its latency measures that queue; one client shows each URL's own cost.
        passes.append((1, min(args.requests, args.unloaded_requests)))
    ratios: list[tuple[int, float]] = []
    failed = False
    for concurrency, requests in passes:
        page, static = Series("page", PAGE_PATH), Series("static", stylesheet)
        started = time.perf_counter()
        _run([page, static] * requests, concurrency, port)
        elapsed = time.perf_counter() - started
        _print_pass(page, static, concurrency, elapsed)
        failed = failed or page.errors + static.errors > 0
        if page.latencies and static.latencies:
            ratios.append((concurrency, _ms(page, 50) / _ms(static, 50)))
    print(f"\ntarget: page p50 / static p50 ≤ {TARGET_RATIO:g}")
    for concurrency, ratio in ratios:
        verdict = "met" if ratio <= TARGET_RATIO else "not met"
        print(f"  {_clients(concurrency):<18} {ratio:6.1f}  {verdict}")
    return failed


def _clients(concurrency: int) -> str:
    return f"{concurrency} client thread{'s' if concurrency > 1 else ''}"


def _print_pass(page: Series, static: Series, concurrency: int, elapsed: float) -> None:
    print(f"\n{_clients(concurrency)}, {elapsed:.1f} s")
    print(
        f"  {'':<7} {'path':<36} {'requests':>8} {'errors':>6} {'req/s':>7} "
        f"{'p50 ms':>8} {'p99 ms':>8} {'KB':>6}"
    )
    for series in (page, static):
        done = len(series.latencies)
        # Each URL's throughput over the shared wall-clock time: both ran at once.
        print(
            f"  {series.label:<7} {series.path:<36} {done + series.errors:>8} {series.errors:>6} "
            f"{done / elapsed:>7.1f} {_ms(series, 50):>8.2f} {_ms(series, 99):>8.2f} "
            f"{series.bytes / max(done, 1) / 1024:>6.1f}"
        )
    if page.latencies and static.latencies:
        print(
            f"  ratio page/static: p50 {_ms(page, 50) / _ms(static, 50):.1f}, "
            f"p99 {_ms(page, 99) / _ms(static, 99):.1f}"
        )
    for series in (page, static):
        if series.errors:
            print(f"  {series.label}: {series.errors} errors, first: {series.first_error}")


def _run(schedule: list[Series], concurrency: int, port: int) -> None:
    jobs: queue.SimpleQueue[Series] = queue.SimpleQueue()
    for series in schedule:
        jobs.put(series)
    lock = threading.Lock()

    def client() -> None:
        connection = http.client.HTTPConnection(HOST, port, timeout=60)
        try:
            while True:
                try:
                    series = jobs.get_nowait()
                except queue.Empty:
                    return
                started = time.perf_counter()
                try:
                    status, body = get(connection, series.path)
                    error = "" if status == 200 else f"HTTP {status}"
                except (OSError, http.client.HTTPException) as failure:
                    error = f"{type(failure).__name__}: {failure}"
                    body = b""
                latency = time.perf_counter() - started
                with lock:
                    if error:
                        series.errors += 1
                        series.first_error = series.first_error or error
                    else:
                        series.latencies.append(latency)
                        series.bytes += len(body)
        finally:
            connection.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def get(connection: http.client.HTTPConnection, path: str) -> tuple[int, bytes]:
    """GET ``path``; the connection reopens by itself after a server that closed it.

    The standard library's thin client: a static file takes about a millisecond, and a richer
    client's own time per request would show in the page/static ratio.
    """
    try:
        connection.request("GET", path, headers={"Host": HOST})
        response = connection.getresponse()
        return response.status, response.read()
    except (OSError, http.client.HTTPException):
        connection.close()
        raise


def _ms(series: Series, percentile: float) -> float:
    return percentile_ms(series.latencies, percentile)


if __name__ == "__main__":
    sys.exit(main())
