"""Migrations on a database that already holds results."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from leaderboard import services
from leaderboard.models import Benchmark, Submission

BEFORE = [("leaderboard", "0005_confirmed_email")]
AFTER = [("leaderboard", "0006_settings_stamps_and_gold_worker")]


@pytest.mark.django_db(transaction=True)
def test_it_keeps_results_as_scored_except_those_of_hidden_gold_benchmarks():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    owner = old.get_model("auth", "User").objects.create(username="ada")
    for slug, public in (("open", True), ("secret", False)):
        benchmark = old.get_model("leaderboard", "Benchmark").objects.create(
            slug=slug, name=slug, grader="exact", gold_public=public, n_items=1
        )
        old.get_model("leaderboard", "Submission").objects.create(
            benchmark=benchmark,
            owner=owner,
            model_name=f"{slug}-model",
            file="p.csv",
            original_filename="p.csv",
            status="scored",
        )
    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)

    for benchmark in Benchmark.objects.all():
        # The fingerprint the migration gave is the one the benchmark's settings give today.
        assert benchmark.settings_fingerprint == benchmark.current_fingerprint()
    owner = get_user_model().objects.get(username="ada")
    on_board = Submission.objects.filter(benchmark__slug="open").on_board(owner)
    assert [submission.model_name for submission in on_board] == ["open-model"]
    # Scored before hidden gold coarsened its figures: named as being rescored, and queued.
    waiting = Submission.objects.filter(benchmark__slug="secret").being_rescored()
    assert [submission.model_name for submission in waiting] == ["secret-model"]
    services.submissions_requeue_stale(stale_after=timedelta(minutes=10), max_attempts=3)
    assert Submission.objects.get(model_name="secret-model").status == "queued"
    assert Submission.objects.get(model_name="open-model").status == "scored"


@pytest.mark.django_db(transaction=True)
def test_it_gives_every_run_with_a_bootstrap_its_separation_bounds():
    import numpy as np

    import scoring
    from leaderboard.models import Run

    before = [("leaderboard", "0006_settings_stamps_and_gold_worker")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    owner = old.get_model("auth", "User").objects.create(username="ada")
    benchmark = old.get_model("leaderboard", "Benchmark").objects.create(
        slug="open", name="open", grader="exact", n_items=50, targets=[0.9, 0.5]
    )
    outcomes = np.array([scoring.OUTCOME_CORRECT] * 30 + [scoring.OUTCOME_INCORRECT] * 20)
    counts = scoring.statistics.bootstrap_counts(outcomes, seed=benchmark.pk)
    for model, bootstrap in (("kept", counts), ("older", None)):
        submission = old.get_model("leaderboard", "Submission").objects.create(
            benchmark=benchmark,
            owner=owner,
            model_name=model,
            file="p.csv",
            original_filename="p.csv",
            status="scored",
        )
        old.get_model("leaderboard", "Run").objects.create(
            submission=submission,
            key="default",
            n_items=50,
            present=50,
            correct=30,
            incorrect=20,
            abstained=0,
            coverage=1.0,
            accuracy=0.6,
            error_rate=0.4,
            abstention_rate=0.0,
            accuracy_given_attempted=0.6,
            f1=0.6,
            outcomes="",
            bootstrap=None if bootstrap is None else bootstrap.astype("<i4").tobytes(),
        )
    executor = MigrationExecutor(connection)
    executor.migrate([("leaderboard", "0007_run_bounds")])

    kept = Run.objects.get(submission__model_name="kept")
    assert kept.bounds == scoring.statistics.run_bounds(counts, 50, (0.0, 0.5, 0.9))
    assert set(kept.bounds) == {"0", "0.5", "0.9"}
    # Scored before bootstraps were kept: none, until it is scored again.
    assert Run.objects.get(submission__model_name="older").bounds == {}
