"""The submission page and its JSON: status, errors, metrics, and who may see them."""

import pytest

from leaderboard import services
from leaderboard.models import Submission

pytestmark = pytest.mark.django_db


def test_it_reports_a_queued_submission_and_follows_it(
    client, user, make_benchmark, save_submission
):
    submission = save_submission(make_benchmark(), user, b"id,answer\nq1,Paris\n")
    data = client.get(f"/submissions/{submission.pk}.json").json()
    assert data["status"] == "queued"
    assert data["progress"] == 0
    assert "metrics" not in data
    page = client.get(f"/submissions/{submission.pk}/").content.decode()
    assert "this page follows the scoring by itself" in page
    assert "submission-status.js" in page


def test_it_shows_the_metrics_once_scored(client, user, make_benchmark, save_submission):
    benchmark = make_benchmark()
    submission = save_submission(
        benchmark, user, b"id,answer,target\nq1,Paris,\nq2,Hamlet,\nq1,Paris,0.75\nq2,idk,0.75\n"
    )
    services.submission_score(submission_id=submission.pk)
    data = client.get(f"/submissions/{submission.pk}.json").json()
    assert data["status"] == "scored"
    assert data["progress"] == 100
    assert data["metrics"]["scores"]["0.5"]["score"] == pytest.approx((1 - 1) / 4)
    assert data["metrics"]["scores"]["0.75"]["score"] == pytest.approx(1 / 4)  # the prompted run
    page = client.get(f"/submissions/{submission.pk}/").content.decode()
    assert "prompted at t = 0.75" in page
    assert "same answers" in page
    assert "Runs" in page
    assert "submission-status.js" not in page


def test_it_shows_every_validation_error_with_its_line(
    client, user, make_benchmark, save_submission
):
    submission = save_submission(
        make_benchmark(),
        user,
        b"id,answer,confidence\nq1,Paris,0.9\nzz,Rome,\nq2,Hamlet,1.5\nq1,Lyon,\n",
    )
    services.submission_score(submission_id=submission.pk)
    data = client.get(f"/submissions/{submission.pk}.json").json()
    assert data["status"] == "rejected"
    assert data["n_errors"] == 3
    errors = " | ".join(data["errors"])
    assert "row 3" in errors and "zz" in errors
    assert "row 4" in errors and "confidence" in errors
    assert "row 5" in errors and "duplicate" in errors
    page = client.get(f"/submissions/{submission.pk}/").content.decode()
    assert "with 3 errors" in page
    for row in ("row 3", "row 4", "row 5"):
        assert row in page


def test_it_names_the_line_that_is_not_json(client, user, make_benchmark, save_submission):
    submission = save_submission(
        make_benchmark(),
        user,
        b'{"id": "q1", "answer": "Paris"}\n{"id": "q2", "answer": \n',
        name="p.jsonl",
    )
    services.submission_score(submission_id=submission.pk)
    data = client.get(f"/submissions/{submission.pk}.json").json()
    assert data["status"] == "rejected"
    assert data["errors"][0].startswith("line 2: not valid JSON"), data["errors"]


def test_it_scores_a_submission_once(user, make_benchmark, save_submission):
    submission = save_submission(make_benchmark(), user, b"id,answer\nq1,Paris\n")
    assert services.submission_score(submission_id=submission.pk) is not None
    assert services.submission_score(submission_id=submission.pk) is None
    assert submission.runs.count() == 1


def test_it_shows_model_names_as_text(client, user, make_benchmark, save_submission):
    submission = save_submission(
        make_benchmark(),
        user,
        b"id,answer\nq1,Paris\n",
        description="<script>alert(1)</script>",
    )
    Submission.objects.filter(pk=submission.pk).update(model_name="<script>alert(2)</script>")
    page = client.get(f"/submissions/{submission.pk}/").content.decode()
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(2)" in page


def test_it_keeps_private_submissions_private(
    client, user, other_user, make_benchmark, save_submission
):
    submission = save_submission(
        make_benchmark(), user, b"id,answer\nq1,Paris\n", visibility="private"
    )
    services.submission_score(submission_id=submission.pk)
    assert client.get(f"/submissions/{submission.pk}/").status_code == 404
    client.force_login(other_user)
    assert client.get(f"/submissions/{submission.pk}.json").status_code == 404
    assert client.get("/benchmarks/capitals/leaderboard.json").json()["rows"] == []
    client.force_login(user)
    assert client.get(f"/submissions/{submission.pk}.json").json()["status"] == "scored"
    assert "private" in client.get("/accounts/submissions/").content.decode()


def test_it_breaks_the_scores_down_by_category(client, seeded_simpleqa_cs):
    gpt4o = Submission.objects.get(model_name="gpt-4o-2024-11-20")
    run = gpt4o.runs.get(key="default")
    science = run.categories["Science and technology"]
    assert sum(row["n_items"] for row in run.categories.values()) == 4326
    page = client.get(f"/submissions/{gpt4o.pk}/").content.decode()
    assert "By category" in page
    assert 'id="figure-categories"' in page
    row = page.split("<td>Science and technology</td>")[1].split("</tr>")[0]
    assert f"{science['n_items']:,}" in row
    assert f"{science['accuracy'] * 100:.1f}%" in row
    at_09 = (science["correct"] - 9 * science["incorrect"]) / science["n_items"]
    assert f"{at_09:.3f}".replace("-", "−") in row
