"""Benchmark: the site under concurrent readers while uploads are scored, with nothing lost.

Runs the site as production does (gunicorn with 3 sync workers as the Dockerfile, one Celery
worker of concurrency 2 as docker-compose.yml, PostgreSQL with persistent connections, Redis as
broker and shared cache, DEBUG off, static files collected for WhiteNoise), on a database and
Redis databases of its own. The MMLU-Pro board is seeded with ``--submissions`` scored
submissions (the 29 real models and perturbed copies of their files). Then, for ``--seconds``:

- ``--clients`` client processes, each on its own HTTP/1.1 connection, read the benchmark page,
  its ``leaderboard.json`` and the ``/submissions/<id>.json`` status of the latest uploads, in
  turn and as fast as the server answers;
- ``--owner-clients`` client processes logged in as a user who owns private scored submissions,
  and ``--staff-clients`` logged in as a staff member (who sees every private submission), read
  the page and ``leaderboard.json`` in turn: boards with private rows that nobody else sees;
- one user, logged in through the login form, uploads a new prediction file through the submit
  form every ``--upload-every`` seconds, so the worker scores while the board is read, and each
  scoring changes the board under the readers.

Afterwards it waits (at most ``--drain-seconds``) for every upload to end, and prints per URL the
requests, req/s, p50, p99 and max latency seen by the clients and the time spent inside gunicorn
(from its access log), and the errors (any answer but 200, or 302 for an upload, and any
connection error); where the CPU went meanwhile (gunicorn, Celery, PostgreSQL, the readers,
anything else on the machine: a busy machine is flagged, as it makes every figure worse); what
became of the uploads and whether the board lists every scored one; and, for the page and the
JSON board, how many of those given to readers lacked an upload that some reader had already
seen scored, and by how long; and, side by side, the median and spread (p25–p75) of the
logged-in readers' pages and of the anonymous page, with the ratio of their medians. The targets:
p99 of the anonymous page under 250 ms, the median page of each logged-in reader at most 3× the
anonymous page's, no error, no upload lost (one not ending scored or rejected). The exit status
is 1 when a target is missed or a step failed.

    .venv/bin/python bench/load.py [--seconds 20] [--clients 12] [--owner-clients 1] \\
        [--staff-clients 1] [--upload-every 1.5] [--logs DIR]

Twelve clients on a 2-core machine keep gunicorn's three workers busy all the time (the p50 is
mostly the wait for a free worker), so that a board computed in a web worker after a scoring
shows at once in the p99.

Everything it started is stopped, its database dropped and its Redis databases emptied at the
end, on Ctrl-C too.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import math
import multiprocessing
import os
import queue
import random
import re
import resource
import shutil
import signal
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
    ACCESS_LOG,
    ACCESS_LOG_LINE,
    LOOPBACK,
    SLUG,
    BenchFailed,
    cpu_seconds,
    database_cpu_seconds,
    database_urls,
    drop_database,
    machine_cpu_seconds,
    migrate_and_collect,
    percentile_ms,
    perturbed,
    prediction_files,
    read_predictions,
    recreate_database,
    seed_board,
    seed_in_child,
    site_env,
)

from tests.processes import HOST, StartFailed, start_gunicorn, start_worker, stop

PAGE = f"/benchmarks/{SLUG}/"
BOARD_JSON = f"/benchmarks/{SLUG}/leaderboard.json"
SUBMIT = f"/benchmarks/{SLUG}/submit/"
# The status URL of an upload; the table shows it with <id>.
STATUS = "/submissions/{}.json"
UPLOADER = "load-uploader"
# Logged-in readers who see more than the public board: a user who owns private scored
# submissions, and a staff member (who sees every private one).
OWNER = "load-owner"
STAFF = "load-staff"
PRIVATE_SUBMISSIONS = 2
# The logged-in readers: who they log in as, and their series (page, json) after those of the
# page, json, status, form and upload. Their requests carry the reader's name in the query string,
# which the site ignores, so that gunicorn's access log tells them apart.
VIEWERS = {"owner": (OWNER, 5, 6), "staff": (STAFF, 7, 8)}
TARGET_PAGE_P99_MS = 250.0
# The pages of a logged-in reader who sees private rows, against the anonymous page's.
TARGET_OWN_PAGE_RATIO = 3.0
# Beyond this share of the machine's CPU taken by other processes, the report warns.
BUSY_MACHINE = 0.15
# As the Dockerfile and docker-compose.yml run the site.
GUNICORN_WORKERS = 3
WORKER_CONCURRENCY = 2
# Readers poll the status of the uploads most likely still moving: the latest few.
STATUS_RECENT = 4
# Room for the ids of the uploads, shared with the client processes.
MAX_UPLOADS = 10_000
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
MODELS_ON_PAGE = re.compile(rb"\s([\d,]+) models? \xc2\xb7")
SUBMISSION_URL = re.compile(r"^/submissions/(\d+)/$")
FORM_ERRORS = re.compile(r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', re.S)
ENDED = {"scored", "rejected", "failed"}
# What the standard library's client asked for, and the earlier figures were measured with.
IDENTITY = {"Accept-Encoding": "identity"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20, help="length of the load window")
    parser.add_argument("--clients", type=int, default=12, help="concurrent reader processes")
    parser.add_argument(
        "--owner-clients",
        type=int,
        default=1,
        help="reader processes logged in as a user with private scored submissions",
    )
    parser.add_argument(
        "--staff-clients", type=int, default=1, help="reader processes logged in as staff"
    )
    parser.add_argument(
        "--upload-every", type=float, default=1.5, help="seconds between two uploads"
    )
    parser.add_argument("--submissions", type=int, default=200, help="scored submissions seeded")
    parser.add_argument(
        "--drain-seconds",
        type=float,
        default=120,
        help="how long to wait after the window for the uploads to end",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the perturbed copies")
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/leaderboard_bench_load"
    )
    parser.add_argument("--broker-url", default="redis://127.0.0.1:6379/10")
    parser.add_argument("--cache-url", default="redis://127.0.0.1:6379/11")
    parser.add_argument(
        "--logs", type=Path, help="a folder to keep gunicorn's and the worker's logs in"
    )
    parser.add_argument("--seed-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.seed_child:
        return _seed_child(args.submissions, args.seed, os.environ["LOAD_UPLOADER_PASSWORD"])
    if args.seconds <= 0 or args.clients < 1 or args.upload_every <= 0 or args.submissions < 1:
        parser.error("--seconds, --clients, --upload-every and --submissions must be positive")
    if args.owner_clients < 0 or args.staff_clients < 0:
        parser.error("--owner-clients and --staff-clients must not be negative")
    _check_redis_urls(parser, args.broker_url, args.cache_url)
    database_url, admin_url, name = database_urls(parser, args.database_url)

    # A SIGTERM ends the run as Ctrl-C does: through the cleanup below.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    processes: list[tuple[subprocess.Popen, str]] = []
    readers: list[multiprocessing.Process] = []
    with tempfile.TemporaryDirectory(prefix="leaderboard-load-") as directory:
        temp = Path(directory)
        password = uuid.uuid4().hex
        env = site_env(
            temp,
            database_url,
            cache_url=args.cache_url,
            broker_url=args.broker_url,
            # The uploader sends more files than a day's quota allows a person.
            SUBMISSION_DAILY_QUOTA="1000000",
        )
        try:
            _flush(args.broker_url, args.cache_url)
            recreate_database(admin_url, name)
            migrate_and_collect(env)
            seeding_env = {**env, "LOAD_UPLOADER_PASSWORD": password}
            seed_in_child(__file__, args.submissions, args.seed, seeding_env)
            uploads = _upload_files(math.ceil(args.seconds / args.upload_every) + 1, args.seed + 1)
            worker_log, server_log = temp / "worker.log", temp / "gunicorn.log"
            worker = start_worker(env, worker_log, concurrency=WORKER_CONCURRENCY)
            processes.append((worker, "celery"))
            print(f"celery: one worker, concurrency {WORKER_CONCURRENCY}")
            server, url = start_gunicorn(
                env, server_log, workers=GUNICORN_WORKERS, options=ACCESS_LOG
            )
            processes.append((server, "gunicorn"))
            print(f"gunicorn: {GUNICORN_WORKERS} workers on {url}/")
            site = Site(url, server.pid, worker.pid, server_log, worker_log, name)
            try:
                failed = _run(args, site, password, uploads, readers)
                if failed:
                    _show_problems(worker_log, server_log)
            finally:
                if args.logs:
                    args.logs.mkdir(parents=True, exist_ok=True)
                    for log in (server_log, worker_log):
                        shutil.copy(log, args.logs / log.name)
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
        finally:
            # Ctrl-C again while cleaning up must not leave anything behind.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            _stop_readers(readers)
            for process, label in reversed(processes):
                stop(process)
                print(f"{label}: stopped")
            drop_database(admin_url, name)
            try:
                _flush(args.broker_url, args.cache_url)
            except redis.RedisError as error:
                print(f"could not empty the Redis databases: {error}", file=sys.stderr)
    return 1 if failed else 0


def _stop_readers(readers: list[multiprocessing.Process]) -> None:
    for reader in readers:
        if reader.is_alive():
            reader.terminate()
    deadline = time.monotonic() + 5
    for reader in readers:
        reader.join(timeout=max(0.1, deadline - time.monotonic()))
        if reader.is_alive():
            reader.kill()
            reader.join(timeout=5)


def _show_problems(*logs: Path) -> None:
    """The errors the site logged, before its logs go with the temporary directory."""
    for log in logs:
        lines = log.read_text("utf-8", "replace").splitlines()
        found = [line for line in lines if re.search(r"ERROR|CRITICAL|Traceback|Error:", line)]
        if found:
            print(f"\n{log.name}: {len(found)} error lines, the last ones:")
            for line in found[-15:]:
                print(f"  {line[:300]}")


def _check_redis_urls(parser: argparse.ArgumentParser, *urls: str) -> None:
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme != "redis" or parts.hostname not in LOOPBACK or not parts.path.strip("/"):
            parser.error(f"{url}: must be redis://127.0.0.1:6379/<db> on this machine")
    if len(set(urls)) != len(urls):
        parser.error("--broker-url and --cache-url must be different Redis databases")


def _flush(*urls: str) -> None:
    """Empty the bench's own Redis databases: no task or cached board of another run."""
    for url in urls:
        client = redis.Redis.from_url(url, socket_timeout=10)
        try:
            client.flushdb()
        finally:
            client.close()


