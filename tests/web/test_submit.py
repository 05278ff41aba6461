"""Uploading a prediction file through the form: saved first, queued after commit."""

import gzip
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from leaderboard.models import Submission

pytestmark = pytest.mark.django_db

PREDICTIONS_CSV = b"id,answer\nq1,Paris\nq2,shakespeare\nq3,Saturn\nq4,I don't know\n"


def upload(client, slug, content, name="predictions.csv", **fields):
    data = {
        "model_name": "tiny-model",
        "organisation": "Example Lab",
        "url": "https://example.org/tiny",
        "description": "zero-shot",
        "visibility": "public",
        "file": SimpleUploadedFile(name, content),
        **fields,
    }
    return client.post(f"/benchmarks/{slug}/submit/", data)


def test_it_sends_anonymous_visitors_to_log_in(client, make_benchmark):
    make_benchmark()
    response = client.get("/benchmarks/capitals/submit/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_it_saves_then_queues_the_upload(
    client, user, make_benchmark, django_capture_on_commit_callbacks
):
    make_benchmark()
    client.force_login(user)
    with django_capture_on_commit_callbacks() as callbacks:
        response = upload(client, "capitals", PREDICTIONS_CSV)
    submission = Submission.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/submissions/{submission.pk}/"
    assert submission.status == Submission.Status.QUEUED
    assert submission.owner == user
    assert submission.original_filename == "predictions.csv"
    assert submission.file.read() == PREDICTIONS_CSV
    # Stored under a generated name, never the uploader's.
    assert "predictions" not in submission.file.name
    assert len(callbacks) == 1  # the scoring task, queued only once the upload committed


@pytest.mark.parametrize("name", ["notes.txt", "predictions.csv.bz2", "model.pkl"])
def test_it_refuses_unknown_file_types(client, user, make_benchmark, name):
    make_benchmark()
    client.force_login(user)
    response = upload(client, "capitals", b"id,answer\nq1,Paris\n", name=name)
    assert response.status_code == 200
    assert "is not a file type we read" in response.content.decode()
    assert not Submission.objects.exists()


@pytest.mark.parametrize("size", [101, 3 * 1024 * 1024])
def test_it_stops_storing_a_file_over_the_limit(client, user, make_benchmark, settings, size):
    settings.UPLOAD_MAX_BYTES = 100
    make_benchmark()
    client.force_login(user)
    response = upload(client, "capitals", b"x" * size)
    content = response.content.decode()
    assert response.status_code == 200
    assert "The file is larger than the limit of 100\xa0bytes; nothing was kept." in content
    assert "This field is required" not in content.split('id="id_file"')[1]
    assert not Submission.objects.exists()


def test_it_takes_a_file_at_the_limit(client, user, make_benchmark, settings):
    settings.UPLOAD_MAX_BYTES = len(PREDICTIONS_CSV)
    make_benchmark()
    client.force_login(user)
    assert upload(client, "capitals", PREDICTIONS_CSV).status_code == 302


def test_it_requires_a_model_name(client, user, make_benchmark):
    make_benchmark()
    client.force_login(user)
    response = upload(client, "capitals", PREDICTIONS_CSV, model_name="")
    assert response.status_code == 200
    assert "This field is required" in response.content.decode()
    assert not Submission.objects.exists()


def test_it_enforces_the_daily_quota(client, user, make_benchmark, settings):
    settings.SUBMISSION_DAILY_QUOTA = 2
    make_benchmark()
    client.force_login(user)
    assert "2 of 2 submissions" in client.get("/benchmarks/capitals/submit/").content.decode()
    upload(client, "capitals", PREDICTIONS_CSV)
    upload(client, "capitals", PREDICTIONS_CSV)
    response = upload(client, "capitals", PREDICTIONS_CSV)
    assert "You have used your 2 submissions" in response.content.decode()
    assert Submission.objects.count() == 2
    # Rejected uploads do not count against the quota.
    Submission.objects.update(status=Submission.Status.REJECTED)
    assert "2 of 2 submissions" in client.get("/benchmarks/capitals/submit/").content.decode()


def test_it_takes_no_uploads_for_an_archived_benchmark(client, user, make_benchmark):
    make_benchmark(visibility="archived")
    client.force_login(user)
    response = upload(client, "capitals", PREDICTIONS_CSV)
    assert response.status_code == 302
    assert not Submission.objects.exists()


def test_it_hides_draft_benchmarks(client, user, make_benchmark):
    make_benchmark(visibility="draft")
    client.force_login(user)
    assert client.get("/benchmarks/capitals/submit/").status_code == 404
    assert client.get("/benchmarks/capitals/").status_code == 404


@pytest.mark.parametrize(
    "name, content",
    [
        ("p.jsonl", b'{"id": "q1", "answer": "Paris"}\n{"id": "q2", "answer": "Hamlet"}\n'),
        ("p.json", json.dumps({"predictions": [{"id": "q1", "prediction": "Paris"}]}).encode()),
        ("p.csv.gz", gzip.compress(PREDICTIONS_CSV)),
    ],
)
def test_it_accepts_every_format(client, user, make_benchmark, name, content):
    make_benchmark()
    client.force_login(user)
    response = upload(client, "capitals", content, name=name)
    assert response.status_code == 302
    assert Submission.objects.get().original_filename == name


def test_it_keeps_a_very_long_file_name_as_text(client, user, make_benchmark):
    make_benchmark()
    client.force_login(user)
    name = "predictions-" + "x" * 230 + ".csv.gz"
    response = upload(client, "capitals", gzip.compress(PREDICTIONS_CSV), name=name)
    assert response.status_code == 302
    stored = Submission.objects.get().original_filename
    assert stored == name
    assert "xxx" not in Submission.objects.get().file.name
