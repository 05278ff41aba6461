"""The board on real data: order, side-by-side columns, JSON and CSV exports, hidden rows."""

import io
import json
from pathlib import Path

import pandas as pd
import plotly.io
import pytest
from django.contrib.staticfiles import finders

from leaderboard import services
from leaderboard.models import Benchmark, Submission

pytestmark = pytest.mark.django_db

BINARY_ORDER = [
    "gpt-4o-2024-11-20",
    "claude-3-5-sonnet-20241022",
    "claude-3-5-sonnet-20240620",
    "gpt-4o-mini-2024-07-18",
    "claude-3-5-haiku-20241022",
]


def test_it_ranks_the_real_simpleqa_cs_models(client, seeded_simpleqa_cs):
    board = client.get("/benchmarks/simpleqa-cs/leaderboard.json").json()
    assert board["benchmark"] == "simpleqa-cs"
    assert board["n_items"] == 4326
    assert board["targets"] == [0.5, 0.75, 0.9]
    assert [row["model"] for row in board["rows"]] == BINARY_ORDER
    for key in ("0.5", "0.75", "0.9"):
        leader = min(board["rows"], key=lambda row: row["scores"][key]["rank"])
        assert leader["model"] == "claude-3-5-sonnet-20240620"
    gpt4o = board["rows"][0]
    # 1,342 correct and 2,899 wrong of 4,326, as graded in the data.
    assert gpt4o["accuracy"] == pytest.approx(1342 / 4326)
    assert gpt4o["error_rate"] == pytest.approx(2899 / 4326)
    assert gpt4o["coverage"] == pytest.approx(4318 / 4326)
    binary = gpt4o["scores"]["0"]
    assert {key: binary[key] for key in ("score", "rank", "rank_shift", "prompted")} == {
        "score": pytest.approx(1342 / 4326),
        "rank": 1,
        "rank_shift": 0,
        "prompted": False,
    }
    # Its 95% interval holds its score, and its lead under binary is beyond noise.
    low, high = binary["interval"]
    assert low < 1342 / 4326 < high and high - low < 0.04
    assert binary["rank_significant"] == 1 and binary["rank_range"] == [1, 1]
    assert gpt4o["intervals"]["accuracy"] == binary["interval"]
    assert gpt4o["scores"]["0.9"]["score"] == pytest.approx((1342 - 9 * 2899) / 4326)
    assert gpt4o["scores"]["0.5"]["rank_shift"] == 1 - gpt4o["scores"]["0.5"]["rank"]
    assert all(row["self_graded"] for row in board["rows"])
    # The judge's grades stand, as published with the data (missing items are abstentions).
    haiku = board["rows"][-1]
    assert haiku["accuracy"] * 4326 == pytest.approx(338)
    assert haiku["error_rate"] * 4326 == pytest.approx(2568)
    assert haiku["abstention_rate"] * 4326 == pytest.approx(1412 + 8)
    sonnet = next(r for r in board["rows"] if r["model"] == "claude-3-5-sonnet-20240620")
    assert sonnet["scores"]["0.9"]["rank_shift"] == 2  # third under binary, first at 0.9


def test_it_exports_the_same_rows_as_csv(client, seeded_simpleqa_cs):
    response = client.get("/benchmarks/simpleqa-cs/leaderboard.csv")
    assert response["Content-Type"].startswith("text/csv")
    frame = pd.read_csv(io.BytesIO(response.content))
    board = client.get("/benchmarks/simpleqa-cs/leaderboard.json").json()
    assert list(frame["model"]) == BINARY_ORDER
    for column in ("score_0", "rank_0", "score_0.5", "rank_0.5", "rank_shift_0.5", "rank_0.9"):
        assert column in frame.columns
    for position, row in enumerate(board["rows"]):
        assert frame["score_0.75"][position] == pytest.approx(row["scores"]["0.75"]["score"])
        assert frame["rank_shift_0.9"][position] == row["scores"]["0.9"]["rank_shift"]


