"""The embedded default that `make demo` runs: SQLite, the filesystem broker, a real worker and
gunicorn, with no server of any kind. Everything runs in subprocesses with their own environment."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.processes import BIN, ROOT, manage_shell, start, start_gunicorn, stop

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
    assert "filesystem" in (tmp_path / "worker.log").read_text()
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