# --- Setup, in a child process with the site's environment -----------------------------------


def _seed_child(total: int, seed: int, password: str) -> int:
    status = seed_board(total, seed)
    if status:
        return status
    from django.contrib.auth import get_user_model
    from django.core.files.base import ContentFile

    from leaderboard import services
    from leaderboard.models import Benchmark, Submission

    users = get_user_model().objects
    users.create_user(username=UPLOADER, password=password)
    users.create_user(username=STAFF, password=password, is_staff=True)
    owner = users.create_user(username=OWNER, password=password)
    benchmark = Benchmark.objects.get(slug=SLUG)
    for upload in _upload_files(PRIVATE_SUBMISSIONS, seed + 2):
        submission = services.submission_create(
            benchmark=benchmark,
            owner=owner,
            file=ContentFile(upload.content, name=f"{upload.model}.csv.gz"),
            model_name=upload.model.replace("-load-", "-private-"),
            visibility=Submission.Visibility.PRIVATE,
            queue=False,
        )
        result = services.submission_score(submission_id=submission.pk)
        if result is None or result.status != Submission.Status.SCORED:
            print(f"  private {upload.model}: not scored", file=sys.stderr)
            return 1
    print(f"  {OWNER}: {PRIVATE_SUBMISSIONS} private scored submissions", flush=True)
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
                model=f"{base}-load-blank{round(blanked * 100):02d}-{number:03d}",
                content=perturbed(originals[path], blanked, rng),
            )
        )
    return uploads


