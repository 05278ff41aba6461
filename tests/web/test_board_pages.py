"""Board pages and exports of more submissions than the table shows on a page, or than are
exported whole."""

import gc
import re
from html import unescape

import pytest
from django.db import connection

from leaderboard.models import Run, Submission

# Copies of each of the five SimpleQA-cs models: a board of 5 + 5 × 46 = 235 submissions.
COPIES = 46


def clone_submissions(copies: int) -> None:
    """Copy every submission with its runs `copies` times, in SQL (the copies of a model are
    named "<model> #<n>" and score as it does)."""
    columns = [
        field.column
        for field in Submission._meta.concrete_fields
        if field.column not in ("id", "model_name")
    ]
    run_columns = [
        field.column
        for field in Run._meta.concrete_fields
        if field.column not in ("id", "submission_id")
    ]
    listed = ", ".join(columns)
    run_listed = ", ".join(f"r.{column}" for column in run_columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            CREATE TEMP TABLE copies AS
            SELECT s.id AS original, n, nextval(pg_get_serial_sequence(%s, 'id')) AS id
            FROM {Submission._meta.db_table} s, generate_series(1, %s) AS n
            """,
            [Submission._meta.db_table, copies],
        )
        cursor.execute(
            f"""
            INSERT INTO {Submission._meta.db_table} (id, model_name, {listed})
            SELECT c.id, s.model_name || ' #' || c.n, {", ".join(f"s.{c}" for c in columns)}
            FROM copies c JOIN {Submission._meta.db_table} s ON s.id = c.original
            """
        )
        cursor.execute(
            f"""
            INSERT INTO {Run._meta.db_table} (submission_id, {", ".join(run_columns)})
            SELECT c.id, {run_listed}
            FROM copies c JOIN {Run._meta.db_table} r ON r.submission_id = c.original
            """
        )
        cursor.execute("DROP TABLE copies")


@pytest.fixture
def large_board(seeded_simpleqa_cs):
    from leaderboard import services

    clone_submissions(COPIES)
    # Rows written in SQL: their board is told, as for any bulk change.
    services.benchmark_results_changed(benchmark_id=seeded_simpleqa_cs.pk)
    assert Submission.objects.count() == 5 * (COPIES + 1)
    return seeded_simpleqa_cs


def table_ids(html: str) -> list[int]:
    return [int(found) for found in re.findall(r'name="ids" value="(\d+)"', html)]


def next_link(html: str) -> str | None:
    found = re.search(r'<a href="([^"]+)" rel="next">', html)
    return unescape(found.group(1)) if found else None


@pytest.mark.parametrize("sort", ["0", "0.9"])
def test_it_pages_the_table_of_a_large_board_sorted_whole(client, large_board, sort):
    board = client.get("/benchmarks/simpleqa-cs/leaderboard.json").json()
    ranked = sorted(
        board["rows"], key=lambda row: (row["scores"][sort]["rank"], row["model"].lower())
    )
    address = "/benchmarks/simpleqa-cs/" + ("" if sort == "0" else f"?sort={sort}")
    pages = []
    while address is not None:
        html = client.get(address).content.decode()
        pages.append(table_ids(html))
        link = next_link(html)
        if link is not None:
            # The page links keep the sort, and go to the table.
            assert link.endswith("#table")
            assert (f"sort={sort}&" in link) == (sort != "0")
            address = "/benchmarks/simpleqa-cs/" + link.removesuffix("#table")
        else:
            address = None
    assert [len(ids) for ids in pages] == [100, 100, 35]
    # The whole board sorted, then cut: page 2 holds the models ranked 101 to 200.
    assert [pk for ids in pages for pk in ids] == [row["id"] for row in ranked]
    assert (
        "Models 101–200 of 235, page 2 of 3"
        in client.get(f"/benchmarks/simpleqa-cs/?sort={sort}&page=2").content.decode()
    )


def test_it_places_the_reference_lines_on_their_pages(client, large_board):
    html = [client.get(f"/benchmarks/simpleqa-cs/?page={n}").content.decode() for n in (1, 2, 3)]
    lines = sum(page.count('<tr class="baseline">') for page in html)
    board = client.get("/benchmarks/simpleqa-cs/leaderboard.json").json()
    assert lines == len(board["baselines"]) > 0


def test_it_streams_the_exports_of_a_large_board_as_they_would_be_sent_whole(
    client, large_board, monkeypatch
):
    from leaderboard import exports, selectors, views

    names = ("leaderboard.json", "leaderboard.csv")
    # As for a board of more than a thousand submissions, in pieces of a hundred rows.
    monkeypatch.setattr(selectors, "STREAMED_ABOVE_ROWS", 100)
    monkeypatch.setattr(views, "STREAMED_ABOVE_ROWS", 100)
    monkeypatch.setattr(exports, "ROWS_PER_PIECE", 100)
    streamed = {name: client.get(f"/benchmarks/simpleqa-cs/{name}") for name in names}
    pieces = {name: list(response.streaming_content) for name, response in streamed.items()}
    monkeypatch.undo()
    whole = {name: client.get(f"/benchmarks/simpleqa-cs/{name}") for name in names}
    for name in names:
        assert streamed[name].streaming and not whole[name].streaming, name
        assert len(pieces[name]) >= 3, name
        assert b"".join(pieces[name]) == whole[name].content, name
        assert streamed[name]["Content-Type"] == whole[name]["Content-Type"]


def test_it_sends_a_large_board_s_json_again_from_its_cached_pieces(
    client, large_board, monkeypatch
):
    from django.core.cache import cache

    from leaderboard import exports, selectors, views
    from leaderboard.models import Benchmark
    from leaderboard.results_cache import computations

    monkeypatch.setattr(selectors, "STREAMED_ABOVE_ROWS", 100)
    monkeypatch.setattr(views, "STREAMED_ABOVE_ROWS", 100)
    monkeypatch.setattr(exports, "ROWS_PER_PIECE", 100)
    url = "/benchmarks/simpleqa-cs/leaderboard.json"
    first = b"".join(client.get(url).streaming_content)
    benchmark = Benchmark.objects.get(slug="simpleqa-cs")
    built = computations(benchmark, "board")
    # The board gone from the cache: sent again without computing it, from the pieces.
    cache.delete(benchmark.results_cache_key("board"))
    again = client.get(url)
    assert again.streaming
    assert b"".join(again.streaming_content) == first
    assert computations(benchmark, "board") == built
    # A piece gone from the cache too is formatted again, from the board of these results.
    cache.delete(f"{benchmark.results_cache_key('json-pieces')}:1")
    assert b"".join(client.get(url).streaming_content) == first
    monkeypatch.undo()
    assert client.get(url).content == first


def test_the_cycle_collector_runs_again_once_the_page_has_been_sent(client, seeded_simpleqa_cs):
    """A board is built with Python's cycle collector paused; in a request it stays paused while
    the board's page is rendered, and runs again once the response has been sent."""
    from django.core.cache import cache
    from django.test.signals import template_rendered

    cache.clear()  # the page and its board computed in this request
    collecting = []

    def rendered(sender, template, **kwargs) -> None:
        if template.name == "benchmark.html":
            collecting.append(gc.isenabled())

    assert gc.isenabled()
    template_rendered.connect(rendered)
    try:
        response = client.get("/benchmarks/simpleqa-cs/")
    finally:
        template_rendered.disconnect(rendered)
    assert response.status_code == 200
    assert collecting == [False]
    assert gc.isenabled()


def test_a_number_past_the_last_page_is_cached_as_the_last_page(client, large_board):
    from django.core.cache import cache

    large_board.refresh_from_db()
    last = client.get("/benchmarks/simpleqa-cs/?page=3").content.decode()
    assert "Models 201–235 of 235, page 3 of 3" in last
    for number in (4, 99, 123456789):
        assert client.get(f"/benchmarks/simpleqa-cs/?page={number}").content.decode() == last
    # One page of the cache per page of the table: the numbers past it took none of their own.
    assert cache.get(large_board.results_cache_key("page-0-0-3")) is not None
    for number in (4, 99, 123456789):
        assert cache.get(large_board.results_cache_key(f"page-0-0-{number}")) is None
