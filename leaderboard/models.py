"""Benchmarks with their items, submissions and the runs a scored submission holds."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from pathlib import PurePath

import numpy as np
import pandas as pd
from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import IntegrityError, models, transaction
from django.db.models import F, Q
from django.db.models.functions import Cast, Lower
from django.urls import reverse
from django.utils import timezone

import scoring
from leaderboard import model_identity

# The rates of one run (SPEC §5), in the order the leaderboard exports them (SPEC §6).
METRICS = (
    "coverage",
    "accuracy",
    "error_rate",
    "abstention_rate",
    "accuracy_given_attempted",
    "f1",
)


def default_targets() -> list[float]:
    return list(scoring.DEFAULT_TARGETS)


def default_abstention_phrases() -> list[str]:
    return list(scoring.DEFAULT_ABSTENTION_PHRASES)


# The fields of a benchmark that its results depend on, besides its gold; whether the gold is
# public among them, since hidden gold gives coarser figures (HIDDEN_GOLD_MIN_ITEMS).
GRADING_FIELDS = (
    "grader",
    "targets",
    "abstention_phrases",
    "min_coverage",
    "numeric_tolerance",
    "gold_public",
    "partial_credit",
)


def settings_fingerprint(grading: dict, gold_digest: str, *, n_items: int = 0) -> str:
    """A SHA-256 of a benchmark's grading settings and gold: what its results are stamped with.

    A benchmark of `n_items` items that is resampled in blocks (scoring.statistics) is stamped
    so: its results bootstrapped item by item, by an earlier release, are then scored again, and
    no board compares the resamples of both methods.
    """
    stamped = {name: grading[name] for name in GRADING_FIELDS}
    stamped["targets"] = sorted(float(t) for t in stamped["targets"])
    stamped["min_coverage"] = float(stamped["min_coverage"])
    stamped["numeric_tolerance"] = float(stamped["numeric_tolerance"])
    stamped["gold"] = gold_digest
    if not stamped["partial_credit"]:
        # Refusing partial credit is what every benchmark did before the setting existed: their
        # stamps stay as they were, and their results are not scored again for nothing.
        del stamped["partial_credit"]
    if not stamped["gold_public"]:
        # Hidden gold: every figure covers at least K items, so a new K changes the results.
        stamped["hidden_gold_min_items"] = settings.HIDDEN_GOLD_MIN_ITEMS
    if scoring.statistics.resamples_in_blocks(n_items):
        stamped["resamples"] = "blocks of items"
    text = json.dumps(stamped, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def gold_upload_path(benchmark: Benchmark, filename: str) -> str:
    suffixes = "".join(PurePath(filename).suffixes[-2:]).lower()
    return f"gold/{uuid.uuid4().hex}{suffixes}"


class BenchmarkQuerySet(models.QuerySet):
    def visible_to(self, user) -> BenchmarkQuerySet:
        """Published and archived benchmarks; drafts only for staff."""
        if user.is_staff:
            return self
        return self.exclude(visibility=Benchmark.Visibility.DRAFT)


# The end of a sentence: a full stop, question or exclamation mark, then a space.
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


class Benchmark(models.Model):
    class Grader(models.TextChoices):
        EXACT = "exact", "exact match (normalised text)"
        CHOICE = "choice", "multiple choice (letter)"
        NUMERIC = "numeric", "numeric (relative tolerance)"
        PREGRADED = "pregraded", "pre-graded by the submitter's judge"

    class PartialCredit(models.TextChoices):
        # How a harness log's "partial" grade (Inspect's P) counts (scoring.BenchmarkConfig).
        REFUSE = "", "Refuse partial credit"
        CORRECT = "correct", "Count as correct"
        INCORRECT = "incorrect", "Count as wrong"
        NOT_ATTEMPTED = "not_attempted", "Count as abstained"

    class Visibility(models.TextChoices):
        DRAFT = "draft", "draft"
        PUBLISHED = "published", "published"
        ARCHIVED = "archived", "archived"

    class GoldStatus(models.TextChoices):
        NONE = "", "no gold file uploaded"
        QUEUED = "queued", "queued"
        READING = "reading", "being read"
        STORED = "stored", "stored"
        REJECTED = "rejected", "rejected"
        FAILED = "failed", "failed"

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    source = models.TextField(blank=True, help_text="Where the data comes from, with its licence.")
    grader = models.CharField(max_length=20, choices=Grader.choices, default=Grader.EXACT)
    targets = models.JSONField(
        default=default_targets, help_text="Confidence targets t in (0, 1); binary is always shown."
    )
    abstention_phrases = models.JSONField(default=default_abstention_phrases, blank=True)
    min_coverage = models.FloatField(
        # A file answering a small share of the items can top a board where wrong answers cost
        # more than abstaining: new benchmarks ask for most of the items.
        default=0.8,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Smallest share of items a file must answer or abstain on, from 0 to 1.",
    )
    numeric_tolerance = models.FloatField(
        default=1e-6,
        validators=[MinValueValidator(0.0)],
        help_text="Relative tolerance of the numeric grader.",
    )
    n_options = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(2), MaxValueValidator(26)],
        help_text=(
            "Options per item of a multiple-choice benchmark, for items whose gold file gives "
            "none (n_options or options column): the uniform-guessing baseline needs it."
        ),
    )
    partial_credit = models.CharField(
        max_length=20,
        choices=PartialCredit.choices,
        blank=True,
        default=PartialCredit.REFUSE,
        help_text=(
            "How a harness log's “partial” grade (Inspect's P) counts on a pre-graded benchmark. "
            "Refused, an upload whose log grades a sample partial is rejected with the samples "
            "named."
        ),
    )
    visibility = models.CharField(
        max_length=20, choices=Visibility.choices, default=Visibility.DRAFT
    )
    gold_public = models.BooleanField(
        default=False, help_text="Show gold answers and question texts to everyone."
    )
    n_items = models.PositiveIntegerField(default=0, editable=False)
    # The items' digest (scoring.Gold.digest), and the fingerprint of the grading settings and
    # gold together, which every result is stamped with (Submission.settings_fingerprint).
    gold_digest = models.CharField(max_length=64, blank=True, default="", editable=False)
    settings_fingerprint = models.CharField(max_length=64, blank=True, default="", editable=False)

    # The last gold file uploaded, read and stored by a worker (services.benchmark_store_gold).
    gold_upload = models.FileField(
        upload_to=gold_upload_path, max_length=300, blank=True, editable=False
    )
    gold_filename = models.CharField(max_length=255, blank=True, default="", editable=False)
    # The grader the uploaded file is read with; it becomes `grader` when its items are stored.
    gold_grader = models.CharField(
        max_length=20, choices=Grader.choices, blank=True, default="", editable=False
    )
    gold_status = models.CharField(
        max_length=10, choices=GoldStatus.choices, blank=True, default="", editable=False
    )
    gold_progress = models.PositiveSmallIntegerField(default=0, editable=False)
    gold_errors = models.JSONField(default=list, blank=True, editable=False)
    gold_queued_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Bumped whenever a submission of this benchmark is scored or hidden: keys cached boards.
    results_generation = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = BenchmarkQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        # Whatever saves the benchmark, its fingerprint follows its settings.
        self.settings_fingerprint = self.current_fingerprint()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "settings_fingerprint"}
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("benchmark", args=[self.slug])

    def current_fingerprint(self) -> str:
        grading = {name: getattr(self, name) for name in GRADING_FIELDS}
        return settings_fingerprint(grading, self.gold_digest, n_items=self.n_items)

    @property
    def gold_pending(self) -> bool:
        return self.gold_status in (self.GoldStatus.QUEUED, self.GoldStatus.READING)

    @property
    def is_published(self) -> bool:
        return self.visibility == self.Visibility.PUBLISHED

    @property
    def self_graded(self) -> bool:
        return self.grader == self.Grader.PREGRADED

    @property
    def grading(self) -> str:
        """How its items are graded, as a phrase that reads after a count of items: the
        grader's label alone says "pre-graded", and "graded pre-graded" would say it twice."""
        return GRADING_PHRASES[self.grader]

    def summary(self, limit: int = 160) -> str:
        """The description shortened to at most `limit` characters, never cut inside a word:
        its first sentences that fit, or else its first words and an ellipsis."""
        text = " ".join(self.description.split())
        if len(text) <= limit:
            return text
        sentences = SENTENCE_END.split(text)
        kept = ""
        for sentence in sentences:
            longer = f"{kept} {sentence}".strip()
            if len(longer) > limit:
                break
            kept = longer
        if kept:
            return kept
        words = text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:–—-")
        return f"{words}…"

    def config(self) -> scoring.BenchmarkConfig:
        return scoring.BenchmarkConfig(
            grader=self.grader,
            targets=tuple(self.targets),
            abstention_phrases=tuple(self.abstention_phrases),
            min_coverage=self.min_coverage,
            numeric_tolerance=self.numeric_tolerance,
            max_bytes=settings.UPLOAD_MAX_BYTES,
            # Every submission of this benchmark is resampled alike, so comparisons are paired.
            seed=self.pk or 0,
            min_items_per_figure=0 if self.gold_public else settings.HIDDEN_GOLD_MIN_ITEMS,
            partial_credit=self.partial_credit,
        )

    def results_cache_key(self, kind: str) -> str:
        """A cache key that changes whenever results or grading settings change."""
        return f"{kind}:{self.pk}:{self.results_generation}:{self.updated_at.timestamp()}"

    def gold(self) -> scoring.Gold:
        rows = self.items.order_by("position").values_list(
            "item_id", "answer", "aliases", "question", "category"
        )
        frame = pd.DataFrame(
            list(rows), columns=["id", "answer", "aliases", "question", "category"]
        )
        frame["aliases"] = frame["aliases"].map(tuple)
        frame["question"] = frame["question"].replace("", None)
        frame["category"] = frame["category"].replace("", None)
        return scoring.gold_from_frame(frame, grader=self.grader)


