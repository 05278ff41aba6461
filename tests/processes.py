"""Real processes for the tests and the benchmarks: Celery workers, gunicorn, a Redis server of
a test's own, and a browser's form posts.

Each runs in its own session (process group) with its output in a log file, so a test can stop,
kill or freeze it as the fault it stands for, and read its log when something goes wrong; and a
Ctrl-C in the terminal reaches the bench alone, which then stops each whole group, children
included, instead of leaving orphans behind. The benchmarks run as scripts from bench/ and import
this module once ``bench/_site.py`` has put the checkout's root on the path.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"


class StartFailed(Exception):
    """A process ended, or was not ready in time, as it started; the message holds its log."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def start(
    command: list[str], env: dict[str, str], log: Path, ready: bytes, timeout: float = 60
) -> subprocess.Popen:
    """Start a command and wait until its log shows `ready`."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + timeout
    while ready not in log.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            raise StartFailed(f"{command[0]} did not start:\n{log.read_text(errors='replace')}")
        time.sleep(0.1)
    return process


def stop(process: subprocess.Popen) -> None:
    """Stop a process and its children: politely, then for good."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def process_stats() -> Iterator[tuple[int, list[str]]]:
    """Each live process: its id, and the fields of its /proc/<id>/stat after the command name
    (so the parent's id is fields[1], the process group's fields[2], user and system CPU time in
    clock ticks fields[11] and fields[12])."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # The command name in field 2 may hold spaces; what follows its ")" is plain.
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended meanwhile
        yield int(entry.name), fields


def children(pid: int) -> list[int]:
    """The direct children of a process (a Celery worker's pool processes)."""
    return [child for child, fields in process_stats() if int(fields[1]) == pid]


def start_worker(
    env: dict[str, str],
    log: Path,
    *,
    name: str = "",
    queue: str = "",
    concurrency: int = 1,
    beat: bool = False,
) -> subprocess.Popen:
    """A `celery worker` process, once it is ready, with `concurrency` pool processes; on `queue`
    (else the settings' queue), named `name`; with `beat`, the sweep too."""
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "leaderboard",
        "worker",
        f"--concurrency={concurrency}",
        "--loglevel=INFO",
        "--without-gossip",
        "--without-mingle",
    ]
    if name:
        command.append(f"--hostname={name}@%h")
    if queue:
        command.append(f"--queues={queue}")
        env = {**env, "CELERY_QUEUE": queue}
    if beat:
        command += ["--beat", f"--schedule={log.with_suffix('.beat')}"]
    return start(command, env, log, b"ready.")


def start_gunicorn(
    env: dict[str, str], log: Path, *, workers: int = 1, options: tuple[str, ...] = ()
) -> tuple[subprocess.Popen, str]:
    """The site on gunicorn's sync workers on a free port, once a worker boots (the socket is
    bound by then, so a request waits for it): the process and the site's address."""
    port = free_port()
    command = [str(BIN / "gunicorn"), "leaderboard.wsgi", "--bind", f"{HOST}:{port}"]
    process = start([*command, "--workers", str(workers), *options], env, log, b"Booting worker")
    return process, f"http://{HOST}:{port}"


def manage_shell(
    code: str, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run Python code in `manage.py shell` with its own environment; its output as text."""
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class Redis:
    """A Redis server of the test's own, to stop and start again as a broker or a cache that
    goes down."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return self.database(0)

    def database(self, number: int) -> str:
        return f"redis://{HOST}:{self.port}/{number}"

    def start(self) -> None:
        self.process = start(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                HOST,
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            dict(os.environ),
            self.directory / "redis.log",
            b"Ready to accept connections",
        )

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


class Browser:
    """Just enough of a browser for the site's forms: its cookies, the CSRF token of a form, form
    posts and file uploads. A redirect is an answer to look at, not followed."""

    def __init__(self, base: str, session_key: str = "") -> None:
        self.base = base
        self.client = httpx.Client(base_url=base, timeout=30)
        if session_key:
            # On the host the site's own cookie is set for, so that a new one replaces it.
            self.client.cookies.set("sessionid", session_key, domain=urlsplit(base).hostname)

    def request(self, path: str, body: bytes | None = None, headers: dict | None = None):
        """GET `path`, or POST `body` to it: the answer's status, headers and text."""
        method = "GET" if body is None else "POST"
        response = self.client.request(method, path, content=body, headers=headers)
        return response.status_code, response.headers, response.text

    def form_token(self, path: str) -> str:
        """The CSRF token of the form on a page, fetched as a browser does before posting it."""
        status, _, page = self.request(path)
        assert status == 200, page
        return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)

    def post_form(self, path: str, fields: dict[str, str]):
        data = {**fields, "csrfmiddlewaretoken": self.form_token(path)}
        return self._post(path, data=data)

    def post_file(self, path: str, fields: dict[str, str], name: str, content: bytes):
        data = {**fields, "csrfmiddlewaretoken": self.form_token(path)}
        return self._post(path, data=data, files={"file": (name, content, "text/csv")})

    def _post(self, path: str, **parts):
        response = self.client.post(path, headers={"Referer": self.base + path}, **parts)
        return response.status_code, response.headers, response.text


def scoring_submit(
    *args: str, token: str | None, timeout: float = 60
) -> subprocess.CompletedProcess:
    """`python -m scoring submit ARGS` run to its end, with LEADERBOARD_TOKEN set to `token`
    (unset with None, whatever this process has)."""
    from scoring.submit import TOKEN_VARIABLE

    env = {key: value for key, value in os.environ.items() if key != TOKEN_VARIABLE}
    if token is not None:
        env[TOKEN_VARIABLE] = token
    return subprocess.run(
        [sys.executable, "-m", "scoring", "submit", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
