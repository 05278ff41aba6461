"""The site's header, the benchmark index (/benchmarks/) and the order of the home page's boards,
the sample prediction file, and the smaller wording fixes on the board and compare pages."""

import csv
import io
import re
from html import unescape

import pytest

from leaderboard import services
from leaderboard.models import Benchmark, Submission

pytestmark = pytest.mark.django_db

GOLD = """id,question,answer,aliases,category
q1,What is the capital of France?,Paris,,geography
q2,Who wrote Hamlet?,William Shakespeare,Shakespeare,literature
q3,What is the largest planet?,Jupiter,,science
q4,What colour is the sky on a clear day?,Blue,,science
q5,What is the capital of Italy?,Rome,,geography
q6,What is the chemical symbol of gold?,Au,,science
"""
ANSWERS = {
    "q1": "Paris",
    "q2": "William Shakespeare",
    "q3": "Jupiter",
    "q4": "Blue",
    "q5": "Rome",
    "q6": "Au",
}


def predictions(correct: list[str], wrong: list[str] = ()) -> bytes:
    """A prediction file answering `correct` rightly and `wrong` wrongly; other items left out
    (abstentions)."""
    lines = ["id,answer"]
    lines += [f"{item},{ANSWERS[item]}" for item in correct]
    lines += [f"{item},Nowhere" for item in wrong]
    return ("\n".join(lines) + "\n").encode()


def scored(save_submission, benchmark, owner, model: str, content: bytes) -> Submission:
    submission = save_submission(benchmark, owner, content, model_name=model)
    return services.submission_score(submission_id=submission.pk)


@pytest.fixture
def three_boards(make_benchmark, save_submission, user):
    """Three boards, named so that name order is not the expected order: one whose ranking is
    the same under every rubric, one whose ranking turns over at the targets (a model that
    guesses), one of a single model."""
    steady = make_benchmark(slug="alpha-steady", gold=GOLD)
    for model, correct in [("S1", ["q1", "q2", "q3"]), ("S2", ["q1", "q2"]), ("S3", ["q1"])]:
        scored(save_submission, steady, user, model, predictions(correct))
    shaken = make_benchmark(slug="beta-shaken", gold=GOLD)
    scored(save_submission, shaken, user, "Guesser", predictions(["q1", "q2", "q3"], ["q4", "q5"]))
    scored(save_submission, shaken, user, "Careful", predictions(["q1", "q2"]))
    scored(save_submission, shaken, user, "Modest", predictions(["q1"]))
    lonely = make_benchmark(slug="aaa-lonely", gold=GOLD)
    scored(save_submission, lonely, user, "Alone", predictions(["q1"]))
    return steady, shaken, lonely


def card_names(html: str) -> list[str]:
    return re.findall(r'<article class="card">\s*<h2><a href="/benchmarks/([\w-]+)/">', html)


def test_it_puts_the_board_whose_ranking_changes_most_first(client, three_boards):
    page = client.get("/").content.decode()
    assert card_names(page) == ["beta-shaken", "alpha-steady", "aaa-lonely"]
    assert "whose ranking changes most when wrong answers" in page
    assert "Boards of fewer than 3" in page
    # The figure the order follows, on each board that has one: the guesser falls from first
    # to last from t = 0.75 on, two of the three pairs turn over.
    assert "Kendall's τ<sub>b</sub> against binary at t = 0.75: -0.33" in page
    assert "Kendall's τ<sub>b</sub> against binary at t = 0.5: 1.00" in page


def test_the_header_links_the_index_the_methods_and_the_account(client, user, make_benchmark):
    make_benchmark()
    anonymous = client.get("/benchmarks/capitals/").content.decode()
    header = anonymous.split("</header>")[0]
    assert '<a href="/benchmarks/">Benchmarks</a>' in header
    assert '<a href="/how-scores-are-computed/">How scores are computed</a>' in header
    assert "/accounts/login/" in header
    client.force_login(user)
    header = client.get("/").content.decode().split("</header>")[0]
    assert '<a href="/accounts/">Account</a>' in header
    header = client.get("/benchmarks/").content.decode().split("</header>")[0]
    assert '<a href="/benchmarks/" aria-current="page">Benchmarks</a>' in header


