"""Models: one row per model (its name and organisation, normalised), which every submission
links to; the existing submissions are linked to theirs, oldest first (whose spelling names it)."""

import django.db.models.deletion
from django.db import migrations, models

from leaderboard.model_identity import model_key, slug_base


def link_submissions(apps, schema_editor):
    Model = apps.get_model("leaderboard", "Model")
    Submission = apps.get_model("leaderboard", "Submission")
    by_key, slugs = {}, set(Model.objects.values_list("slug", flat=True))
    for submission in Submission.objects.filter(model__isnull=True).order_by("created_at", "pk"):
        key = model_key(submission.model_name, submission.organisation)
        model = by_key.get(key)
        if model is None:
            base = slug_base(submission.model_name, submission.organisation)
            slug, number = base, 1
            while slug in slugs:
                number += 1
                slug = f"{base}-{number}"
            slugs.add(slug)
            model = by_key[key] = Model.objects.create(
                slug=slug,
                name=submission.model_name.strip(),
                organisation=submission.organisation.strip(),
                key=key,
            )
        Submission.objects.filter(pk=submission.pk).update(model=model)


class Migration(migrations.Migration):

    dependencies = [
        ('leaderboard', '0010_log_imports'),
    ]

    operations = [
        migrations.CreateModel(
            name='Model',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('slug', models.SlugField(max_length=100, unique=True)),
                ('name', models.CharField(max_length=200)),
                ('organisation', models.CharField(blank=True, max_length=200)),
                ('key', models.CharField(editable=False, max_length=401, unique=True)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('merged_into', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='merged', to='leaderboard.model')),
            ],
            options={
                'ordering': ['name'],
            },
        ),
        migrations.AddField(
            model_name='submission',
            name='model',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='submissions', to='leaderboard.model'),
        ),
        migrations.RunPython(link_submissions, migrations.RunPython.noop),
    ]
