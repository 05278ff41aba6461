"""Confirming an e-mail address: the signed, expiring link, and the e-mail that carries it.

The link holds the account's id and the address it was sent to, signed with SECRET_KEY and
stamped with the time it was made (django.core.signing), so it cannot be forged or altered, stops
working after EMAIL_CONFIRMATION_MAX_AGE seconds, and confirms nothing once the account uses
another address. Nothing is stored until the link is followed.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse

log = logging.getLogger(__name__)

# Keeps these signatures apart from every other use of SECRET_KEY on the site.
SALT = "leaderboard.confirm-email"


def make_token(user) -> str:
    return signing.dumps({"user": user.pk, "email": user.email}, salt=SALT, compress=True)


def read_token(token: str) -> tuple[int, str]:
    """The account id and address a link was made for.

    Raises signing.SignatureExpired for a link past its age, signing.BadSignature for any other.
    """
    data = signing.loads(token, salt=SALT, max_age=settings.EMAIL_CONFIRMATION_MAX_AGE)
    try:
        return int(data["user"]), str(data["email"])
    except (KeyError, TypeError, ValueError):
        raise signing.BadSignature("not a confirmation link") from None


def valid_for() -> str:
    """How long a link stays valid, in words."""
    hours = max(1, round(settings.EMAIL_CONFIRMATION_MAX_AGE / 3600))
    if hours % 24 == 0:
        days = hours // 24
        return f"{days} day{'s' if days != 1 else ''}"
    return f"{hours} hour{'s' if hours != 1 else ''}"


def send_link(request: HttpRequest, user) -> bool:
    """E-mail the user a link that confirms their address; False if the mail could not go."""
    context = {
        "user": user,
        "link": request.build_absolute_uri(reverse("confirm_email", args=[make_token(user)])),
        "valid_for": valid_for(),
        "SITE_NAME": settings.SITE_NAME,
    }
    subject = render_to_string("registration/confirm_email_subject.txt", context)
    body = render_to_string("registration/confirm_email_email.txt", context)
    try:
        send_mail(" ".join(subject.split()), body, None, [user.email])
    except Exception:
        # A mail server that is down or refuses the address must not turn the page into an error:
        # the account is there, and the link can be asked for again.
        log.exception("Could not send the confirmation e-mail of user %s", user.pk)
        return False
    return True
