"""Redis down, with the cache and the broker on it as docker-compose.yml runs them.

The site runs under gunicorn against a Redis server of the test's own, which is killed: every
kind of page is still served, computed without the cache, log-in works (unlimited, and the log
says so) and an upload is saved as queued.
"""

from __future__ import annotations

import gzip
import time
import uuid

import pytest
from django.test import Client

from leaderboard.models import Submission
from tests.processes import ROOT, Browser, start_gunicorn, stop

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

SLUG = "simpleqa-cs"
PASSWORD = "a-long-passphrase-1"
PREDICTIONS = ROOT / "demo" / SLUG / "predictions"


@pytest.fixture
def web(worker_env, own_redis, collected_static, tmp_path):
    """The site under gunicorn with its cache and its broker on `own_redis`, as compose runs it."""
    env = {
        **worker_env,
        "CACHE_URL": own_redis.database(0),
        "CELERY_BROKER_URL": own_redis.database(1),
        "CELERY_QUEUE": f"redis-down-{uuid.uuid4().hex[:10]}",
        "STATIC_ROOT": str(collected_static),
    }
    process, url = start_gunicorn(env, tmp_path / "web.log")
    yield url
    stop(process)


def pages(benchmark, ids: list[int], private: int | None = None) -> list[str]:
    """A page of every kind a reader can ask for (and the private submission's, for who may)."""
    board = f"/benchmarks/{benchmark.slug}/"
    return [
        "/",
        board,
        f"{board}?all=1",
        f"{board}?sort=0.9",
        f"{board}leaderboard.json",
        f"{board}leaderboard.csv",
        f"{board}compare/?ids={ids[0]},{ids[1]}",
        f"/submissions/{ids[0]}/",
        f"/submissions/{ids[0]}.json",
        "/how-scores-are-computed/",
        "/accounts/login/",
        *([f"/submissions/{private}/", f"/submissions/{private}.json"] if private else []),
    ]


def test_it_serves_every_page_logs_in_and_takes_uploads_with_redis_down(
    web, own_redis, seeded_simpleqa_cs, django_user_model, tmp_path
):
    benchmark = seeded_simpleqa_cs
    ada = django_user_model.objects.create_user(username="ada", password=PASSWORD)
    staff = django_user_model.objects.create_user(username="root", password=PASSWORD, is_staff=True)
    # Ada owns a private scored submission: her board is the public one with her row added.
    seeded = list(Submission.objects.filter(benchmark=benchmark).order_by("pk"))
    Submission.objects.filter(pk=seeded[-1].pk).update(owner=ada, visibility="private")
    ids = [submission.pk for submission in seeded[:-1]]
    private = {"anonymous": None, "ada": seeded[-1].pk, "root": seeded[-1].pk}
    readers = {"anonymous": Browser(web)}
    for user in (ada, staff):
        session = Client()
        session.force_login(user)
        readers[user.username] = Browser(web, session.cookies["sessionid"].value)

    # With Redis up, the pages are cached as usual.
    for name, reader in readers.items():
        for path in pages(benchmark, ids, private[name]):
            status, _, body = reader.request(path)
            assert status == 200, (path, body[:2000])

    own_redis.stop()
    for name, reader in readers.items():
        for path in pages(benchmark, ids, private[name]):
            started = time.monotonic()
            status, _, body = reader.request(path)
            assert status == 200, (name, path, body[:2000])
            assert time.monotonic() - started < 10, (name, path)
    # The pages show the boards, computed without the cache: Ada's private row is on hers.
    private_model = seeded[-1].model_name
    assert private_model in readers["ada"].request(f"/benchmarks/{SLUG}/")[2]
    assert private_model in readers["root"].request(f"/benchmarks/{SLUG}/")[2]
    assert private_model not in readers["anonymous"].request(f"/benchmarks/{SLUG}/")[2]

    # Log-in works, through the form: a wrong password is told so, the right one logs in.
    visitor = Browser(web)
    status, _, body = visitor.post_form(
        "/accounts/login/", {"username": "ada", "password": "not-her-password"}
    )
    assert status == 200 and "Please enter a correct username and password" in body
    status, headers, body = visitor.post_form(
        "/accounts/login/", {"username": "ada", "password": PASSWORD}
    )
    assert status == 302 and headers["Location"] == "/", body[:2000]
    status, _, body = visitor.request("/accounts/submissions/")
    assert status == 200 and private_model in body

    # An upload is saved, queued for when the broker is back.
    content = gzip.decompress((PREDICTIONS / "gpt-4o-mini-2024-07-18.csv.gz").read_bytes())
    status, headers, body = visitor.post_file(
        f"/benchmarks/{SLUG}/submit/",
        {"model_name": "uploaded-while-redis-is-down", "visibility": "public"},
        "predictions.csv",
        content,
    )
    assert status == 302, body[:2000]
    submission = Submission.objects.get(model_name="uploaded-while-redis-is-down")
    assert submission.status == "queued"
    status, _, body = visitor.request(f"/submissions/{submission.pk}/")
    assert status == 200 and "queued" in body

    log = (tmp_path / "web.log").read_text()
    assert "The cache is unavailable" in log
    assert "Log-in attempts are not limited: the cache is unavailable" in log
    assert "Internal Server Error" not in log
