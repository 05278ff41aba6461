"""Results stamped with the benchmark settings they were computed under.

No change of a benchmark's grading or gold is lost, even one made while a submission is being
scored, and a board never mixes results of two settings: rows waiting for their rescoring are
named as being rescored, not shown with their old numbers.
"""

from __future__ import annotations

import os
import signal
from datetime import timedelta

import pytest

import scoring
from leaderboard import models, services
from leaderboard.models import Benchmark, Submission
from leaderboard.tasks import score_submission
from tests.web.test_admin import benchmark_form
from tests.web.test_faults import BIG_GOLD, N_ITEMS, catch_scoring, pool_process, wait_for

DEFAULT_PHRASES = "\n".join(scoring.DEFAULT_ABSTENTION_PHRASES)
# Every fifth answer is "no idea": wrong under the default phrases, an abstention once the
# benchmark takes "no idea" as one.
PREDICTIONS = (
    "id,answer\n"
    + "".join(f"q{i},{'no idea' if i % 5 == 0 else f'answer {i % 89}'}\n" for i in range(N_ITEMS))
).encode()
RIGHT = sum(1 for i in range(N_ITEMS) if i % 5 and i % 89 == i % 97)
IDK = len(range(0, N_ITEMS, 5))


def change_grading(admin_client, benchmark: Benchmark, *, targets: str, phrases: str) -> None:
    form = benchmark_form(
        None,
        name=benchmark.name,
        slug=benchmark.slug,
        targets=targets,
        abstention_phrases=phrases,
        min_coverage="0",
        # Kept as it is: only the grading changes.
        gold_public="on" if benchmark.gold_public else "",
    )
    response = admin_client.post(f"/admin/leaderboard/benchmark/{benchmark.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_it_scores_again_a_submission_whose_settings_changed_while_it_was_scored(
    celery_worker, admin_client, make_benchmark, user, save_submission
):
    benchmark = make_benchmark(slug="big", gold=BIG_GOLD, min_coverage=0.0)
    submission = save_submission(benchmark, user, PREDICTIONS)
    score_submission.delay(submission.pk)
    scoring_process = pool_process(celery_worker)
    try:
        catch_scoring(submission.pk, attempt=1, process=scoring_process)
        # Two changes within a second while the worker is in the middle of scoring it.
        change_grading(admin_client, benchmark, targets="0.6", phrases=DEFAULT_PHRASES)
        change_grading(admin_client, benchmark, targets="0.6", phrases="no idea")
        assert Submission.objects.get(pk=submission.pk).rescore_requested
    finally:
        os.kill(scoring_process, signal.SIGCONT)

    benchmark.refresh_from_db()
    wait_for(
        lambda: Submission.objects.filter(
            pk=submission.pk, status="scored", settings_fingerprint=benchmark.settings_fingerprint
        ).exists(),
        "the submission to be scored under the last settings",
    )
    scored = Submission.objects.get(pk=submission.pk)
    assert list(scored.runs.values_list("key", flat=True)) == ["default"]
    run = scored.runs.get()
    assert (run.correct, run.incorrect, run.abstained) == (RIGHT, N_ITEMS - RIGHT - IDK, IDK)
    assert sorted(scored.rubric_scores()) == ["0", "0.6"]
    assert not scored.rescore_requested
    board = admin_client.get("/benchmarks/big/leaderboard.json").json()
    assert [row["id"] for row in board["rows"]] == [submission.pk]


@pytest.mark.django_db
def test_it_lists_only_results_of_the_current_settings_and_names_the_others(
    admin_client, client, make_benchmark, user, save_submission
):
    benchmark = make_benchmark()
    first = save_submission(benchmark, user, b"id,answer\nq1,Paris\nq2,no idea\n", model_name="a")
    second = save_submission(benchmark, user, b"id,answer\nq1,Lyon\n", model_name="b")
    for submission in (first, second):
        services.submission_score(submission_id=submission.pk)

    change_grading(admin_client, benchmark, targets="0.6", phrases="no idea")
    # The worker has scored the first again, not yet the second.
    services.submission_score(submission_id=first.pk)
    board = client.get("/benchmarks/capitals/leaderboard.json").json()
    assert [row["model"] for row in board["rows"]] == ["a"]
    assert board["being_rescored"] == [{"id": second.pk, "model": "b"}]
    assert board["targets"] == [0.6]
    assert sorted(board["rows"][0]["scores"]) == ["0", "0.6"]
    page = client.get("/benchmarks/capitals/").content.decode()
    assert "Being rescored under this benchmark's current settings" in page
    assert f'<a href="/submissions/{second.pk}/">b</a>' in page

    services.submission_score(submission_id=second.pk)
    board = client.get("/benchmarks/capitals/leaderboard.json").json()
    assert sorted(row["model"] for row in board["rows"]) == ["a", "b"]
    assert board["being_rescored"] == []
    assert "Being rescored" not in client.get("/benchmarks/capitals/").content.decode()


@pytest.mark.django_db
def test_it_hides_results_of_settings_changed_elsewhere_until_the_sweep_rescores_them(
    client, make_benchmark, user, save_submission
):
    from datetime import timedelta

    benchmark = make_benchmark()
    submission = save_submission(benchmark, user, b"id,answer\nq1,Paris\n", model_name="a")
    services.submission_score(submission_id=submission.pk)
    assert len(client.get("/benchmarks/capitals/leaderboard.json").json()["rows"]) == 1

    # Changed without the admin, so nothing queued the rescoring.
    benchmark.targets = [0.8]
    benchmark.save()
    assert client.get("/benchmarks/capitals/leaderboard.json").json()["rows"] == []
    page = client.get("/benchmarks/capitals/").content.decode()
    assert f'ranked again once done: <a href="/submissions/{submission.pk}/">a</a>' in page

    swept = services.submissions_requeue_stale(stale_after=timedelta(minutes=10), max_attempts=3)
    assert swept == {"requeued": 1, "failed": 0}
    services.submission_score(submission_id=submission.pk)
    board = client.get("/benchmarks/capitals/leaderboard.json").json()
    assert [row["model"] for row in board["rows"]] == ["a"]
    assert board["targets"] == [0.8]
    assert sorted(board["rows"][0]["scores"]) == ["0", "0.8"]