def test_it_shows_rankings_side_by_side(client, seeded_simpleqa_cs):
    page = client.get("/benchmarks/simpleqa-cs/").content.decode()
    assert "Rankings side by side" in page
    for label in ("binary", "t = 0.5", "t = 0.75", "t = 0.9"):
        assert label in page
    assert "self-graded" in page
    assert "▲2" in page  # claude-3-5-sonnet-20240620 climbs from 3rd to 1st


def test_it_names_the_leaders_on_the_home_page(client, seeded_simpleqa_cs):
    page = client.get("/").content.decode()
    assert "SimpleQA in Czech" in page
    assert "5 models" in page
    binary, strictest = page.split("Leader under binary grading")[1].split("Leader at t = 0.9")
    assert "gpt-4o-2024-11-20" in binary
    assert "claude-3-5-sonnet-20240620" in strictest


def test_it_leaves_hidden_submissions_off_the_board(client, seeded_simpleqa_cs):
    gpt4o = Submission.objects.get(model_name="gpt-4o-2024-11-20")
    services.submission_set_hidden(submission=gpt4o, hidden=True)
    board = client.get("/benchmarks/simpleqa-cs/leaderboard.json").json()
    assert [row["model"] for row in board["rows"]] == BINARY_ORDER[1:]
    assert "gpt-4o-2024-11-20" not in client.get("/benchmarks/simpleqa-cs/").content.decode()
    assert (
        "gpt-4o-2024-11-20"
        not in client.get("/benchmarks/simpleqa-cs/leaderboard.csv").content.decode()
    )
    assert client.get(f"/submissions/{gpt4o.pk}/").status_code == 404


def test_it_shows_private_submissions_only_to_their_owner(
    client, seeded_simpleqa_cs, user, other_user
):
    mini = Submission.objects.get(model_name="gpt-4o-mini-2024-07-18")
    Submission.objects.filter(pk=mini.pk).update(visibility="private", owner=user)
    # As the admin does on saving a submission: the cached public board is for the results before.
    services.benchmark_results_changed(benchmark_id=mini.benchmark_id)
    assert (
        "gpt-4o-mini" not in client.get("/benchmarks/simpleqa-cs/leaderboard.csv").content.decode()
    )
    assert client.get(f"/submissions/{mini.pk}.json").status_code == 404
    client.force_login(other_user)
    assert client.get(f"/submissions/{mini.pk}/").status_code == 404
    client.force_login(user)
    rows = client.get("/benchmarks/simpleqa-cs/leaderboard.json").json()["rows"]
    assert "gpt-4o-mini-2024-07-18" in [row["model"] for row in rows]
    assert client.get(f"/submissions/{mini.pk}/").status_code == 200


def test_it_shows_a_board_with_no_submission(client, make_benchmark):
    make_benchmark()
    page = client.get("/benchmarks/capitals/")
    assert page.status_code == 200
    assert "No scored submission yet" in page.content.decode()
    assert client.get("/benchmarks/capitals/leaderboard.json").json()["rows"] == []
    assert (
        client.get("/benchmarks/capitals/leaderboard.csv").content.decode().startswith("id,model")
    )


def test_it_answers_404_for_an_unknown_benchmark(client, db):
    assert client.get("/benchmarks/nope/").status_code == 404
    assert client.get("/benchmarks/nope/leaderboard.json").status_code == 404


def test_it_says_in_words_how_the_board_reorders(client, seeded_simpleqa_cs):
    page = client.get("/benchmarks/simpleqa-cs/").content.decode()
    assert (
        "Rewarding abstention reorders this board: at t = 0.9, 4 of 5 models change rank, "
        "3 beyond noise; the binary leader gpt-4o-2024-11-20 falls to #4 and "
        "claude-3-5-sonnet-20240620 climbs from #3 to #1 but scores below abstaining on "
        "everything."
    ) in page


