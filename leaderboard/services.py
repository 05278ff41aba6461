"""Writes that span several rows: creating benchmarks and submissions, scoring, rescoring.

Each function checks the state of the rows it acts on, so that calling it twice (a task delivered
again, a double click) does no harm.
"""

from __future__ import annotations

import json
import logging
import math
import re
import secrets
from datetime import timedelta

import numpy as np
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

import scoring
from leaderboard import gold_snapshots, notifications, uploads
from leaderboard.models import ApiToken, Benchmark, ConfirmedEmail, Item, Model, Run, Submission

log = logging.getLogger(__name__)

# Shown to the submitter when scoring breaks for a reason that is not their file.
INTERNAL_ERROR_MESSAGE = (
    "Scoring stopped on an error of the site, not of your file. The file is kept and the error "
    "has been logged for the site's staff; you can upload it again, or ask the staff to rescore it."
)

GOLD_INTERNAL_ERROR_MESSAGE = (
    "Reading the gold file stopped on an error of the site, not of the file; the error has been "
    "logged. The benchmark keeps its items; upload the file again to retry."
)


class QuotaExceeded(Exception):
    def __init__(self, message: str, *, retry_after: int = 0) -> None:
        super().__init__(message)
        # Seconds until the oldest upload counted leaves the 24 hours, and one more is taken.
        self.retry_after = retry_after


class UploadRefused(Exception):
    """An upload the site does not take: the messages the uploader is told (those the upload
    form shows) and the HTTP status that says why, for the API."""

    def __init__(
        self, errors: list[str], *, status: int, code: str = "", retry_after: int = 0
    ) -> None:
        super().__init__(errors)
        self.errors = list(errors)
        self.status = status
        self.code = code
        self.retry_after = retry_after


class EmailTaken(Exception):
    """The address is already confirmed for another account."""


def benchmark_set_items(*, benchmark: Benchmark, gold: scoring.Gold) -> None:
    """Replace the benchmark's items with those of a validated gold file, in one transaction.

    The old items stay until the new ones are all stored; the gold's digest enters the settings
    fingerprint that results are stamped with. The gold's snapshot, which scoring reads instead
    of the items, is written before the change commits, so that the rescorings it queues find it.
    """
    with transaction.atomic():
        locked = Benchmark.objects.select_for_update().get(pk=benchmark.pk)
        locked.items.all().delete()
        _insert_items(benchmark_id=locked.pk, gold=gold)
        gold_snapshots.write_snapshot(gold, digest=gold.digest, grader=locked.grader)
        locked.n_items = gold.n_items
        locked.gold_digest = gold.digest
        locked.save(update_fields=["n_items", "gold_digest", "updated_at"])
    for name in ("n_items", "gold_digest", "settings_fingerprint", "updated_at"):
        setattr(benchmark, name, getattr(locked, name))


# Items are sent to the database this many at a time: bounded memory for any gold.
_INSERT_CHUNK = 100_000


def _insert_items(*, benchmark_id: int, gold: scoring.Gold) -> None:
    """Store a gold's items: COPY on PostgreSQL, batched INSERTs elsewhere (SQLite).

    The rows are built column by column from the gold's arrays, not one model instance (or one
    call) per item: a million items take seconds, not a minute.
    """
    items = gold.items
    n = len(items)
    options = items["n_options"]
    missing = options.isna().to_numpy(dtype=bool)
    numbers = options.fillna(0).to_numpy(dtype=np.int64).astype(object)
    columns = {
        "benchmark": [benchmark_id] * n,
        "item_id": items["id"].tolist(),
        "position": list(range(n)),
        "answer": items["answer"].tolist(),
        "aliases": [
            json.dumps(list(values), ensure_ascii=False) if len(values) else "[]"
            for values in items["aliases"].tolist()
        ],
        "question": [question or "" for question in items["question"].tolist()],
        "category": [category or "" for category in items["category"].tolist()],
        # From the gold file; None where it gives none (the benchmark's n_options applies).
        "n_options": np.where(missing, None, numbers).tolist(),
    }
    names = ", ".join(Item._meta.get_field(name).column for name in columns)
    table = Item._meta.db_table
    with connection.cursor() as cursor:
        for start in range(0, n, _INSERT_CHUNK):
            chunk = [values[start : start + _INSERT_CHUNK] for values in columns.values()]
            if connection.vendor == "postgresql":
                with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                    copy.write(_copy_text(chunk).encode())
            else:
                marks = ", ".join(["%s"] * len(chunk))
                statement = f"INSERT INTO {table} ({names}) VALUES ({marks})"
                cursor.executemany(statement, zip(*chunk, strict=True))


