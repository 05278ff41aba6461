"""Model pages: one model across benchmarks, against ranks counted by hand.

Three benchmarks of ten items each; every answer is right ("aN" for item N) or wrong, or the
model says "I don't know". With c right, w wrong of n = 10 items, the score at target t is
(c − t/(1−t)·w)/n: binary counts wrong answers as 0, t = 0.5 costs 1, 0.75 costs 3, 0.9 costs 9.
"""

from __future__ import annotations

import json
import re
from html import unescape

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from leaderboard import services
from leaderboard.model_identity import model_key
from leaderboard.models import Model, Submission

N = 10
GOLD = "id,question,answer\n" + "".join(
    f"q{i},Secret question number {i}?,a{i}\n" for i in range(1, N + 1)
)


def answers(correct: int, wrong: int) -> bytes:
    """A file answering the first `correct` items right, the next `wrong` wrong, the rest
    "I don't know"."""
    lines = ["id,answer"]
    for i in range(1, N + 1):
        if i <= correct:
            lines.append(f"q{i},a{i}")
        elif i <= correct + wrong:
            lines.append(f"q{i},nonsense")
        else:
            lines.append(f"q{i},I don't know")
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def scored(save_submission, user):
    def submit(benchmark, model_name, correct, wrong, organisation="", **fields):
        submission = save_submission(
            benchmark,
            user,
            answers(correct, wrong),
            model_name=model_name,
            organisation=organisation,
            **fields,
        )
        services.submission_score(submission_id=submission.pk)
        submission.refresh_from_db()
        assert submission.status == Submission.Status.SCORED, submission.errors
        return submission

    return submit


@pytest.fixture
def boards(make_benchmark, scored, settings):
    """The three boards, with "GPT-4o mini" (OpenAI) on each.

    capitals (targets 0.5, 0.75, 0.9):
      GPT-4o mini  c7 w3: binary 0.7 (1); t0.5 0.4 (2); t0.75 −0.2 (2); t0.9 −2.0 (2)
      Careful      c5 w0: binary 0.5 (2); 0.5 (1) at every target
      Guesser      c4 w6: binary 0.4 (3); t0.5 −0.2 (3); t0.75 −1.4 (3); t0.9 −5.0 (3)
      GPT-4o mini's shift: −1 at each target.
    trivia (target 0.9 only):
      gpt-4o  MINI / openai  c8 w2: binary 0.8 (1); t0.9 −1.0 (2)   ← the best under binary
      GPT-4o mini / OpenAI   c6 w0: binary 0.6 (3); t0.9 0.6 (1)
      Bold                   c7 w3: binary 0.7 (2); t0.9 −2.0 (3)
      Shown: the first, rank 1 → 2, shift −1; "2 submissions".
    hidden (gold hidden, targets 0.5, 0.75, 0.9):
      GPT-4o mini    c5 w0: binary 0.5 (2); 0.5 (1) at every target: shift +1
      Overconfident  c6 w4: binary 0.6 (1); t0.5 0.2 (2); t0.75 −0.6 (2); t0.9 −3.0 (2)
    At each benchmark's highest target (0.9 everywhere): −1, −1, +1: improves on 1 of 3,
    worsens on 2, mean shift −1/3 = −0.3: rewarding abstention hurts it overall.
    At t = 0.5 (capitals, hidden): −1, +1: mean +0.0.
    """
    settings.HIDDEN_GOLD_MIN_ITEMS = 2
    capitals = make_benchmark(slug="capitals", gold=GOLD)
    trivia = make_benchmark(slug="trivia", gold=GOLD, targets=[0.9])
    hidden = make_benchmark(slug="hidden", gold=GOLD, gold_public=False)
    scored(capitals, "GPT-4o mini", 7, 3, organisation="OpenAI")
    scored(capitals, "Careful", 5, 0)
    scored(capitals, "Guesser", 4, 6)
    scored(trivia, "gpt-4o  MINI", 8, 2, organisation=" openai ")
    scored(trivia, "GPT-4o mini", 6, 0, organisation="OpenAI")
    scored(trivia, "Bold", 7, 3)
    scored(hidden, "GPT-4o mini", 5, 0, organisation="OpenAI")
    scored(hidden, "Overconfident", 6, 4)
    return capitals, trivia, hidden


def ranks(entry: dict) -> dict[str, int]:
    return {key: score["rank"] for key, score in entry["scores"].items()}


