"""Results stored once: the runs hold them, the submission what concerns the whole file.

Until now a scored submission held its result twice, in its Run rows and again in
`Submission.summary` (scoring's `to_dict()`). What only the summary held moves out of it first:
each run's `has_confidence` and `categories_not_shown` into the run, the targets the result was
scored under into `Submission.targets`; then the summary goes. Undone, the summary is rebuilt
from the runs as scoring would have written it.
"""

from django.db import migrations, models

import scoring

# The fields of a run as scoring computes them, as they stand in this migration.
RUN_FIELDS = (
    "key",
    "target",
    "n_items",
    "present",
    "correct",
    "incorrect",
    "abstained",
    "coverage",
    "accuracy",
    "error_rate",
    "abstention_rate",
    "accuracy_given_attempted",
    "f1",
    "categories",
    "categories_not_shown",
    "has_confidence",
    "scores_abstaining_below",
    "intervals",
    "confidence_calibration",
)


def move_summaries_out(apps, schema_editor) -> None:
    Submission = apps.get_model("leaderboard", "Submission")
    Run = apps.get_model("leaderboard", "Run")
    stored = Submission.objects.exclude(summary=None).only("pk", "summary", "columns")
    for submission in stored.iterator(chunk_size=500):
        summary = submission.summary
        # Every summary names its rubrics; the first ones named only their scores.
        rubrics = summary.get("rubrics") or {key: {"target": float(key)} for key in summary["scores"]}
        Submission.objects.filter(pk=submission.pk).update(
            targets=sorted(info["target"] for info in rubrics.values() if info["target"]),
            columns=submission.columns or summary.get("columns"),
        )
        for run in summary.get("runs", []):
            Run.objects.filter(submission_id=submission.pk, key=run["key"]).update(
                has_confidence=run.get("has_confidence", run.get("confidence_calibration") is not None),
                categories_not_shown=run.get("categories_not_shown", 0),
            )


def summaries_from_runs(apps, schema_editor) -> None:
    Submission = apps.get_model("leaderboard", "Submission")
    Run = apps.get_model("leaderboard", "Run")
    runs: dict[int, list] = {}
    for run in Run.objects.defer("outcomes", "bootstrap").iterator(chunk_size=500):
        score = scoring.RunScore(**{name: getattr(run, name) for name in RUN_FIELDS})
        runs.setdefault(run.submission_id, []).append(score)
    for submission in Submission.objects.filter(pk__in=list(runs)).only(
        "pk", "targets", "self_graded", "columns"
    ):
        result = scoring.SubmissionScore.of_runs(
            sorted(runs[submission.pk], key=lambda run: (run.target is not None, run.target or 0)),
            rubric_targets=(0.0, *(submission.targets or ())),
            self_graded=submission.self_graded,
            columns=scoring.ColumnReport(**(submission.columns or {"used": {}, "ignored": []})),
        )
        Submission.objects.filter(pk=submission.pk).update(summary=result.to_dict())


class Migration(migrations.Migration):
    dependencies = [
        ("leaderboard", "0007_run_bounds"),
    ]

    operations = [
        migrations.AddField(
            model_name="run",
            name="categories_not_shown",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="run",
            name="has_confidence",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="submission",
            name="targets",
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.RunPython(move_summaries_out, summaries_from_runs),
        migrations.RemoveField(
            model_name="submission",
            name="summary",
        ),
    ]