def test_it_claims_no_reordering_that_is_within_noise(
    client, make_benchmark, user, save_submission
):
    from leaderboard import services

    gold = "id,answer\n" + "".join(f"q{i},a{i}\n" for i in range(40))
    benchmark = make_benchmark(slug="noisy", gold=gold, targets=[0.5])

    def upload(model: str, right: int, wrong: int) -> None:
        lines = [f"q{i},a{i}" for i in range(right)]
        lines += [f"q{i},x" for i in range(right, right + wrong)]
        content = ("id,answer\n" + "\n".join(lines) + "\n").encode()
        submission = save_submission(benchmark, user, content=content, model_name=model)
        services.submission_score(submission_id=submission.pk)

    # Binary: 21 against 19 right. At t = 0.5: (21 − 19) / 40 against (19 − 16) / 40. The
    # order flips by a hair that a few of the 40 questions decide.
    upload("bold", right=21, wrong=19)
    upload("careful", right=19, wrong=16)
    page = client.get("/benchmarks/noisy/").content.decode()
    assert (
        "at t = 0.5, 2 of 2 models change rank, each within noise; the binary leader bold and "
        "careful, first at t = 0.5 (where it scores above abstaining on everything only within "
        "noise and omits 12.5% of the items), are within noise of each other. At t = 0.5 no "
        "model here does better than answering “I don&#x27;t know” to everything beyond noise: "
        "bold and careful score above 0, but their 95% intervals reach 0."
    ) in page
    assert "falls to" not in page
    rows = client.get("/benchmarks/noisy/leaderboard.json").json()["rows"]
    assert [row["scores"]["0.5"]["rank_range"] for row in rows] == [[1, 2], [1, 2]]


def test_it_sorts_the_table_by_any_rubric(client, seeded_simpleqa_cs):
    def table_order(query: str) -> list[str]:
        page = client.get(f"/benchmarks/simpleqa-cs/{query}").content.decode()
        table = page.split('<table class="board">')[1].split("</table>")[0]
        return sorted(BINARY_ORDER, key=table.index)

    assert table_order("") == BINARY_ORDER
    assert table_order("?sort=0.9") == [
        "claude-3-5-sonnet-20240620",
        "claude-3-5-sonnet-20241022",
        "claude-3-5-haiku-20241022",
        "gpt-4o-2024-11-20",
        "gpt-4o-mini-2024-07-18",
    ]
    assert table_order("?sort=nonsense") == BINARY_ORDER


def test_it_embeds_the_figures_and_serves_plotly_itself(client, seeded_simpleqa_cs):
    page = client.get("/benchmarks/simpleqa-cs/").content.decode()
    for figure in ("figure-bump", "figure-curves", "figure-outcomes"):
        assert f'<script id="{figure}" type="application/json">' in page
    bump = json.loads(
        page.split('<script id="figure-bump" type="application/json">')[1].split("</script>")[0]
    )
    gpt4o = next(trace for trace in bump["data"] if trace["name"] == "gpt-4o-2024-11-20")
    # By hand: t = 0.75 gives it (1342 − 3·2899)/4326 = −1.7002, just above haiku's −1.7027.
    assert gpt4o["y"] == [1, 3, 3, 4]
    assert '/static/vendor/plotly/plotly.min.js"' in page
    found = finders.find("vendor/plotly/plotly.min.js")
    assert found and Path(found).stat().st_size > 1_000_000


def test_it_writes_figures_that_plotly_reads_back_unchanged(client, seeded_simpleqa_cs):
    # The figures are written as plain JSON: plotly's graph objects, which refuse an unknown
    # property or a value of the wrong kind, read each one back to the same figure.
    page = client.get("/benchmarks/simpleqa-cs/").content.decode()
    for name in ("bump", "curves", "outcomes"):
        text = page.split(f'<script id="figure-{name}" type="application/json">')[1]
        text = text.split("</script>")[0]
        assert json.loads(plotly.io.from_json(text).to_json()) == json.loads(text)


def test_it_escapes_model_names_inside_figures(client, seeded_simpleqa_cs):
    Submission.objects.filter(model_name="gpt-4o-2024-11-20").update(
        model_name="</script><script>alert(1)</script>"
    )
    Benchmark.objects.filter(pk=seeded_simpleqa_cs.pk).update(results_generation=99)
    page = client.get("/benchmarks/simpleqa-cs/").content.decode()
    assert "<script>alert(1)" not in page


