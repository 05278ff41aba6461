"""Real processes for the tests: Celery workers, gunicorn, a Redis server of a test's own.

Each runs in its own session (process group) with its output in a log file, so a test can stop,
kill or freeze it as the fault it stands for, and read its log when something goes wrong.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
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
            pytest.fail(f"{command[0]} did not start:\n{log.read_text(errors='replace')}")
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


def children(pid: int) -> list[int]:
    """The direct children of a process (a Celery worker's pool processes)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # The command name in field 2 may hold spaces; what follows its ")" is plain.
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def start_worker(
    env: dict[str, str], log: Path, *, name: str, queue: str, beat: bool = False
) -> subprocess.Popen:
    """A `celery worker` process with one pool process, on `queue`; with `beat`, the sweep too."""
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "leaderboard",
        "worker",
        "--concurrency=1",
        "--loglevel=INFO",
        "--without-gossip",
        "--without-mingle",
        f"--hostname={name}@%h",
        f"--queues={queue}",
    ]
    if beat:
        command += ["--beat", f"--schedule={log.with_suffix('.beat')}"]
    return start(command, {**env, "CELERY_QUEUE": queue}, log, b"ready.")


def start_gunicorn(env: dict[str, str], log: Path) -> tuple[subprocess.Popen, str]:
    """The site on gunicorn with one worker, on a free port: the process and its address."""
    port = free_port()
    command = [str(BIN / "gunicorn"), "leaderboard.wsgi", "--bind", f"127.0.0.1:{port}"]
    process = start([*command, "--workers", "1"], env, log, b"Booting worker")
    return process, f"http://127.0.0.1:{port}"


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
