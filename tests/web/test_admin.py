"""Staff curation in the Django admin: benchmarks from gold files, submissions hidden."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from leaderboard import services
from leaderboard.models import Benchmark, Item, Submission

pytestmark = pytest.mark.django_db

GOOD_GOLD = (
    b"id,answer,aliases,question,category\n1,Paris,,Capital of France?,geo\n2,4,four|IV,2+2?,math\n"
)


def benchmark_form(gold: bytes | None, name: str = "gold.csv", **overrides) -> dict:
    data = {
        "name": "Capitals",
        "slug": "capitals",
        "description": "",
        "source": "",
        "grader": "exact",
        "targets": "0.5, 0.75, 0.9",
        "abstention_phrases": "i don't know\nno idea",
        "min_coverage": "0.5",
        "numeric_tolerance": "1e-6",
        "visibility": "published",
        "gold_public": "",
    }
    if gold is not None:
        data["gold_file"] = SimpleUploadedFile(name, gold)
    data.update(overrides)
    return data


def test_it_creates_a_benchmark_from_a_gold_file(admin_client):
    response = admin_client.post("/admin/leaderboard/benchmark/add/", benchmark_form(GOOD_GOLD))
    assert response.status_code == 302, response.content.decode()
    benchmark = Benchmark.objects.get(slug="capitals")
    assert benchmark.n_items == 2
    assert benchmark.targets == [0.5, 0.75, 0.9]
    assert benchmark.abstention_phrases == ["i don't know", "no idea"]
    assert benchmark.min_coverage == 0.5
    second = benchmark.items.get(item_id="2")
    assert second.aliases == ["four", "IV"]
    assert second.category == "math"


@pytest.mark.parametrize(
    "gold, name, message",
    [
        (b"", "gold.csv", "empty"),
        (b"question,answer\nWhat?,Paris\n", "gold.csv", "id"),
        (b"id,answer\n1,Paris\n1,Rome\n", "gold.csv", "duplicate"),
        (b"id,answer\n1,Paris\n", "gold.txt", "is not a file type we read"),
        (b"\xff\xfe\x00garbage", "gold.csv", "UTF-8"),
    ],
)
def test_it_shows_gold_file_errors_and_saves_nothing(admin_client, gold, name, message):
    response = admin_client.post(
        "/admin/leaderboard/benchmark/add/", benchmark_form(gold, name=name)
    )
    assert response.status_code == 200
    content = response.content.decode()
    assert "errorlist" in content
    assert message.lower() in content.lower()
    assert not Benchmark.objects.exists()
    assert not Item.objects.exists()


def test_it_says_when_a_gold_file_is_over_the_limit(admin_client, settings):
    settings.UPLOAD_MAX_BYTES = 50
    response = admin_client.post("/admin/leaderboard/benchmark/add/", benchmark_form(GOOD_GOLD))
    content = response.content.decode()
    assert "larger than the limit of 50" in content
    assert "A new benchmark needs a gold file" not in content
    assert not Benchmark.objects.exists()


def test_it_needs_a_gold_file_for_a_new_benchmark(admin_client):
    response = admin_client.post("/admin/leaderboard/benchmark/add/", benchmark_form(None))
    assert "A new benchmark needs a gold file" in response.content.decode()
    assert not Benchmark.objects.exists()


def test_it_refuses_targets_out_of_range(admin_client):
    response = admin_client.post(
        "/admin/leaderboard/benchmark/add/", benchmark_form(GOOD_GOLD, targets="0.5, 1.5")
    )
    assert "above 0 and below 1" in response.content.decode()
    assert not Benchmark.objects.exists()


def test_it_rescores_when_the_gold_changes(admin_client, make_benchmark, user, save_submission):
    benchmark = make_benchmark()
    submission = save_submission(benchmark, user, b"id,answer\nq1,Lyon\n")
    services.submission_score(submission_id=submission.pk)
    form = benchmark_form(
        b"id,answer\nq1,Lyon\n", slug="capitals", name="gold.csv", min_coverage="0"
    )
    response = admin_client.post(f"/admin/leaderboard/benchmark/{benchmark.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()
    benchmark.refresh_from_db()
    assert benchmark.n_items == 1
    assert Submission.objects.get(pk=submission.pk).status == Submission.Status.QUEUED


def test_it_lists_submissions_with_their_status(admin_client, seeded_simpleqa_cs):
    page = admin_client.get("/admin/leaderboard/submission/").content.decode()
    assert "gpt-4o-2024-11-20" in page
    assert "status-scored" in page


def test_it_hides_a_submission_from_the_board(admin_client, client, seeded_simpleqa_cs):
    gpt4o = Submission.objects.get(model_name="gpt-4o-2024-11-20")
    response = admin_client.post(
        "/admin/leaderboard/submission/",
        {"action": "hide_from_leaderboard", "_selected_action": [gpt4o.pk]},
    )
    assert response.status_code == 302
    models = [
        r["model"] for r in client.get("/benchmarks/simpleqa-cs/leaderboard.json").json()["rows"]
    ]
    assert "gpt-4o-2024-11-20" not in models
    assert len(models) == 4


def test_it_keeps_the_admin_for_staff(client, user):
    client.force_login(user)
    response = client.get("/admin/leaderboard/benchmark/add/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
