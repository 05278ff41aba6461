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
import csv
import gzip
import http.client
import io
import os
import queue
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SLUG = "mmlu-pro"
PAGE_PATH = f"/benchmarks/{SLUG}/"
PREDICTIONS = REPO / "demo" / SLUG / "predictions"
HOST = "127.0.0.1"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
TARGET_RATIO = 3.0
STYLESHEET = re.compile(r'href="(/static/css/site\.[0-9a-f]+\.css)"')
# The largest share of answers a perturbed copy leaves blank (an abstention).
MAX_BLANKED = 0.4


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
        return _seed_child(args.submissions, args.seed)
    if args.submissions < 1 or args.requests < 1 or args.concurrency < 1 or args.workers < 1:
        parser.error("--submissions, --requests, --concurrency and --workers must be at least 1")

    database_url, admin_url, name = _database_urls(parser, args.database_url)
    with tempfile.TemporaryDirectory(prefix="leaderboard-bench-") as directory:
        temp = Path(directory)
        env = _site_env(temp, database_url, args.cache_url)
        server: subprocess.Popen | None = None
        try:
            _recreate_database(admin_url, name)
            _step("migrate", [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], env)
            _step(
                "collectstatic",
                [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
                env,
            )
            _step(
                f"seed {args.submissions} submissions",
                [
                    sys.executable,
                    __file__,
                    "--seed-child",
                    "--submissions",
                    str(args.submissions),
                    "--seed",
                    str(args.seed),
                ],
                env,
                timeout=3600,
                show_output=True,
            )
            port = _free_port()
            server, log_path = _start_gunicorn(temp, env, port, args.workers)
            failed = _measure(args, port)
        except (BenchFailed, subprocess.TimeoutExpired, psycopg.Error) as failure:
            print(f"\nbench failed: {failure}", file=sys.stderr)
            return 1
        finally:
            if server is not None:
                _stop(server)
            _drop_database(admin_url, name)
    return 1 if failed else 0


class BenchFailed(Exception):
    pass


# --- Setup ----------------------------------------------------------------------------------


def _database_urls(parser: argparse.ArgumentParser, url: str) -> tuple[str, str, str]:
    """The site's URL, the URL of the maintenance database ``postgres``, and the bench db name."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if parts.scheme not in ("postgres", "postgresql", "pgsql"):
        parser.error("--database-url must be a postgres:// URL")
    if parts.hostname not in LOOPBACK:
        parser.error("--database-url must point at this machine (127.0.0.1)")
    # The bench drops and recreates this database: refuse any that is not obviously its own.
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name) or "bench" not in name:
        parser.error("the bench database's name must be lowercase and contain 'bench'")
    admin = urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, ""))
    return url, admin, name


def _site_env(temp: Path, database_url: str, cache_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="leaderboard.settings",
        DATABASE_URL=database_url,
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        VAR_DIR=str(temp / "var"),
        MEDIA_ROOT=str(temp / "media"),
        STATIC_ROOT=str(temp / "static"),
        CELERY_BROKER_URL="redis://127.0.0.1:6379/14",
        CACHE_URL=cache_url,
        # Persistent database connections, as docker-compose.yml runs the site.
        DB_CONN_MAX_AGE="60",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    return env


def _admin_connection(admin_url: str) -> psycopg.Connection:
    return psycopg.connect(admin_url, autocommit=True, connect_timeout=10)


def _recreate_database(admin_url: str, name: str) -> None:
    started = time.perf_counter()
    with _admin_connection(admin_url) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    print(f"database {name}: created ({time.perf_counter() - started:.1f} s)")


def _drop_database(admin_url: str, name: str) -> None:
    try:
        with _admin_connection(admin_url) as connection:
            connection.execute("SET statement_timeout = '30s'")
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        print(f"database {name}: dropped")
    except Exception as error:
        print(f"could not drop database {name}: {error}", file=sys.stderr)


def _step(
    what: str,
    command: list[str],
    env: dict[str, str],
    *,
    timeout: float = 300,
    show_output: bool = False,
) -> None:
    """Run one setup command with the site's environment; its output is shown if it fails."""
    started = time.perf_counter()
    print(f"{what} ...", flush=True)
    result = subprocess.run(
        command,
        cwd=REPO,
        env=env,
        timeout=timeout,
        text=True,
        stdout=None if show_output else subprocess.PIPE,
        stderr=None if show_output else subprocess.STDOUT,
    )
    if result.returncode != 0:
        if result.stdout:
            print(result.stdout[-4000:], file=sys.stderr)
        raise BenchFailed(f"{what} exited with status {result.returncode}")
    print(f"{what}: done ({time.perf_counter() - started:.1f} s)", flush=True)


# --- Seeding, in a child process with the site's environment ---------------------------------


def _seed_child(total: int, seed: int) -> int:
    """Seed MMLU-Pro, then add perturbed copies of its models until ``total`` are scored."""
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.files.base import ContentFile
    from django.core.management import call_command

    from leaderboard import services
    from leaderboard.management.commands.seed_demo import DEMO_OWNER, organisation_of
    from leaderboard.models import Benchmark, Submission

    started = time.perf_counter()
    call_command("seed_demo", only=SLUG, stdout=io.StringIO())
    benchmark = Benchmark.objects.get(slug=SLUG)
    owner = get_user_model().objects.get(username=DEMO_OWNER)
    scored = Submission.objects.filter(benchmark=benchmark, status=Submission.Status.SCORED)
    seconds = time.perf_counter() - started
    print(
        f"  seed_demo --only {SLUG}: {scored.count()} models scored ({seconds:.1f} s)", flush=True
    )

    files = sorted(PREDICTIONS.glob("*.csv.gz"), key=lambda p: p.name.lower())
    originals = {path: _read_predictions(path) for path in files}
    rng = random.Random(seed)
    have = Submission.objects.filter(benchmark=benchmark).count()
    extra = max(0, total - have)
    started = time.perf_counter()
    for number in range(extra):
        path = files[number % len(files)]
        base = path.name.removesuffix(".csv.gz")
        blanked = rng.uniform(0, MAX_BLANKED)
        content = _perturbed(originals[path], blanked, rng)
        model = f"{base}-blank{round(blanked * 100):02d}-{number + 1:03d}"
        submission = services.submission_create(
            benchmark=benchmark,
            owner=owner,
            file=ContentFile(content, name=f"{model}.csv.gz"),
            model_name=model,
            organisation=organisation_of(base),
            description=f"Benchmark data: {base} with {blanked:.0%} of its answers blanked.",
            queue=False,
        )
        result = services.submission_score(submission_id=submission.pk)
        if result is None or result.status != Submission.Status.SCORED:
            errors = "; ".join(result.errors if result else ["not scored"])
            print(f"  {model}: not scored: {errors}", file=sys.stderr)
            return 1
        if (number + 1) % 25 == 0 or number + 1 == extra:
            print(
                f"  perturbed copies: {number + 1}/{extra} scored "
                f"({time.perf_counter() - started:.1f} s)",
                flush=True,
            )
    count = scored.count()
    if count != total:
        print(f"  {count} scored submissions, expected {total}", file=sys.stderr)
        return 1
    return 0


def _read_predictions(path: Path) -> tuple[list[str], list[list[str]]]:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        return header, list(reader)


def _perturbed(
    predictions: tuple[list[str], list[list[str]]], blanked: float, rng: random.Random
) -> bytes:
    """The prediction file with about ``blanked`` of its ``pred`` letters left empty."""
    header, rows = predictions
    column = header.index("pred")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        if rng.random() < blanked:
            row = [*row[:column], "", *row[column + 1 :]]
        writer.writerow(row)
    return gzip.compress(out.getvalue().encode("utf-8"), mtime=0)


# --- The server -----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def _start_gunicorn(
    temp: Path, env: dict[str, str], port: int, workers: int
) -> tuple[subprocess.Popen, Path]:
    log_path = temp / "gunicorn.log"
    log = log_path.open("wb")
    server = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "leaderboard.wsgi",
            "--bind",
            f"{HOST}:{port}",
            "--workers",
            str(workers),
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise BenchFailed(f"gunicorn exited with {server.returncode}:\n{_tail(log_path)}")
        try:
            # Any answer will do: the page's own status is checked before the timing.
            probe = http.client.HTTPConnection(HOST, port, timeout=5)
            _get(probe, "/")
            probe.close()
            print(f"gunicorn: {workers} workers on http://{HOST}:{port}/")
            return server, log_path
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.2)
    _stop(server)
    raise BenchFailed(f"gunicorn did not answer within 60 s:\n{_tail(log_path)}")