def text(response) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def test_it_names_one_model_whatever_the_case_and_spacing():
    assert model_key("GPT-4o mini", "OpenAI") == model_key("  gpt-4o\tMINI ", "openai")
    assert model_key("GPT-4o mini", "OpenAI") != model_key("GPT-4o mini", "")
    assert model_key("GPT-4o mini", "") != model_key("GPT-4o-mini", "")


@pytest.mark.django_db
def test_it_links_spellings_of_one_model_and_slugs_others_apart():
    first = Model.of("GPT-4o mini", "")
    assert Model.of("gpt-4o  MINI", " ") == first
    assert first.slug == "gpt-4o-mini"
    # Another model whose name slugs alike gets a slug of its own.
    other = Model.of("GPT-4o-mini", "")
    assert other != first
    assert other.slug == "gpt-4o-mini-2"
    assert Model.of("GPT-4o mini", "OpenAI").slug == "gpt-4o-mini-openai"


@pytest.mark.django_db
def test_it_ranks_the_model_on_every_board_as_counted_by_hand(client, boards):
    model = Model.objects.get(slug="gpt-4o-mini-openai")
    # Every submission under the three spellings is of this one model.
    assert model.submissions.count() == 4
    data = client.get("/models/gpt-4o-mini-openai.json").json()
    assert data["model"] == {
        "slug": "gpt-4o-mini-openai",
        "name": "GPT-4o mini",
        "organisation": "OpenAI",
    }
    by_slug = {entry["benchmark"]: entry for entry in data["benchmarks"]}
    assert list(by_slug) == ["capitals", "hidden", "trivia"]
    assert ranks(by_slug["capitals"]) == {"0": 1, "0.5": 2, "0.75": 2, "0.9": 2}
    assert ranks(by_slug["trivia"]) == {"0": 1, "0.9": 2}
    assert ranks(by_slug["hidden"]) == {"0": 2, "0.5": 1, "0.75": 1, "0.9": 1}
    capitals = by_slug["capitals"]["scores"]
    assert [capitals[key]["score"] for key in ("0", "0.5", "0.75", "0.9")] == pytest.approx(
        [0.7, 0.4, -0.2, -2.0]
    )
    assert capitals["0.9"]["of"] == 3
    assert capitals["0.9"]["rank_shift"] == -1
    # Two submissions on trivia: the best-ranked under binary (8 right, 2 wrong) is shown.
    assert by_slug["trivia"]["submissions_of_model"] == 2
    assert by_slug["trivia"]["scores"]["0"]["score"] == pytest.approx(0.8)
    assert by_slug["hidden"]["scores"]["0.9"]["rank_shift"] == 1
    summary = data["summary"]
    assert summary["highest_targets"] == {
        "target": None,
        "benchmarks": 3,
        "improved": 1,
        "worsened": 2,
        "unchanged": 0,
        "mean_rank_shift": pytest.approx(-1 / 3),
    }
    at_half = next(at for at in summary["targets"] if at["target"] == 0.5)
    assert (at_half["benchmarks"], at_half["mean_rank_shift"]) == (2, 0.0)
    assert summary["verdict"].startswith("Rewarding abstention hurts GPT-4o mini overall")
    assert "improves on 1 of 3 benchmarks, worsens on 2; mean rank shift -0.3" in summary["verdict"]

    page = text(client.get("/models/gpt-4o-mini-openai/"))
    assert "Rewarding abstention hurts GPT-4o mini overall" in page
    assert "2 submissions of this model are on this board" in page
    assert "1 of 3" in page and "2 of 2" in page  # binary rank on capitals, t=0.9 on trivia
    # The chart: a line per benchmark through its ranks, as counted above.
    html = client.get("/models/gpt-4o-mini-openai/").content.decode()
    figure = json.loads(
        re.search(
            r'<script id="figure-model-ranks" type="application/json">(.*?)</script>', html
        ).group(1)
    )
    lines = {trace["name"]: (trace["x"], trace["y"]) for trace in figure["data"]}
    assert lines == {
        "Capitals": (["binary", "t = 0.5", "t = 0.75", "t = 0.9"], [1, 2, 2, 2]),
        "Hidden": (["binary", "t = 0.5", "t = 0.75", "t = 0.9"], [2, 1, 1, 1]),
        "Trivia": (["binary", "t = 0.9"], [1, 2]),
    }
    # Rank 1 on top, down to the worst rank drawn (2), no rank 0.
    assert figure["layout"]["yaxis"]["range"] == [2.5, 0.5]


