"""Reference lines on the board: what abstaining everywhere, or guessing, would score; omissions."""

import html
import io

import pandas as pd
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from leaderboard import services
from leaderboard.models import Benchmark, Submission

pytestmark = pytest.mark.django_db

RUBRICS = ("0", "0.5", "0.75", "0.9")
NO_MODEL_BEATS_ABSTAINING = (
    "At t = 0.5, 0.75 and 0.9 no model here does better than answering “I don't know” to "
    "everything, which scores 0."
)


def text(response) -> str:
    return html.unescape(response.content.decode())


def test_it_shows_that_no_model_beats_abstaining_on_simpleqa_cs(client, seeded_simpleqa_cs):
    board = client.get("/benchmarks/simpleqa-cs/leaderboard.json").json()
    # A pregraded benchmark has no options to guess among: abstaining is its one baseline.
    assert [(line["name"], line["scores"]) for line in board["baselines"]] == [
        ("abstain on everything", {key: 0.0 for key in RUBRICS})
    ]
    assert len(board["rows"]) == 5  # never among the ranked rows

    page = text(client.get("/benchmarks/simpleqa-cs/"))
    headline = page.split('id="headline">')[1].split("</p>")[0]
    assert NO_MODEL_BEATS_ABSTAINING in headline
    # The line sits in each rank column where 0 falls: first under every target, where every
    # model scores below 0, and last under binary.
    columns = page.split('class="rank-column"')[1:]
    assert len(columns) == 4
    binary, *targets = (column.split("</ol>")[0] for column in columns)
    assert binary.rstrip().endswith("</li>") and binary.count('class="baseline"') == 1
    assert binary.index("abstain on everything") > binary.index("claude-3-5-haiku-20241022")
    for column in targets:
        assert column.index("abstain on everything") < column.index("claude-3-5-sonnet-20240620")
    # And in the table, without a rank, above every model when sorted at t = 0.9.
    table = text(client.get("/benchmarks/simpleqa-cs/?sort=0.9")).split("<tbody>")[1]
    first_row = table.split("</tr>")[0]
    assert 'class="baseline"' in first_row and "abstain on everything" in first_row

    home = text(client.get("/"))
    card = home.split('class="card"')[1]
    assert NO_MODEL_BEATS_ABSTAINING in card
    leader = card.split("Leader at t = 0.9")[1].split("</dd>")[0]
    assert "claude-3-5-sonnet-20240620" in leader
    assert "scores below abstaining on everything" in leader


def thirty_items(benchmark: Benchmark) -> bytes:
    """12 right, 10 wrong and 8 abstentions: 30 of the benchmark's items, the rest left out."""
    ids = list(benchmark.items.order_by("position").values_list("item_id", flat=True)[:30])
    grades = ["A"] * 12 + ["B"] * 10 + ["C"] * 8
    lines = [f"{item},x,{grade}" for item, grade in zip(ids, grades, strict=True)]
    return ("id,predicted_answer,grade\n" + "\n".join(lines) + "\n").encode()


def upload(client, benchmark: Benchmark, content: bytes) -> Submission:
    response = client.post(
        f"/benchmarks/{benchmark.slug}/submit/",
        {
            "model_name": "thirty-items",
            "visibility": "public",
            "file": SimpleUploadedFile("thirty.csv", content),
        },
    )
    assert response.status_code == 302
    submission = Submission.objects.get(model_name="thirty-items", status="queued")
    return services.submission_score(submission_id=submission.pk)


def test_it_rejects_a_file_of_thirty_items_below_the_minimum_coverage(
    client, user, seeded_simpleqa_cs
):
    assert seeded_simpleqa_cs.min_coverage == 0.8
    client.force_login(user)
    submission = upload(client, seeded_simpleqa_cs, thirty_items(seeded_simpleqa_cs))
    assert submission.status == Submission.Status.REJECTED
    page = text(client.get(f"/submissions/{submission.pk}/"))
    assert 'coverage 0.6935% of run "default" is below this benchmark\'s minimum of 80%' in page
    rows = client.get("/benchmarks/simpleqa-cs/leaderboard.json").json()["rows"]
    assert "thirty-items" not in [row["model"] for row in rows]