class Item(models.Model):
    benchmark = models.ForeignKey(Benchmark, on_delete=models.CASCADE, related_name="items")
    item_id = models.CharField(max_length=scoring.MAX_ID_CHARS)
    position = models.PositiveIntegerField()
    answer = models.TextField()
    aliases = models.JSONField(default=list, blank=True)
    question = models.TextField(blank=True)
    category = models.CharField(max_length=scoring.MAX_CATEGORY_CHARS, blank=True)
    # From the gold file; None where it gives none (the benchmark's n_options then applies).
    n_options = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["benchmark", "item_id"], name="unique_item_id"),
        ]
        indexes = [models.Index(fields=["benchmark", "position"])]

    def __str__(self) -> str:
        return self.item_id


class ModelQuerySet(models.QuerySet):
    def current(self) -> ModelQuerySet:
        """Models not merged into another."""
        return self.filter(merged_into__isnull=True)


class Model(models.Model):
    """A model as its submissions name it: its name and organisation, normalised (``key``).

    Staff may merge one into another (``services.model_merge``): its submissions move there, and
    its slug keeps redirecting to the model it was merged into, as do new submissions under its
    spelling.
    """

    slug = models.SlugField(max_length=100, unique=True)
    # As first submitted: what its page is titled with.
    name = models.CharField(max_length=200)
    organisation = models.CharField(max_length=200, blank=True)
    key = models.CharField(max_length=401, unique=True, editable=False)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ModelQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.organisation})" if self.organisation else self.name

    def get_absolute_url(self) -> str:
        return reverse("model", args=[self.slug])

    def current(self) -> Model:
        """The model this one was merged into (followed to the end), or itself."""
        model, seen = self, {self.pk}
        while model.merged_into_id is not None and model.merged_into_id not in seen:
            seen.add(model.merged_into_id)
            model = model.merged_into
        return model

    @classmethod
    def of(cls, name: str, organisation: str) -> Model:
        """The model these spellings name, made on first use; the one it was merged into if so."""
        key = model_identity.model_key(name, organisation)
        model = cls.objects.filter(key=key).first()
        if model is None:
            model = cls._made(name=name.strip(), organisation=organisation.strip(), key=key)
        return model.current()

    @classmethod
    def _made(cls, *, name: str, organisation: str, key: str) -> Model:
        base = model_identity.slug_base(name, organisation)
        for number in range(1, 1000):
            slug = base if number == 1 else f"{base}-{number}"
            try:
                with transaction.atomic():
                    return cls.objects.create(
                        slug=slug, name=name, organisation=organisation, key=key
                    )
            except IntegrityError:
                # The key made meanwhile by another upload, or the slug taken by another model.
                made = cls.objects.filter(key=key).first()
                if made is not None:
                    return made
        raise IntegrityError(f"no free slug for the model {name!r}")


