"""Fixtures shared by the web tests: real PostgreSQL, real Redis, a real Celery worker process."""

from __future__ import annotations

import io
import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.processes import BIN, start_worker, stop

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "demo"


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.hasplugin("django"):
        return  # the scoring tests run without Django
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"]
    if engine != "django.db.backends.postgresql":
        pytest.exit(
            "The tests run against PostgreSQL and Redis: run `make test`, or set DATABASE_URL "
            f"(now {engine}) and CELERY_BROKER_URL yourself.",
            returncode=2,
        )
    if settings.CACHE_URL:
        from django.core.cache import cache

        cache.clear()  # the test cache: nothing left from an earlier run
    # WhiteNoise looks for STATIC_ROOT when the live server starts; the tests serve static files
    # through the finders, so an empty folder does.
    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)


@pytest.fixture(scope="session")
def media_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def worker_env(django_db_setup, media_root) -> dict[str, str]:
    """The environment of a worker process that works on the test database and files."""
    from django.conf import settings
    from django.db import connection

    db = connection.settings_dict
    database_url = (
        f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CACHE_URL": settings.CACHE_URL,
        "MEDIA_ROOT": str(media_root),
    }


@pytest.fixture(scope="session")
def celery_worker(worker_env, tmp_path_factory):
    """A real `celery worker` process on a queue of its own, against the test database."""
    from leaderboard.celery import app

    queue = f"test-{uuid.uuid4().hex[:12]}"
    app.conf.task_default_queue = queue
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    process = start_worker(worker_env, log, name=queue, queue=queue)
    yield process
    stop(process)


@pytest.fixture(autouse=True)
def _worker_idle_after(request):
    """After a test that used the session's worker, wait until the worker has finished what the
    test left it (a rescoring queued by a new gold, a board to compute): a task still writing
    while the next test empties the database would deadlock with it, or write into that test."""
    if "celery_worker" not in request.fixturenames:
        yield
        return
    # Set up before this fixture, so torn down (the database emptied) after it.
    request.getfixturevalue("_django_db_helper")
    yield
    _wait_until_worker_idle(request.getfixturevalue("celery_worker"))


def _wait_until_worker_idle(worker, *, quiet_for: float = 0.5, timeout: float = 60.0) -> None:
    """Wait until the worker's queue is empty and no other connection to the test database is
    inside a query or a transaction, for `quiet_for` seconds in a row."""
    import redis
    from django.conf import settings
    from django.db import connection

    from leaderboard.celery import app

    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    queue = app.conf.task_default_queue
    deadline = time.monotonic() + timeout
    quiet_since = None
    while time.monotonic() < deadline and worker.poll() is None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND state IN ('active', 'idle in transaction')"
            )
            busy = cursor.fetchone()[0] or broker.llen(queue)
        now = time.monotonic()
        if busy:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = now
        elif now - quiet_since >= quiet_for:
            return
        time.sleep(0.05)


SMALL_GOLD = """id,question,answer,aliases,category
q1,What is the capital of France?,Paris,,geography
q2,Who wrote Hamlet?,William Shakespeare,Shakespeare,literature
q3,What is the largest planet?,Jupiter,,science
q4,What colour is the sky on a clear day?,Blue,,science
"""


@pytest.fixture
def make_benchmark(db):
    """Create a published benchmark from gold-file text, as the admin form would.

    Its gold is public unless the test says otherwise: a benchmark of a few items whose gold is
    hidden takes no run at all (no figure may cover fewer than HIDDEN_GOLD_MIN_ITEMS answers).
    """
    import scoring
    from leaderboard import services
    from leaderboard.models import Benchmark

    def make(
        slug: str = "capitals",
        gold: str = SMALL_GOLD,
        grader: str = "exact",
        filename: str = "gold.csv",
        **fields,
    ) -> Benchmark:
        fields.setdefault("visibility", Benchmark.Visibility.PUBLISHED)
        # Test files answer a few of the items; a test of the minimum coverage sets its own.
        fields.setdefault("min_coverage", 0.0)
        fields.setdefault("gold_public", True)
        benchmark = Benchmark.objects.create(slug=slug, name=slug.title(), grader=grader, **fields)
        parsed = scoring.read_gold(gold.encode(), filename=filename, grader=grader)
        services.benchmark_set_items(benchmark=benchmark, gold=parsed)
        return benchmark

    return make