# COPY's text format: these characters are written as escapes; a missing value is \N.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NEEDS_ESCAPE = re.compile(r"[\\\t\n\r]")


def _copy_text(columns: list[list]) -> str:
    """Rows for `COPY … FROM STDIN` in its text format, one line per item."""
    fields = []
    for values in columns:
        if not values or not isinstance(values[0], str):
            # A column of numbers (None where missing): nothing to escape.
            fields.append(["\\N" if value is None else str(value) for value in values])
            continue
        # Stored text holds no NUL (validation refuses it): a column is searched at once.
        if _NEEDS_ESCAPE.search("\0".join(values)):
            values = [value.translate(_COPY_ESCAPES) for value in values]
        fields.append(values)
    return "\n".join(map("\t".join, zip(*fields, strict=True))) + "\n"


def benchmark_queue_gold(*, benchmark: Benchmark, file: UploadedFile, grader: str) -> None:
    """Keep an uploaded gold file and queue its reading, once the transaction has committed.

    The file is read with `grader`, which becomes the benchmark's grader only with the items:
    until they are stored, the benchmark grades as before.
    """
    benchmark.gold_upload.save(file.name, file, save=False)
    benchmark.gold_filename = file.name[-255:]
    benchmark.gold_grader = grader
    benchmark.gold_status = Benchmark.GoldStatus.QUEUED
    benchmark.gold_progress = 0
    benchmark.gold_errors = []
    benchmark.gold_queued_at = timezone.now()
    Benchmark.objects.filter(pk=benchmark.pk).update(
        gold_queued_at=benchmark.gold_queued_at,
        gold_upload=benchmark.gold_upload.name,
        gold_filename=benchmark.gold_filename,
        gold_grader=grader,
        gold_status=benchmark.gold_status,
        gold_progress=0,
        gold_errors=[],
    )
    _enqueue_gold_on_commit(benchmark.pk, benchmark.gold_upload.name)


def _enqueue_gold_on_commit(benchmark_id: int, upload: str) -> None:
    from leaderboard.tasks import store_gold

    what = f"the gold file of benchmark {benchmark_id}"
    transaction.on_commit(lambda: _enqueue(store_gold, benchmark_id, upload, what=what))


def benchmark_store_gold(*, benchmark_id: int, upload: str, max_bytes: int) -> str:
    """Read an uploaded gold file and, if it is valid, make its items the benchmark's; the status.

    Only the latest upload is stored: a reading overtaken by a newer upload stops (returning
    "superseded"). Nothing is stored half-way: the items, the grader and the settings
    fingerprint change in one transaction, and then every submission is queued for rescoring.
    """
    pending = [Benchmark.GoldStatus.QUEUED, Benchmark.GoldStatus.READING]
    mine = Benchmark.objects.filter(pk=benchmark_id, gold_upload=upload, gold_status__in=pending)
    if not mine.update(gold_status=Benchmark.GoldStatus.READING, gold_progress=10):
        return "superseded"
    benchmark = Benchmark.objects.get(pk=benchmark_id)
    try:
        with benchmark.gold_upload.open("rb") as handle:
            gold = scoring.read_gold(
                handle,
                filename=benchmark.gold_filename,
                grader=benchmark.gold_grader,
                max_bytes=max_bytes,
                # A harness log is recognised from the file; its targets become the gold.
                log=None,
            )
    except scoring.FileRejected as rejected:
        benchmark_gold_finish(
            benchmark_id=benchmark_id,
            upload=upload,
            status=Benchmark.GoldStatus.REJECTED,
            errors=[f"The gold file was rejected: {error}" for error in rejected.errors],
        )
        return Benchmark.GoldStatus.REJECTED
    mine.update(gold_progress=50)
    with transaction.atomic():
        locked = Benchmark.objects.select_for_update().get(pk=benchmark_id)
        if locked.gold_upload.name != upload or locked.gold_status not in pending:
            return "superseded"
        locked.grader = locked.gold_grader
        locked.save(update_fields=["grader"])
        benchmark_set_items(benchmark=locked, gold=gold)
        Benchmark.objects.filter(pk=benchmark_id).update(
            gold_status=Benchmark.GoldStatus.STORED, gold_progress=100, gold_errors=[]
        )
        benchmark_rescore(benchmark=locked)
    log.info("Benchmark %s: %s items stored from %s", benchmark_id, gold.n_items, upload)
    return Benchmark.GoldStatus.STORED


