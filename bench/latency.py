"""Benchmark: how soon an upload is scored, listed on the board and shown scored on its page.

Runs the site twice, one setup after the other, each with the MMLU-Pro board of the demo
(``--submissions`` scored submissions: the 29 real models, plus perturbed copies beyond 29):

- embedded, as ``make demo`` runs it (scripts/demo.sh): SQLite, kombu's filesystem broker, the
  in-process cache, gunicorn with 2 workers and one Celery worker of concurrency 2;
- as production runs it (the Dockerfile and docker-compose.yml): PostgreSQL with persistent
  connections, Redis as broker and shared cache, gunicorn with 3 workers, one Celery worker of
  concurrency 2.

In each, a real browser (Debian's Chromium driven by Playwright) logs in through the login form
and uploads ``--trials`` perturbed copies of real prediction files through the submit form, one
at a time, a random 0.5–1.5 s apart so that an upload falls anywhere in a broker's polling cycle.
From the click on "Upload and score", a client of its own polls, every 50 ms, the upload's status
JSON until it says scored, then the board's ``leaderboard.json`` until it lists the upload (so
each of those figures may be up to 50 ms late), while the browser stays on the status page the
site leads it to, until that page shows "scored".

The embedded site is timed with two workers in turn, in blocks of five uploads so that both meet
the machine as busy: one as configured, one with the broker's polling interval of before
(``--polling-before``, kombu's 1 s). Before the uploads, each worker's CPU while idle is
measured over ``--idle-seconds``: what waiting for work costs, the broker's polling included.

It prints, per setup and side by side with the targets, the median and spread (p25–p75, and the
largest) of: upload → scored (status JSON), upload → listed (``leaderboard.json``), upload → page
shows scored, and scored → page shows scored; the idle worker's share of one core; and the
machine's load average while the uploads were timed (on a busy machine every figure stretches).
The targets: upload → listed p50 ≤ 0.5 s, scored → page shows scored p50 ≤ 0.5 s, on both
setups as configured. The exit status is 1 when a target is missed or a step failed.

    .venv/bin/python bench/latency.py [--trials 15] [--submissions 29] [--idle-seconds 20] \\
        [--polling-before 1] [--setup embedded|postgres|both]

Everything it started is stopped, its database dropped and its Redis databases emptied at the
end, on Ctrl-C too.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psycopg
import redis
from _site import (
    LOOPBACK,
    SLUG,
    BenchFailed,
    cpu_seconds,
    database_urls,
    drop_database,
    migrate_and_collect,
    perturbed,
    prediction_files,
    read_predictions,
    recreate_database,
    seed_board,
    seed_in_child,
    site_env,
)

from tests.processes import StartFailed, start_gunicorn, start_worker, stop

BOARD_JSON = f"/benchmarks/{SLUG}/leaderboard.json"
SUBMIT = f"/benchmarks/{SLUG}/submit/"
STATUS = "/submissions/{}.json"
UPLOADER = "latency-uploader"
CHROMIUM = "/usr/bin/chromium"
# How often the client that times the scoring and the board asks the site.
POLL_EVERY = 0.05
# Longest wait for one upload to be scored, listed and shown scored.
TRIAL_TIMEOUT = 60.0
TARGET_LISTED = 0.5
TARGET_PAGE_LAG = 0.5
# scripts/demo.sh and the Dockerfile: (gunicorn workers, Celery concurrency).
EMBEDDED_PROCESSES = (2, 2)
# Uploads in a row before the next variant's worker takes its turn.
BLOCK = 5
# Uploads not timed after a worker starts: one for each of its processes.
WARM_UPS = 2
PRODUCTION_PROCESSES = (3, 2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=15, help="uploads per setup")
    parser.add_argument("--submissions", type=int, default=29, help="scored submissions seeded")
    parser.add_argument(
        "--idle-seconds", type=float, default=20, help="how long the idle worker is watched"
    )
    parser.add_argument(
        "--polling-before",
        type=float,
        default=1.0,
        help="a second embedded worker's broker polling interval, measured beside the default's "
        "(kombu's own 1 s, which the site used before); 0 leaves it out",
    )
    parser.add_argument("--setup", choices=("embedded", "postgres", "both"), default="both")
    parser.add_argument("--seed", type=int, default=0, help="seed of the perturbed copies")
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/leaderboard_bench_latency"
    )
    parser.add_argument("--broker-url", default="redis://127.0.0.1:6379/10")
    parser.add_argument("--cache-url", default="redis://127.0.0.1:6379/11")
    parser.add_argument("--seed-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.seed_child:
        return _seed_child(args.submissions, args.seed, os.environ["LATENCY_UPLOADER_PASSWORD"])
    if args.trials < 1 or args.submissions < 1 or args.idle_seconds <= 0:
        parser.error("--trials, --submissions and --idle-seconds must be positive")
    if args.polling_before < 0:
        parser.error("--polling-before must not be negative")
    if not Path(CHROMIUM).exists():
        parser.error(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")
    _check_redis_urls(parser, args.broker_url, args.cache_url)
    database_url, admin_url, name = database_urls(parser, args.database_url)

    signal.signal(signal.SIGTERM, signal.default_int_handler)
    results: dict[str, Setup] = {}
    try:
        if args.setup in ("embedded", "both"):
            print("\n=== embedded: SQLite, filesystem broker, in-process cache ===", flush=True)
            variants = {"embedded": {}}
            if args.polling_before:
                before = f"embedded, polling {args.polling_before:g} s"
                variants[before] = {"BROKER_POLLING_INTERVAL": str(args.polling_before)}
            results.update(_measure(args, "embedded", {}, variants))
        if args.setup in ("postgres", "both"):
            print("\n=== PostgreSQL, Redis broker and cache ===", flush=True)
            results.update(_measure_postgres(args, database_url, admin_url, name))
    except (
        BenchFailed,
        StartFailed,
        subprocess.TimeoutExpired,
        psycopg.Error,
        redis.RedisError,
    ) as error:
        print(f"\nbench failed: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    return _report(results)


def _measure_postgres(
    args: argparse.Namespace, database_url: str, admin_url: str, name: str
) -> dict[str, Setup]:
    services = {
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": args.broker_url,
        "CACHE_URL": args.cache_url,
    }
    try:
        _flush(args.broker_url, args.cache_url)
        recreate_database(admin_url, name)
        return _measure(args, "postgres", services, {"postgres + redis": {}})
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        drop_database(admin_url, name)
        try:
            _flush(args.broker_url, args.cache_url)
        except redis.RedisError as error:
            print(f"could not empty the Redis databases: {error}", file=sys.stderr)
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _measure(
    args: argparse.Namespace,
    setup: str,
    services: dict[str, str],
    variants: dict[str, dict[str, str]],
) -> dict[str, Setup]:
    """One site: seed it, then for each variant of its worker watch the idle worker, then time
    the uploads, the variants' workers taking turns in blocks so that each meets the machine as
    busy as the others do."""
    processes: list[subprocess.Popen] = []
    with tempfile.TemporaryDirectory(prefix=f"leaderboard-latency-{setup}-") as directory:
        temp = Path(directory)
        password = uuid.uuid4().hex
        env = site_env(temp, "", SUBMISSION_DAILY_QUOTA="1000000", **services)
        if setup == "embedded":
            # The defaults of settings.py: SQLite and the filesystem broker under VAR_DIR.
            for variable in ("DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL", "DB_CONN_MAX_AGE"):
                env.pop(variable)
        embedded = setup == "embedded"
        web_workers, concurrency = EMBEDDED_PROCESSES if embedded else PRODUCTION_PROCESSES
        results = {label: Setup() for label in variants}
        try:
            migrate_and_collect(env)
            seeding_env = {**env, "LATENCY_UPLOADER_PASSWORD": password}
            seed_in_child(__file__, args.submissions, args.seed, seeding_env)
            server_log, worker_log = temp / "gunicorn.log", temp / "worker.log"
            server, url = start_gunicorn(env, server_log, workers=web_workers)
            processes.append(server)
            print(f"gunicorn: {web_workers} workers on {url}/", flush=True)
            for label, extra in variants.items():
                worker = start_worker({**env, **extra}, worker_log, concurrency=concurrency)
                # Let the worker's start-up end before it is watched.
                time.sleep(3)
                before = cpu_seconds(worker.pid)
                time.sleep(args.idle_seconds)
                results[label].idle_cpu = (cpu_seconds(worker.pid) - before) / args.idle_seconds
                print(f"{label}: idle worker {results[label].idle_cpu:.2%} of one core")
                stop(worker)
            blocks = math.ceil(args.trials / BLOCK)
            count = (args.trials + blocks * WARM_UPS) * len(variants)
            uploads = iter(_upload_files(count, args.seed + 1))
            running = ""
            with Uploader(url, password) as uploader:
                for _ in range(blocks):
                    for label, extra in variants.items():
                        result = results[label]
                        todo = min(BLOCK, args.trials - len(result.listed))
                        if todo <= 0:
                            continue
                        if label != running:
                            if running:
                                stop(processes.pop())
                            worker = start_worker(
                                {**env, **extra}, worker_log, concurrency=concurrency
                            )
                            processes.append(worker)
                        try:
                            # A new worker's processes take longer over their first task than
                            # those of a site that has been running.
                            for _ in range(WARM_UPS if label != running else 0):
                                uploader.time(next(uploads), f"{label} (warm-up)", None)
                            running = label
                            load = os.getloadavg()[0]
                            for _ in range(todo):
                                uploader.time(next(uploads), label, result)
                        except BenchFailed:
                            for log in (worker_log, server_log):
                                print(f"\n{log.name}:\n{log.read_bytes()[-3000:].decode()}")
                            raise
                        result.load.append((load + os.getloadavg()[0]) / 2)
            return results
        finally:
            for process in reversed(processes):
                stop(process)


# --- Setup, in a child process with the site's environment -----------------------------------


def _seed_child(total: int, seed: int, password: str) -> int:
    status = seed_board(total, seed)
    if status:
        return status
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_user(username=UPLOADER, password=password)
    return 0


@dataclass(frozen=True)
class Upload:
    model: str
    content: bytes


def _upload_files(count: int, seed: int) -> list[Upload]:
    """Distinct prediction files to upload: perturbed copies unlike those of the seeding."""
    rng = random.Random(seed)
    files = prediction_files()
    chosen = [files[rng.randrange(len(files))] for _ in range(count)]
    originals = {path: read_predictions(path) for path in set(chosen)}
    uploads = []
    for number, path in enumerate(chosen, start=1):
        blanked = rng.uniform(0, 0.4)
        base = path.name.removesuffix(".csv.gz")
        uploads.append(
            Upload(
                model=f"{base}-latency-blank{round(blanked * 100):02d}-{number:03d}",
                content=perturbed(originals[path], blanked, rng),
            )
        )
    return uploads


def _check_redis_urls(parser: argparse.ArgumentParser, *urls: str) -> None:
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme != "redis" or parts.hostname not in LOOPBACK or not parts.path.strip("/"):
            parser.error(f"{url}: must be redis://127.0.0.1:6379/<db> on this machine")
    if len(set(urls)) != len(urls):
        parser.error("--broker-url and --cache-url must be different Redis databases")


def _flush(*urls: str) -> None:
    for url in urls:
        client = redis.Redis.from_url(url, socket_timeout=10)
        try:
            client.flushdb()
        finally:
            client.close()


# --- The uploads ------------------------------------------------------------------------------


@dataclass
class Setup:
    idle_cpu: float = float("nan")
    scored: list[float] = field(default_factory=list)
    listed: list[float] = field(default_factory=list)
    page: list[float] = field(default_factory=list)
    page_lag: list[float] = field(default_factory=list)
    # The machine's load average (1 min) while the uploads were timed, one per block.
    load: list[float] = field(default_factory=list)


class Watch(threading.Thread):
    """Polls an upload's status JSON and the board from the click on, with the browser's cookies."""

    def __init__(self, url: str, cookie: str, model: str, started: float) -> None:
        super().__init__(daemon=True)
        self.url, self.cookie, self.model, self.started = url, cookie, model, started
        self.submission_id: int | None = None
        self.scored_at: float | None = None
        self.listed_at: float | None = None
        self.status = ""
        self.error = ""
        self.done = threading.Event()

    def run(self) -> None:
        client = httpx.Client(base_url=self.url, timeout=30, headers={"Cookie": self.cookie})
        try:
            # The board can list the upload only once it is scored: the status first, then the
            # board, so that the site answers no more requests than it must.
            while time.perf_counter() - self.started < TRIAL_TIMEOUT:
                if self.scored_at is None:
                    if self.submission_id is not None:
                        self._status(client)
                elif self._listed(client):
                    self.listed_at = time.perf_counter()
                    return
                if self.error:
                    return
                time.sleep(POLL_EVERY)
            self.error = f"not scored and listed within {TRIAL_TIMEOUT:.0f} s ({self.status})"
        except (httpx.HTTPError, ValueError, KeyError) as error:
            self.error = f"{type(error).__name__}: {error}"
        finally:
            client.close()
            self.done.set()

    def _status(self, client: httpx.Client) -> None:
        response = client.get(STATUS.format(self.submission_id))
        if response.status_code != 200:
            self.error = f"{STATUS.format(self.submission_id)} answered {response.status_code}"
            return
        self.status = response.json()["status"]
        if self.status == "scored":
            self.scored_at = time.perf_counter()
        elif self.status in ("rejected", "failed"):
            self.error = f"the upload ended {self.status}"

    def _listed(self, client: httpx.Client) -> bool:
        response = client.get(BOARD_JSON)
        if response.status_code != 200:
            self.error = f"{BOARD_JSON} answered {response.status_code}"
            return False
        return any(row["model"] == self.model for row in response.json()["rows"])


# Tells the bench when a document first shows the status "scored", by the browser's clock: a
# locator would wait for the reload that follows and miss the moment the status turned.
REPORT_SCORED = """
(() => {
  let reported = false;
  const check = () => {
    const status = document.getElementById("status-text");
    if (!reported && status && status.classList.contains("status-scored")) {
      reported = true;
      window.reportScored(Date.now());
    }
  };
  new MutationObserver(check).observe(document, {
    subtree: true, childList: true, attributes: true, attributeFilter: ["class"],
  });
})();
"""


class Uploader:
    """A real browser, logged in as the uploader, that sends files through the submit form."""

    def __init__(self, url: str, password: str) -> None:
        self.url, self.password = url, password
        self.rng = random.Random(url)

    def __enter__(self) -> Uploader:
        from playwright.sync_api import sync_playwright

        self.playwright = sync_playwright().start()
        try:
            self.browser = self.playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"],
            )
            self.page = self.browser.new_page(base_url=self.url)
            self.shown: list[float] = []
            self.page.expose_function("reportScored", lambda ms: self.shown.append(ms / 1000))
            self.page.add_init_script(REPORT_SCORED)
            self.page.goto("/accounts/login/")
            self.page.fill("#id_username", UPLOADER)
            self.page.fill("#id_password", self.password)
            self.page.get_by_role("button", name="Log in").click()
            self.page.get_by_text(f"Log out {UPLOADER}").wait_for()
        except BaseException:
            self.playwright.stop()
            raise
        cookies = self.page.context.cookies()
        self.cookie = "; ".join(f"{each['name']}={each['value']}" for each in cookies)
        return self

    def __exit__(self, *exc_info) -> None:
        self.browser.close()
        self.playwright.stop()

    def time(self, upload: Upload, label: str, result: Setup | None) -> None:
        """Upload one file and wait until it is scored, listed and shown scored on its page."""
        from playwright.sync_api import Error as PlaywrightError

        page = self.page
        # The last upload's page reloads itself once scored: let that reload end first.
        for attempt in range(3):
            try:
                page.goto(SUBMIT)
                break
            except PlaywrightError as error:
                if "interrupted by another navigation" not in str(error) or attempt == 2:
                    raise
                page.wait_for_load_state()
        page.fill("#id_model_name", upload.model)
        page.fill("#id_organisation", "Latency benchmark")
        page.set_input_files(
            "#id_file",
            {
                "name": f"{upload.model}.csv.gz",
                "mimeType": "application/gzip",
                "buffer": upload.content,
            },
        )
        time.sleep(self.rng.uniform(0.5, 1.5))
        self.shown.clear()
        started, started_clock = time.perf_counter(), time.time()
        watch = Watch(self.url, self.cookie, upload.model, started)
        watch.start()
        page.get_by_role("button", name="Upload and score").click()
        try:
            page.wait_for_url("**/submissions/*/")
            watch.submission_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
            while not self.shown and time.perf_counter() - started < TRIAL_TIMEOUT:
                page.wait_for_timeout(20)
        except PlaywrightError as error:
            raise BenchFailed(f"{upload.model}: {error}") from None
        if not self.shown:
            raise BenchFailed(f"{upload.model}: the page never showed scored")
        shown_at = started + min(self.shown) - started_clock
        watch.done.wait(TRIAL_TIMEOUT)
        if watch.error or watch.scored_at is None or watch.listed_at is None:
            raise BenchFailed(f"{upload.model}: {watch.error or 'no answer'}")
        print(
            f"  {label}: scored {watch.scored_at - started:.2f} s, "
            f"listed {watch.listed_at - started:.2f} s, "
            f"page shows scored {shown_at - started:.2f} s",
            flush=True,
        )
        if result is not None:
            result.scored.append(watch.scored_at - started)
            result.listed.append(watch.listed_at - started)
            result.page.append(shown_at - started)
            result.page_lag.append(shown_at - watch.scored_at)


# --- The report ---------------------------------------------------------------------------------


def _spread(values: list[float]) -> str:
    if not values:
        return "-"
    if len(values) < 2:
        return f"{values[0]:.2f} s"
    quartiles = statistics.quantiles(values, n=4, method="inclusive")
    return (
        f"{statistics.median(values):.2f} s ({quartiles[0]:.2f}–{quartiles[2]:.2f}, "
        f"max {max(values):.2f})"
    )


def _report(results: dict[str, Setup]) -> int:
    names = list(results)
    rows = [
        ("upload → scored (status JSON)", "scored", ""),
        ("upload → listed (leaderboard.json)", "listed", f"≤ {TARGET_LISTED:.2f} s"),
        ("upload → page shows scored", "page", ""),
        ("scored → page shows scored", "page_lag", f"≤ {TARGET_PAGE_LAG:.2f} s"),
    ]
    width = 36
    column = 32
    print("\nmedian (p25–p75, max) per setup, beside the target for the median:")
    header = "".join(f"{name:<{column}}" for name in names)
    print(f"{'':<{width}}{header}target")
    for label, attribute, target in rows:
        cells = "".join(f"{_spread(getattr(results[name], attribute)):<{column}}" for name in names)
        print(f"{label:<{width}}{cells}{target}")
    idle = "".join(f"{results[name].idle_cpu:<{column}.2%}" for name in names)
    print(f"{'idle worker, share of one core':<{width}}{idle}")
    load = "".join(f"{_loads(results[name].load):<{column}}" for name in names)
    print(f"{'load average while timed':<{width}}{load}on {os.cpu_count()} cores")
    if any(max(result.load, default=0) > (os.cpu_count() or 1) for result in results.values()):
        print(
            "\nThe machine was busier than it has cores: other processes' work stretched every "
            "figure above; compare the columns, measured in turns, rather than the targets."
        )

    checks = []
    # The variant with the worker as it was is there for comparison, not held to the targets.
    for name in ("embedded", "postgres + redis"):
        if name not in results:
            continue
        result = results[name]
        listed = statistics.median(result.listed)
        lag = statistics.median(result.page_lag)
        checks.append((f"{name}: upload → listed p50 ≤ {TARGET_LISTED} s", listed <= TARGET_LISTED))
        checks.append(
            (
                f"{name}: scored → page shows scored p50 ≤ {TARGET_PAGE_LAG} s",
                lag <= TARGET_PAGE_LAG,
            )
        )
    print()
    for label, ok in checks:
        print(f"{'met' if ok else 'MISSED':>7}  {label}")
    return 0 if all(ok for _, ok in checks) else 1


def _loads(values: list[float]) -> str:
    return f"{min(values):.1f}–{max(values):.1f}" if values else "-"


if __name__ == "__main__":
    sys.exit(main())