@pytest.mark.django_db
def test_a_model_no_public_board_lists_has_an_empty_page(client, make_benchmark, scored):
    benchmark = make_benchmark(slug="capitals", gold=GOLD)
    scored(benchmark, "Secret model", 9, 1, visibility="private")
    assert "No public board ranks this model yet." in text(client.get("/models/secret-model/"))
    data = client.get("/models/secret-model.json").json()
    assert data["benchmarks"] == [] and data["summary"]["verdict"] == ""


@pytest.mark.django_db
def test_a_model_page_shows_the_figures_of_the_boards(client, boards):
    """The page reads the boards: its cells are the board's cells, on a hidden-gold one too."""
    data = client.get("/models/gpt-4o-mini-openai.json").json()
    for entry in data["benchmarks"]:
        board = client.get(f"/benchmarks/{entry['benchmark']}/leaderboard.json").json()
        row = next(row for row in board["rows"] if row["id"] == entry["submission"])
        for key, score in entry["scores"].items():
            cell = row["scores"][key]
            assert [score["score"], score["rank"], score["rank_shift"], score["interval"]] == [
                cell["score"],
                cell["rank"],
                cell["rank_shift"],
                cell["interval"],
            ]


@pytest.mark.django_db
def test_it_never_shows_private_hidden_or_draft_submissions(client, boards, scored, make_benchmark):
    capitals, trivia, hidden = boards
    # Would rank first everywhere, were they shown.
    scored(capitals, "GPT-4o mini", 10, 0, organisation="OpenAI", visibility="private")
    shown_then_hidden = scored(trivia, "GPT-4o mini", 10, 0, organisation="OpenAI")
    services.submission_set_hidden(submission=shown_then_hidden, hidden=True)
    draft = make_benchmark(slug="draft", gold=GOLD, visibility="draft")
    scored(draft, "GPT-4o mini", 10, 0, organisation="OpenAI")
    only_private = make_benchmark(slug="only-private", gold=GOLD)
    scored(only_private, "GPT-4o mini", 10, 0, organisation="OpenAI", visibility="private")

    # Not even to their owner, nor to staff: the page is the public boards'.
    client.force_login(capitals.submissions.first().owner)
    data = client.get("/models/gpt-4o-mini-openai.json").json()
    assert [entry["benchmark"] for entry in data["benchmarks"]] == ["capitals", "hidden", "trivia"]
    by_slug = {entry["benchmark"]: entry for entry in data["benchmarks"]}
    assert by_slug["capitals"]["scores"]["0"]["score"] == pytest.approx(0.7)
    assert by_slug["capitals"]["submissions_of_model"] == 1
    assert by_slug["trivia"]["submissions_of_model"] == 2
    assert ranks(by_slug["trivia"]) == {"0": 1, "0.9": 2}
    page = client.get("/models/gpt-4o-mini-openai/").content.decode()
    assert "draft" not in page.lower().replace("drafts", "")
    assert "only-private" not in page


@pytest.mark.django_db
def test_a_hidden_gold_benchmark_shows_neither_answers_nor_questions(client, boards):
    page = client.get("/models/gpt-4o-mini-openai/").content.decode()
    body = client.get("/models/gpt-4o-mini-openai.json").content.decode()
    for shown in (page, body):
        assert "Secret question" not in shown
        assert not re.search(r"\ba\d+\b", shown.replace("a11y", ""))
    hidden = next(
        entry
        for entry in client.get("/models/gpt-4o-mini-openai.json").json()["benchmarks"]
        if entry["benchmark"] == "hidden"
    )
    assert hidden["gold_public"] is False
    assert set(hidden) == {
        "benchmark",
        "name",
        "gold_public",
        "submission",
        "submissions_of_model",
        "scores",
    }
    assert set(hidden["scores"]["0"]) == {
        "target",
        "score",
        "rank",
        "of",
        "rank_shift",
        "interval",
        "rank_range",
    }


@pytest.mark.django_db
def test_board_rows_link_to_the_model_page(client, boards):
    page = client.get("/benchmarks/trivia/").content.decode()
    assert page.count('href="/models/gpt-4o-mini-openai/"') == 2
    assert 'href="/models/bold/"' in page