# --- The load window --------------------------------------------------------------------------


@dataclass
class Series:
    label: str
    path: str
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""
    # The time each request took inside gunicorn, from its access log.
    server: list[float] = field(default_factory=list)

    def add(self, latency: float, error: str) -> None:
        if error:
            self.errors += 1
            self.first_error = self.first_error or error
        else:
            self.latencies.append(latency)


@dataclass
class Sent:
    id: int
    model: str
    status: str = "queued"


@dataclass(frozen=True)
class Site:
    url: str
    # Process groups: each was started in a session of its own.
    server: int
    worker: int
    server_log: Path
    worker_log: Path
    database: str


@dataclass
class Cpu:
    """CPU seconds used during the window, by who used them."""

    gunicorn: float = 0.0
    celery: float = 0.0
    postgres: float = 0.0
    readers: float = 0.0
    busy: float = 0.0
    total: float = 0.0

    @classmethod
    def now(cls, site: Site) -> Cpu:
        busy, total = machine_cpu_seconds()
        return cls(
            gunicorn=cpu_seconds(site.server),
            celery=cpu_seconds(site.worker),
            postgres=database_cpu_seconds(site.database),
            busy=busy,
            total=total,
        )

    def since(self, start: Cpu, readers: float) -> Cpu:
        return Cpu(
            gunicorn=self.gunicorn - start.gunicorn,
            celery=self.celery - start.celery,
            postgres=self.postgres - start.postgres,
            readers=readers,
            busy=self.busy - start.busy,
            total=self.total - start.total,
        )

    @property
    def others(self) -> float:
        """Busy time of the machine outside the site and its readers: Redis, other processes."""
        return max(0.0, self.busy - self.gunicorn - self.celery - self.postgres - self.readers)