def benchmark_gold_finish(
    *, benchmark_id: int, upload: str, status: str, errors: list[str]
) -> None:
    """End the reading of this upload as rejected or failed, unless a newer upload replaced it."""
    Benchmark.objects.filter(
        pk=benchmark_id,
        gold_upload=upload,
        gold_status__in=[Benchmark.GoldStatus.QUEUED, Benchmark.GoldStatus.READING],
    ).update(gold_status=status, gold_progress=100, gold_errors=list(errors))


def benchmark_rescore(*, benchmark: Benchmark) -> int:
    """Queue every submission of the benchmark again, e.g. after its gold or grading changed."""
    return submissions_rescore(ids=list(benchmark.submissions.values_list("pk", flat=True)))


def submissions_rescore(*, ids: list[int]) -> int:
    """Queue these submissions again; how many will be scored anew.

    Those being scored right now are marked: the scoring under way stores nothing and queues
    them again, so that no change is lost. The boards drop the rows queued at once (they show
    them as being rescored), in the same transaction.
    """
    with transaction.atomic():
        # Benchmarks first, then submissions, in the order scoring locks them (_store_result).
        benchmark_ids = sorted(
            set(Submission.objects.filter(pk__in=ids).values_list("benchmark_id", flat=True))
        )
        list(Benchmark.objects.select_for_update().filter(pk__in=benchmark_ids).order_by("pk"))
        rows = list(
            Submission.objects.select_for_update()
            .filter(pk__in=ids, status__in=[*Submission.FINISHED, Submission.Status.SCORING])
            .values_list("pk", "status")
        )
        finished = [pk for pk, status in rows if status != Submission.Status.SCORING]
        in_flight = [pk for pk, status in rows if status == Submission.Status.SCORING]
        Submission.objects.filter(pk__in=finished).update(
            status=Submission.Status.QUEUED, progress=0, attempts=0, queued_at=timezone.now()
        )
        Submission.objects.filter(pk__in=in_flight).update(rescore_requested=True)
        for pk in finished:
            _enqueue_on_commit(pk)
        for benchmark_id in benchmark_ids:
            benchmark_results_changed(benchmark_id=benchmark_id)
    return len(rows)


def submissions_today(*, benchmark: Benchmark, owner) -> int:
    since = timezone.now() - timedelta(days=1)
    return (
        Submission.objects.filter(benchmark=benchmark, owner=owner, created_at__gte=since)
        .counting_for_quota()
        .count()
    )


def quota_left(*, benchmark: Benchmark, owner, quota: int) -> int:
    return max(0, quota - submissions_today(benchmark=benchmark, owner=owner))


def _quota_frees_in(*, benchmark: Benchmark, owner, quota: int) -> int:
    """Seconds until one more upload fits in the quota: until enough of those counted now are
    more than 24 hours old."""
    since = timezone.now() - timedelta(days=1)
    counted = list(
        Submission.objects.filter(benchmark=benchmark, owner=owner, created_at__gte=since)
        .counting_for_quota()
        .order_by("created_at")
        .values_list("created_at", flat=True)
    )
    if len(counted) < quota or not counted:
        return 1
    frees_at = counted[len(counted) - quota] + timedelta(days=1)
    return max(1, math.ceil((frees_at - timezone.now()).total_seconds()))


def needs_confirmation_message(benchmark: Benchmark) -> str:
    return (
        f"The answers of {benchmark.name} are hidden, so it takes uploads only from accounts with "
        "a confirmed e-mail address (one account per address): each account is one more chance "
        "to probe the hidden answers, and a confirmed address makes it cost something."
    )


