import numpy as np
from django.db import migrations, models

import scoring

# Runs read and written at a time: a board's worth of bootstraps stays small in memory.
BATCH = 500


def fill_bounds(apps, schema_editor):
    """Give every run with a stored bootstrap its separation bounds under each rubric of its
    benchmark, as scoring now stores them with the run (scoring.statistics.run_bounds)."""
    Benchmark = apps.get_model("leaderboard", "Benchmark")
    Run = apps.get_model("leaderboard", "Run")
    for benchmark in Benchmark.objects.all():
        rubrics = scoring.BenchmarkConfig(
            grader=benchmark.grader, targets=tuple(benchmark.targets)
        ).rubrics
        runs = (
            Run.objects.filter(submission__benchmark_id=benchmark.pk, bootstrap__isnull=False)
            .only("pk", "n_items", "bootstrap")
            .order_by("pk")
        )
        changed = []
        for run in runs.iterator(chunk_size=BATCH):
            if not run.bootstrap:
                continue
            counts = np.frombuffer(bytes(run.bootstrap), dtype="<i4").reshape(2, -1)
            run.bounds = scoring.statistics.run_bounds(counts, run.n_items, rubrics)
            changed.append(run)
            if len(changed) == BATCH:
                Run.objects.bulk_update(changed, ["bounds"])
                changed = []
        Run.objects.bulk_update(changed, ["bounds"])


class Migration(migrations.Migration):
    dependencies = [
        ("leaderboard", "0006_settings_stamps_and_gold_worker"),
    ]

    operations = [
        migrations.AddField(
            model_name="run",
            name="bounds",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.RunPython(fill_bounds, migrations.RunPython.noop),
    ]
