"""The admin's pages of a submission: counts in words that agree with them, the result as tables,
and the uploaded file sent to staff only."""

import re
from html import unescape

import pytest

from leaderboard import services
from leaderboard.models import ApiToken, Submission

pytestmark = pytest.mark.django_db

UPLOAD = b"id,answer\nq1,Paris\nq2,Shakespeare\nq3,Saturn\n"


@pytest.fixture
def scored_submission(make_benchmark, save_submission, user) -> Submission:
    benchmark = make_benchmark()
    submission = save_submission(benchmark, user, UPLOAD, name="my run.csv", model_name="Tiny")
    return services.submission_score(submission_id=submission.pk)


def messages_of(response) -> list[str]:
    return [
        unescape(m)
        for m in re.findall(r'<li class="success">(.*?)</li>', response.content.decode())
    ]


@pytest.mark.parametrize(
    ("action", "one", "two"),
    [
        ("hide_from_leaderboard", "1 submission hidden.", "2 submissions hidden."),
        ("show_on_leaderboard", "1 submission shown.", "2 submissions shown."),
        ("rescore", "1 submission queued for scoring.", "2 submissions queued for scoring."),
    ],
)
def test_it_counts_submissions_in_agreeing_words(
    admin_client, scored_submission, save_submission, user, action, one, two
):
    # Two others, each in the state the first was in (a rescoring queues only scored ones).
    others = []
    for model in ("Other", "Third"):
        other = save_submission(scored_submission.benchmark, user, UPLOAD, model_name=model)
        others.append(services.submission_score(submission_id=other.pk).pk)
    response = admin_client.post(
        "/admin/leaderboard/submission/",
        {"action": action, "_selected_action": [scored_submission.pk]},
        follow=True,
    )
    assert messages_of(response) == [one]
    response = admin_client.post(
        "/admin/leaderboard/submission/",
        {"action": action, "_selected_action": others},
        follow=True,
    )
    assert messages_of(response) == [two]


def test_it_counts_revoked_tokens_in_agreeing_words(admin_client, user):
    token = ApiToken.objects.create(user=user, name="laptop", prefix="abcd1234", digest="x" * 64)
    response = admin_client.post(
        "/admin/leaderboard/apitoken/",
        {"action": "revoke", "_selected_action": [token.pk]},
        follow=True,
    )
    assert messages_of(response) == ["1 token revoked."]


def test_it_shows_the_result_as_tables_not_json(admin_client, scored_submission):
    page = admin_client.get(
        f"/admin/leaderboard/submission/{scored_submission.pk}/change/"
    ).content.decode()
    result = page.split('class="submission-result"')[1].split("</div>")[0]
    assert '"scores"' not in result and "{" not in result
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", result))
    # Of four items: Paris right, Shakespeare right (an alias), Saturn wrong, q4 left out.
    assert "Correct 2, wrong 1, abstained 1." in text
    assert "accuracy 50.0%" in text
    assert "binary 0.500" in text
    # At t = 0.9 a wrong answer costs 9: (2 − 9) / 4.
    assert "t = 0.9 −1.750" in text


def test_it_sends_the_uploaded_file_to_staff(admin_client, scored_submission):
    page = admin_client.get(
        f"/admin/leaderboard/submission/{scored_submission.pk}/change/"
    ).content.decode()
    link = re.search(r'<a href="([^"]+)">my run.csv</a>', page).group(1)
    assert link == f"/admin/leaderboard/submission/{scored_submission.pk}/file/"
    assert "/media/" not in page
    response = admin_client.get(link)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == UPLOAD
    assert 'attachment; filename="my run.csv"' in response["Content-Disposition"]


def test_it_sends_the_uploaded_file_to_no_one_else(client, user, scored_submission):
    link = f"/admin/leaderboard/submission/{scored_submission.pk}/file/"
    response = client.get(link)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    client.force_login(user)  # its owner, not staff
    response = client.get(link)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_it_says_when_the_uploaded_file_is_gone(admin_client, scored_submission):
    scored_submission.file.delete(save=False)
    response = admin_client.get(f"/admin/leaderboard/submission/{scored_submission.pk}/file/")
    assert response.status_code == 404