def submission_upload_refused(*, benchmark: Benchmark, user) -> UploadRefused | None:
    """Why this benchmark takes no upload from this user now, before any file is looked at;
    None when it takes one. The upload form and the API both ask."""
    if not benchmark.is_published:
        return UploadRefused(
            [f"{benchmark.name} is {benchmark.visibility}: it takes no uploads."],
            status=403,
            code="not_published",
        )
    if not benchmark.n_items:
        return UploadRefused(
            [f"{benchmark.name} has no items yet (its gold file is being read): try later."],
            status=403,
            code="no_items",
        )
    if not (benchmark.gold_public or user.is_staff or ConfirmedEmail.holds(user)):
        # Each identity is one more probe of a hidden answer key: these cost a confirmed address.
        # (Staff read the gold in the admin anyway.)
        return UploadRefused(
            [needs_confirmation_message(benchmark)], status=403, code="needs_confirmation"
        )
    return None


def submission_upload(
    *, benchmark: Benchmark, owner, form, upload_refusal: str = "", quota: int
) -> Submission:
    """Make a submission from a bound upload form (``forms.SubmissionForm``), under the same
    rules wherever it was sent from: the upload form or the API.

    Raises UploadRefused when it is not taken; the reasons are in the form's errors too, where
    the form shows them. `upload_refusal` is why the upload handler dropped the file, if it did
    (``uploads.REFUSAL``).
    """
    refused = submission_upload_refused(benchmark=benchmark, user=owner)
    if refused is not None:
        form.add_error(None, ValidationError(refused.errors[0], code=refused.code))
        raise refused
    if upload_refusal:
        # The file was dropped while it arrived: say why, rather than that it is missing.
        form.is_valid()
        form.errors.pop("file", None)
        form.add_error("file", ValidationError(upload_refusal, code=uploads.TOO_LARGE))
    if upload_refusal or not form.is_valid():
        raise UploadRefused(
            form_messages(form),
            status=413 if form.has_error("file", uploads.TOO_LARGE) else 400,
            code="invalid",
        )
    data = form.cleaned_data
    try:
        return submission_create(
            benchmark=benchmark,
            owner=owner,
            file=data["file"],
            model_name=data["model_name"],
            organisation=data["organisation"],
            url=data["url"],
            description=data["description"],
            visibility=data["visibility"],
            log_options=form.log_options(),
            quota=quota,
        )
    except QuotaExceeded as exceeded:
        form.add_error(None, ValidationError(str(exceeded), code="quota"))
        raise UploadRefused(
            [str(exceeded)], status=429, code="quota", retry_after=exceeded.retry_after
        ) from None


def form_messages(form) -> list[str]:
    """A bound form's errors as the API gives them: each field's prefixed with its name."""
    messages = []
    for field, errors in form.errors.items():
        prefix = "" if field == "__all__" else f"{field}: "
        messages.extend(f"{prefix}{error}" for error in errors)
    return messages


def submission_create(
    *,
    benchmark: Benchmark,
    owner,
    file: UploadedFile,
    model_name: str,
    organisation: str = "",
    url: str = "",
    description: str = "",
    visibility: str = Submission.Visibility.PUBLIC,
    log_options: dict[str, object] | None = None,
    quota: int | None = None,
    queue: bool = True,
) -> Submission:
    """Save the upload, then queue its scoring once the transaction has committed.

    `log_options` says how a harness log is read (scoring's ``LogOptions.to_dict()``); without
    them the format and its options are taken from the file.

    With ``queue=False`` the caller scores it itself (the demo seeding does, to show progress).
    """
    with transaction.atomic():
        if quota is not None:
            # Serialise uploads of one user so that two at once cannot both pass the quota.
            get_user_model().objects.select_for_update().filter(pk=owner.pk).first()
            if submissions_today(benchmark=benchmark, owner=owner) >= quota:
                raise QuotaExceeded(
                    f"You have used your {quota} submissions to {benchmark.name} for the last "
                    "24 hours; rejected and failed uploads do not count. Try again later.",
                    retry_after=_quota_frees_in(benchmark=benchmark, owner=owner, quota=quota),
                )
        submission = Submission(
            benchmark=benchmark,
            owner=owner,
            model_name=model_name,
            organisation=organisation,
            url=url,
            description=description,
            visibility=visibility,
            # Kept as text for the owner; the tail keeps the suffixes that name the format.
            original_filename=file.name[-255:],
            file_size=file.size or 0,
            log_options=dict(log_options or {}),
            self_graded=benchmark.self_graded,
        )
        submission.file.save(file.name, file, save=False)
        submission.save()
        if queue:
            _enqueue_on_commit(submission.pk)
    return submission


