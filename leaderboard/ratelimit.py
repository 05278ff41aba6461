"""Failed log-ins, counted per username and per client address, and refused past a limit; and
unknown or revoked API tokens, counted per client address alike.

Both log-in pages (the site's and the admin's) use the forms below: a form counts the attempt in
the shared cache (Redis in production, so every web process sees the same count) before it checks
any password, refuses it when the count is past the limit, takes it back when it was not a
failure, and forgets the username's failures once it logs in. `refused_with_429` gives such a
refusal its HTTP status. Only failures count, so people who log in correctly are never slowed
down. Without the cache (Redis down) log-ins are not limited, and each says so in the log.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import time
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.forms.forms import NON_FIELD_ERRORS
from django.http import HttpRequest, HttpResponse

log = logging.getLogger(__name__)

# The code of the form error that refuses a log-in: how `refused_with_429` recognises it.
LOCKED_OUT = "too_many_attempts"


def client_address(request: HttpRequest) -> str:
    """The address the request came from, as this site can trust it.

    Behind TRUSTED_PROXIES reverse proxies every request comes from the nearest one, and each
    proxy appends the address it saw to X-Forwarded-For: counted from the right, the N-th entry
    was written by the outermost proxy and is the client's. Entries further left were written
    by the client itself and are never believed. With no trusted proxy (0), or with fewer entries
    than proxies (a request that did not pass through all of them), the header is ignored.
    """
    proxies = settings.TRUSTED_PROXIES
    if proxies > 0:
        forwarded = [
            entry.strip()
            for entry in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if entry.strip()
        ]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def failure_keys(username: str, address: str) -> tuple[str, str]:
    """The cache keys that count the failures of this username and of this address."""
    # Hashed: a username may hold any character, and cache keys should not.
    name = hashlib.sha256(username.casefold().encode()).hexdigest()[:32]
    return f"login-failures:user:{name}", f"login-failures:address:{address}"


def count_attempt(username: str, address: str) -> int:
    """Count one log-in attempt against the username and the address, before any password is
    checked; how long log-ins stay refused if this attempt is past either limit, else 0.

    Counting first, atomically (the count Redis returns), is what bounds the passwords checked:
    of any number of attempts sent at once, only those the count admits reach a password check.
    An attempt that is refused, or that turns out not to be a failure, is taken back afterwards
    (`take_back`), so the counts hold failures only.
    """
    user_key, address_key = failure_keys(username, address)
    seconds = _count_against(
        {
            user_key: settings.LOGIN_MAX_FAILURES,
            address_key: settings.LOGIN_MAX_FAILURES_PER_ADDRESS,
        }
    )
    if getattr(cache, "unavailable", False):
        log.warning("Log-in attempts are not limited: the cache is unavailable")
    return seconds


def _count_against(limits: dict[str, int]) -> int:
    """Count one attempt under each key; how long attempts stay refused if one count is past
    its limit, else 0."""
    ends = []
    for key, limit in limits.items():
        if _count(key) > limit:
            ends.append(cache.get(f"{key}:ends", 0))
    if not ends:
        return 0
    # A count whose end time was lost still stands for a whole window, the longest it can last.
    return max(1, math.ceil(max(ends) - time.time())) if all(ends) else _window()


def _count(key: str) -> int:
    """Add one to a count that lapses at the end of its window; the count after it."""
    window = _window()
    # The window opens with the first attempt and does not move: the count lapses at its end.
    if cache.add(key, 0, window):
        cache.set(f"{key}:ends", time.time() + window, window)
    try:
        return cache.incr(key)
    except ValueError:  # the window ended between the two calls, or the cache is unavailable
        cache.set(key, 1, window)
        cache.set(f"{key}:ends", time.time() + window, window)
        return 1


def take_back(username: str, address: str) -> None:
    """Take back an attempt counted by `count_attempt` that was not a failure."""
    for key in failure_keys(username, address):
        # A count whose window ended meanwhile has nothing left to take back.
        with contextlib.suppress(ValueError):
            cache.decr(key)


def forget_failures(username: str) -> None:
    """A successful log-in clears the username's count."""
    # Not the address's count, which lapses on its own: an attacker with an account of their own
    # could otherwise clear it by logging in between guesses at other accounts.
    user_key, _ = failure_keys(username, "")
    cache.delete_many([user_key, f"{user_key}:ends"])


def token_failure_key(address: str) -> str:
    return f"token-failures:address:{address}"