def _run(
    args: argparse.Namespace,
    site: Site,
    password: str,
    uploads: list[Upload],
    readers: list[multiprocessing.Process],
) -> bool:
    """Warm up, run the load window, wait for the uploads; print it all. True if a target failed."""
    url = site.url
    with _client(url, timeout=60) as probe:
        response = probe.get(BOARD_JSON)
    if response.status_code != 200:
        raise BenchFailed(f"{BOARD_JSON} answered {response.status_code}")
    seeded_rows = response.json()["rows"]
    if len(seeded_rows) != args.submissions:
        raise BenchFailed(f"the board lists {len(seeded_rows)} rows, not {args.submissions}")
    fallback_id = seeded_rows[0]["id"]
    _warm_up(url, [PAGE, BOARD_JSON, STATUS.format(fallback_id)])

    browser = Browser(url)
    browser.log_in(UPLOADER, password)
    cookies = {}
    for viewer, (username, _, _) in VIEWERS.items():
        session = Browser(url)
        session.log_in(username, password)
        cookies[viewer] = f"sessionid={session.client.cookies['sessionid']}"
        session.client.close()
    _warm_up(url, [PAGE, BOARD_JSON], cookies.values())

    # Fork the readers before any thread exists in this process; they share the upload ids.
    context = multiprocessing.get_context("fork")
    ids = context.Array("q", MAX_UPLOADS, lock=False)
    count = context.Value("i", 0)
    results = context.Queue()
    started_at = time.time() + 1.0
    deadline = started_at + args.seconds
    for number in range(args.clients):
        reader = context.Process(
            target=_reader,
            args=(number, url, started_at, deadline, ids, count, fallback_id, results),
            daemon=True,
        )
        reader.start()
        readers.append(reader)
    logged_in = ["owner"] * args.owner_clients + ["staff"] * args.staff_clients
    for number, viewer in enumerate(logged_in):
        reader = context.Process(
            target=_reader,
            args=(number, url, started_at, deadline, ids, count, fallback_id, results),
            kwargs={"viewer": viewer, "cookie": cookies[viewer]},
            daemon=True,
        )
        reader.start()
        readers.append(reader)

    form = Series("form", f"{SUBMIT} (GET)")
    posted = Series("upload", f"{SUBMIT} (POST)")
    sent: list[Sent] = []
    time.sleep(max(0.0, started_at - time.time()))
    log_offset = site.server_log.stat().st_size
    cpu_start = Cpu.now(site)
    next_upload = started_at
    for upload in uploads:
        now = time.time()
        if now >= deadline:
            break
        if next_upload > now:
            time.sleep(next_upload - now)
            if time.time() >= deadline:
                break
        # A slow upload delays the next one rather than bunching the following ones up.
        next_upload = max(next_upload + args.upload_every, time.time())
        submission_id = browser.upload(upload, form, posted)
        if submission_id is not None:
            sent.append(Sent(submission_id, upload.model))
            ids[count.value] = submission_id
            count.value += 1
    time.sleep(max(0.0, deadline - time.time()))
    cpu_end = Cpu.now(site)
    with site.server_log.open("rb") as log:
        log.seek(log_offset)
        window_log = log.read().decode("utf-8", "replace")

    try:
        reports = [results.get(timeout=60 + args.seconds) for _ in readers]
    except queue.Empty:
        raise BenchFailed("a reader process gave no results: it failed") from None
    for reader in readers:
        reader.join(timeout=10)
    elapsed = args.seconds
    cpu = cpu_end.since(cpu_start, sum(reader_cpu for _, reader_cpu in reports))

    drained = _drain(browser, sent, args.drain_seconds)
    scored = sum(1 for upload in sent if upload.status == "scored")
    board_rows = _final_board(url, args.submissions + scored)

    series = [
        Series("page", PAGE),
        Series("json", BOARD_JSON),
        Series("status", STATUS.format("<id>")),
    ]
    series += [form, posted]
    for viewer in VIEWERS:
        series += [
            Series(f"{viewer} page", f"{PAGE}?reader={viewer}"),
            Series(f"{viewer} json", f"{BOARD_JSON}?reader={viewer}"),
        ]
    # When a reader first saw each upload scored, from the status answers.
    seen: dict[int, float] = {}
    uploaded = {upload.id for upload in sent}
    for samples, _ in reports:
        for kind, _, received_at, _, error, value in samples:
            # Not the seeded submission the readers poll before the first upload.
            if kind == 2 and value in uploaded and not error:
                seen[value] = min(received_at, seen.get(value, received_at))
    seen_at = sorted(seen.values())
    freshness = {0: Freshness("page"), 1: Freshness("json")}
    for samples, _ in reports:
        for kind, sent_at, _, latency, error, value in samples:
            series[kind].add(latency, error)
            if kind in freshness and not error:
                freshness[kind].add(value, _lag(value - args.submissions, seen_at, sent_at))
    _add_server_times(series, window_log)
    return _report(args, series, elapsed, cpu, sent, drained, board_rows, list(freshness.values()))