def _enqueue_on_commit(submission_id: int) -> None:
    from leaderboard.tasks import score_submission

    transaction.on_commit(
        lambda: _enqueue(score_submission, submission_id, what=f"submission {submission_id}")
    )


def _enqueue(task, *args, what: str) -> None:
    try:
        task.delay(*args)
    except Exception:
        # The row is saved and stays queued; the sweep queues it again later.
        log.exception("Could not queue %s; it stays queued", what)


def submission_claim(*, submission_id: int, task_id: str = "") -> bool:
    """Move a queued submission to scoring; False if another worker has it or it is done.

    A task given back to the queue because its worker died (late acknowledgement, requeue on
    worker loss) comes again with the same id and finds its submission still "scoring": that
    claim is its own, and it takes the submission back. A plain second message finds it taken.
    """
    mine = Q(status=Submission.Status.QUEUED)
    if task_id:
        mine |= Q(status=Submission.Status.SCORING, task_id=task_id)
    claimed = (
        Submission.objects.filter(pk=submission_id)
        .filter(mine)
        .update(
            status=Submission.Status.SCORING,
            task_id=task_id,
            started_at=timezone.now(),
            progress=5,
            attempts=F("attempts") + 1,
            # A rescoring asked for before now is this scoring: it reads the settings anew.
            rescore_requested=False,
        )
    )
    return claimed == 1


def tried_too_often_message(attempts: int) -> str:
    return (
        f"Scoring was tried {attempts} times and never finished. The file is kept and the staff "
        "have been told; a smaller file may help."
    )


def submission_set_progress(*, submission_id: int, progress: int) -> None:
    Submission.objects.filter(pk=submission_id, status=Submission.Status.SCORING).update(
        progress=progress
    )


def submission_score(
    *, submission_id: int, task_id: str = "", max_attempts: int | None = None
) -> Submission | None:
    """Score a queued submission and store its runs; None if it was not ours to score.

    With `max_attempts`, a submission claimed more often than that (its file killed every worker
    that read it, say) ends failed instead of being tried again.
    """
    if not submission_claim(submission_id=submission_id, task_id=task_id):
        return None
    submission = Submission.objects.select_related("benchmark").get(pk=submission_id)
    if max_attempts is not None and submission.attempts > max_attempts:
        tried = submission.attempts - 1
        log.error("Submission %s failed after %s attempts", submission_id, tried)
        submission_finish(
            submission_id=submission_id,
            status=Submission.Status.FAILED,
            errors=[tried_too_often_message(tried)],
        )
        return Submission.objects.get(pk=submission_id)

    def progress(value: int) -> None:
        submission_set_progress(submission_id=submission_id, progress=value)

    benchmark = submission.benchmark
    # The settings read with this row; should they or the gold change before the result is
    # stored, the fingerprint will differ then and the submission is scored again.
    fingerprint = benchmark.settings_fingerprint
    config = benchmark.config()
    gold = gold_snapshots.benchmark_gold(benchmark)
    progress(15)
    try:
        with submission.file.open("rb") as handle:
            predictions = scoring.read_predictions(
                handle,
                filename=submission.original_filename,
                gold=gold,
                config=config,
                log=scoring.LogOptions.from_dict(submission.log_options),
            )
        progress(55)
        result = scoring.score_predictions(gold, predictions, config)
        progress(85)
    except scoring.FileRejected as rejected:
        submission_finish(
            submission_id=submission_id,
            status=Submission.Status.REJECTED,
            errors=rejected.errors,
            n_errors=rejected.n_errors,
            fingerprint=fingerprint,
        )
        return Submission.objects.get(pk=submission_id)
    _store_result(submission_id=submission_id, result=result, fingerprint=fingerprint)
    return Submission.objects.get(pk=submission_id)


