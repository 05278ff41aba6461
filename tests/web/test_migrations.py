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
