"""The e-mail an uploader asked for on the account page: once per upload, when it finishes."""

from __future__ import annotations

import re

import pytest

from leaderboard import services
from leaderboard.models import AccountSettings, Submission

pytestmark = pytest.mark.django_db

PREDICTIONS_CSV = b"id,answer\nq1,Paris\nq2,shakespeare\nq3,Saturn\nq4,I don't know\n"


@pytest.fixture
def opted_in(client, user):
    """Ada, with a confirmed address, ticks the box on her account page."""
    client.force_login(user)
    response = client.post("/accounts/", {"action": "settings", "settings-email_on_finish": "on"})
    assert response.status_code == 302
    assert AccountSettings.of(user).email_on_finish
    return user


def score(submission_id: int, capture) -> Submission:
    """Score in this process as a worker does, running what is queued once it commits."""
    with capture(execute=True):
        services.submission_score(submission_id=submission_id)
    return Submission.objects.get(pk=submission_id)


def test_it_mails_an_opted_in_owner_once_when_scored(
    opted_in,
    make_benchmark,
    save_submission,
    mailoutbox,
    settings,
    django_capture_on_commit_callbacks,
):
    settings.SITE_URL = "https://leaderboard.example.org"
    benchmark = make_benchmark()
    submission = save_submission(benchmark, opted_in, content=PREDICTIONS_CSV, model_name="tiny")
    assert score(submission.pk, django_capture_on_commit_callbacks).status == "scored"
    [mail] = mailoutbox
    assert mail.to == ["ada@example.org"]
    assert mail.subject == f"tiny on Capitals: scored (#{submission.pk})"
    assert f"Your submission #{submission.pk} to Capitals" in mail.body
    assert "is scored." in mail.body and "Model: tiny" in mail.body
    assert "Accuracy 50.0%, error rate 25.0%, abstention rate 25.0%" in mail.body
    assert f"https://leaderboard.example.org/submissions/{submission.pk}/" in mail.body
    assert "https://leaderboard.example.org/accounts/" in mail.body
    # The same task delivered again finds the submission scored: nothing more is sent.
    assert services.submission_score(submission_id=submission.pk) is None
    # A rescoring (staff changed the settings, say) sends nothing either.
    with django_capture_on_commit_callbacks(execute=True):
        services.benchmark_rescore(benchmark=benchmark)
    assert Submission.objects.get(pk=submission.pk).status == "queued"
    assert score(submission.pk, django_capture_on_commit_callbacks).status == "scored"
    assert len(mailoutbox) == 1


def test_it_mails_the_first_errors_of_a_rejection(
    opted_in, make_benchmark, save_submission, mailoutbox, django_capture_on_commit_callbacks
):
    benchmark = make_benchmark()
    bad = b"id,answer\n" + b"".join(b"nope%d,Paris\n" % n for n in range(30))
    submission = save_submission(benchmark, opted_in, content=bad)
    scored = score(submission.pk, django_capture_on_commit_callbacks)
    assert scored.status == "rejected"
    [mail] = mailoutbox
    assert mail.subject == f"m on Capitals: rejected (#{submission.pk})"
    assert "The file was rejected:" in mail.body
    assert f"- {scored.errors[0]}" in mail.body


def test_it_mails_a_failure(
    opted_in, make_benchmark, save_submission, mailoutbox, django_capture_on_commit_callbacks
):
    benchmark = make_benchmark()
    submission = save_submission(benchmark, opted_in)
    assert services.submission_claim(submission_id=submission.pk)
    with django_capture_on_commit_callbacks(execute=True):
        services.submission_finish(
            submission_id=submission.pk,
            status=Submission.Status.FAILED,
            errors=[services.INTERNAL_ERROR_MESSAGE],
        )
    [mail] = mailoutbox
    assert "is failed." in mail.body and "Scoring failed:" in mail.body
    assert services.INTERNAL_ERROR_MESSAGE in mail.body


def test_it_mails_no_one_who_did_not_opt_in(
    user, make_benchmark, save_submission, mailoutbox, django_capture_on_commit_callbacks
):
    benchmark = make_benchmark()
    submission = save_submission(benchmark, user, content=PREDICTIONS_CSV)
    assert score(submission.pk, django_capture_on_commit_callbacks).status == "scored"
    assert mailoutbox == []


def test_it_mails_no_address_that_is_not_confirmed(
    client,
    other_user,
    make_benchmark,
    save_submission,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    other_user.email = "grace@example.org"
    other_user.save()
    AccountSettings.objects.create(user=other_user, email_on_finish=True)
    benchmark = make_benchmark()
    submission = save_submission(benchmark, other_user, content=PREDICTIONS_CSV)
    assert score(submission.pk, django_capture_on_commit_callbacks).status == "scored"
    assert mailoutbox == []


def test_a_mail_server_that_is_down_does_not_fail_the_scoring(
    opted_in,
    make_benchmark,
    save_submission,
    settings,
    caplog,
    django_capture_on_commit_callbacks,
):
    # A real SMTP backend pointed at a port where nothing listens.
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    benchmark = make_benchmark()
    submission = save_submission(benchmark, opted_in, content=PREDICTIONS_CSV)
    assert score(submission.pk, django_capture_on_commit_callbacks).status == "scored"
    assert f"Could not e-mail the owner of submission {submission.pk}" in caplog.text


def test_the_account_page_turns_the_mail_off_again(client, opted_in):
    box = re.search(r"<input[^>]*settings-email_on_finish[^>]*>", client.get("/accounts/").text)
    assert box and " checked" in box.group()
    client.post("/accounts/", {"action": "settings"})
    assert not AccountSettings.of(opted_in).email_on_finish
    box = re.search(r"<input[^>]*settings-email_on_finish[^>]*>", client.get("/accounts/").text)
    assert box and " checked" not in box.group()