def _requeued_if_outdated(*, submission_id: int, fingerprint: str) -> bool:
    """Inside a transaction, before a scoring's outcome is stored: if the benchmark's settings
    have changed since the scoring read them (or a rescoring was asked for meanwhile), queue the
    submission again instead, and say so. Locks the benchmark row, then the submission's."""
    # The benchmark row first: a change of its settings holds it until the change (and the
    # rescoring it queues) commits, so this check and the change cannot interleave.
    benchmark_id = Submission.objects.values_list("benchmark_id", flat=True).get(pk=submission_id)
    benchmark = Benchmark.objects.select_for_update().get(pk=benchmark_id)
    submission = Submission.objects.select_for_update().get(pk=submission_id)
    if submission.status != Submission.Status.SCORING:
        return False
    if not submission.rescore_requested and benchmark.settings_fingerprint == fingerprint:
        return False
    log.info("Submission %s was scored under outdated settings: queued again", submission_id)
    Submission.objects.filter(pk=submission_id).update(
        status=Submission.Status.QUEUED,
        progress=0,
        attempts=0,
        rescore_requested=False,
        queued_at=timezone.now(),
    )
    _enqueue_on_commit(submission_id)
    return True


def _store_result(*, submission_id: int, result: scoring.SubmissionScore, fingerprint: str) -> None:
    """Store a result computed under the settings `fingerprint`, stamped with it."""
    with transaction.atomic():
        if _requeued_if_outdated(submission_id=submission_id, fingerprint=fingerprint):
            return
        submission = Submission.objects.get(pk=submission_id)
        if submission.status != Submission.Status.SCORING:
            return
        if submission.finished_at is None:
            # Its first finish: the owner hears of it, if they asked (not of rescorings).
            notifications.finished_on_commit(submission_id)
        submission.runs.all().delete()
        Run.objects.bulk_create(Run.from_score(submission, run) for run in result.runs)
        # The runs hold the result; the submission, what concerns the whole file.
        submission.targets = [rubric.target for rubric in result.rubrics.values() if rubric.target]
        submission.columns = result.columns.to_dict()
        submission.self_graded = result.self_graded
        submission.settings_fingerprint = fingerprint
        submission.status = Submission.Status.SCORED
        submission.progress = 100
        submission.errors = []
        submission.n_errors = 0
        submission.finished_at = timezone.now()
        # Saving it bumps its benchmark's results generation (``submission_saved``).
        submission.save()


def submission_finish(
    *,
    submission_id: int,
    status: str,
    errors: list[str],
    n_errors: int | None = None,
    fingerprint: str | None = None,
) -> None:
    """End a submission that is being scored as rejected or failed, with its errors.

    With the `fingerprint` of the settings it was judged under, one judged under outdated
    settings is queued again instead (a rejection may not hold under the new ones).
    """
    with transaction.atomic():
        if fingerprint is not None and _requeued_if_outdated(
            submission_id=submission_id, fingerprint=fingerprint
        ):
            return
        scoring_now = Submission.objects.select_for_update().filter(
            pk=submission_id, status=Submission.Status.SCORING
        )
        before = scoring_now.values("finished_at").first()
        if before is None:
            return
        scoring_now.update(
            status=status,
            errors=list(errors),
            n_errors=len(errors) if n_errors is None else n_errors,
            progress=100,
            finished_at=timezone.now(),
        )
        Submission.objects.get(pk=submission_id).runs.all().delete()
        if before["finished_at"] is None:
            notifications.finished_on_commit(submission_id)


def submission_release(*, submission_id: int) -> None:
    """Give a submission back to the queue after a transient error, for a retry."""
    Submission.objects.filter(pk=submission_id, status=Submission.Status.SCORING).update(
        status=Submission.Status.QUEUED, progress=0, queued_at=timezone.now()
    )


