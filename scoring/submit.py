"""`python -m scoring submit`: upload a prediction file or harness log to a leaderboard's API,
follow its scoring, and print its scores, for scripts and CI jobs.

The standard library only (urllib, a multipart/form-data body written here), so that it runs
wherever Python does. The API's shapes are the README's ("From a script or CI", "A submission as
JSON"). Exit statuses: 0 scored, 1 rejected or failed (the file's fault), 2 anything that keeps
the question open: bad arguments, no token, a refusal by the site before it took the file, a site
that cannot be reached, or a submission still not finished when the time is up.
"""

from __future__ import annotations

import argparse
import email.utils
import http.client
import json
import math
import os
import secrets
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, TextIO

TOKEN_VARIABLE = "LEADERBOARD_TOKEN"
SCORED, REJECTED, PROBLEM = 0, 1, 2
# As shells report a command stopped by Ctrl-C (128 + SIGINT).
INTERRUPTED = 130
# Seconds the site may stay silent during one request (the upload, or one look at the status).
UPLOAD_TIMEOUT = 300
STATUS_TIMEOUT = 60
# How the wait between looks at the status grows while nothing changes, and its ceiling.
BACKOFF = 1.5
MAX_POLL_INTERVAL = 30.0
DEFAULT_TIMEOUT = 3600.0
CHUNK_BYTES = 1 << 20
USER_AGENT = "python -m scoring submit"
FINISHED = ("scored", "rejected", "failed")

EXIT_STATUSES = """\
exit status:
  0  scored (the scores are printed; with --json, the submission's JSON)
  1  rejected or failed: the site refused the file or could not score it (errors printed)
  2  bad arguments, no LEADERBOARD_TOKEN, a file that cannot be read, a refusal before the
     upload was taken (HTTP 401, 403, 404, 413, 429), a site that cannot be reached or is not a
     leaderboard, or still not scored after --timeout seconds (its page is printed: look later)
  130  stopped with Ctrl-C (the submission goes on)
"""


class Problem(Exception):
    """Something that ends the command with exit status 2 and these lines on stderr."""

    def __init__(self, *lines: str) -> None:
        self.lines = [line for line in lines if line]
        super().__init__("\n".join(self.lines))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scoring submit",
        description=(
            "Upload a prediction file or a harness log to a leaderboard, wait until it is\n"
            "scored, and print its scores. The token is read from the LEADERBOARD_TOKEN\n"
            "environment variable: create one on the site's /accounts/ page."
        ),
        epilog=EXIT_STATUSES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", metavar="FILE", type=Path, help="the file to upload")
    parser.add_argument(
        "--site", required=True, metavar="URL", help="the leaderboard, e.g. https://example.org"
    )
    parser.add_argument("--benchmark", required=True, metavar="SLUG", help="the benchmark's slug")
    parser.add_argument("--model", required=True, metavar="NAME", help="the model's name")
    parser.add_argument("--organisation", metavar="ORG", help="who made the model")
    parser.add_argument("--url", metavar="URL", help="a page about the model or this run")
    parser.add_argument("--description", metavar="TEXT", help="how the predictions were made")
    parser.add_argument(
        "--visibility",
        choices=("public", "private"),
        default="public",
        help="public: listed on the board; private: only you and the site's staff see it "
        "(default: public)",
    )
    parser.add_argument(
        "--format",
        metavar="F",
        help="the file's format: \"table\" for the site's own CSV/JSONL/JSON, or a harness log "
        "format (default: recognised from the file)",
    )
    parser.add_argument("--filter", metavar="F", help="lm-evaluation-harness: the filter to read")
    parser.add_argument(
        "--epoch", metavar="N", type=whole_number, help="Inspect AI: the epoch to read"
    )
    parser.add_argument("--scorer", metavar="S", help="Inspect AI: the scorer to read")
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the submission's final JSON (as GET /api/submissions/<id> gives it)",
    )
    parser.add_argument(
        "--poll-interval",
        metavar="S",
        type=_seconds,
        default=2.0,
        help="seconds between looks at the status at first; the wait grows while nothing "
        f"changes, up to {MAX_POLL_INTERVAL:g} s (default: 2)",
    )
    parser.add_argument(
        "--timeout",
        metavar="S",
        type=_seconds,
        default=DEFAULT_TIMEOUT,
        help=f"seconds to wait for the scores before giving up (default: {DEFAULT_TIMEOUT:g})",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        site = site_url(args.site)
    except ValueError as error:
        parser.error(str(error))
    try:
        upload = open(args.file, "rb")  # noqa: SIM115 (read as the request is sent)
    except OSError as error:
        parser.error(f"{args.file}: cannot be read ({error.strerror or error})")
    with upload:
        try:
            token = _token(site)
            return _submit(args, site, token, upload)
        except Problem as problem:
            for line in problem.lines:
                print(line, file=sys.stderr)
            return PROBLEM
        except KeyboardInterrupt:
            print("stopped", file=sys.stderr)
            return INTERRUPTED


def site_url(text: str) -> str:
    """The site's address without a trailing slash; ValueError unless http(s) with a host."""
    parts = urllib.parse.urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"--site {text!r}: give the site's address, e.g. https://example.org")
    if parts.query or parts.fragment:
        raise ValueError(f"--site {text!r}: give the site's address alone, with no ? or #")
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def _token(site: str) -> str:
    token = os.environ.get(TOKEN_VARIABLE, "").strip()
    if not token:
        raise Problem(
            f"{TOKEN_VARIABLE} is not set: create a token on {site}/accounts/ (it is shown "
            f"once) and put it in {TOKEN_VARIABLE}."
        )
    if not (token.isascii() and token.isprintable()) or any(c.isspace() for c in token):
        # Never printed: the message names the variable only.
        raise Problem(
            f"{TOKEN_VARIABLE} holds characters no token has (spaces, line breaks, accents): "
            f"copy the token again from {site}/accounts/."
        )
    return token