@pytest.mark.django_db
def test_staff_merge_two_spellings_and_the_old_slug_redirects(
    client, boards, scored, admin_user, make_benchmark
):
    capitals = boards[0]
    # Another spelling, another model: "GPT 4o mini" by "OpenAI Inc.".
    scored(capitals, "GPT 4o mini", 6, 0, organisation="OpenAI Inc.")
    source = Model.objects.get(slug="gpt-4o-mini-openai-inc")
    into = Model.objects.get(slug="gpt-4o-mini-openai")
    client.force_login(admin_user)
    response = client.post(
        "/admin/leaderboard/model/",
        {"action": "merge_into", "_selected_action": [source.pk], "into": into.pk},
        follow=True,
    )
    assert "1 model merged into “GPT-4o mini (OpenAI)”: 1 submission moved" in text(response)
    assert not source.submissions.exists()
    assert into.submissions.count() == 5

    old = client.get("/models/gpt-4o-mini-openai-inc/")
    assert (old.status_code, old["Location"]) == (301, "/models/gpt-4o-mini-openai/")
    old_json = client.get("/models/gpt-4o-mini-openai-inc.json")
    assert (old_json.status_code, old_json["Location"]) == (301, "/models/gpt-4o-mini-openai.json")
    data = client.get("/models/gpt-4o-mini-openai.json").json()
    on_capitals = next(entry for entry in data["benchmarks"] if entry["benchmark"] == "capitals")
    assert on_capitals["submissions_of_model"] == 2
    # Saved again (as the admin does), a moved submission stays with the model it was merged
    # into; renamed, it is of the model its new name names.
    moved = Submission.objects.get(model_name="GPT 4o mini")
    moved.save()
    assert Submission.objects.get(pk=moved.pk).model == into
    moved.model_name = "Careful"
    moved.organisation = ""
    moved.save()
    assert Submission.objects.get(pk=moved.pk).model.slug == "careful"
    # A new submission under the merged spelling is of the model it was merged into.
    later = scored(capitals, "gpt 4o mini", 1, 0, organisation="openai inc.")
    assert later.model == into


@pytest.mark.django_db
def test_a_merge_needs_a_model_to_merge_into(client, boards, admin_user):
    source = Model.objects.get(slug="careful")
    client.force_login(admin_user)
    response = client.post(
        "/admin/leaderboard/model/",
        {"action": "merge_into", "_selected_action": [source.pk], "into": ""},
        follow=True,
    )
    assert "Choose the model to merge into" in text(response)
    assert Model.objects.get(slug="careful").merged_into is None


@pytest.mark.django_db
def test_an_unknown_model_is_a_404(client):
    assert client.get("/models/nobody/").status_code == 404
    assert client.get("/models/nobody.json").status_code == 404


BEFORE = [("leaderboard", "0010_log_imports")]
AFTER = [("leaderboard", "0011_models")]


@pytest.fixture
def _latest_schema_after():
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_the_migration_links_existing_submissions_to_their_models(_latest_schema_after):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    owner = old.get_model("auth", "User").objects.create(username="ada")
    benchmark = old.get_model("leaderboard", "Benchmark").objects.create(
        slug="open", name="open", grader="exact", gold_public=True, n_items=1
    )
    for name, organisation in (("GPT-4o mini", ""), ("gpt-4o  MINI", " "), ("Claude", "Anthropic")):
        old.get_model("leaderboard", "Submission").objects.create(
            benchmark=benchmark,
            owner=owner,
            model_name=name,
            organisation=organisation,
            file="p.csv",
            original_filename="p.csv",
        )
    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps
    models = new.get_model("leaderboard", "Model").objects.order_by("slug")
    assert [(model.slug, model.name) for model in models] == [
        ("claude-anthropic", "Claude"),
        ("gpt-4o-mini", "GPT-4o mini"),
    ]
    submissions = new.get_model("leaderboard", "Submission").objects.order_by("pk")
    assert [submission.model.slug for submission in submissions] == [
        "gpt-4o-mini",
        "gpt-4o-mini",
        "claude-anthropic",
    ]


@pytest.mark.django_db
def test_every_model_of_the_seeded_board_has_a_page_with_its_board_rank(client, seeded_simpleqa_cs):
    """The real SimpleQA-cs board: each row's model name links to a page that gives that row's
    rank under every rubric."""
    board = client.get("/benchmarks/simpleqa-cs/leaderboard.json").json()
    page = client.get("/benchmarks/simpleqa-cs/").content.decode()
    for row in board["rows"]:
        model = Submission.objects.get(pk=row["id"]).model
        assert f'href="/models/{model.slug}/"' in page
        data = client.get(f"/models/{model.slug}.json").json()
        (entry,) = data["benchmarks"]
        assert entry["submission"] == row["id"]
        assert ranks(entry) == {key: cell["rank"] for key, cell in row["scores"].items()}
        assert client.get(f"/models/{model.slug}/").status_code == 200