def submissions_requeue_stale(*, stale_after: timedelta, max_attempts: int) -> dict[str, int]:
    """Pick up submissions left queued or scoring for too long, so that none stays stuck.

    A queued one whose message was lost (the broker was down, say) is queued again; one still
    "scoring" long after any worker would have finished lost its worker, and is queued again
    unless it has used up its attempts, in which case it ends failed with the reason.
    """
    cutoff = timezone.now() - stale_after
    requeued = failed = 0
    with transaction.atomic():
        stale = list(
            Submission.objects.select_for_update(skip_locked=True).filter(
                Q(status=Submission.Status.QUEUED, queued_at__lt=cutoff)
                | Q(status=Submission.Status.SCORING, started_at__lt=cutoff)
            )
        )
        for submission in stale:
            if submission.attempts >= max_attempts:
                Submission.objects.filter(pk=submission.pk).update(
                    status=Submission.Status.FAILED,
                    errors=[tried_too_often_message(submission.attempts)],
                    n_errors=1,
                    progress=100,
                    finished_at=timezone.now(),
                )
                log.error("Submission %s failed after %s attempts", submission.pk, max_attempts)
                if submission.finished_at is None:
                    notifications.finished_on_commit(submission.pk)
                failed += 1
                continue
            Submission.objects.filter(pk=submission.pk).update(
                status=Submission.Status.QUEUED, progress=0, queued_at=timezone.now()
            )
            _enqueue_on_commit(submission.pk)
            requeued += 1
        # A benchmark whose settings changed without a save (HIDDEN_GOLD_MIN_ITEMS, read from
        # the environment) takes its new fingerprint, so that its results are scored again.
        for benchmark in Benchmark.objects.select_for_update(skip_locked=True):
            if benchmark.settings_fingerprint != benchmark.current_fingerprint():
                benchmark.save(update_fields=["settings_fingerprint"])
        # Results stamped with settings the benchmark no longer has, whose rescoring was never
        # queued (settings changed outside the admin, say): not listed on any board until then.
        outdated = list(
            Submission.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=Submission.Status.SCORED)
            .exclude(settings_fingerprint="")
            .exclude(settings_fingerprint=F("benchmark__settings_fingerprint"))
            .values_list("pk", flat=True)
        )
        Submission.objects.filter(pk__in=outdated).update(
            status=Submission.Status.QUEUED, progress=0, attempts=0, queued_at=timezone.now()
        )
        for pk in outdated:
            _enqueue_on_commit(pk)
        requeued += len(outdated)
        # Gold files whose reading was never queued or never finished: read again (a reading
        # only stores the latest upload, so one more does no harm).
        gold_left = list(
            Benchmark.objects.select_for_update(skip_locked=True)
            .filter(
                gold_status__in=[Benchmark.GoldStatus.QUEUED, Benchmark.GoldStatus.READING],
                gold_queued_at__lt=cutoff,
            )
            .values_list("pk", "gold_upload")
        )
        for pk, upload in gold_left:
            Benchmark.objects.filter(pk=pk).update(gold_queued_at=timezone.now())
            _enqueue_gold_on_commit(pk, upload)
    return {"requeued": requeued, "failed": failed}


def submission_set_hidden(*, submission: Submission, hidden: bool) -> None:
    # One transaction, so that readers see the change only with its board computed.
    with transaction.atomic():
        # The benchmark row first, in the order scoring locks them (_store_result).
        Benchmark.objects.select_for_update().filter(pk=submission.benchmark_id).first()
        Submission.objects.filter(pk=submission.pk).update(hidden=hidden)
        benchmark_results_changed(benchmark_id=submission.benchmark_id)
    submission.hidden = hidden


def benchmark_results_changed(*, benchmark_id: int) -> int | None:
    """Bump the benchmark's results generation, which keys its cached boards; the new value
    (None for a benchmark that is gone).

    That is all a writer does: nothing is computed in its transaction, which may hold the
    submission's and the benchmark's rows. Once the change commits, the public board, its
    figures and its JSON are computed (``benchmark_warm``): by the worker that made the change,
    at once, or by a task queued then; anonymous readers who come meanwhile are given the board
    before, and should a reader come first, it computes the board (``results_cache``).
    A scoring, an edit or a deletion of a submission calls this by itself
    (``submission_saved``, ``submission_deleted``); a bulk update must call it.
    """
    Benchmark.objects.filter(pk=benchmark_id).update(results_generation=F("results_generation") + 1)
    bumped = Benchmark.objects.filter(pk=benchmark_id).values_list("results_generation", flat=True)
    generation = bumped.first()
    if generation is not None:
        transaction.on_commit(lambda: _warm_on_commit(benchmark_id, generation))
    return generation


def _warm_on_commit(benchmark_id: int, generation: int) -> None:
    from celery import current_task

    from leaderboard.tasks import warm_results

    if current_task and not current_task.request.called_directly:
        # A change made by a task (a scoring): its worker computes the board at once, before
        # readers come for it, rather than queueing that behind the next scorings.
        try:
            benchmark_warm(benchmark_id=benchmark_id, generation=generation)
        except Exception:
            # The change stands; readers compute the board.
            log.exception("Could not compute the board of benchmark %s", benchmark_id)
        return
    _enqueue(warm_results, benchmark_id, generation, what=f"the board of benchmark {benchmark_id}")