def submission_upload_path(submission: Submission, filename: str) -> str:
    # The stored name is generated: the uploader's name is kept only as text, never as a path.
    suffixes = "".join(PurePath(filename).suffixes[-2:]).lower()
    return f"submissions/{uuid.uuid4().hex}{suffixes}"


class SubmissionQuerySet(models.QuerySet):
    def visible_to(self, user) -> SubmissionQuerySet:
        """Public submissions of visible benchmarks; private ones only for their owner and staff."""
        if user.is_staff:
            return self
        visible = Q(visibility=Submission.Visibility.PUBLIC, hidden=False)
        if user.is_authenticated:
            visible |= Q(owner=user)
        return self.filter(visible).exclude(benchmark__visibility=Benchmark.Visibility.DRAFT)

    def on_board(self, user) -> SubmissionQuerySet:
        """Scored submissions that the leaderboard lists for this user.

        Only results stamped with the benchmark's current settings: a board never mixes
        results of two settings (those waiting for their rescoring are ``being_rescored``).
        """
        return self.filter(
            status=Submission.Status.SCORED,
            hidden=False,
            settings_fingerprint=F("benchmark__settings_fingerprint"),
        ).listed_for(user)

    def listed_for(self, user) -> SubmissionQuerySet:
        """Those a board may list for this user: public ones, their own, and all for staff."""
        if user.is_staff:
            return self
        mine = Q(owner=user) if user.is_authenticated else Q(pk__in=[])
        return self.filter(Q(visibility=Submission.Visibility.PUBLIC) | mine)

    def being_rescored(self) -> SubmissionQuerySet:
        """Submissions with results under earlier settings, waiting to be scored under these."""
        return self.exclude(settings_fingerprint="").filter(
            Q(status__in=[Submission.Status.QUEUED, Submission.Status.SCORING])
            | (
                Q(status=Submission.Status.SCORED)
                & ~Q(settings_fingerprint=F("benchmark__settings_fingerprint"))
            )
        )

    def counting_for_quota(self) -> SubmissionQuerySet:
        return self.exclude(status__in=[Submission.Status.REJECTED, Submission.Status.FAILED])