@pytest.mark.django_db
def test_it_stamps_a_result_with_the_gold_it_was_computed_with(
    make_benchmark, user, save_submission
):
    benchmark = make_benchmark()
    submission = save_submission(benchmark, user, b"id,answer\nq1,Paris\n")
    services.submission_score(submission_id=submission.pk)
    stamp = Submission.objects.get(pk=submission.pk).settings_fingerprint
    assert stamp == benchmark.settings_fingerprint

    gold = scoring.read_gold(b"id,answer\nq1,Lyon\n", filename="g.csv", grader="exact")
    services.benchmark_set_items(benchmark=benchmark, gold=gold)
    assert benchmark.settings_fingerprint != stamp
    assert not Submission.objects.filter(benchmark=benchmark).on_board(user).exists()


@pytest.mark.django_db
def test_it_never_names_a_private_submission_being_rescored_to_another_viewer(
    client, admin_client, make_benchmark, user, other_user, save_submission
):
    benchmark = make_benchmark()
    public = save_submission(benchmark, other_user, b"id,answer\nq1,Paris\n", model_name="open")
    private = save_submission(
        benchmark, user, b"id,answer\nq1,Lyon\n", model_name="secret-model", visibility="private"
    )
    for submission in (public, private):
        services.submission_score(submission_id=submission.pk)
    benchmark.targets = [0.6]
    benchmark.save()  # both results are now under earlier settings, waiting for their rescoring

    # The owner and staff are told, each first to render the board's part of the page.
    client.force_login(user)
    assert "secret-model" in client.get("/benchmarks/capitals/").content.decode()
    assert "secret-model" in admin_client.get("/benchmarks/capitals/").content.decode()
    owners = client.get("/benchmarks/capitals/leaderboard.json").json()["being_rescored"]
    assert [each["model"] for each in owners] == ["open", "secret-model"]
    # Nobody else is, from the page, its JSON or any cached part of either.
    client.force_login(other_user)
    for reader in (client, admin_client.__class__()):
        page = reader.get("/benchmarks/capitals/").content.decode()
        assert "Being rescored" in page and "open" in page
        assert "secret-model" not in page
        board = reader.get("/benchmarks/capitals/leaderboard.json").json()
        assert [each["model"] for each in board["being_rescored"]] == ["open"]


@pytest.mark.django_db
def test_it_scores_hidden_gold_results_again_when_k_changes(
    make_benchmark, user, save_submission, settings
):
    gold = "id,answer\n" + "".join(f"q{i},a{i}\n" for i in range(40))
    benchmark = make_benchmark(slug="secret", gold=gold, gold_public=False)
    answers = "id,answer\n" + "".join(f"q{i},a{i}\n" for i in range(30))
    submission = save_submission(benchmark, user, answers.encode())
    services.submission_score(submission_id=submission.pk)
    settings.HIDDEN_GOLD_MIN_ITEMS = 10  # set in the environment, with no save of the benchmark
    services.submissions_requeue_stale(stale_after=timedelta(minutes=10), max_attempts=3)
    assert Submission.objects.get(pk=submission.pk).status == Submission.Status.QUEUED
    benchmark.refresh_from_db()
    assert benchmark.settings_fingerprint == benchmark.current_fingerprint()


@pytest.mark.django_db
def test_it_scores_again_large_benchmarks_bootstrapped_item_by_item_by_an_earlier_release(
    make_benchmark, user, save_submission
):
    # Over 16,000 items a benchmark is resampled in blocks: results an earlier release stamped
    # (bootstrapped item by item) are scored again, never compared with the new ones.
    n = 16_001
    gold = "id,answer\n" + "".join(f"q{i},answer {i % 7}\n" for i in range(n))
    large = make_benchmark(slug="large", gold=gold)
    small = make_benchmark(slug="small")
    for benchmark in (large, small):
        grading = {name: getattr(benchmark, name) for name in models.GRADING_FIELDS}
        earlier = models.settings_fingerprint(grading, benchmark.gold_digest)
        # What this release stamps a benchmark of up to 16,000 items with is unchanged.
        assert (benchmark.settings_fingerprint == earlier) == (benchmark is small)
    submission = save_submission(large, user, b"id,answer\nq1,answer 1\n")
    services.submission_score(submission_id=submission.pk)
    grading = {name: getattr(large, name) for name in models.GRADING_FIELDS}
    earlier = models.settings_fingerprint(grading, large.gold_digest)
    Benchmark.objects.filter(pk=large.pk).update(settings_fingerprint=earlier)
    Submission.objects.filter(pk=submission.pk).update(settings_fingerprint=earlier)

    swept = services.submissions_requeue_stale(stale_after=timedelta(minutes=10), max_attempts=3)
    assert swept == {"requeued": 1, "failed": 0}
    assert Benchmark.objects.get(pk=large.pk).settings_fingerprint == large.settings_fingerprint
    services.submission_score(submission_id=submission.pk)
    rescored = Submission.objects.get(pk=submission.pk)
    assert rescored.status == Submission.Status.SCORED
    assert rescored.settings_fingerprint == large.settings_fingerprint
