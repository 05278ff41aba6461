"""What the benchmarks share: a site of their own, run as production runs it.

Each benchmark creates its own PostgreSQL database (dropped and re-created each run, and dropped
at the end), gives the site a production-like environment (DEBUG off, a secret key, persistent
database connections, static files collected for WhiteNoise), seeds MMLU-Pro with its 29 real
models plus perturbed copies of their prediction files scored through ``leaderboard.services``,
and measures where the CPU went. Gunicorn and the Celery worker are started and stopped by the
tests' own helpers (``tests/processes.py``), in process groups of their own so that they are
always stopped.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import os
import random
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

REPO = Path(__file__).resolve().parents[1]
# The benchmarks run as scripts, with bench/ first on the path: the checkout's root makes the
# project's packages and the tests' process helpers importable, in the seeding child too.
sys.path.insert(0, str(REPO))

from tests.processes import HOST, process_stats  # noqa: E402

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
SLUG = "mmlu-pro"
PREDICTIONS = REPO / "demo" / SLUG / "predictions"
# The largest share of answers a perturbed copy leaves blank (an abstention).
MAX_BLANKED = 0.4
# As docker-compose.yml runs the site: persistent database connections.
DB_CONN_MAX_AGE = "60"


class BenchFailed(Exception):
    pass


# --- The database and the environment ---------------------------------------------------------


def database_urls(parser: argparse.ArgumentParser, url: str) -> tuple[str, str, str]:
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


def site_env(
    temp: Path,
    database_url: str,
    *,
    cache_url: str = "",
    broker_url: str = "redis://127.0.0.1:6379/14",
    **extra: str,
) -> dict[str, str]:
    """The environment of every process of the site: production settings, files under ``temp``."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="leaderboard.settings",
        DATABASE_URL=database_url,
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS=f"{HOST},localhost",
        VAR_DIR=str(temp / "var"),
        MEDIA_ROOT=str(temp / "media"),
        STATIC_ROOT=str(temp / "static"),
        CELERY_BROKER_URL=broker_url,
        CACHE_URL=cache_url,
        DB_CONN_MAX_AGE=DB_CONN_MAX_AGE,
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def _admin_connection(admin_url: str) -> psycopg.Connection:
    return psycopg.connect(admin_url, autocommit=True, connect_timeout=10)


def recreate_database(admin_url: str, name: str) -> None:
    started = time.perf_counter()
    with _admin_connection(admin_url) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    print(f"database {name}: created ({time.perf_counter() - started:.1f} s)")


def drop_database(admin_url: str, name: str) -> None:
    try:
        with _admin_connection(admin_url) as connection:
            connection.execute("SET statement_timeout = '30s'")
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        print(f"database {name}: dropped")
    except Exception as error:
        print(f"could not drop database {name}: {error}", file=sys.stderr)


def step(
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


def migrate_and_collect(env: dict[str, str]) -> None:
    step("migrate", [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], env)
    step(
        "collectstatic",
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        env,
    )


def seed_in_child(script: str, submissions: int, seed: int, env: dict[str, str]) -> None:
    """Run `script --seed-child`, which calls ``seed_board`` with the site's environment."""
    step(
        f"seed {submissions} submissions",
        [
            sys.executable,
            script,
            "--seed-child",
            "--submissions",
            str(submissions),
            "--seed",
            str(seed),
        ],
        env,
        timeout=3600,
        show_output=True,
    )


# --- Seeding, in a child process with the site's environment ---------------------------------


def seed_board(total: int, seed: int) -> int:
    """Seed MMLU-Pro, then add perturbed copies of its models until ``total`` are scored.

    Runs in a child process started with ``site_env``: it sets Django up itself. The exit
    status to return: 0 when the benchmark holds exactly ``total`` scored submissions.
    """
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

    files = prediction_files()
    originals = {path: read_predictions(path) for path in files}
    rng = random.Random(seed)
    have = Submission.objects.filter(benchmark=benchmark).count()
    extra = max(0, total - have)
    started = time.perf_counter()
    for number in range(extra):
        path = files[number % len(files)]
        base = path.name.removesuffix(".csv.gz")
        blanked = rng.uniform(0, MAX_BLANKED)
        content = perturbed(originals[path], blanked, rng)
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


def prediction_files() -> list[Path]:
    """The 29 real MMLU-Pro prediction files of the demo, in a stable order."""
    return sorted(PREDICTIONS.glob("*.csv.gz"), key=lambda p: p.name.lower())


def read_predictions(path: Path) -> tuple[list[str], list[list[str]]]:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        return header, list(reader)


def perturbed(
    predictions: tuple[list[str], list[list[str]]], blanked: float, rng: random.Random
) -> bytes:
    """The prediction file, gzipped, with about ``blanked`` of its ``pred`` letters left empty."""
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


# --- Gunicorn's access log, and where the CPU went --------------------------------------------


ACCESS_LOG_FORMAT = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'
# Gunicorn's options for an access log with the time each request took inside it, in ms, after
# the status.
ACCESS_LOG = ("--access-logfile", "-", "--access-logformat", ACCESS_LOG_FORMAT)
ACCESS_LOG_LINE = re.compile(
    r'"(?P<method>[A-Z]+) (?P<path>\S+) [^"]*" (?P<status>\d+) \S+ (?P<ms>\d+)ms$'
)


def cpu_seconds(group: int) -> float:
    """CPU time used so far by the live processes of a process group (Linux /proc)."""
    return _cpu_of(lambda pid, fields: int(fields[2]) == group)


def database_cpu_seconds(name: str) -> float:
    """CPU time used so far by the PostgreSQL backends connected to one database."""
    # A backend names its user and database in its title: "postgres: 15/main: user db host".
    return _cpu_of(lambda pid, fields: f" {name} ".encode() in _title(pid))


def _title(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return b""


def _cpu_of(selected) -> float:
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid, fields in process_stats():
        if selected(pid, fields):
            total += int(fields[11]) + int(fields[12])
    return total / tick


def machine_cpu_seconds() -> tuple[float, float]:
    """CPU time of the whole machine so far: (busy, busy and idle), summed over its cores."""
    values = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = values[3] + values[4]
    # Guest time is already counted in user time.
    total = sum(values[:8])
    tick = os.sysconf("SC_CLK_TCK")
    return (total - idle) / tick, total / tick


# --- Figures ----------------------------------------------------------------------------------


def percentile_ms(latencies: list[float], percentile: float) -> float:
    """The percentile of latencies in seconds, in milliseconds (nearest rank); NaN without any."""
    if not latencies:
        return float("nan")
    ordered = sorted(latencies)
    rank = max(1, -(-len(ordered) * percentile // 100))
    return ordered[int(rank) - 1] * 1000