def count_token_attempt(address: str) -> int:
    """Count one API token checked from this address, before it is looked up; how long tokens
    from there stay refused if it is past the limit, else 0.

    As with log-ins, the attempt is counted first and taken back (`take_back_token_attempt`)
    once the token proves good, so that the count holds the unknown and revoked tokens only, and
    however many are sent at once, no more than the limit are looked up.
    """
    seconds = _count_against(
        {token_failure_key(address): settings.API_TOKEN_MAX_FAILURES_PER_ADDRESS}
    )
    if seconds:
        take_back_token_attempt(address)
    return seconds


def take_back_token_attempt(address: str) -> None:
    with contextlib.suppress(ValueError):
        cache.decr(token_failure_key(address))


def too_many_tokens_message(seconds: int) -> str:
    return too_many_message("unknown or revoked API tokens from this address", seconds)


def _window() -> int:
    return settings.LOGIN_FAILURE_WINDOW


def lockout_message(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return (
        "Too many failed log-in attempts for this username or from this address: "
        f"try again in {minutes} minute{'s' if minutes != 1 else ''}."
    )


class _LimitedLogin:
    """Count each log-in attempt first; refuse those past the limit before any password check."""

    request: HttpRequest | None
    cleaned_data: dict
    user_cache: object

    def clean(self) -> dict:
        username = self.cleaned_data.get("username") or ""
        address = client_address(self.request) if self.request is not None else "unknown"
        if not username:
            return super().clean()
        seconds = count_attempt(username, address)
        if seconds:
            take_back(username, address)
            self.lockout_seconds = seconds
            raise ValidationError(lockout_message(seconds), code=LOCKED_OUT)
        try:
            cleaned = super().clean()
        except ValidationError:
            # Only a wrong username or password counts; a right password for an account that
            # may not log in here (inactive, or not staff on the admin page) does not.
            if self.user_cache is not None:
                take_back(username, address)
            raise
        take_back(username, address)
        forget_failures(username)
        return cleaned


class LoginForm(_LimitedLogin, AuthenticationForm):
    """The site's log-in form."""


class AdminLoginForm(_LimitedLogin, AdminAuthenticationForm):
    """The admin's log-in form."""


def refused_with_429(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Answer 429 Too Many Requests, with Retry-After, when the log-in form refused a lockout."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = view(request, *args, **kwargs)
        form = (getattr(response, "context_data", None) or {}).get("form")
        if form is not None and form.has_error(NON_FIELD_ERRORS, LOCKED_OUT):
            response.status_code = 429
            response["Retry-After"] = str(getattr(form, "lockout_seconds", _window()))
        return response

    return wrapper


# --- Sign-ups and e-mails asked for, counted per client address (and per recipient) ------------
#
# Unlike the log-in limiter, these count every request that would go through, before acting on
# it: the count is one atomic increment in the shared cache, so concurrent requests can never
# slip past the limit together. Windows are fixed slices of the clock (the key names the slice),
# which lets a count lapse with its key and never be extended by a late increment.


def _count_in_slice(key: str, window: int) -> tuple[int, int]:
    """Count one more request under `key` in the current window: (count so far, seconds left)."""
    now = time.time()
    bucket = f"{key}:{int(now // window)}"
    seconds_left = max(1, math.ceil(window - now % window))
    try:
        # The key outlives its slice of the clock, so it cannot lapse between these two calls.
        cache.add(bucket, 0, window + 60)
        return cache.incr(bucket), seconds_left
    except Exception:
        # Without the cache nothing can be counted: let the request through rather than fail it.
        log.warning("Could not count %s: the cache is unavailable", key, exc_info=True)
        return 0, seconds_left


def signup_refused(address: str) -> int:
    """Count a sign-up from this address; past the limit, the seconds until it may try again."""
    count, seconds_left = _count_in_slice(f"signups:address:{address}", settings.SIGNUP_WINDOW)
    return seconds_left if count > settings.SIGNUP_MAX_PER_ADDRESS else 0


def email_request_refused(address: str, recipient: str) -> int:
    """Count an e-mail asked for from this address to this recipient; 0 if it may be sent.

    Both counts go up even when one is past its limit: every request is counted first.
    """
    window = settings.EMAIL_REQUESTS_WINDOW
    recipient_key = hashlib.sha256(recipient.strip().casefold().encode()).hexdigest()[:32]
    refused = 0
    for key in (f"emails:address:{address}", f"emails:recipient:{recipient_key}"):
        count, seconds_left = _count_in_slice(key, window)
        if count > settings.EMAIL_REQUESTS_PER_ADDRESS:
            refused = seconds_left
    return refused


def too_many_message(what: str, seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return f"Too many {what}: try again in {minutes} minute{'s' if minutes != 1 else ''}."