class Submission(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "queued"
        SCORING = "scoring", "scoring"
        SCORED = "scored", "scored"
        REJECTED = "rejected", "rejected"
        FAILED = "failed", "failed"

    class Visibility(models.TextChoices):
        PUBLIC = "public", "public: listed on the leaderboard"
        PRIVATE = "private", "private: only you (and the site's staff) see it"

    FINISHED = (Status.SCORED, Status.REJECTED, Status.FAILED)

    benchmark = models.ForeignKey(Benchmark, on_delete=models.CASCADE, related_name="submissions")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="submissions"
    )
    model_name = models.CharField(max_length=200)
    organisation = models.CharField(max_length=200, blank=True)
    # The model its name and organisation name (``Model.of``), set when it is saved.
    model = models.ForeignKey(
        Model, null=True, blank=True, on_delete=models.SET_NULL, related_name="submissions"
    )
    url = models.URLField(blank=True, max_length=500)
    description = models.TextField(blank=True, max_length=5000)
    visibility = models.CharField(
        max_length=10, choices=Visibility.choices, default=Visibility.PUBLIC
    )
    hidden = models.BooleanField(
        default=False, help_text="Hidden by staff: never listed on the leaderboard."
    )

    file = models.FileField(upload_to=submission_upload_path, max_length=300)
    original_filename = models.CharField(max_length=255)
    file_size = models.PositiveBigIntegerField(default=0)
    # How the uploader asked a harness log to be read (scoring's LogOptions.to_dict()): its
    # format, lm-evaluation-harness filter, Inspect epoch and scorer; empty to detect them all.
    log_options = models.JSONField(default=dict, blank=True)

    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    progress = models.PositiveSmallIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    n_errors = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    # The Celery task that claimed it: a message given back after its worker died carries the
    # same id, and may take the submission back from the dead worker.
    task_id = models.CharField(max_length=64, blank=True, default="")
    # Set when a rescoring is asked for while the submission is being scored: the scoring under
    # way then stores nothing and queues it again.
    rescore_requested = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    queued_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    # The results are the runs (Run rows) and these few facts of the whole file, written in one
    # transaction once scored; `result()` reads them back as scoring's SubmissionScore.
    self_graded = models.BooleanField(default=False)
    # The benchmark's settings_fingerprint when these results were computed ("" before any).
    settings_fingerprint = models.CharField(max_length=64, blank=True, default="")
    # The targets the results were scored under (besides binary): each is a rubric.
    targets = models.JSONField(null=True, blank=True)
    # Which column of the file was read for each field (scoring.ColumnReport).
    columns = models.JSONField(null=True, blank=True)

    objects = SubmissionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.model_name} on {self.benchmark.slug} (#{self.pk})"

    def save(self, *args, **kwargs) -> None:
        # Not read again for a save of a few fields of a submission read without them.
        linkable = not {"model_id", "model_name", "organisation"} & self.get_deferred_fields()
        renamed = linkable and getattr(self, "_read_key", None) not in (
            None,
            model_identity.model_key(self.model_name, self.organisation),
        )
        if linkable and (self.model_id is None or renamed) and self.model_name:
            self.model = Model.of(self.model_name, self.organisation)
            self._read_key = model_identity.model_key(self.model_name, self.organisation)
            update_fields = kwargs.get("update_fields")
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "model"}
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("submission", args=[self.pk])

    @classmethod
    def from_db(cls, db, field_names, values) -> Submission:
        submission = super().from_db(db, field_names, values)
        if "model_name" in field_names and "organisation" in field_names:
            # The spelling it was read with: renamed, it names another model (``save``).
            submission._read_key = model_identity.model_key(
                submission.model_name, submission.organisation
            )
        return submission

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    def outcomes_shown_to(self, user) -> bool:
        """Whether this user may download the submission's outcome per item (outcomes.csv).

        Its owner and staff only, once scored under the benchmark's current settings (so the
        outcomes are those of the current items). Where the gold is hidden, staff only: an
        outcome per item would tell the owner which answers are right.
        """
        return (
            user.is_authenticated
            and (user.is_staff or (self.owner_id == user.pk and self.benchmark.gold_public))
            and self.status == self.Status.SCORED
            and self.settings_fingerprint == self.benchmark.settings_fingerprint
        )

    @property
    def source(self) -> dict | None:
        """What reading the file as a harness log reported (scoring's ColumnReport.log): its
        format, id field, rows matched and left out, options; None for a file of ours."""
        return (self.columns or {}).get("log")

    def result(self, *, for_board: bool = False) -> scoring.SubmissionScore | None:
        """The stored result (`results_of`), None before any."""
        return results_of([self], for_board=for_board).get(self.pk)

    def result_of(self, runs: list[scoring.RunScore]) -> scoring.SubmissionScore | None:
        """The result these runs of this submission make, None without any."""
        if not runs:
            return None
        return scoring.SubmissionScore.of_runs(
            sorted(runs, key=lambda run: scoring.scores.run_order(run.target)),
            rubric_targets=(0.0, *(self.targets or ())),
            self_graded=self.self_graded,
            columns=scoring.ColumnReport(**(self.columns or {"used": {}, "ignored": []})),
        )


