"""The e-mail that tells an uploader their submission finished, for those who asked for it.

Sent once per upload, when its first scoring ends (scored, rejected or failed), after the
transaction that records it commits, through Django's e-mail settings (those password resets
use). Rescorings that staff or a change of settings queue later send nothing: the uploader asked
to hear when their upload finishes, not each time the benchmark is scored again. Only to a
confirmed address: an account could otherwise have the site mail anyone, an e-mail per upload.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse

from leaderboard.models import AccountSettings, ConfirmedEmail, Submission

log = logging.getLogger(__name__)

# A rejection's first errors, in the e-mail; the submission page lists the rest.
ERRORS_IN_EMAIL = 5


def finished_on_commit(submission_id: int) -> None:
    """E-mail the owner, if they asked for it, once the finish being recorded commits."""
    transaction.on_commit(lambda: send_finished(submission_id))


def send_finished(submission_id: int) -> bool:
    """E-mail the owner of a finished submission who asked for it; whether an e-mail went.

    Never raises: a mail server that is down or refuses costs the e-mail, not the scoring.
    """
    try:
        return _send_finished(submission_id)
    except Exception:
        log.exception("Could not e-mail the owner of submission %s that it finished", submission_id)
        return False


def _send_finished(submission_id: int) -> bool:
    submission = (
        Submission.objects.select_related("benchmark", "owner").filter(pk=submission_id).first()
    )
    if submission is None or not submission.is_finished:
        return False
    owner = submission.owner
    if not owner.is_active or not AccountSettings.of(owner).email_on_finish:
        return False
    address = ConfirmedEmail.objects.filter(user=owner).values_list("email", flat=True).first()
    if not address:
        log.info("Submission %s finished; its owner has no confirmed address", submission_id)
        return False
    result = submission.result() if submission.status == Submission.Status.SCORED else None
    context = {
        "submission": submission,
        "benchmark": submission.benchmark,
        "primary": result.primary if result else None,
        "errors": submission.errors[:ERRORS_IN_EMAIL],
        "more_errors": max(0, submission.n_errors - min(len(submission.errors), ERRORS_IN_EMAIL)),
        "link": settings.SITE_URL + submission.get_absolute_url(),
        "account_link": settings.SITE_URL + reverse("account"),
        "SITE_NAME": settings.SITE_NAME,
    }
    subject = render_to_string("email/submission_finished_subject.txt", context)
    body = render_to_string("email/submission_finished.txt", context)
    send_mail(" ".join(subject.split()), body, None, [address])
    return True