def test_it_serves_the_public_board_from_the_cache_until_results_change(
    client, seeded_simpleqa_cs, django_assert_max_num_queries
):
    first = client.get("/benchmarks/simpleqa-cs/").content
    with django_assert_max_num_queries(1):  # the benchmark; the page itself comes from the cache
        assert client.get("/benchmarks/simpleqa-cs/").content == first
    with django_assert_max_num_queries(3):
        client.get("/benchmarks/simpleqa-cs/leaderboard.json")
    mini = Submission.objects.get(model_name="gpt-4o-mini-2024-07-18")
    services.submission_set_hidden(submission=mini, hidden=True)
    rows = client.get("/benchmarks/simpleqa-cs/leaderboard.json").json()["rows"]
    assert len(rows) == 4


def test_it_draws_the_top_models_and_all_on_request(client, db):
    from django.core.management import call_command

    call_command("seed_demo", only="mmlu-pro", stdout=io.StringIO())
    page = client.get("/benchmarks/mmlu-pro/").content.decode()
    assert "The charts show the top 15 of 29 models by binary rank." in page
    assert 'id="show-all"' in page

    def bump_traces(html: str) -> int:
        figure = html.split('<script id="figure-bump" type="application/json">')[1]
        return len(json.loads(figure.split("</script>")[0])["data"])

    assert bump_traces(page) == 15
    assert bump_traces(client.get("/benchmarks/mmlu-pro/?all=1").content.decode()) == 29
    # The table always lists every model.
    assert page.count('name="ids"') == 29


def test_it_shows_a_board_of_one(client, make_benchmark, user, save_submission):
    benchmark = make_benchmark()
    submission = save_submission(benchmark, user, model_name="lonely")
    services.submission_score(submission_id=submission.pk)
    page = client.get("/benchmarks/capitals/").content.decode()
    assert "lonely" in page
    assert "Rewarding abstention" not in page
    assert 'id="figure-bump"' in page


def _board_computations(callbacks: list) -> list:
    """Of the callbacks a transaction left for its commit, those that compute a board."""
    return [c for c in callbacks if c.__qualname__.startswith("benchmark_results_changed.")]


def test_it_has_the_new_board_ready_when_a_scoring_ends(
    client,
    make_benchmark,
    user,
    save_submission,
    django_assert_max_num_queries,
    django_capture_on_commit_callbacks,
    tasks_in_process,
):
    from leaderboard.results_cache import computations

    benchmark = make_benchmark()
    first = save_submission(benchmark, user, model_name="first")
    services.submission_score(submission_id=first.pk)
    rows = client.get("/benchmarks/capitals/leaderboard.json").json()["rows"]
    assert [row["model"] for row in rows] == ["first"]

    second = save_submission(
        benchmark, user, content=b"id,answer\nq1,Paris\nq3,Jupiter\n", model_name="second"
    )
    with django_capture_on_commit_callbacks(execute=True) as queued:
        services.submission_score(submission_id=second.pk)
    # The task that computes the new board, once the scoring committed (beside the e-mail to an
    # owner who asked to hear of it).
    assert len(_board_computations(queued)) == 1
    # That task ran as the scoring ended: the first reader after it is neither shown the board
    # before nor made to wait while it is computed (no query beyond the benchmark's).
    with django_assert_max_num_queries(1):
        rows = client.get("/benchmarks/capitals/leaderboard.json").json()["rows"]
    assert [row["model"] for row in rows] == ["second", "first"]
    with django_assert_max_num_queries(1):
        assert client.get("/benchmarks/capitals/").status_code == 200
    assert computations(Benchmark.objects.get(pk=benchmark.pk), "board") == 1