def results_of(
    submissions: list[Submission], *, for_board: bool = False
) -> dict[int, scoring.SubmissionScore]:
    """The stored results of these submissions, by id, read in one query of their runs; those
    without runs are left out.

    Never with the runs' outcomes and bootstrap, which hold a value per item or per resample,
    nor their separation bounds, which boards read on their own; `for_board` leaves out what no
    board shows too (None: see scoring.RunScore). Each submission needs its `targets`,
    `self_graded` and `columns`. Read as plain values, not as Run objects. (A board reads
    its runs as columns instead: ``run_columns``.)
    """
    left_out = (*Run.RESAMPLING, *(Run.BOARD_LEAVES_OUT if for_board else ()))
    fields = [name for name in Run.SCORED_FIELDS if name not in left_out]
    # The JSON values read as text and decoded in one go: decoded one by one, as Django does,
    # they cost a board of 10,000 rows a tenth of its time.
    as_json = [isinstance(Run._meta.get_field(name), models.JSONField) for name in fields]
    stored = list(
        Run.objects.filter(submission_id__in=[submission.pk for submission in submissions])
        .order_by()
        .values_list(
            "submission_id",
            *(
                Cast(name, models.TextField()) if is_json else name
                for name, is_json in zip(fields, as_json, strict=True)
            ),
        )
    )
    texts = [
        "null" if value is None else value
        for _, *values in stored
        for value, is_json in zip(values, as_json, strict=True)
        if is_json
    ]
    decoded = iter(json.loads("[" + ",".join(texts) + "]"))
    runs: dict[int, list[scoring.RunScore]] = {}
    for submission_id, *values in stored:
        values = [
            next(decoded) if is_json else value
            for value, is_json in zip(values, as_json, strict=True)
        ]
        run = scoring.RunScore(**dict(zip(fields, values, strict=True)), **dict.fromkeys(left_out))
        runs.setdefault(submission_id, []).append(run)
    out = {}
    for submission in submissions:
        result = submission.result_of(runs.get(submission.pk, []))
        if result is not None:
            out[submission.pk] = result
    return out


