"""Staff curation in the Django admin: benchmarks from gold files, submissions hidden.

A worker reads the gold files the admin accepts (tests/web/test_gold_worker.py runs a real one);
here the tests call the service it runs, once the admin request has answered.
"""

from html.parser import HTMLParser

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

import scoring
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


def store_gold_as_the_worker_does(benchmark: Benchmark) -> str:
    benchmark.refresh_from_db()
    return services.benchmark_store_gold(
        benchmark_id=benchmark.pk,
        upload=benchmark.gold_upload.name,
        max_bytes=settings.UPLOAD_MAX_BYTES,
    )


class FormFields(HTMLParser):
    """The values of a page's form fields as a browser would send them untouched."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self._textarea: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag, attrs) -> None:
        attrs = dict(attrs)
        name = attrs.get("name")
        if tag == "input" and name and attrs.get("type") not in ("file", "submit"):
            if attrs.get("type") == "checkbox":
                if "checked" in attrs:
                    self.values[name] = attrs.get("value") or "on"
            else:
                self.values[name] = attrs.get("value") or ""
        elif tag == "textarea" and name:
            self._textarea = name
            self.values[name] = ""
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select and "selected" in attrs:
            self.values[self._select] = attrs.get("value", "")

    def handle_data(self, data) -> None:
        if self._textarea:
            self.values[self._textarea] += data

    def handle_endtag(self, tag) -> None:
        if tag == "textarea":
            # Browsers drop the newline that follows <textarea>.
            name = self._textarea
            self.values[name] = self.values[name].removeprefix("\n")
            self._textarea = None
        elif tag == "select":
            self._select = None


def add_form_as_presented(admin_client) -> dict:
    fields = FormFields()
    fields.feed(admin_client.get("/admin/leaderboard/benchmark/add/").content.decode())
    return fields.values


def test_it_creates_a_benchmark_from_a_gold_file(admin_client):
    response = admin_client.post("/admin/leaderboard/benchmark/add/", benchmark_form(GOOD_GOLD))
    assert response.status_code == 302, response.content.decode()
    benchmark = Benchmark.objects.get(slug="capitals")
    assert benchmark.n_items == 0 and benchmark.gold_status == "queued"
    assert store_gold_as_the_worker_does(benchmark) == "stored"
    benchmark.refresh_from_db()
    assert benchmark.n_items == 2
    assert benchmark.targets == [0.5, 0.75, 0.9]
    assert benchmark.abstention_phrases == ["i don't know", "no idea"]
    assert benchmark.min_coverage == 0.5
    second = benchmark.items.get(item_id="2")
    assert second.aliases == ["four", "IV"]
    assert second.category == "math"


def test_it_starts_a_new_benchmark_from_the_default_targets_and_phrases(admin_client):
    form = add_form_as_presented(admin_client)
    assert form["targets"] == "0.5, 0.75, 0.9"
    assert form["abstention_phrases"].splitlines() == list(scoring.DEFAULT_ABSTENTION_PHRASES)
    assert "no_abstention_phrases" not in form
    form.update(name="Capitals", slug="capitals", gold_file=SimpleUploadedFile("g.csv", GOOD_GOLD))
    response = admin_client.post("/admin/leaderboard/benchmark/add/", form)
    assert response.status_code == 302, response.content.decode()
    benchmark = Benchmark.objects.get(slug="capitals")
    assert benchmark.targets == [0.5, 0.75, 0.9]
    assert benchmark.abstention_phrases == list(scoring.DEFAULT_ABSTENTION_PHRASES)


def test_it_refuses_a_benchmark_without_targets(admin_client):
    form = add_form_as_presented(admin_client)
    form.update(name="Capitals", slug="capitals", targets=" , ")
    form["gold_file"] = SimpleUploadedFile("g.csv", GOOD_GOLD)
    page = admin_client.post("/admin/leaderboard/benchmark/add/", form).content.decode()
    assert "A benchmark needs at least one confidence target" in page
    assert not Benchmark.objects.exists()


def test_it_stores_no_abstention_phrases_only_when_asked_in_so_many_words(admin_client, client):
    form = add_form_as_presented(admin_client)
    form.update(name="Capitals", slug="capitals", abstention_phrases="", visibility="published")
    form["gold_file"] = SimpleUploadedFile("g.csv", GOOD_GOLD)
    page = admin_client.post("/admin/leaderboard/benchmark/add/", form).content.decode()
    assert "or tick “No abstention phrases” to have none" in page
    assert not Benchmark.objects.exists()

    form["gold_file"] = SimpleUploadedFile("g.csv", GOOD_GOLD)
    form["no_abstention_phrases"] = "on"
    response = admin_client.post("/admin/leaderboard/benchmark/add/", form)
    assert response.status_code == 302, response.content.decode()
    benchmark = Benchmark.objects.get(slug="capitals")
    assert benchmark.abstention_phrases == []
    store_gold_as_the_worker_does(benchmark)
    # The change form says so again, and so does the benchmark's page.
    change = admin_client.get(f"/admin/leaderboard/benchmark/{benchmark.pk}/change/")
    fields = FormFields()
    fields.feed(change.content.decode())
    assert fields.values["no_abstention_phrases"] == "on"
    board = client.get("/benchmarks/capitals/").content.decode()
    assert "No abstention phrases: only empty answers" in board


def test_it_refuses_phrases_listed_with_the_box_for_none_ticked(admin_client):
    form = add_form_as_presented(admin_client)
    form.update(name="Capitals", slug="capitals", no_abstention_phrases="on")
    form["gold_file"] = SimpleUploadedFile("g.csv", GOOD_GOLD)
    page = admin_client.post("/admin/leaderboard/benchmark/add/", form).content.decode()
    assert "“No abstention phrases” is ticked but phrases are listed" in page
    assert not Benchmark.objects.exists()


def test_it_shows_the_phrases_that_apply_on_the_benchmark_page(client, make_benchmark):
    make_benchmark(abstention_phrases=["no idea", "pass"])
    page = client.get("/benchmarks/capitals/").content.decode()
    assert "Answers that count as “I don't know”" in page
    assert "“no idea”, “pass”" in page


@pytest.mark.parametrize(
    "gold, name, message",
    [
        (b"", "gold.csv", "empty"),
        (b"id,answer\n1,Paris\n", "gold.txt", "is not a file type we read"),
    ],
)
def test_it_refuses_a_gold_file_it_can_tell_is_wrong_at_once(admin_client, gold, name, message):
    response = admin_client.post(
        "/admin/leaderboard/benchmark/add/", benchmark_form(gold, name=name)
    )
    assert response.status_code == 200
    content = response.content.decode()
    assert "errorlist" in content
    assert message.lower() in content.lower()
    assert not Benchmark.objects.exists()


@pytest.mark.parametrize(
    "gold, message",
    [
        (b"question,answer\nWhat?,Paris\n", "no id column"),
        (b"id,answer\n1,Paris\n1,Rome\n", "row 3: duplicate id"),
        (b"\xff\xfe\x00garbage", "UTF-8"),
    ],
)
def test_it_shows_gold_file_errors_on_the_benchmark_and_stores_no_item(admin_client, gold, message):
    response = admin_client.post("/admin/leaderboard/benchmark/add/", benchmark_form(gold))
    assert response.status_code == 302
    benchmark = Benchmark.objects.get(slug="capitals")
    assert store_gold_as_the_worker_does(benchmark) == "rejected"
    page = admin_client.get(f"/admin/leaderboard/benchmark/{benchmark.pk}/change/")
    content = page.content.decode()
    assert "gold.csv: rejected" in content
    assert message.lower() in content.lower()
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
    store_gold_as_the_worker_does(benchmark)
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


def test_it_stores_the_items_exactly_as_the_gold_file_gives_them(admin_client):
    gold = (
        'id,answer,aliases,question,category\n"a\tb","x\\y ""q""","[""p\\\\q"", ""é""]",'
        '"two\nlines",cat\n2,ž,Ω|\\N,,\n'
    ).encode()
    admin_client.post("/admin/leaderboard/benchmark/add/", benchmark_form(gold))
    benchmark = Benchmark.objects.get(slug="capitals")
    assert store_gold_as_the_worker_does(benchmark) == "stored"
    read = scoring.read_gold(gold, filename="gold.csv", grader="exact")
    assert benchmark.gold().items.to_dict("records") == read.items.to_dict("records")
    benchmark.refresh_from_db()
    assert benchmark.gold_digest == read.digest


