"""Gold files uploaded in the admin, read and stored by a real Celery worker process.

The admin request only keeps the file and queues it; the worker validates it against what the
database can store, and replaces the items in one transaction, the old ones staying until then.
"""

from __future__ import annotations

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from leaderboard.models import Benchmark, Item, Submission
from tests.web.test_admin import GOOD_GOLD, benchmark_form

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

N_LARGE = 400_000
LARGE_GOLD = (
    "id,answer,category\n"
    + "".join(f"item-{i},answer {i % 997},topic {i % 13}\n" for i in range(N_LARGE))
).encode()


def wait_for_gold(benchmark_id: int, statuses: tuple[str, ...], timeout: float = 60) -> Benchmark:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        benchmark = Benchmark.objects.get(pk=benchmark_id)
        if benchmark.gold_status in statuses:
            return benchmark
        time.sleep(0.05)
    raise AssertionError(f"gold of benchmark {benchmark_id} still {benchmark.gold_status!r}")


def change_page(admin_client, benchmark: Benchmark) -> str:
    response = admin_client.get(f"/admin/leaderboard/benchmark/{benchmark.pk}/change/")
    assert response.status_code == 200
    return response.content.decode()


def test_it_reads_and_stores_a_gold_file_in_the_worker(celery_worker, admin_client):
    response = admin_client.post(
        "/admin/leaderboard/benchmark/add/", benchmark_form(GOOD_GOLD), follow=True
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "The gold file “gold.csv” is saved and queued: a worker reads it" in page
    benchmark = wait_for_gold(Benchmark.objects.get(slug="capitals").pk, ("stored",))
    assert benchmark.n_items == 2 and benchmark.gold_progress == 100
    assert sorted(benchmark.items.values_list("item_id", flat=True)) == ["1", "2"]
    assert benchmark.gold_digest and benchmark.settings_fingerprint
    assert "gold.csv: stored" in change_page(admin_client, benchmark)


# Each passes the checks of the old reader but could not be saved: PostgreSQL refuses a zero
# character in text, and the Item model's columns hold 255-character ids and 200-character
# categories.
BAD_GOLDS = [
    pytest.param(
        "gold.jsonl",
        b'{"id": "q1", "answer": "Paris"}\n{"id": "q2", "answer": "Ro\\u0000me"}\n',
        "line 2: the answer of item &quot;q2&quot;: not storable text (a zero character",
        id="NUL in an answer",
    ),
    pytest.param(
        "gold.csv",
        b"id,answer\nq1,Paris\n" + b"x" * 256 + b",Rome\n",
        "row 3: id &quot;xxx",
        id="id over 255 characters",
    ),
    pytest.param(
        "gold.csv",
        b"id,answer,category\nq1,Paris," + b"c" * 201 + b"\n",
        "row 2: the category of item &quot;q1&quot; is 201 characters long; a category may "
        "have at most 200",
        id="category over 200 characters",
    ),
]


@pytest.mark.parametrize("name, gold, message", BAD_GOLDS)
def test_it_shows_why_a_gold_file_cannot_be_stored_and_keeps_the_old_items(
    celery_worker, admin_client, make_benchmark, name, gold, message
):
    benchmark = make_benchmark(grader="exact")
    before = list(benchmark.items.order_by("position").values_list("item_id", "answer"))
    form = benchmark_form(None, slug="capitals", min_coverage="0")
    form["gold_file"] = SimpleUploadedFile(name, gold)
    response = admin_client.post(f"/admin/leaderboard/benchmark/{benchmark.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()
    benchmark = wait_for_gold(benchmark.pk, ("rejected", "failed"))
    assert benchmark.gold_status == "rejected"
    page = change_page(admin_client, benchmark)
    assert f"{name}: rejected" in page
    assert message in page
    assert list(benchmark.items.order_by("position").values_list("item_id", "answer")) == before
    assert benchmark.n_items == len(before)


def test_it_accepts_a_large_gold_at_once_and_stores_it_whole(
    celery_worker, admin_client, make_benchmark, user, save_submission
):
    benchmark = make_benchmark()
    submission = save_submission(benchmark, user, b"id,answer\nq1,Paris\n")
    Submission.objects.filter(pk=submission.pk).update(status="scored")
    old_items = set(benchmark.items.values_list("pk", flat=True))
    form = benchmark_form(None, slug="capitals", min_coverage="0")
    form["gold_file"] = SimpleUploadedFile("large.csv", LARGE_GOLD)
    started = time.monotonic()
    response = admin_client.post(f"/admin/leaderboard/benchmark/{benchmark.pk}/change/", form)
    elapsed = time.monotonic() - started
    assert response.status_code == 302, response.content.decode()
    # The request only keeps the file and queues it (it once read all of it, past 30 s).
    assert elapsed < 5, f"the admin took {elapsed:.1f} s to accept a {N_LARGE:,}-item gold"

    # While the worker reads and stores it, the benchmark keeps its old items, all of them.
    pending = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        items = set(Item.objects.filter(benchmark=benchmark).values_list("pk", flat=True)[:10])
        # Read after the items: the status changes in the transaction that replaces them.
        status = Benchmark.objects.values_list("gold_status", flat=True).get(pk=benchmark.pk)
        if status != "queued" and status != "reading":
            break
        assert items == old_items, status
        pending += 1
        time.sleep(0.2)
    assert pending
    benchmark.refresh_from_db()
    assert benchmark.gold_status == "stored", benchmark.gold_errors
    assert benchmark.n_items == N_LARGE
    assert Item.objects.filter(benchmark=benchmark).count() == N_LARGE
    assert not Item.objects.filter(pk__in=old_items).exists()
    # Its submission is scored again, under the new gold.
    scored = Submission.objects.get(pk=submission.pk)
    current = benchmark.settings_fingerprint
    assert scored.status != "scored" or scored.settings_fingerprint == current


def test_it_reads_a_gold_file_whose_message_was_lost(celery_worker, admin_client, make_benchmark):
    from datetime import timedelta

    from django.core.files.base import ContentFile
    from django.utils import timezone

    from leaderboard import services

    benchmark = make_benchmark()
    # Kept and marked queued, but never sent, as if the broker had been down.
    benchmark.gold_upload.save("gold.csv", ContentFile(GOOD_GOLD), save=False)
    Benchmark.objects.filter(pk=benchmark.pk).update(
        gold_upload=benchmark.gold_upload.name,
        gold_filename="gold.csv",
        gold_grader="exact",
        gold_status="queued",
        gold_queued_at=timezone.now() - timedelta(hours=1),
    )
    time.sleep(1)
    assert Benchmark.objects.get(pk=benchmark.pk).gold_status == "queued"
    services.submissions_requeue_stale(stale_after=timedelta(minutes=10), max_attempts=3)
    benchmark = wait_for_gold(benchmark.pk, ("stored", "rejected", "failed"))
    assert benchmark.gold_status == "stored" and benchmark.n_items == 2