@dataclass(frozen=True)
class RunColumns:
    """The runs of many submissions as columns, one entry per run, in the order scoring gives
    a submission's runs (the default run first, then by target): what a board reads
    (``run_columns``), without a ``RunScore`` made per run.

    `values` holds a list per field of ``Run.SCORED_FIELDS`` that a board reads besides the
    intervals and bounds; `intervals` each run's intervals as JSON text, decoded where they are
    read; `bounds` its separation bounds, when read.
    """

    submission_id: list[int]
    target: np.ndarray
    values: dict[str, list]
    intervals: list[str]
    bounds: list[dict | None] | None

    def run(self, at: int) -> scoring.RunScore:
        """The run at this index as scoring's type, as ``results_of`` reads it for a board."""
        return scoring.RunScore(
            **{name: values[at] for name, values in self.values.items()},
            intervals=json.loads(self.intervals[at]),
            bounds=None if self.bounds is None else self.bounds[at],
            **dict.fromkeys(Run.BOARD_LEAVES_OUT),
        )


def run_columns(runs: models.QuerySet[Run], *, with_bounds: bool = False) -> RunColumns:
    """These runs as columns (``RunColumns``), their separation bounds decoded when asked."""
    fields = [
        name
        for name in Run.SCORED_FIELDS
        if name not in (*Run.BOARD_LEAVES_OUT, *Run.RESAMPLING, "intervals")
    ]
    texts = [Cast("intervals", models.TextField())]
    if with_bounds:
        texts.append(Cast("bounds", models.TextField()))
    stored = list(runs.order_by().values_list("submission_id", *fields, *texts))
    at_target = 1 + fields.index("target")
    stored.sort(key=lambda run: scoring.scores.run_order(run[at_target]))
    columns = list(zip(*stored, strict=True)) or [()] * (1 + len(fields) + len(texts))
    bounds = None
    if with_bounds:
        bounds = json.loads(
            "[" + ",".join("null" if text is None else text for text in columns[-1]) + "]"
        )
    return RunColumns(
        submission_id=list(columns[0]),
        target=np.array([np.nan if t is None else t for t in columns[at_target]], dtype=float),
        values={name: list(columns[1 + at]) for at, name in enumerate(fields)},
        intervals=["null" if text is None else text for text in columns[1 + len(fields)]],
        bounds=bounds,
    )