def test_it_changes_the_grader_only_with_the_gold_file_read_with_it(admin_client, make_benchmark):
    benchmark = make_benchmark()
    url = f"/admin/leaderboard/benchmark/{benchmark.pk}/change/"
    form = benchmark_form(None, slug="capitals", grader="choice")
    page = admin_client.post(url, form).content.decode()
    assert "upload the gold file again with it" in page

    form = benchmark_form(b"id,answer\nq1,B\n", slug="capitals", grader="choice")
    response = admin_client.post(url, form, follow=True)
    assert "The grader becomes “choice” with them" in response.content.decode()
    benchmark.refresh_from_db()
    assert (benchmark.grader, benchmark.n_items) == ("exact", 4)
    assert store_gold_as_the_worker_does(benchmark) == "stored"
    benchmark.refresh_from_db()
    assert (benchmark.grader, benchmark.n_items) == ("choice", 1)


def test_it_takes_no_upload_until_the_gold_is_stored(admin_client, client, user):
    admin_client.post("/admin/leaderboard/benchmark/add/", benchmark_form(GOOD_GOLD))
    client.force_login(user)
    response = client.get("/benchmarks/capitals/submit/", follow=True)
    assert "has no items yet (its gold file is being read)" in response.content.decode()
    store_gold_as_the_worker_does(Benchmark.objects.get(slug="capitals"))
    assert client.get("/benchmarks/capitals/submit/").status_code == 200