def benchmark_warm(*, benchmark_id: int, generation: int) -> str:
    """Compute and cache the public board, its figures and its JSON for results `generation`,
    as one process at a time; what was done.

    Nothing ("moved on") once a later change has bumped the generation (its own task computes
    the newer board), nothing ("cached") when a reader computed it first or is computing it.
    """
    from leaderboard.selectors import cache_public_results

    benchmark = Benchmark.objects.filter(pk=benchmark_id).first()
    if benchmark is None or benchmark.results_generation != generation:
        return "moved on"
    return "computed" if cache_public_results(benchmark) else "cached"


# The fields of a submission that its board row shows or that decide whether it is listed.
BOARD_FIELDS = frozenset(
    {
        "model_name",
        "organisation",
        "url",
        "visibility",
        "hidden",
        "status",
        "targets",
        "self_graded",
        "settings_fingerprint",
        "owner",
        "benchmark",
    }
)


def submission_saved(*, sender, instance: Submission, created: bool, update_fields, **kwargs):
    """A saved submission (a scoring stored, an edit in the admin) changes its board: the cached
    boards are for the results before, whoever saved it."""
    if created or kwargs.get("raw"):
        return  # a new upload is on no board until it is scored
    if update_fields is not None and not BOARD_FIELDS.intersection(update_fields):
        return
    benchmark_results_changed(benchmark_id=instance.benchmark_id)


def submission_deleted(*, sender, instance: Submission, **kwargs):
    """A deleted submission leaves its board (deleted alone, in the admin, or with its owner)."""
    benchmark_results_changed(benchmark_id=instance.benchmark_id)


def email_confirm(*, user, email: str) -> ConfirmedEmail:
    """Record that `user` reads `email`; the same address a second time changes nothing.

    Raises EmailTaken when another account confirmed the address first (in any case): an
    address confirms one account only.
    """
    existing = ConfirmedEmail.objects.filter(email__iexact=email).first()
    if existing is not None:
        if existing.user_id != user.pk:
            raise EmailTaken(email)
        return existing
    try:
        with transaction.atomic():
            confirmed, _ = ConfirmedEmail.objects.update_or_create(
                user=user, defaults={"email": email}
            )
    except IntegrityError:
        # Two confirmations at once (two accounts, or a double click): the database let one
        # through; it may have been this account's.
        existing = ConfirmedEmail.objects.filter(email__iexact=email).first()
        if existing is not None and existing.user_id == user.pk:
            return existing
        raise EmailTaken(email) from None
    return confirmed


def api_token_create(*, user, name: str) -> tuple[ApiToken, str]:
    """A new personal API token for `user`, and its text: shown this once, never stored."""
    text = ApiToken.PREFIX + secrets.token_urlsafe(ApiToken.RANDOM_BYTES)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=text[: ApiToken.SHOWN_CHARS],
        digest=ApiToken.digest_of(text),
    )
    return token, text


def api_token_revoke(*, user, token_id: int) -> ApiToken | None:
    """Revoke one of the user's tokens; the token, None if it is not theirs. Revoking a revoked
    token changes nothing."""
    token = ApiToken.objects.filter(pk=token_id, user=user).first()
    if token is None:
        return None
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    token.refresh_from_db(fields=["revoked_at"])
    return token


# `last_used_at` is written at most this often: a script polling every second costs no write per
# request.
TOKEN_USE_RECORDED_EVERY = timedelta(minutes=1)


def api_token_used(*, token: ApiToken) -> None:
    now = timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < TOKEN_USE_RECORDED_EVERY:
        return
    ApiToken.objects.filter(pk=token.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - TOKEN_USE_RECORDED_EVERY)
    ).update(last_used_at=now)


class MergeRefused(ValueError):
    """A merge of models that cannot be made; its message says why, for the staff member."""


def model_merge(*, source: Model, into: Model) -> int:
    """Merge `source` into `into`: its submissions (and those of models merged into it before)
    become `into`'s, and its slug and spelling lead to `into` from now on. Returns how many
    submissions moved."""
    into = into.current()
    if source.current().pk == into.pk:
        raise MergeRefused(f"“{source}” is “{into}” already.")
    with transaction.atomic():
        Model.objects.filter(merged_into=source).update(merged_into=into)
        source.merged_into = into
        source.save(update_fields=["merged_into"])
        moved = Submission.objects.filter(model=source).update(model=into)
    return moved
