"""Celery tasks: thin wrappers that load a row by id and call a service."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection

from leaderboard import services
from leaderboard.models import Benchmark, Submission

log = logging.getLogger(__name__)

# Database hiccups are worth a retry; anything else is a bug or a bad file and is recorded.
TRANSIENT_ERRORS = (OperationalError, InterfaceError)


class ScoringTask(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        submission_id = args[0] if args else kwargs.get("submission_id")
        log.error("Scoring submission %s failed: %r", submission_id, exc, exc_info=einfo)
        if not connection.in_atomic_block:
            # A time limit may have interrupted a query half-way, leaving the connection in a
            # state where no statement runs: the failure is recorded on a fresh one.
            connection.close()
        if isinstance(exc, SoftTimeLimitExceeded):
            message = (
                "Scoring took longer than the site allows and was stopped. The file is kept; "
                "a smaller file (fewer rows or runs) will score faster."
            )
        else:
            message = services.INTERNAL_ERROR_MESSAGE
        services.submission_finish(
            submission_id=submission_id, status=Submission.Status.FAILED, errors=[message]
        )


@shared_task(bind=True, base=ScoringTask, max_retries=3, acks_late=True)
def score_submission(self, submission_id: int) -> None:
    try:
        services.submission_score(
            submission_id=submission_id,
            task_id=self.request.id or "",
            max_attempts=settings.SCORING_MAX_ATTEMPTS,
        )
    except TRANSIENT_ERRORS as exc:
        # On the last try the submission stays claimed, so on_failure can record it as failed.
        if self.request.retries < self.max_retries:
            services.submission_release(submission_id=submission_id)
        raise self.retry(exc=exc, countdown=2**self.request.retries) from exc


@shared_task
def requeue_stale_submissions() -> dict[str, int]:
    return services.submissions_requeue_stale(
        stale_after=timedelta(seconds=settings.SCORING_STALE_AFTER),
        max_attempts=settings.SCORING_MAX_ATTEMPTS,
    )


@shared_task(bind=True, max_retries=3, acks_late=True)
def warm_results(self, benchmark_id: int, generation: int) -> str:
    """Compute a benchmark's public board for its results `generation`, queued when a change of
    results commits."""
    try:
        return services.benchmark_warm(benchmark_id=benchmark_id, generation=generation)
    except TRANSIENT_ERRORS as exc:
        raise self.retry(exc=exc, countdown=2**self.request.retries) from exc


class GoldTask(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        benchmark_id, upload = args
        log.error("Reading gold file %s of benchmark %s failed: %r", upload, benchmark_id, exc)
        if not connection.in_atomic_block:
            connection.close()  # as in ScoringTask: record the failure on a fresh connection
        services.benchmark_gold_finish(
            benchmark_id=benchmark_id,
            upload=upload,
            status=Benchmark.GoldStatus.FAILED,
            errors=[services.GOLD_INTERNAL_ERROR_MESSAGE],
        )


@shared_task(bind=True, base=GoldTask, max_retries=3, acks_late=True)
def store_gold(self, benchmark_id: int, upload: str) -> str:
    try:
        return services.benchmark_store_gold(
            benchmark_id=benchmark_id, upload=upload, max_bytes=settings.UPLOAD_MAX_BYTES
        )
    except TRANSIENT_ERRORS as exc:
        raise self.retry(exc=exc, countdown=2**self.request.retries) from exc
