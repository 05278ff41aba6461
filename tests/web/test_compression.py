"""Responses compressed on the wire for clients that accept gzip, and only for them; what is
compressed already is sent as it is."""

from __future__ import annotations

import gzip

import pytest

from leaderboard import services

pytestmark = pytest.mark.django_db

ACCEPTS = {"HTTP_ACCEPT_ENCODING": "gzip, deflate, br"}


@pytest.fixture
def board(make_benchmark, save_submission, user):
    benchmark = make_benchmark(gold_public=True)
    submission = save_submission(benchmark, user, b"id,answer\nq1,Paris\nq2,Marlowe\n")
    services.submission_score(submission_id=submission.pk)
    return benchmark


def test_it_sends_a_page_gzipped_to_a_client_that_accepts_it(client, board):
    response = client.get("/benchmarks/capitals/", **ACCEPTS)
    assert response.status_code == 200
    assert response["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response["Vary"]
    page = gzip.decompress(response.content)
    assert page.lstrip().lower().startswith(b"<!doctype html>")
    assert b"Capitals" in page
    # Each policy header is still there, once.
    assert response["Content-Security-Policy"].count("default-src") == 1


def test_it_sends_a_page_plain_to_a_client_that_does_not(client, board):
    for headers in ({}, {"HTTP_ACCEPT_ENCODING": "identity"}, {"HTTP_ACCEPT_ENCODING": "br"}):
        response = client.get("/benchmarks/capitals/", **headers)
        assert response.status_code == 200
        assert not response.has_header("Content-Encoding"), headers
        assert "Accept-Encoding" in response["Vary"]
        assert response.content.lstrip().lower().startswith(b"<!doctype html>")


def test_it_compresses_the_exports_to_the_same_bytes(client, board):
    for path in ("/benchmarks/capitals/leaderboard.json", "/benchmarks/capitals/leaderboard.csv"):
        plain = client.get(path)
        compressed = client.get(path, **ACCEPTS)
        assert compressed["Content-Encoding"] == "gzip", path
        assert compressed["Content-Type"] == plain["Content-Type"], path
        body = b"".join(compressed) if compressed.streaming else compressed.content
        assert gzip.decompress(body) == (b"".join(plain) if plain.streaming else plain.content), (
            path
        )
    csv = client.get("/benchmarks/capitals/leaderboard.csv", **ACCEPTS)
    assert csv["Content-Disposition"] == 'attachment; filename="capitals-leaderboard.csv"'


def test_it_sends_benchmark_json_compressed_once(client, board):
    plain = client.get("/benchmarks/capitals/benchmark.json")
    compressed = client.get("/benchmarks/capitals/benchmark.json", **ACCEPTS)
    assert compressed["Content-Encoding"] == "gzip"
    assert compressed["Vary"].count("Accept-Encoding") == 1
    assert gzip.decompress(compressed.content) == plain.content
