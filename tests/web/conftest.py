"""Web-test fixtures: files in temporary folders, submissions saved as an upload would be."""

import pytest
from django.core.files.base import ContentFile


@pytest.fixture(autouse=True)
def _files_in_tmp(settings, media_root, tmp_path_factory) -> None:
    settings.MEDIA_ROOT = media_root
    # Pages find static files through the finders: the tests do not run collectstatic.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.STATIC_ROOT = tmp_path_factory.getbasetemp() / "static"
    settings.STATIC_ROOT.mkdir(exist_ok=True)


@pytest.fixture(autouse=True)
def _signups_unthrottled(settings) -> None:
    # The tests sign up many accounts and ask for many e-mails, all from 127.0.0.1, in one run;
    # the tests of the throttles set the limits they test.
    settings.SIGNUP_MAX_PER_ADDRESS = 10_000
    settings.EMAIL_REQUESTS_PER_ADDRESS = 10_000


@pytest.fixture
def save_submission():
    """Save a submission from file bytes through the service the upload form uses, unqueued."""
    from leaderboard import services

    def save(benchmark, owner, content=b"id,answer\nq1,Paris\n", name="p.csv", **fields):
        fields.setdefault("model_name", "m")
        return services.submission_create(
            benchmark=benchmark,
            owner=owner,
            file=ContentFile(content, name=name),
            queue=False,
            **fields,
        )

    return save


@pytest.fixture
def own_redis(tmp_path):
    """A Redis server of the test's own, on a free port: the test may stop it (as an outage)
    and start it again; the shared one is never stopped."""
    from tests.processes import Redis

    server = Redis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def tasks_in_process(monkeypatch):
    """Tasks queued by the code under test run at once in this process (Celery's eager mode), as
    a worker would run them; with ``django_capture_on_commit_callbacks(execute=True)`` for those
    queued once a transaction commits."""
    from leaderboard.celery import app

    monkeypatch.setitem(app.conf, "task_always_eager", True)