def _tail(path: Path, size: int = 3000) -> str:
    return path.read_bytes()[-size:].decode("utf-8", "replace")


def _stop(server: subprocess.Popen) -> None:
    """Stop gunicorn (SIGTERM: graceful), then kill its process group if it lingers."""
    if server.poll() is None:
        try:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=5)
        except ProcessLookupError:
            pass
    print("gunicorn: stopped")


# --- Measuring ------------------------------------------------------------------------------


@dataclass
class Series:
    label: str
    path: str
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    bytes: int = 0
    first_error: str = ""


def _get(connection: http.client.HTTPConnection, path: str) -> tuple[int, bytes]:
    """GET ``path``; the connection reopens by itself after a server that closed it."""
    try:
        connection.request("GET", path, headers={"Host": HOST})
        response = connection.getresponse()
        return response.status, response.read()
    except (OSError, http.client.HTTPException):
        connection.close()
        raise


def _measure(args: argparse.Namespace, port: int) -> bool:
    """Time both URLs, interleaved; print the tables. True if any request failed."""
    probe = http.client.HTTPConnection(HOST, port, timeout=60)
    status, body = _get(probe, PAGE_PATH)
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
                    status, body = _get(connection, series.path)
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


def _ms(series: Series, percentile: float) -> float:
    """The percentile of the latencies in milliseconds (nearest rank); NaN without any."""
    if not series.latencies:
        return float("nan")
    ordered = sorted(series.latencies)
    rank = max(1, -(-len(ordered) * percentile // 100))
    return ordered[int(rank) - 1] * 1000


if __name__ == "__main__":
    sys.exit(main())
