"""Harness logs: how an upload asked its log to be read, and how a benchmark counts partial
credit. Existing benchmarks refuse partial credit, as they did, and keep their settings stamps."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('leaderboard', '0009_api_tokens'),
    ]

    operations = [
        migrations.AddField(
            model_name='benchmark',
            name='partial_credit',
            field=models.CharField(blank=True, choices=[('', 'Refuse partial credit'), ('correct', 'Count as correct'), ('incorrect', 'Count as wrong'), ('not_attempted', 'Count as abstained')], default='', help_text="How a harness log's “partial” grade (Inspect's P) counts on a pre-graded benchmark. Refused, an upload whose log grades a sample partial is rejected with the samples named.", max_length=20),
        ),
        migrations.AddField(
            model_name='submission',
            name='log_options',
            field=models.JSONField(blank=True, default=dict),
        ),
    ]