def test_the_index_lists_every_visible_benchmark_with_its_facts(
    client, admin_client, make_benchmark, save_submission, user, other_user
):
    public = make_benchmark(slug="capitals", gold=GOLD, description="Capitals and more. Second.")
    hidden = make_benchmark(slug="secret", gold=GOLD, gold_public=False)
    make_benchmark(slug="unfinished", gold=GOLD, visibility=Benchmark.Visibility.DRAFT)
    scored(save_submission, public, user, "One", predictions(["q1"]))
    scored(save_submission, public, other_user, "Two", predictions(["q1", "q2"]))
    private = save_submission(
        public, user, predictions(["q3"]), model_name="Mine", visibility="private"
    )
    services.submission_score(submission_id=private.pk)

    response = client.get("/benchmarks/")
    assert response.status_code == 200
    page = response.content.decode()
    rows = re.findall(r"<tr>\s*(.*?)</tr>", page, re.S)
    capitals = next(row for row in rows if "/benchmarks/capitals/" in row)
    cells = [
        re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td.*?</td>", capitals, re.S)
    ]
    assert cells == [
        "Capitals",
        "exact match (normalised text)",
        "6",
        "2",  # the private submission is not counted
        "public",
        "Capitals and more. Second.",
    ]
    secret = next(row for row in rows if "/benchmarks/secret/" in row)
    assert "<td>hidden</td>" in secret
    assert "unfinished" not in page
    # Never the gold of the hidden benchmark, nor its questions.
    assert "Jupiter" not in page and "largest planet" not in page
    assert hidden.slug in page

    staff = admin_client.get("/benchmarks/").content.decode()
    assert re.search(r'<tr class="draft">\s*<td><a href="/benchmarks/unfinished/">', staff)
    assert '<span class="badge">draft</span>' in staff

    listed = client.get("/benchmarks.json").json()["benchmarks"]
    by_slug = {entry["slug"]: entry for entry in listed}
    assert set(by_slug) == {"capitals", "secret"}
    assert by_slug["capitals"]["n_scored_public_submissions"] == 2
    assert by_slug["secret"]["gold_public"] is False
    assert by_slug["capitals"]["grader"] == "exact"