@pytest.fixture
def user(django_user_model):
    """A user with a confirmed e-mail address, so that every benchmark takes her uploads."""
    from leaderboard import services

    ada = django_user_model.objects.create_user(
        username="ada", email="ada@example.org", password="a-long-passphrase-1"
    )
    services.email_confirm(user=ada, email=ada.email)
    return ada


@pytest.fixture
def other_user(django_user_model):
    return django_user_model.objects.create_user(username="grace", password="a-long-passphrase-2")


@pytest.fixture
def seeded_simpleqa_cs(db):
    """The real SimpleQA-cs benchmark with its five models, seeded as `make demo` does."""
    from django.core.management import call_command

    from leaderboard.models import Benchmark

    call_command("seed_demo", only="simpleqa-cs", stdout=io.StringIO())
    return Benchmark.objects.get(slug="simpleqa-cs")


@pytest.fixture
def rescore_in_process():
    """Score a benchmark's submissions again in this process, as the workers do after staff
    change its settings (the admin queues them; `save()` alone does not)."""
    from leaderboard import services
    from leaderboard.models import Submission

    def rescore(benchmark) -> None:
        services.benchmark_rescore(benchmark=benchmark)
        queued = benchmark.submissions.filter(status=Submission.Status.QUEUED)
        for submission_id in queued.values_list("pk", flat=True):
            services.submission_score(submission_id=submission_id)

    return rescore


@pytest.fixture(scope="session")
def collected_static(tmp_path_factory) -> Path:
    static = tmp_path_factory.mktemp("collected")
    subprocess.run(
        [str(BIN / "python"), "manage.py", "collectstatic", "--noinput"],
        cwd=ROOT,
        env={**os.environ, "STATIC_ROOT": str(static)},
        check=True,
        capture_output=True,
    )
    return static


CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright, with no network beyond this machine."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")
    # Playwright's sync API keeps an event loop in this thread; the ORM calls the tests make
    # beside it are still synchronous.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


# Reports each Content-Security-Policy violation of a page to the test, whatever page of the site
# it is on: the listener is added before any script of the page runs, in every document.
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.reportCspViolation(
    `${event.effectiveDirective} blocked ${event.blockedURI || "inline"} ` +
    `on ${event.documentURI} (${event.sourceFile || ""}:${event.lineNumber})`
  );
});
"""


@pytest.fixture
def watched_page(browser, live_server):
    """A fresh browser page, and the list of what went wrong on it: console errors, page errors,
    requests to another host and Content-Security-Policy violations."""
    context = browser.new_context(base_url=live_server.url)
    problems: list[str] = []
    context.expose_function(
        "reportCspViolation", lambda text: problems.append(f"content security policy: {text}")
    )
    context.add_init_script(REPORT_CSP_VIOLATIONS)
    page = context.new_page()
    page.on(
        "console",
        lambda message: message.type == "error" and problems.append(f"console: {message.text}"),
    )
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on(
        "request",
        lambda request: (
            # blob: URLs are the page's own data (plotly's image downloads), made on this host.
            request.url.startswith((live_server.url, f"blob:{live_server.url}"))
            or problems.append(f"request: {request.url}")
        ),
    )
    yield page, problems
    context.close()


@pytest.fixture
def page(watched_page):
    """A fresh browser page that fails the test on a console error, a request elsewhere or a
    Content-Security-Policy violation."""
    page, problems = watched_page
    yield page
    assert not problems, problems