@dataclass
class Freshness:
    """How far behind the scorings the boards that readers were given were."""

    label: str
    rows: list[int] = field(default_factory=list)
    lags: list[float] = field(default_factory=list)

    def add(self, rows: int, lag: float) -> None:
        self.rows.append(rows)
        self.lags.append(lag)

    def __str__(self) -> str:
        behind = [lag for lag in self.lags if lag > 0]
        if not self.rows:
            return f"{self.label}: none read"
        text = (
            f"{self.label}: {min(self.rows)} to {max(self.rows)} rows; {len(behind)} of "
            f"{len(self.lags)} lacked an upload that a reader had seen scored before the request"
        )
        if behind:
            text += f", by {max(behind) * 1000:.0f} ms at most"
        return text


def _add_server_times(series: list[Series], log: str) -> None:
    """Each URL's time inside gunicorn, from its access log: the latency without the queue."""
    for line in log.splitlines():
        match = ACCESS_LOG_LINE.search(line)
        if not match:
            continue
        path, method = match["path"], match["method"]
        viewer = next((v for v in VIEWERS if path.endswith(f"?reader={v}")), "")
        if viewer:
            _, page_kind, json_kind = VIEWERS[viewer]
            kind = page_kind if path.startswith(f"{PAGE}?") else json_kind
        elif path == PAGE:
            kind = 0
        elif path == BOARD_JSON:
            kind = 1
        elif re.fullmatch(r"/submissions/\d+\.json", path):
            kind = 2
        elif path == SUBMIT:
            kind = 3 if method == "GET" else 4
        else:
            continue
        series[kind].server.append(int(match["ms"]) / 1000)