def test_it_computes_nothing_in_the_scoring_transaction(
    client, make_benchmark, user, save_submission, django_capture_on_commit_callbacks
):
    from django.core.cache import cache

    benchmark = make_benchmark()
    first = save_submission(benchmark, user, model_name="first")
    with django_capture_on_commit_callbacks(execute=False) as queued:
        services.submission_score(submission_id=first.pk)
    benchmark = Benchmark.objects.get(pk=benchmark.pk)
    # The scoring bumped the board's generation and queued its computation for after it commits;
    # it computed no board, figure or JSON itself.
    assert benchmark.results_generation == 1 and len(_board_computations(queued)) == 1
    for kind in ("board", "json", "samples"):
        assert cache.get(benchmark.results_cache_key(kind)) is None
    # A reader who comes before that task has run computes the board, and is never shown an
    # older one.
    rows = client.get("/benchmarks/capitals/leaderboard.json").json()["rows"]
    assert [row["model"] for row in rows] == ["first"]


def test_it_bumps_the_board_whoever_changes_a_submission(client, seeded_simpleqa_cs):
    mini = Submission.objects.get(model_name="gpt-4o-mini-2024-07-18")
    assert "gpt-4o-mini-2024-07-18" in client.get("/benchmarks/simpleqa-cs/").content.decode()
    # Renamed by a save (as the admin does), with no cache function called.
    mini.model_name = "renamed-model"
    mini.save()
    page = client.get("/benchmarks/simpleqa-cs/").content.decode()
    assert "renamed-model" in page and "gpt-4o-mini-2024-07-18" not in page
    # Deleted: it leaves the board at once.
    mini.delete()
    rows = client.get("/benchmarks/simpleqa-cs/leaderboard.json").json()["rows"]
    assert "renamed-model" not in [row["model"] for row in rows] and len(rows) == 4


def test_it_serves_the_page_before_while_another_process_renders_the_new_one(
    client, seeded_simpleqa_cs, django_assert_max_num_queries
):
    from leaderboard.results_cache import recomputing

    page_before = client.get("/benchmarks/simpleqa-cs/").content
    mini = Submission.objects.get(model_name="gpt-4o-mini-2024-07-18")
    services.submission_set_hidden(submission=mini, hidden=True)
    benchmark = Benchmark.objects.get(pk=seeded_simpleqa_cs.pk)

    # Readers who come while another process renders the new page do not render it too: they
    # get the page before, at once.
    with recomputing(benchmark, "page-0-0") as mine:
        assert mine
        with django_assert_max_num_queries(1):
            assert client.get("/benchmarks/simpleqa-cs/").content == page_before
    # Once it is done, every reader gets the new page.
    assert "gpt-4o-mini-2024-07-18" not in client.get("/benchmarks/simpleqa-cs/").content.decode()


def test_it_never_caches_a_page_drawn_from_the_board_before(client, seeded_simpleqa_cs):
    from django.core.cache import cache

    from leaderboard.results_cache import recomputing

    client.get("/benchmarks/simpleqa-cs/leaderboard.json")
    mini = Submission.objects.get(model_name="gpt-4o-mini-2024-07-18")
    services.submission_set_hidden(submission=mini, hidden=True)
    benchmark = Benchmark.objects.get(pk=seeded_simpleqa_cs.pk)
    # As when computing it along with the change failed: another process is at the board.
    cache.delete(benchmark.results_cache_key("board"))
    with recomputing(benchmark, "board") as mine:
        assert mine
        page = client.get("/benchmarks/simpleqa-cs/").content.decode()
    # The page was drawn from the new board, not the one before, or it would stay cached so.
    assert "gpt-4o-mini-2024-07-18" not in page
    assert client.get("/benchmarks/simpleqa-cs/").content.decode() == page


def test_it_answers_the_head_requests_that_monitors_send(client, seeded_simpleqa_cs):
    for path in (
        "/",
        "/benchmarks/simpleqa-cs/",
        "/benchmarks/simpleqa-cs/leaderboard.json",
        "/benchmarks/simpleqa-cs/benchmark.json",
        "/how-scores-are-computed/",
    ):
        response = client.head(path)
        assert response.status_code == 200, (path, response.status_code)
    assert client.post("/benchmarks/simpleqa-cs/leaderboard.json").status_code == 405