class Run(models.Model):
    """The rows of a scored submission that share one stated target, or the default run."""

    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="runs")
    key = models.CharField(max_length=32, help_text='"default" or the target, e.g. "0.75".')
    target = models.FloatField(null=True, blank=True)
    n_items = models.PositiveIntegerField()
    present = models.PositiveIntegerField()
    correct = models.PositiveIntegerField()
    incorrect = models.PositiveIntegerField()
    abstained = models.PositiveIntegerField()
    coverage = models.FloatField()
    accuracy = models.FloatField()
    error_rate = models.FloatField()
    abstention_rate = models.FloatField()
    accuracy_given_attempted = models.FloatField()
    f1 = models.FloatField()
    # One character per benchmark item, in item order (scoring.encode_outcomes).
    outcomes = models.TextField()
    categories = models.JSONField(default=dict, blank=True)
    scores_abstaining_below = models.JSONField(default=dict, blank=True)
    # 95% bootstrap intervals of every rate and rubric score (scoring.statistics.run_intervals).
    intervals = models.JSONField(default=dict, blank=True)
    # Categories left out of `categories` on a benchmark whose gold is hidden (too few answers).
    categories_not_shown = models.PositiveIntegerField(default=0)
    has_confidence = models.BooleanField(default=False)
    # Reliability table, ECE, Brier score and risk-coverage curve of stated confidences.
    confidence_calibration = models.JSONField(null=True, blank=True)
    # Per resample of the benchmark's items, the count of correct then of incorrect items, as
    # int32 (2 × 1,000 values): the board compares submissions resample by resample.
    bootstrap = models.BinaryField(null=True, blank=True)
    # By rubric key, [lo, hi]: the separation bounds of this run's score on those resamples
    # (scoring.statistics.run_bounds), by which boards too large for paired resamples rank.
    bounds = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["submission", "target"]
        constraints = [
            models.UniqueConstraint(fields=["submission", "key"], name="one_run_per_key"),
        ]

    def __str__(self) -> str:
        return f"run {self.key} of #{self.submission_id}"

    # Stored as scoring computed them (the outcomes are encoded, one character per item).
    SCORED_FIELDS = (
        "key",
        "target",
        "n_items",
        "present",
        "correct",
        "incorrect",
        "abstained",
        *METRICS,
        "categories",
        "categories_not_shown",
        "has_confidence",
        "scores_abstaining_below",
        "intervals",
        "confidence_calibration",
        "bounds",
    )
    # Read apart from a result (``results_of``), by what compares submissions.
    RESAMPLING = ("bounds",)
    # What a board does not show, read for a submission's own page and JSON only.
    BOARD_LEAVES_OUT = ("categories", "scores_abstaining_below", "confidence_calibration")

    @classmethod
    def from_score(cls, submission: Submission, run: scoring.RunScore) -> Run:
        bootstrap = None
        if run.bootstrap is not None:
            bootstrap = np.ascontiguousarray(run.bootstrap, dtype="<i4").tobytes()
        return cls(
            submission=submission,
            outcomes=scoring.encode_outcomes(run.outcomes),
            bootstrap=bootstrap,
            **{name: getattr(run, name) for name in cls.SCORED_FIELDS},
        )

    def bootstrap_counts(self) -> np.ndarray | None:
        """The stored bootstrap: correct and incorrect counts per resample, shape (2, B)."""
        if not self.bootstrap:
            return None
        return np.frombuffer(bytes(self.bootstrap), dtype="<i4").reshape(2, -1)

    @property
    def is_default(self) -> bool:
        return self.target is None


class ConfirmedEmail(models.Model):
    """An e-mail address an account proved it reads, by following the link sent there.

    An address confirms one account only (whatever its case), so that an identity able to submit
    to a benchmark whose gold is hidden costs a mailbox.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="confirmed_email"
    )
    email = models.EmailField()
    confirmed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="unique_confirmed_email"),
        ]

    def __str__(self) -> str:
        return self.email

    @classmethod
    def holds(cls, user) -> bool:
        """Whether this user has confirmed an e-mail address."""
        return user.is_authenticated and cls.objects.filter(user=user).exists()


class ApiTokenQuerySet(models.QuerySet):
    def active(self) -> ApiTokenQuerySet:
        """Tokens not revoked, of accounts that may still log in."""
        return self.filter(revoked_at__isnull=True, user__is_active=True)


class ApiToken(models.Model):
    """A personal token a script sends (``Authorization: Bearer lb_…``) to submit and to read
    its user's submissions through the API, and nothing else.

    Only the token's SHA-256 is stored: the token itself is shown once, when it is made, and
    its first characters (`prefix`) name it on the account page afterwards.
    """

    # "lb_" and 40 URL-safe characters (30 random bytes).
    PREFIX = "lb_"
    RANDOM_BYTES = 30
    LENGTH = len(PREFIX) + 40
    # How many characters of a token name it on the account page.
    SHOWN_CHARS = 10

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=SHOWN_CHARS)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def digest_of(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class AccountSettings(models.Model):
    """What an account chose on its account page."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="account_settings"
    )
    email_on_finish = models.BooleanField(
        default=False,
        help_text="E-mail me when a submission of mine is scored, rejected or failed.",
    )

    def __str__(self) -> str:
        return f"settings of {self.user}"

    @classmethod
    def of(cls, user) -> AccountSettings:
        """The user's settings, the defaults for one who never changed them (nothing stored)."""
        return cls.objects.filter(user=user).first() or cls(user=user)


GRADING_PHRASES = {
    Benchmark.Grader.EXACT: "graded by exact match (normalised text)",
    Benchmark.Grader.CHOICE: "graded as multiple choice (letter)",
    Benchmark.Grader.NUMERIC: "graded as numbers (relative tolerance)",
    Benchmark.Grader.PREGRADED: "pre-graded by the submitter's judge",
}
