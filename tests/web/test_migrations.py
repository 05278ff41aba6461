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


@pytest.fixture(autouse=True)
def _latest_schema_after():
    """Each test migrates the database back and forth: the next one finds it up to date."""
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


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
    # Read with today's models: the migrations after this one too.
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

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
    # Read with today's models: the migrations after this one too.
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    kept = Run.objects.get(submission__model_name="kept")
    assert kept.bounds == scoring.statistics.run_bounds(counts, 50, (0.0, 0.5, 0.9))
    assert set(kept.bounds) == {"0", "0.5", "0.9"}
    # Scored before bootstraps were kept: none, until it is scored again.
    assert Run.objects.get(submission__model_name="older").bounds == {}


BEFORE_STORED_ONCE = [("leaderboard", "0007_run_bounds")]
STORED_ONCE = [("leaderboard", "0008_results_stored_once")]


def _scored_with_hidden_gold():
    """A result with all that only the old summary held: a run stating confidences and
    categories left out (hidden gold, figures over at least 25 answers), and a prompted run."""
    import numpy as np

    import scoring

    categories = ["big"] * 100 + ["middle"] * 60 + ["small"] * 30 + ["tiny"] * 10
    key = np.random.default_rng(3).choice(list("ABCD"), size=len(categories))
    gold_csv = "id,answer,category\n" + "".join(
        f"q{i},{letter},{category}\n"
        for i, (letter, category) in enumerate(zip(key, categories, strict=True))
    )
    rows = [f"q{i},A,{0.5 + i / 400}," for i in [*range(130), *range(160, 163)]]
    rows += [f"q{i},B,,0.5" for i in range(100)]
    config = scoring.BenchmarkConfig(
        grader="choice", min_items_per_figure=25, n_resamples=50, seed=7
    )
    gold = scoring.read_gold(gold_csv.encode(), filename="gold.csv", grader="choice")
    predictions = scoring.read_predictions(
        ("id,answer,confidence,target\n" + "\n".join(rows) + "\n").encode(),
        filename="p.csv",
        gold=gold,
        config=config,
    )
    return scoring.score_predictions(gold, predictions, config)


@pytest.mark.django_db(transaction=True)
def test_it_moves_what_only_the_summary_held_into_the_runs_and_reads_the_same_result():
    import numpy as np

    import scoring
    from leaderboard.models import Run

    result = _scored_with_hidden_gold()
    assert result.primary.has_confidence and result.primary.categories_not_shown > 0
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE_STORED_ONCE)
    old = executor.loader.project_state(BEFORE_STORED_ONCE).apps
    owner = old.get_model("auth", "User").objects.create(username="ada")
    benchmark = old.get_model("leaderboard", "Benchmark").objects.create(
        slug="secret", name="secret", grader="choice", n_items=result.n_items
    )
    submission = old.get_model("leaderboard", "Submission").objects.create(
        benchmark=benchmark,
        owner=owner,
        model_name="m",
        file="p.csv",
        original_filename="p.csv",
        status="scored",
        self_graded=result.self_graded,
        summary=result.to_dict(),
        columns=result.columns.to_dict(),
    )
    old_run = old.get_model("leaderboard", "Run")
    stored_then = [
        name for name in Run.SCORED_FIELDS if name not in ("has_confidence", "categories_not_shown")
    ]
    old_run.objects.bulk_create(
        old_run(
            submission=submission,
            outcomes=scoring.encode_outcomes(run.outcomes),
            bootstrap=np.ascontiguousarray(run.bootstrap, dtype="<i4").tobytes(),
            **{name: getattr(run, name) for name in stored_then},
        )
        for run in result.runs
    )
    summary = old.get_model("leaderboard", "Submission").objects.get().summary

    executor = MigrationExecutor(connection)
    # Up to the latest schema, which the models read (migrations after STORED_ONCE add fields).
    executor.migrate(executor.loader.graph.leaf_nodes())

    moved = Submission.objects.get()
    assert moved.targets == [0.5, 0.75, 0.9]
    runs = {run.key: run for run in moved.runs.all()}
    for run in result.runs:
        assert runs[run.key].has_confidence == run.has_confidence
        assert runs[run.key].categories_not_shown == run.categories_not_shown
    # Read back from the runs, the result is the one the summary held, to the last number.
    assert moved.result().to_dict() == summary
    # Its outcomes and bootstrap, which no page reads with it, are left out.
    assert moved.result().primary.outcomes is None
    assert moved.result().primary.bootstrap is None

    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE_STORED_ONCE)
    old = executor.loader.project_state(BEFORE_STORED_ONCE).apps
    # Undone, the summary is rebuilt as scoring wrote it.
    assert old.get_model("leaderboard", "Submission").objects.get().summary == summary
