"""The embedded default that `make demo` runs: SQLite, the filesystem broker, a real worker and
gunicorn, with no server of any kind. Everything runs in subprocesses with their own environment,
`make demo` itself included: however it is stopped, it leaves no process behind."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.processes import (
    BIN,
    ROOT,
    free_port,
    manage_shell,
    start,
    start_gunicorn,
    stop,
)

SCRIPT = """
import time
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
import scoring
from leaderboard import services
from leaderboard.models import Benchmark, Submission

owner = get_user_model().objects.create_user("embedded", password="x-long-password-1")
benchmark = Benchmark.objects.create(
    slug="tiny", name="Tiny", grader="exact", visibility="published", gold_public=True
)
gold = scoring.read_gold(b"id,answer\\n1,Paris\\n2,Rome\\n", filename="g.csv", grader="exact")
services.benchmark_set_items(benchmark=benchmark, gold=gold)
submission = services.submission_create(
    benchmark=benchmark, owner=owner, model_name="m",
    file=ContentFile(b"id,answer\\n1,paris\\n2,Oslo\\n", name="p.csv"),
)
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    submission.refresh_from_db()
    if submission.is_finished:
        break
    time.sleep(0.2)
print("STATUS", submission.status, submission.summary and submission.summary["scores"]["0.5"])
"""


@pytest.fixture
def embedded_env(tmp_path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "CELERY_BROKER_URL", "CELERY_QUEUE", "MEDIA_ROOT")
    }
    env.update(
        VAR_DIR=str(tmp_path / "var"),
        STATIC_ROOT=str(tmp_path / "static"),
        DEBUG="false",
        SECRET_KEY="embedded-test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
    )
    manage = [sys.executable, "manage.py"]
    subprocess.run(
        [*manage, "migrate", "--noinput"], cwd=ROOT, env=env, check=True, capture_output=True
    )
    return env


def test_it_scores_through_the_filesystem_broker_and_sqlite(embedded_env, tmp_path):
    assert "DATABASE_URL" not in embedded_env
    worker = start(
        [str(BIN / "celery"), "-A", "leaderboard", "worker", "--concurrency=1", "--loglevel=INFO"],
        embedded_env,
        tmp_path / "worker.log",
        b"ready.",
    )
    try:
        result = manage_shell(SCRIPT, embedded_env, timeout=120)
    finally:
        stop(worker)
    assert result.returncode == 0, result.stderr
    assert "STATUS scored 0.0" in result.stdout, result.stdout + result.stderr
    assert (tmp_path / "var" / "db.sqlite3").exists()
    # kombu's filesystem transport, as leaderboard/broker.py hands messages to it.
    assert "leaderboard.broker:Transport" in (tmp_path / "worker.log").read_text()
    # The broker's files, control ones included, stay under VAR_DIR.
    assert (tmp_path / "var" / "broker" / "control").is_dir()
    assert not (ROOT / "control").exists()


def test_it_serves_the_site_with_its_static_files_from_gunicorn(embedded_env, tmp_path):
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"],
        cwd=ROOT,
        env=embedded_env,
        check=True,
        capture_output=True,
    )
    web, url = start_gunicorn(embedded_env, tmp_path / "web.log")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                home = urllib.request.urlopen(f"{url}/", timeout=5).read().decode()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        stylesheet = re.search(r'href="(/static/css/site\.[0-9a-f]+\.css)"', home)
        assert stylesheet, home[:2000]
        css = urllib.request.urlopen(f"{url}{stylesheet.group(1)}", timeout=5)
        assert css.status == 200
        assert b"--accent" in css.read()
        plotly = urllib.request.urlopen(f"{url}/static/vendor/plotly/plotly.min.js", timeout=5)
        assert plotly.status == 200 and b"plotly" in plotly.read(4096).lower()
        # Nothing on the page loads from another host.
        assert not re.search(r'(src|href)="(https?:)?//', re.sub(r"<a [^>]*>", "", home))
    finally:
        stop(web)


# --- make demo -----------------------------------------------------------------------------------

# What a terminal of its own has: none of the test's settings, nor make's.
NOT_IN_A_TERMINAL = {
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "CELERY_QUEUE",
    "CACHE_URL",
    "MEDIA_ROOT",
    "STATIC_ROOT",
    "SECRET_KEY",
    "DEBUG",
    "VAR_DIR",
    "PORT",
    "VENV",
    "MAKEFLAGS",
    "MAKELEVEL",
    "MFLAGS",
}


@pytest.fixture(scope="module")
def demo_env(tmp_path_factory) -> Iterator[dict[str, str]]:
    """The environment of a terminal that runs `make demo` on a data folder of its own, kept for
    the module: the first start seeds it, later ones skip the seeding as a second start does."""
    folder = tmp_path_factory.mktemp("demo")
    env = {key: value for key, value in os.environ.items() if key not in NOT_IN_A_TERMINAL}
    env.update(VAR_DIR=str(folder / "var"), STATIC_ROOT=str(folder / "static"))
    yield env
    for pid in demo_processes(env):  # whatever a failed test left, not to outlive the tests
        os.kill(pid, signal.SIGKILL)


def start_demo(env: dict[str, str], log: Path) -> tuple[subprocess.Popen, str]:
    """`make demo` on a free port, in a process group of its own as a terminal's job is, once it
    serves the home page: the process and the site's address."""
    port = free_port()
    with log.open("ab") as out:
        make = subprocess.Popen(
            ["make", "demo", f"PORT={port}", f"VENV={BIN.parent}"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300  # the first start seeds the demo boards
    while True:
        try:
            if urllib.request.urlopen(f"{url}/", timeout=5).status == 200:
                return make, url
        except OSError:
            pass
        if make.poll() is not None or time.monotonic() > deadline:
            stop(make)
            pytest.fail(f"make demo did not serve:\n{log.read_text(errors='replace')[-5000:]}")
        time.sleep(0.3)


def demo_processes(env: dict[str, str]) -> dict[int, str]:
    """Every process left of a demo, and its command: all of them inherit its VAR_DIR."""
    marker = f"VAR_DIR={env['VAR_DIR']}".encode()
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                found[int(entry.name)] = command
        except OSError:  # gone meanwhile
            continue
    return found


def ended(make: subprocess.Popen, env: dict[str, str], log: Path) -> dict[int, str]:
    """Wait for make to return, as the terminal does; what it left running."""
    try:
        make.wait(timeout=60)
    except subprocess.TimeoutExpired:
        stop(make)
        pytest.fail(f"make demo did not stop:\n{log.read_text(errors='replace')[-5000:]}")
    return demo_processes(env)


STOPS = {
    # A terminal sends Ctrl-C to its foreground job's whole process group; a terminal that closes
    # makes its shell send SIGHUP to each job's group; `kill` or a supervisor sends SIGTERM.
    "ctrl-c": lambda make: os.killpg(make.pid, signal.SIGINT),
    "terminal closed": lambda make: os.killpg(make.pid, signal.SIGHUP),
    "sigterm to the job": lambda make: os.killpg(make.pid, signal.SIGTERM),
    "sigterm to make alone": lambda make: os.kill(make.pid, signal.SIGTERM),
}


def test_it_prints_a_createsuperuser_command_that_works_as_printed(demo_env, tmp_path):
    log = tmp_path / "demo.log"
    make, url = start_demo(demo_env, log)
    try:
        printed = re.search(r"Staff account: (.+), then (\S+)", log.read_text())
        assert printed, log.read_text()
        command, admin = printed.groups()
        assert admin == f"{url}/admin/"
        # Typed into another terminal, with the non-interactive options Django offers.
        terminal = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
        result = subprocess.run(
            f"{command} --noinput --username curator --email curator@example.org",
            shell=True,
            cwd=ROOT,
            env={**terminal, "DJANGO_SUPERUSER_PASSWORD": "curator-passphrase-31"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, f"{command}\n{result.stdout}{result.stderr}"
        assert "Superuser created successfully." in result.stdout
    finally:
        STOPS["ctrl-c"](make)
        ended(make, demo_env, log)
    database = Path(demo_env["VAR_DIR"]) / "db.sqlite3"
    with sqlite3.connect(database) as connection:
        row = connection.execute(
            "SELECT is_staff, is_superuser FROM auth_user WHERE username = ?", ("curator",)
        ).fetchone()
    assert row == (1, 1)


def test_it_leaves_no_process_behind_however_the_demo_is_stopped(demo_env, tmp_path):
    log = tmp_path / "demo.log"
    make, _ = start_demo(demo_env, log)
    try:
        for how, stop_it in STOPS.items():
            stop_it(make)
            left = ended(make, demo_env, log)
            assert left == {}, f"{how}: {left}\n{log.read_text(errors='replace')[-5000:]}"
            # The next start serves again, on the same data.
            make, url = start_demo(demo_env, log)
            assert b"simpleqa-cs" in urllib.request.urlopen(f"{url}/", timeout=5).read(), how
        STOPS["ctrl-c"](make)
        assert ended(make, demo_env, log) == {}
    finally:
        stop(make)