def _warm_up(url: str, paths: list[str], cookies=("",)) -> None:
    """Untimed requests first: each gunicorn worker imports and connects on first use.

    With `cookies`, the paths are read with each of these sessions' cookie in turn.
    """
    cookies = list(cookies)

    def hit() -> None:
        clients = [_client(url, timeout=60, cookie=cookie) for cookie in cookies]
        try:
            for _ in range(3):
                for path, client in [(path, client) for path in paths for client in clients]:
                    status = client.get(path).status_code
                    if status != 200:
                        raise BenchFailed(f"{path} answered {status} while warming up")
        finally:
            for client in clients:
                client.close()

    failures: list[BaseException] = []

    def guarded() -> None:
        try:
            hit()
        except (BenchFailed, httpx.HTTPError) as error:
            failures.append(error)

    threads = [threading.Thread(target=guarded) for _ in range(GUNICORN_WORKERS * 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise BenchFailed(f"warm-up: {failures[0]}")


def _reader(
    number: int,
    url: str,
    started_at: float,
    deadline: float,
    ids,
    count,
    fallback_id: int,
    results,
    viewer: str = "",
    cookie: str = "",
) -> None:
    """One client: the page, the JSON board and an upload's status in turn, until the deadline;
    logged in as a `viewer` (with its session `cookie`), the page and the JSON board in turn.

    Sends back, per request, (kind, sent at, received at, latency, error, value) where the value
    is the number of rows of a page or JSON board, or the id of an upload found scored; and the
    CPU time it used.
    """
    # The bench stops its readers itself, at once (SIGTERM), also on Ctrl-C.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    rng = random.Random(number)
    samples: list[tuple[int, float, float, float, str, int]] = []
    kind = number % 3
    following = {0: 1, 1: 2, 2: 0}
    if viewer:
        _, page_kind, json_kind = VIEWERS[viewer]
        paths = {page_kind: f"{PAGE}?reader={viewer}", json_kind: f"{BOARD_JSON}?reader={viewer}"}
        kind = page_kind if number % 2 == 0 else json_kind
        following = {page_kind: json_kind, json_kind: page_kind}
    client = _client(url, timeout=30, cookie=cookie)
    time.sleep(max(0.0, started_at - time.time()))
    cpu_start = _own_cpu()
    try:
        while True:
            sent_at = time.time()
            if sent_at >= deadline:
                break
            if viewer:
                path = paths[kind]
            elif kind == 0:
                path = PAGE
            elif kind == 1:
                path = BOARD_JSON
            else:
                known = count.value
                if known:
                    path = STATUS.format(ids[known - 1 - rng.randrange(min(known, STATUS_RECENT))])
                else:
                    path = STATUS.format(fallback_id)
            value = 0
            started = time.perf_counter()
            try:
                response = client.get(path)
                status, body = response.status_code, response.content
                error = "" if status == 200 else f"HTTP {status} from {path}"
            except httpx.HTTPError as failure:
                error = f"{type(failure).__name__} from {path}: {failure}"
                body = b""
            latency = time.perf_counter() - started
            received_at = time.time()
            if not error:
                value = _value(kind, body)
            samples.append((kind, sent_at, received_at, latency, error, value))
            kind = following[kind]
    finally:
        client.close()
        results.put((samples, _own_cpu() - cpu_start))


def _value(kind: int, body: bytes) -> int:
    if kind > 2:
        return 0  # a logged-in reader's board: not followed for freshness
    if kind == 0:
        # The page's header counts the models on the board (its table shows a page of them).
        found = MODELS_ON_PAGE.search(body)
        return int(found.group(1).replace(b",", b"")) if found else 0
    data = json.loads(body)
    if kind == 1:
        return len(data["rows"])
    return data["id"] if data["status"] == "scored" else 0


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _lag(on_board: int, seen_at: list[float], sent_at: float) -> float:
    """How long before the request a reader had seen scored an upload its board lacks.

    Uploads join the board in the order their scorings end, so a board of the seeded rows plus
    ``on_board`` uploads lacks the next one to be seen scored; 0 if nobody had yet.
    """
    if 0 <= on_board < len(seen_at) and seen_at[on_board] < sent_at:
        return sent_at - seen_at[on_board]
    return 0.0


def _drain(browser: Browser, sent: list[Sent], seconds: float) -> float:
    """Follow the uploads' status until each has ended or the time is up; the seconds it took."""
    started = time.monotonic()
    while True:
        for upload in sent:
            if upload.status in ENDED:
                continue
            response = browser.client.get(STATUS.format(upload.id))
            if response.status_code != 200:
                raise BenchFailed(f"{STATUS.format(upload.id)} answered {response.status_code}")
            upload.status = response.json()["status"]
        if all(upload.status in ENDED for upload in sent):
            return time.monotonic() - started
        if time.monotonic() - started > seconds:
            return time.monotonic() - started
        time.sleep(0.5)


def _final_board(url: str, expected: int) -> int:
    """Rows of the public board once it has caught up with the scorings (at most 30 s)."""
    deadline = time.monotonic() + 30
    with _client(url, timeout=60) as client:
        while True:
            response = client.get(BOARD_JSON)
            if response.status_code != 200:
                raise BenchFailed(f"{BOARD_JSON} answered {response.status_code} after the window")
            rows = len(response.json()["rows"])
            if rows == expected or time.monotonic() > deadline:
                return rows
            time.sleep(0.5)


# --- The clients --------------------------------------------------------------------------------


def _client(url: str, *, timeout: float, cookie: str = "") -> httpx.Client:
    """A client of the site over HTTP/1.1; gunicorn's sync workers close each connection and the
    client opens the next.

    Its requests ask for what the standard library's client asks (an uncompressed answer), so the
    figures stay comparable with earlier runs. With `cookie` (a reader's session), it sends that
    cookie as it is and keeps none the site sets, as a reader always has.
    """
    if not cookie:
        return httpx.Client(base_url=url, timeout=timeout, headers=IDENTITY)
    return httpx.Client(
        base_url=url,
        timeout=timeout,
        headers={**IDENTITY, "Cookie": cookie},
        cookies=http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy(allowed_domains=[])),
    )


# --- A logged-in user, through the real forms ---------------------------------------------------


class Browser:
    """One user's client with its cookies, as a browser sends the site's forms."""

    def __init__(self, url: str) -> None:
        self.client = _client(url, timeout=60)

    def form_token(self, path: str) -> tuple[int, str]:
        response = self.client.get(path)
        match = TOKEN.search(response.text)
        return response.status_code, match.group(1) if match else ""

    def log_in(self, username: str, password: str) -> None:
        status, token = self.form_token("/accounts/login/")
        if status != 200 or not token:
            raise BenchFailed(f"the login form answered {status} (CSRF token found: {bool(token)})")
        fields = {"username": username, "password": password, "csrfmiddlewaretoken": token}
        response = self.client.post("/accounts/login/", data=fields)
        if response.status_code != 302 or "sessionid" not in self.client.cookies:
            raise BenchFailed(
                f"logging in as {username} answered {response.status_code}: "
                f"{_form_errors(response.content)}"
            )

    def upload(self, upload: Upload, form: Series, posted: Series) -> int | None:
        """Fill in and send the submit form; the new submission's id, None if it failed."""
        started = time.perf_counter()
        try:
            status, token = self.form_token(SUBMIT)
            error = "" if status == 200 and token else f"HTTP {status} from the submit form"
        except httpx.HTTPError as failure:
            error = f"{type(failure).__name__} from the submit form: {failure}"
        form.add(time.perf_counter() - started, error)
        if error:
            return None
        fields = {
            "csrfmiddlewaretoken": token,
            "model_name": upload.model,
            "organisation": "Load benchmark",
            "url": "",
            "description": "A perturbed copy of a real MMLU-Pro file, sent by bench/load.py.",
            "visibility": "public",
        }
        file = (f"{upload.model}.csv.gz", upload.content, "application/gzip")
        started = time.perf_counter()
        match = None
        try:
            response = self.client.post(SUBMIT, data=fields, files={"file": file})
            match = SUBMISSION_URL.match(urlsplit(response.headers.get("Location", "")).path)
            if response.status_code == 302 and match:
                error = ""
            else:
                error = (
                    f"HTTP {response.status_code} from the upload of {upload.model}: "
                    f"{_form_errors(response.content)}"
                )
        except httpx.HTTPError as failure:
            error = f"{type(failure).__name__} from the upload of {upload.model}: {failure}"
        posted.add(time.perf_counter() - started, error)
        return int(match.group(1)) if match and not error else None


def _form_errors(body: bytes) -> str:
    """The form's error messages, for a report that says why the site refused it."""
    found = FORM_ERRORS.findall(body.decode("utf-8", "replace"))
    text = " ".join(re.sub(r"<[^>]+>", " ", item) for item in found)
    return " ".join(text.split()) or "no error shown"


# --- The report ---------------------------------------------------------------------------------


def _own_pages(series: list[Series]) -> dict[str, float]:
    """Print the logged-in readers' pages beside the anonymous page, measured in the same window;
    the ratio of their medians (as the clients saw them) per logged-in reader."""
    anonymous = series[0]
    print(
        "\nlogged-in readers' pages beside the anonymous page, in the same window: "
        "median (p25–p75), ms"
    )

    def spread(latencies: list[float]) -> str:
        return (
            f"{percentile_ms(latencies, 50):.0f} "
            f"({percentile_ms(latencies, 25):.0f}–{percentile_ms(latencies, 75):.0f})"
        )

    print(f"  {'':<12} {'as the clients saw them':>26} {'in gunicorn':>22}")
    print(f"  {'anonymous':<12} {spread(anonymous.latencies):>26} {spread(anonymous.server):>22}")
    ratios = {}
    for viewer, (_, page_kind, _) in VIEWERS.items():
        own = series[page_kind]
        if not own.latencies:
            continue
        ratios[viewer] = percentile_ms(own.latencies, 50) / percentile_ms(anonymous.latencies, 50)
        inside = percentile_ms(own.server, 50) / percentile_ms(anonymous.server, 50)
        print(
            f"  {viewer:<12} {spread(own.latencies):>26} {spread(own.server):>22}"
            f"   ratio of medians ×{ratios[viewer]:.2f} (in gunicorn ×{inside:.2f})"
        )
    return ratios


def _report(
    args: argparse.Namespace,
    series: list[Series],
    elapsed: float,
    cpu: Cpu,
    sent: list[Sent],
    drained: float,
    board_rows: int,
    freshness: list[Freshness],
) -> bool:
    print(
        f"\n{args.clients} reader processes (HTTP/1.1; gunicorn's sync workers close each "
        f"connection, the readers reconnect), {GUNICORN_WORKERS} gunicorn sync workers, one "
        f"Celery worker of concurrency {WORKER_CONCURRENCY}, {args.submissions} submissions "
        f"on the board, one upload every {args.upload_every:g} s, for {elapsed:g} s on {HOST}"
    )
    print(
        f"  {'':<10} {'path':<44} {'requests':>8} {'errors':>6} {'req/s':>7} "
        f"{'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}   {'in gunicorn: p50':>16} {'p99':>7}"
    )
    # Without logged-in readers, their rows are left out.
    logged_in = {f"{viewer} {kind}" for viewer in VIEWERS for kind in ("page", "json")}
    shown = [item for item in series if item.latencies or item.label not in logged_in]
    for item in [*shown, None]:
        if item is None:
            latencies = [latency for one in series for latency in one.latencies]
            server = [latency for one in series for latency in one.server]
            errors = sum(one.errors for one in series)
            label, path = "total", ""
        else:
            latencies, server, errors = item.latencies, item.server, item.errors
            label, path = item.label, item.path
        print(
            f"  {label:<10} {path:<44} {len(latencies) + errors:>8} {errors:>6} "
            f"{(len(latencies) + errors) / elapsed:>7.1f} {percentile_ms(latencies, 50):>8.1f} "
            f"{percentile_ms(latencies, 99):>8.1f} {max(latencies, default=math.nan) * 1000:>8.1f}"
            f"   {percentile_ms(server, 50):>16.0f} {percentile_ms(server, 99):>7.0f}"
        )
    for item in series:
        if item.errors:
            print(f"  {item.label}: {item.errors} errors, the first: {item.first_error}")
    # What the machine did meanwhile: the readers and the scoring compete with gunicorn for
    # the cores, and so does anything else running on the machine.
    print(
        f"CPU seconds during the window, of {cpu.total:.0f} on {os.cpu_count()} cores: "
        f"gunicorn {cpu.gunicorn:.1f}, Celery {cpu.celery:.1f}, PostgreSQL {cpu.postgres:.1f}, "
        f"readers {cpu.readers:.1f}, everything else (Redis, other processes) "
        f"{cpu.others:.1f}, idle {cpu.total - cpu.busy:.1f}"
    )
    if cpu.others > BUSY_MACHINE * cpu.total:
        print(
            "  the machine was busy with other work: these latencies are worse than the site's "
            "own; run again on a quiet machine"
        )

    ratios = _own_pages(series)

    ended = {status: sum(1 for upload in sent if upload.status == status) for status in ENDED}
    lost = [upload for upload in sent if upload.status not in ("scored", "rejected")]
    print(
        f"\nuploads: {len(sent)} accepted; after {drained:.1f} s: {ended['scored']} scored, "
        f"{ended['rejected']} rejected, {ended['failed']} failed, "
        f"{len(sent) - sum(ended.values())} still queued or scoring"
    )
    for upload in lost:
        print(f"  lost: #{upload.id} {upload.model} ended {upload.status}")
    expected_rows = args.submissions + ended["scored"]
    print(
        f"board: {board_rows} rows after the window ({args.submissions} seeded + "
        f"{ended['scored']} scored uploads = {expected_rows})"
    )
    print("boards read during the window:")
    for item in freshness:
        print(f"  {item}")

    page_p99 = percentile_ms(series[0].latencies, 99)
    errors = sum(item.errors for item in series)
    checks = [
        (
            f"p99 of the page < {TARGET_PAGE_P99_MS:g} ms",
            page_p99 < TARGET_PAGE_P99_MS,
            f"{page_p99:.1f} ms",
        ),
        *[
            (
                f"{viewer} page ≤ {TARGET_OWN_PAGE_RATIO:g}× anonymous page",
                ratio <= TARGET_OWN_PAGE_RATIO,
                f"×{ratio:.2f}",
            )
            for viewer, ratio in ratios.items()
        ],
        ("0 errors", errors == 0, str(errors)),
        ("0 lost submissions", not lost, str(len(lost))),
        ("every scored upload on the board", board_rows == expected_rows, f"{board_rows} rows"),
        ("uploads scored during the run", ended["scored"] > 0, str(ended["scored"])),
    ]
    print("\ntargets:")
    for label, passed, value in checks:
        print(f"  {label:<36} {value:>10}  {'PASS' if passed else 'FAIL'}")
    return not all(passed for _, passed, _ in checks)


if __name__ == "__main__":
    sys.exit(main())
