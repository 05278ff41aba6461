"""The sweep that picks up submissions left queued or scoring too long."""

from datetime import timedelta

import pytest
from django.utils import timezone

from leaderboard import services
from leaderboard.models import Submission

pytestmark = pytest.mark.django_db

STALE = timedelta(minutes=10)


@pytest.fixture
def make_submission(make_benchmark, user, save_submission):
    benchmark = make_benchmark()

    def make(status: str, age: timedelta, attempts: int = 0) -> Submission:
        submission = save_submission(benchmark, user)
        then = timezone.now() - age
        Submission.objects.filter(pk=submission.pk).update(
            status=status, queued_at=then, started_at=then, attempts=attempts
        )
        return submission

    return make


def test_it_queues_again_what_was_left_behind(make_submission, django_capture_on_commit_callbacks):
    lost = make_submission("queued", STALE * 2)
    abandoned = make_submission("scoring", STALE * 2, attempts=1)
    fresh_queued = make_submission("queued", STALE / 2)
    fresh_scoring = make_submission("scoring", STALE / 2, attempts=1)
    with django_capture_on_commit_callbacks() as callbacks:
        result = services.submissions_requeue_stale(stale_after=STALE, max_attempts=3)
    assert result == {"requeued": 2, "failed": 0}
    assert len(callbacks) == 2
    for submission in (lost, abandoned):
        submission.refresh_from_db()
        assert submission.status == "queued"
        assert timezone.now() - submission.queued_at < timedelta(seconds=30)
    assert Submission.objects.get(pk=fresh_queued.pk).status == "queued"
    assert Submission.objects.get(pk=fresh_scoring.pk).status == "scoring"


def test_it_fails_a_submission_after_its_last_attempt(client, user, make_submission):
    stuck = make_submission("scoring", STALE * 2, attempts=3)
    result = services.submissions_requeue_stale(stale_after=STALE, max_attempts=3)
    assert result == {"requeued": 0, "failed": 1}
    client.force_login(user)
    data = client.get(f"/submissions/{stuck.pk}.json").json()
    assert data["status"] == "failed"
    assert "tried 3 times" in data["errors"][0]


def test_it_leaves_finished_submissions_alone(make_submission):
    done = make_submission("scored", STALE * 10)
    assert services.submissions_requeue_stale(stale_after=STALE, max_attempts=3) == {
        "requeued": 0,
        "failed": 0,
    }
    assert Submission.objects.get(pk=done.pk).status == "scored"