@pytest.mark.parametrize(
    ("grader", "gold", "header"),
    [
        ("exact", GOLD, ["id", "answer", "abstain", "confidence"]),
        (
            "choice",
            "id,answer\nm1,C\nm2,D\nm3,B\nm4,C\nm5,D\nm6,B\nm7,D\n",
            ["id", "answer", "abstain", "confidence"],
        ),
        (
            "numeric",
            "id,answer\nn1,12\nn2,7.5\nn3,3\nn4,99\nn5,100\nn6,8\n",
            ["id", "answer", "abstain", "confidence"],
        ),
        (
            "pregraded",
            "id,answer\np1,x\np2,y\np3,z\np4,w\np5,v\np6,u\n",
            ["id", "grade", "answer", "abstain", "confidence"],
        ),
    ],
)
def test_the_sample_prediction_file_is_one_the_upload_form_scores(
    client, make_benchmark, save_submission, user, grader, gold, header
):
    benchmark = make_benchmark(slug="sampled", gold=gold, grader=grader, gold_public=False)
    response = client.get("/benchmarks/sampled/sample-predictions.csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="sampled-sample-predictions.csv"' in response["Content-Disposition"]
    text = response.content.decode()
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == header
    gold_rows = list(csv.DictReader(io.StringIO(gold)))
    assert [row[0] for row in rows[1:]] == [row["id"] for row in gold_rows[:5]]
    # No gold answer, and no question, of this hidden-gold benchmark.
    cells = [cell for row in rows[1:] for cell in row[1:]]
    for row in gold_rows:
        assert row["answer"] not in cells, row["answer"]
        if row.get("question"):
            assert row["question"] not in text
    # The file is one the upload form takes and scores (where the gold is public: a hidden
    # gold's runs must answer more items than five).
    benchmark.gold_public = True
    benchmark.save()
    submission = save_submission(benchmark, user, response.content, name="sample.csv")
    submission = services.submission_score(submission_id=submission.pk)
    assert submission.status == Submission.Status.SCORED, submission.errors
    assert submission.result().primary.abstained >= 2  # one abstention, the items left out


def test_the_submit_page_links_the_sample_file(client, user, make_benchmark):
    make_benchmark()
    make_benchmark(slug="secret", gold=GOLD, gold_public=False)
    client.force_login(user)
    page = client.get("/benchmarks/capitals/submit/").content.decode()
    assert 'href="/benchmarks/capitals/sample-predictions.csv" download>Download a sample' in page
    assert "the sample shows the form" not in page
    # Where the gold is hidden, five answers are too few to be scored: the page says so.
    page = client.get("/benchmarks/secret/submit/").content.decode()
    assert 'href="/benchmarks/secret/sample-predictions.csv" download>' in page
    assert re.search(r"least\s+25 items: the sample shows the form", page)


def test_a_draft_s_sample_file_is_not_found_by_visitors(client, make_benchmark):
    make_benchmark(slug="unfinished", visibility=Benchmark.Visibility.DRAFT)
    assert client.get("/benchmarks/unfinished/sample-predictions.csv").status_code == 404


def test_a_pre_graded_benchmark_says_pre_graded_once(client, make_benchmark):
    make_benchmark(gold="id,answer\n1,A\n2,B\n", grader="pregraded")
    make_benchmark(slug="exact-one", gold=GOLD)
    pregraded = unescape(client.get("/benchmarks/capitals/").content.decode())
    assert "graded pre-graded" not in pregraded
    assert "2 items · pre-graded by the submitter's judge ·" in pregraded
    exact = client.get("/benchmarks/exact-one/").content.decode()
    assert "6 items · graded by exact match (normalised text) ·" in exact
    home = unescape(client.get("/").content.decode())
    assert "2 items · pre-graded by the submitter's judge ·" in home


LONG_DESCRIPTION = (
    "Short factual questions with a single indisputable answer, written so that a model either "
    "knows the answer or does not. The questions were collected by trainers who checked each "
    "answer against two sources, and kept only those on which both agreed. A third pass "
    "removed questions whose answer changes over time, such as the holders of offices or the "
    "latest records, so that the gold stays true."
)


def test_the_home_card_cuts_a_long_description_after_a_sentence(client, make_benchmark):
    make_benchmark(description=LONG_DESCRIPTION)
    page = client.get("/").content.decode()
    shown = re.search(r'<p class="description">(.*?)</p>', page, re.S).group(1)
    assert shown == (
        "Short factual questions with a single indisputable answer, written so that a model either "
        "knows the answer or does not. The questions were collected by trainers who checked each "
        "answer against two sources, and kept only those on which both agreed."
    )


def test_a_description_of_one_long_sentence_ends_at_a_word_with_an_ellipsis(make_benchmark):
    benchmark = make_benchmark(description="word " * 100)
    cut = benchmark.summary(50)
    assert cut == "word word word word word word word word word…"
    benchmark.description = "Short. Whole."
    assert benchmark.summary(50) == "Short. Whole."


def test_comparing_three_says_why_there_is_no_paired_test(client, three_boards):
    _, shaken, _ = three_boards
    ids = list(shaken.submissions.order_by("pk").values_list("pk", flat=True))
    page = client.get(f"/benchmarks/beta-shaken/compare/?ids={','.join(map(str, ids))}")
    html = page.content.decode()
    assert "with 3 side by side there is no single pair to test" in html
    assert 'id="paired"' not in html and 'id="agreement"' not in html
    first, second, third = ids
    for pair in [(first, second), (first, third), (second, third)]:
        assert f"?ids={pair[0]},{pair[1]}" in html
    two = client.get(f"/benchmarks/beta-shaken/compare/?ids={first},{second}").content.decode()
    assert "no single pair to test" not in two
    assert 'id="agreement"' in two