def _submit(args: argparse.Namespace, site: str, token: str, upload: BinaryIO) -> int:
    if urllib.parse.urlsplit(site).scheme == "http" and not _is_local(site):
        print(
            f"warning: {site} is plain http: the token crosses the network unencrypted",
            file=sys.stderr,
        )
    fields = {
        "model_name": args.model,
        "organisation": args.organisation,
        "url": args.url,
        "description": args.description,
        "visibility": args.visibility,
        "format": args.format,
        "filter": args.filter,
        "epoch": None if args.epoch is None else str(args.epoch),
        "scorer": args.scorer,
    }
    body = MultipartBody(
        fields={name: value for name, value in fields.items() if value is not None},
        file_field="file",
        filename=args.file.name,
        file=upload,
    )
    endpoint = f"{site}/api/benchmarks/{urllib.parse.quote(args.benchmark, safe='')}/submissions"
    answer = request(
        endpoint,
        token=token,
        data=body,
        headers={"Content-Type": body.content_type},
        timeout=UPLOAD_TIMEOUT,
        site=site,
    )
    data = answer.json()
    if data is None:
        raise _not_json(answer, site, what="the upload")
    errors = answer.errors(data)
    if answer.status == 400:
        _print_rejection(args, data, f"{args.file}: refused by {site}", errors)
        return REJECTED
    if not 200 <= answer.status < 300:
        hint = ""
        if answer.status == 401:
            hint = f"Check {TOKEN_VARIABLE}: tokens are created and revoked on {site}/accounts/."
        elif answer.status == 404:
            hint = f"Is {args.benchmark!r} the benchmark's slug (as in {site}/benchmarks/<slug>/)?"
        elif answer.status == 429:
            wait = retry_after(answer.headers.get("Retry-After"))
            hint = f"Try again in {_duration(wait)}." if wait is not None else ""
        raise Problem(
            f"{site} refused the upload: HTTP {answer.status} {answer.reason}",
            *_indented(errors),
            hint,
        )
    created = _created(data, answer.url)
    print(
        f"uploaded {args.file.name} ({_size(body.file_size)}) as submission #{created.id}: "
        f"{created.page_url}",
        file=sys.stderr,
    )
    try:
        final = follow(
            poll_url(site, created.status_url),
            token=token,
            site=site,
            submission_id=created.id,
            poll_interval=args.poll_interval,
            timeout=args.timeout,
        )
    except TimedOut as timed_out:
        raise Problem(
            f"still {timed_out.status} after {_duration(args.timeout)}: submission "
            f"#{created.id} is not finished yet.",
            f"See {created.page_url} later (or GET {created.status_url} with your token).",
        ) from None
    except KeyboardInterrupt:
        print(
            f"stopped waiting: submission #{created.id} goes on; see {created.page_url}",
            file=sys.stderr,
        )
        return INTERRUPTED
    if final.get("status") == "scored":
        if args.json:
            print(json.dumps(final, ensure_ascii=False))
        else:
            print(scores_table(final, page_url=created.page_url))
        return SCORED
    _print_rejection(
        args,
        final,
        f"submission #{created.id} {final.get('status')}: {created.page_url}",
        [str(error) for error in final.get("errors") or []],
        n_errors=final.get("n_errors"),
    )
    return REJECTED


