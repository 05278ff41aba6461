"""The whole path with a real Celery worker process: upload → queued → scoring → scored."""

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from leaderboard.models import Submission

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def wait_until_finished(client, submission_id: int, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        data = client.get(f"/submissions/{submission_id}.json").json()
        if not seen or seen[-1] != data["status"]:
            seen.append(data["status"])
        if data["status"] in ("scored", "rejected", "failed"):
            data["seen"] = seen
            return data
        time.sleep(0.1)
    raise AssertionError(f"submission {submission_id} still {seen} after {timeout} s")


def submit(client, content: bytes, name: str = "predictions.csv", visibility: str = "public"):
    response = client.post(
        "/benchmarks/capitals/submit/",
        {
            "model_name": "tiny-model",
            "organisation": "Example Lab",
            "visibility": visibility,
            "file": SimpleUploadedFile(name, content),
        },
    )
    assert response.status_code == 302, response.content.decode()
    return int(response["Location"].strip("/").split("/")[-1])


def test_it_scores_an_upload_in_the_worker(celery_worker, client, user, make_benchmark):
    make_benchmark()
    client.force_login(user)
    submission_id = submit(
        client, b"id,answer\nq1,paris\nq2,Shakespeare\nq3,Saturn\nq4,I don't know\n"
    )
    data = wait_until_finished(client, submission_id)
    assert data["status"] == "scored", data
    assert data["seen"][0] in ("queued", "scoring")
    metrics = data["metrics"]
    assert metrics["counts"] == {"correct": 2, "incorrect": 1, "abstained": 1}
    assert metrics["accuracy"] == pytest.approx(0.5)
    # t = 0.75: (2 − 3·1) / 4
    assert metrics["scores"]["0.75"]["score"] == pytest.approx(-0.25)
    page = client.get(f"/submissions/{submission_id}/").content.decode()
    assert "50.0%" in page and "−0.250" in page
    board = client.get("/benchmarks/capitals/leaderboard.json").json()
    assert [row["id"] for row in board["rows"]] == [submission_id]
    assert Submission.objects.get(pk=submission_id).runs.count() == 1


def wait_until_cached(key: str, timeout: float = 30):
    from django.core.cache import cache

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cache.get(key)
        if value is not None:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{key} not cached after {timeout} s")


def test_it_computes_the_new_board_once_in_the_worker(
    celery_worker, client, user, make_benchmark, settings
):
    from django.core.cache import cache

    from leaderboard.models import Benchmark
    from leaderboard.results_cache import computations
    from leaderboard.selectors import charts_cache_key

    assert settings.CACHE_URL.startswith("redis://"), "the worker and the tests share Redis"
    make_benchmark()
    client.force_login(user)
    submission_id = submit(client, b"id,answer\nq1,Paris\n")
    assert wait_until_finished(client, submission_id)["status"] == "scored"
    benchmark = Benchmark.objects.get(slug="capitals")
    # Once the scoring committed, the warm task it queued computed the board, its figures and
    # its JSON in the worker: soon after the submission reads scored they are in the cache, and
    # no reader computed them.
    board = wait_until_cached(benchmark.results_cache_key("json")) and cache.get(
        benchmark.results_cache_key("board")
    )
    assert [row.model for row in board.rows] == ["tiny-model"]
    assert cache.get(charts_cache_key(board, show_all=False))["bump"]
    assert computations(benchmark, "board") == 1


def test_it_computes_the_board_once_for_readers_who_come_at_once_after_a_scoring(
    celery_worker, client, user, make_benchmark
):
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection
    from django.test import Client

    from leaderboard.models import Benchmark
    from leaderboard.results_cache import computations

    make_benchmark()
    client.force_login(user)
    first = submit(client, b"id,answer\nq1,Paris\n")
    assert wait_until_finished(client, first)["status"] == "scored"
    # Read once by everyone, so that there is a page and a JSON of the board before.
    assert "tiny-model" in Client().get("/benchmarks/capitals/").content.decode()
    assert Client().get("/benchmarks/capitals/leaderboard.json").json()["rows"]
    second = submit(client, b"id,answer\nq1,Paris\nq3,Jupiter\n")
    assert wait_until_finished(client, second)["status"] == "scored"
    benchmark = Benchmark.objects.get(slug="capitals")

    def read(path: str) -> int:
        try:
            return Client().get(path).status_code
        finally:
            connection.close()

    # Twenty-four readers at once, the moment the scoring reads scored, while the worker
    # computes the new board: each is answered, and the board is computed once, not per reader.
    paths = ["/benchmarks/capitals/", "/benchmarks/capitals/leaderboard.json"] * 12
    with ThreadPoolExecutor(max_workers=len(paths)) as readers:
        assert set(readers.map(read, paths)) == {200}
    wait_until_cached(benchmark.results_cache_key("json"))
    rows = client.get("/benchmarks/capitals/leaderboard.json").json()["rows"]
    assert [row["id"] for row in rows] == [second, first]
    assert computations(benchmark, "board") == 1


def test_it_rejects_a_bad_file_with_its_lines(celery_worker, client, user, make_benchmark):
    make_benchmark()
    client.force_login(user)
    submission_id = submit(client, b"id,answer,confidence\nq1,Paris,0.9\nq9,Rome,2\n")
    data = wait_until_finished(client, submission_id)
    assert data["status"] == "rejected"
    assert any("row 3" in error and "q9" in error for error in data["errors"]), data["errors"]
    assert any("row 3" in error and "confidence" in error for error in data["errors"])
    page = client.get(f"/submissions/{submission_id}/").content.decode()
    assert "The file was rejected" in page and "row 3" in page
    assert client.get("/benchmarks/capitals/leaderboard.json").json()["rows"] == []
    assert not Submission.objects.get(pk=submission_id).runs.exists()


def test_it_scores_a_submission_whose_message_was_lost(
    celery_worker, client, user, make_benchmark, save_submission
):
    from datetime import timedelta

    from django.utils import timezone

    from leaderboard import services

    # Saved but never queued, as if the broker had been down when it was uploaded.
    submission = save_submission(make_benchmark(), user, model_name="lost")
    Submission.objects.filter(pk=submission.pk).update(
        queued_at=timezone.now() - timedelta(hours=1)
    )
    time.sleep(1)
    assert Submission.objects.get(pk=submission.pk).status == "queued"
    services.submissions_requeue_stale(stale_after=timedelta(minutes=10), max_attempts=3)
    client.force_login(user)
    assert wait_until_finished(client, submission.pk)["status"] == "scored"