def test_it_never_crowns_a_file_of_thirty_items_where_coverage_is_not_required(
    client, user, seeded_simpleqa_cs, rescore_in_process
):
    seeded_simpleqa_cs.min_coverage = 0.0
    seeded_simpleqa_cs.save()
    rescore_in_process(seeded_simpleqa_cs)
    client.force_login(user)
    submission = upload(client, seeded_simpleqa_cs, thirty_items(seeded_simpleqa_cs))
    assert submission.status == Submission.Status.SCORED
    client.logout()

    rows = client.get("/benchmarks/simpleqa-cs/leaderboard.json").json()["rows"]
    row = next(row for row in rows if row["model"] == "thirty-items")
    # 4,296 of 4,326 items are not in the file; of its 4,304 abstentions, 8 were stated.
    assert row["counts"] == {"correct": 12, "incorrect": 10, "abstained": 4304, "omitted": 4296}
    assert row["omitted_rate"] == pytest.approx(4296 / 4326)
    assert row["abstention_rate"] == pytest.approx(4304 / 4326)
    # It still ranks first at t = 0.9, the closest to 0 of scores all below 0.
    assert row["scores"]["0.9"]["rank"] == 1
    assert row["scores"]["0.9"]["score"] == pytest.approx((12 - 9 * 10) / 4326)
    csv = pd.read_csv(io.BytesIO(client.get("/benchmarks/simpleqa-cs/leaderboard.csv").content))
    assert csv.set_index("model").loc["thirty-items", "omitted"] == 4296

    page = text(client.get("/benchmarks/simpleqa-cs/"))
    headline = page.split('id="headline">')[1].split("</p>")[0]
    assert (
        "thirty-items climbs from #6 to #1 but scores below abstaining on everything and omits "
        "99.3% of the items."
    ) in headline
    # At t = 0.5 it scores (12 − 10) / 4,326 above 0, but that is within noise.
    assert (
        "At t = 0.75 and 0.9 no model here does better than answering “I don't know” to "
        "everything, which scores 0. At t = 0.5 no model here does better than answering "
        "“I don't know” to everything beyond noise: thirty-items scores above 0, but its 95% "
        "interval reaches 0."
    ) in headline
    # The omitted share shows beside the model in the rank columns and in the table.
    column = page.split('class="rank-column"')[4].split("</ol>")[0]
    assert 'thirty-items</a><span class="omitted"' in column and "omits 99.3%" in column
    table_row = page.split("<tbody>")[1].split(">thirty-items</a>")[1].split("</tr>")[0]
    assert "99.3%" in table_row and "4,296 items" in table_row and "stated 8" in table_row

    card = text(client.get("/")).split('class="card"')[1]
    leader = card.split("Leader at t = 0.9")[1].split("</dd>")[0]
    assert "thirty-items" in leader
    assert "scores below abstaining on everything and omits 99.3% of the items" in leader
    assert "no model here does better than answering “I don't know” to everything" in card


CHOICE_GOLD = "id,answer,n_options\nq1,A,2\nq2,B,4\nq3,C,5\nq4,D,\n"


def test_it_draws_uniform_guessing_from_each_items_number_of_options(
    client, make_benchmark, user, save_submission
):
    benchmark = make_benchmark(slug="quiz", gold=CHOICE_GOLD, grader="choice")
    submission = save_submission(benchmark, user, content=b"id,answer\nq1,A\nq2,B\n")
    services.submission_score(submission_id=submission.pk)
    # q4 states no number of options, and the benchmark none either: no guessing line.
    board = client.get("/benchmarks/quiz/leaderboard.json").json()
    assert [line["name"] for line in board["baselines"]] == ["abstain on everything"]
    page = text(client.get("/benchmarks/quiz/"))
    assert "No uniform-guessing line: 1 of 4 items have no number of options" in page

    benchmark.n_options = 4
    benchmark.save()
    board = client.get("/benchmarks/quiz/leaderboard.json").json()
    guessing = board["baselines"][1]
    assert guessing["name"] == "uniform guessing"
    # Chances 1/2, 1/4, 1/5 and (the benchmark's 4 options) 1/4: 1.2 / 4 = 0.3 on average.
    # At t, 0.3 − t/(1 − t) · 0.7.
    assert guessing["scores"] == pytest.approx(
        {"0": 0.3, "0.5": 0.3 - 0.7, "0.75": 0.3 - 3 * 0.7, "0.9": 0.3 - 9 * 0.7}
    )
    assert guessing["accuracy"] == pytest.approx(0.3) and guessing["abstention_rate"] == 0
    page = text(client.get("/benchmarks/quiz/"))
    assert "No uniform-guessing line" not in page
    # The model (2 right of 4: 0.5) ranks above guessing (0.3) under binary.
    binary = page.split('class="rank-column"')[1].split("</ol>")[0]
    assert (
        binary.index("m</a>")
        < binary.index("uniform guessing")
        < binary.index("abstain on everything")
    )
    curves = page.split('<script id="figure-curves" type="application/json">')[1]
    assert (
        "uniform guessing (reference)" in curves and "abstain on everything (reference)" in curves
    )


def test_it_asks_new_benchmarks_for_most_of_the_items(db):
    benchmark = Benchmark.objects.create(slug="new", name="New")
    assert benchmark.min_coverage == 0.8


def test_it_names_a_score_level_with_abstaining_but_for_rounding_as_level(
    client, make_benchmark, user, save_submission
):
    # 3 right and 2 wrong at t = 0.6 (a wrong answer costs 1.5) score 0 exactly, though
    # 0.6 / 0.4 in floating point leaves the score a hair above it.
    gold = "id,answer\n" + "".join(f"q{i},a{i}\n" for i in range(100))
    benchmark = make_benchmark(slug="level", gold=gold, targets=[0.6])
    lines = [f"q{i},a{i}" for i in range(3)] + ["q3,x", "q4,x"]
    submission = save_submission(benchmark, user, ("id,answer\n" + "\n".join(lines)).encode())
    services.submission_score(submission_id=submission.pk)
    row = client.get("/benchmarks/level/leaderboard.json").json()["rows"][0]
    assert 0 <= row["scores"]["0.6"]["score"] < 1e-15

    page = text(client.get("/benchmarks/level/"))
    headline = page.split('id="headline">')[1].split("</p>")[0]
    assert (
        "At t = 0.6 no model here does better than answering “I don't know” to everything, "
        "which scores 0."
    ) in headline
    assert client.get("/").status_code == 200