def _print_rejection(
    args: argparse.Namespace,
    data: dict,
    heading: str,
    errors: list[str],
    n_errors: int | None = None,
) -> None:
    if args.json:
        print(json.dumps(data, ensure_ascii=False))
    total = n_errors if isinstance(n_errors, int) and n_errors > len(errors) else len(errors)
    print(f"{heading} ({total:,} error{'' if total == 1 else 's'})", file=sys.stderr)
    for line in _indented(errors):
        print(line, file=sys.stderr)


@dataclass(frozen=True)
class Created:
    """What the site answers to an upload it took."""

    id: int
    page_url: str
    status_url: str


def _created(data: dict, url: str) -> Created:
    try:
        submission_id = data["id"]
        status_url = data["status_url"]
        page_url = data.get("url") or ""
        if not isinstance(submission_id, int) or not isinstance(status_url, str):
            raise TypeError
    except (KeyError, TypeError):
        raise Problem(
            f"{url} took the upload but its answer has no submission id and status_url: "
            "is the site a leaderboard of this kind?"
        ) from None
    return Created(id=submission_id, page_url=page_url or status_url, status_url=status_url)


def poll_url(site: str, status_url: str) -> str:
    """Where to look at the status: `status_url`, on the site's own scheme and host.

    The token goes with every look; a status_url elsewhere (an http:// address a proxy in front
    of an https site made up) is read on the site the token was given for, at the same path.
    """
    ours = urllib.parse.urlsplit(site)
    theirs = urllib.parse.urlsplit(urllib.parse.urljoin(site + "/", status_url))
    if (theirs.scheme, theirs.netloc) == (ours.scheme, ours.netloc):
        return theirs.geturl()
    return urllib.parse.urlunsplit((ours.scheme, ours.netloc, theirs.path, theirs.query, ""))


class TimedOut(Exception):
    def __init__(self, status: str) -> None:
        self.status = status
        super().__init__(status)


def follow(
    url: str,
    *,
    token: str,
    site: str,
    submission_id: int,
    poll_interval: float = 2.0,
    timeout: float = DEFAULT_TIMEOUT,
    progress: TextIO | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict:
    """Look at a submission's status until it is finished: its final JSON.

    One line on `progress` (stderr) per change ("queued", "scoring 55%", "scored"). Waits
    `poll_interval` seconds between looks, longer while nothing changes (up to
    MAX_POLL_INTERVAL), as long as the site asks on a 429 or 503 (Retry-After). A site briefly
    unreachable or answering 5xx is looked at again until the time is up. TimedOut after
    `timeout` seconds; Problem (exit 2) when the site refuses to say (401, 403, 404).
    """
    progress = progress or sys.stderr
    deadline = clock() + timeout
    wait = poll_interval
    shown = None
    status = "queued"
    while True:
        asked_wait = None
        try:
            answer = request(url, token=token, timeout=STATUS_TIMEOUT, site=site)
        except Unreachable as unreachable:
            line = f"#{submission_id} {unreachable.reason}: looking again"
        else:
            if answer.status in (429, 503) or answer.status >= 500:
                asked_wait = retry_after(answer.headers.get("Retry-After"))
                line = f"#{submission_id} the site answered HTTP {answer.status}: looking again"
            else:
                data = answer.json()
                if data is None:
                    raise _not_json(answer, site, what="the status")
                if answer.status != 200:
                    errors = answer.errors(data)
                    hint = (
                        f"Check {TOKEN_VARIABLE} (tokens are on {site}/accounts/)."
                        if answer.status == 401
                        else ""
                    )
                    raise Problem(
                        f"{url}: HTTP {answer.status} {answer.reason}", *_indented(errors), hint
                    )
                status = str(data.get("status"))
                line = f"#{submission_id} {_progress(data)}"
                if status in FINISHED:
                    if line != shown:
                        print(line, file=progress, flush=True)
                    return data
        if line != shown:
            print(line, file=progress, flush=True)
            shown = line
            wait = poll_interval
        else:
            wait = min(max(poll_interval, MAX_POLL_INTERVAL), wait * BACKOFF)
        left = deadline - clock()
        if left <= 0:
            raise TimedOut(status)
        pause = wait if asked_wait is None else max(wait, asked_wait)
        sleep(min(pause, left))


def _progress(data: dict) -> str:
    status = str(data.get("status"))
    percent = data.get("progress")
    if status == "scoring" and isinstance(percent, int | float):
        return f"scoring {percent:g}%"
    return status


def retry_after(value: str | None) -> float | None:
    """Seconds a Retry-After header asks for (a number of seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


# --- HTTP ---


class Unreachable(Problem):
    """No HTTP answer at all: the site is down, the name unknown, the connection cut."""

    def __init__(self, url: str, reason: str) -> None:
        self.reason = f"{url}: unreachable ({reason})"
        super().__init__(self.reason)


@dataclass
class Answer:
    """An HTTP answer, whatever its status."""

    url: str
    status: int
    reason: str
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> dict | None:
        """The body as a JSON object; None when it is not one."""
        try:
            data = json.loads(self.body)
        except (UnicodeDecodeError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    @staticmethod
    def errors(data: dict) -> list[str]:
        errors = data.get("errors")
        return [str(error) for error in errors] if isinstance(errors, list) else []


def _not_json(answer: Answer, site: str, *, what: str) -> Problem:
    """What an answer that is not the API's JSON says: a refusal by what stands in front of the
    site (a proxy's 413 or 502 page), or a site that is no leaderboard."""
    status = f"HTTP {answer.status} {answer.reason}"
    if answer.status == 413:
        return Problem(f"{site} refused {what}: {status} (the file is too large)")
    if answer.status >= 500:
        return Problem(f"{site} failed to answer {what}: {status}; try again later")
    kind = answer.headers.get_content_type() if answer.body else "an empty body"
    return Problem(
        f"{answer.url} answered {status} with {kind}, not the JSON of a leaderboard's API: "
        f"is {site} the leaderboard's address?"
    )


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A redirect would send the token on to wherever it points, and turn the upload into a GET
    # without its file: it is reported instead (`request`).
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def request(
    url: str,
    *,
    token: str,
    site: str,
    data: MultipartBody | None = None,
    headers: dict[str, str] | None = None,
    timeout: float,
) -> Answer:
    """One request with the token: its answer, whatever the HTTP status (a redirect is a
    Problem); Unreachable when there is none."""
    sent = urllib.request.Request(
        url,
        data=data,
        method="GET" if data is None else "POST",
        headers={
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
            **(headers or {}),
        },
    )
    if data is not None:
        sent.add_header("Content-Length", str(len(data)))
    try:
        with _opener.open(sent, timeout=timeout) as response:
            return Answer(url, response.status, response.reason, response.headers, response.read())
    except urllib.error.HTTPError as error:
        with error:
            try:
                body = error.read()
            except (OSError, http.client.HTTPException):
                body = b""
        if 300 <= error.code < 400:
            where = error.headers.get("Location", "elsewhere")
            raise Problem(
                f"{url} redirects (HTTP {error.code}) to {where}: give --site as the address "
                "the site is served at (https://…?)"
            ) from None
        return Answer(url, error.code, str(error.reason), error.headers, body)
    except urllib.error.URLError as error:
        raise Unreachable(url, str(error.reason)) from None
    except (TimeoutError, OSError, http.client.HTTPException) as error:
        raise Unreachable(url, str(error) or type(error).__name__) from None


# --- the multipart/form-data body (RFC 7578) ---


class MultipartBody:
    """A multipart/form-data body of text fields and one file, sent as it is read: its length is
    known before, so the request says it (Content-Length), and the file is never all in memory.
    """

    def __init__(
        self,
        *,
        fields: dict[str, str],
        file_field: str,
        filename: str,
        file: BinaryIO,
        boundary: str | None = None,
    ) -> None:
        self.boundary = boundary or f"----python-m-scoring-{secrets.token_hex(16)}"
        self.file = file
        self.file_size = os.fstat(file.fileno()).st_size
        start = file.tell()
        self.file_size -= start
        self._start = start
        head = b"".join(
            self._part_head(f'name="{_quoted(name)}"') + value.encode() + b"\r\n"
            for name, value in fields.items()
        )
        self.head = head + self._part_head(
            f'name="{_quoted(file_field)}"; filename="{_quoted(filename)}"',
            "Content-Type: application/octet-stream\r\n",
        )
        self.tail = f"\r\n--{self.boundary}--\r\n".encode()

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def _part_head(self, disposition: str, extra: str = "") -> bytes:
        return (
            f"--{self.boundary}\r\nContent-Disposition: form-data; {disposition}\r\n{extra}\r\n"
        ).encode()

    def __len__(self) -> int:
        return len(self.head) + self.file_size + len(self.tail)

    def __iter__(self) -> Iterator[bytes]:
        # From the start each time it is sent.
        self.file.seek(self._start)
        yield self.head
        left = self.file_size
        while left > 0:
            chunk = self.file.read(min(CHUNK_BYTES, left))
            if not chunk:
                raise OSError("the file became shorter while it was being sent")
            left -= len(chunk)
            yield chunk
        yield self.tail


def _quoted(text: str) -> str:
    # As browsers write names in a Content-Disposition header (the HTML standard): UTF-8, with
    # the quote and line breaks percent-encoded.
    return text.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


# --- what is printed ---


def scores_table(data: dict, *, page_url: str = "") -> str:
    """A scored submission's scores per rubric and its counts per run, for a terminal."""
    metrics = data.get("metrics") or {}
    lines = [
        f"{data.get('model')} on {data.get('benchmark')}: submission #{data.get('id')} scored"
        + (f" ({page_url})" if page_url else ""),
    ]
    n_items = metrics.get("n_items")
    counts = metrics.get("counts") or {}
    if isinstance(n_items, int):
        lines.append(
            f"{n_items:,} items, coverage {_percent(metrics.get('coverage'))}; correct "
            f"{_number(counts.get('correct'))}, incorrect {_number(counts.get('incorrect'))}, "
            f"abstained {_number(counts.get('abstained'))} (missing items included)"
            + ("; self-graded" if metrics.get("self_graded") else "")
        )
    lines += ["", f"  {'rubric':<16} {'score':>8}   {'95% interval':<20} from run"]
    for key, score in (metrics.get("scores") or {}).items():
        name = "binary (t = 0)" if key == "0" else f"t = {key}"
        interval = score.get("interval")
        spread = (
            f"[{_fixed(interval[0])}, {_fixed(interval[1])}]"
            if isinstance(interval, list) and len(interval) == 2
            else "—"
        )
        run = score.get("run")
        if run is None:
            source = "— (no default run and no run prompted at t)"
        elif key == "0" or score.get("prompted"):
            source = str(run)
        else:
            source = f"{run} (same answers)"
        lines.append(f"  {name:<16} {_fixed(score.get('score')):>8}   {spread:<20} {source}")
    runs = metrics.get("runs") or []
    if runs:
        lines += ["", "  runs:"]
    for run in runs:
        name = "default" if run.get("target") is None else f"t = {run.get('key')}"
        counted = run.get("counts") or {}
        lines.append(
            f"  {name:<10} {_number(run.get('present'))} of {_number(run.get('n_items'))} "
            f"present: correct {_number(counted.get('correct'))}, incorrect "
            f"{_number(counted.get('incorrect'))}, abstained {_number(counted.get('abstained'))}"
        )
    return "\n".join(lines)


def _fixed(value: object) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return f"{value:.4f}"
    return "—"


def _percent(value: object) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{100 * value:.2f}%"
    return "—"


def _number(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else "—"


def _indented(lines: list[str]) -> list[str]:
    return [f"  {line}" for line in lines]


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{math.ceil(seconds):g} s"
    return f"{math.ceil(seconds / 60):g} min"


def _size(n_bytes: int) -> str:
    if n_bytes < 1000:
        return f"{n_bytes} bytes"
    if n_bytes < 1_000_000:
        return f"{n_bytes / 1000:.1f} kB"
    return f"{n_bytes / 1_000_000:.1f} MB"


def _is_local(site: str) -> bool:
    host = urllib.parse.urlsplit(site).hostname or ""
    return host in ("localhost", "127.0.0.1", "::1") or host.endswith(".localhost")


def whole_number(text: str) -> int:
    """An argument that is a whole number of 1 or more (argparse's `type`)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of 1 or more")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0")
    return value
