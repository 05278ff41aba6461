"""`python -m scoring submit` without a leaderboard: its arguments, its token, its files, a site
that cannot be reached, the multipart body it sends (read back by the standard library's MIME
parser), and how it follows a status through the answers a proxy or a rate limit gives in
between. (Against the site itself: tests/web/test_cli_submit.py.)"""

import email.parser
import email.policy
import http.server
import io
import json
import socket
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from scoring import submit
from tests.processes import scoring_submit

REPO = Path(__file__).resolve().parents[2]
EVAL_LOG = REPO / "tests/fixtures/logs/inspect-eval/log_read_sample.eval"
TOKEN = "lb_" + "x" * 40


def run(*args: str, token: str | None = TOKEN) -> subprocess.CompletedProcess:
    return scoring_submit(*args, token=token)


@pytest.fixture
def predictions(tmp_path: Path) -> Path:
    path = tmp_path / "predictions.csv"
    path.write_text("id,answer\nq1,Paris\n")
    return path


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        return unused.getsockname()[1]


def test_it_is_named_in_the_scoring_commands_help():
    result = subprocess.run(
        [sys.executable, "-m", "scoring", "--help"], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0
    assert "python -m scoring submit" in " ".join(result.stdout.split())


def test_its_help_gives_the_exit_statuses():
    result = run("--help")
    assert result.returncode == 0
    assert "LEADERBOARD_TOKEN" in result.stdout
    for status in ("0  scored", "1  rejected or failed", "2  bad arguments"):
        assert status in result.stdout


def test_the_scoring_command_still_scores_a_file(tmp_path):
    gold = tmp_path / "gold.csv"
    gold.write_text("id,answer\nq1,Paris\nq2,Rome\n")
    predictions = tmp_path / "p.csv"
    predictions.write_text("id,answer\nq1,Paris\nq2,Oslo\n")
    result = subprocess.run(
        [sys.executable, "-m", "scoring", str(gold), str(predictions), "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert '"accuracy": 0.5' in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--benchmark", "b", "--model", "m", "f.csv"], "required: --site"),
        (["--site", "http://x", "--model", "m", "f.csv"], "required: --benchmark"),
        (["--site", "http://x", "--benchmark", "b", "f.csv"], "required: --model"),
        (["--site", "http://x", "--benchmark", "b", "--model", "m"], "required: FILE"),
        (
            ["--site", "ftp://x", "--benchmark", "b", "--model", "m", "f.csv"],
            "--site 'ftp://x': give the site's address, e.g. https://example.org",
        ),
        (
            ["--site", "example.org", "--benchmark", "b", "--model", "m", "f.csv"],
            "give the site's address",
        ),
        (
            ["--site", "http://x", "--benchmark", "b", "--model", "m", "--epoch", "0", "f.csv"],
            "--epoch: '0' is not a whole number of 1 or more",
        ),
        (
            ["--site", "http://x", "--benchmark", "b", "--model", "m", "--timeout", "-1", "f"],
            "--timeout: '-1' is not a number of seconds above 0",
        ),
        (
            ["--site", "http://x", "--benchmark", "b", "--model", "m", "--visibility", "x", "f"],
            "--visibility: invalid choice: 'x'",
        ),
    ],
)
def test_it_refuses_bad_arguments_with_status_2(args, message):
    result = run(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_it_says_where_to_create_a_missing_token(predictions):
    result = run(
        "--site",
        "https://lb.example.org/",
        "--benchmark",
        "b",
        "--model",
        "m",
        str(predictions),
        token=None,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "LEADERBOARD_TOKEN is not set: create a token on https://lb.example.org/accounts/ "
        "(it is shown once) and put it in LEADERBOARD_TOKEN."
    )


def test_it_refuses_a_mangled_token_without_printing_it(predictions):
    mangled = "lb_secret part\nof-a-token"
    result = run(
        "--site",
        "http://x.invalid",
        "--benchmark",
        "b",
        "--model",
        "m",
        str(predictions),
        token=mangled,
    )
    assert result.returncode == 2
    assert "LEADERBOARD_TOKEN holds characters no token has" in result.stderr
    assert "secret" not in result.stderr + result.stdout


def test_it_refuses_a_file_that_does_not_exist(tmp_path):
    missing = tmp_path / "nowhere.csv"
    result = run("--site", "http://x.invalid", "--benchmark", "b", "--model", "m", str(missing))
    assert result.returncode == 2
    assert f"{missing}: cannot be read (No such file or directory)" in result.stderr


def test_it_says_a_site_cannot_be_reached(predictions, closed_port):
    site = f"http://127.0.0.1:{closed_port}"
    result = run("--site", site, "--benchmark", "capitals", "--model", "m", str(predictions))
    assert result.returncode == 2
    assert (
        f"{site}/api/benchmarks/capitals/submissions: unreachable ([Errno 111] Connection refused)"
        in result.stderr
    )
    assert "Traceback" not in result.stderr
    assert TOKEN not in result.stderr + result.stdout


def test_it_gives_up_on_a_site_that_does_not_answer(capsys, predictions, monkeypatch):
    monkeypatch.setattr(submit, "UPLOAD_TIMEOUT", 0.5)
    monkeypatch.setenv(submit.TOKEN_VARIABLE, TOKEN)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # connections are accepted by the kernel, and never answered
        site = f"http://127.0.0.1:{silent.getsockname()[1]}"
        status = submit.main(["--site", site, "--benchmark", "b", "--model", "m", str(predictions)])
    assert status == 2
    assert "/api/benchmarks/b/submissions: unreachable (timed out)" in capsys.readouterr().err


def test_it_warns_before_sending_a_token_in_clear_text(predictions, closed_port):
    remote = run(
        "--site", "http://lb.invalid", "--benchmark", "b", "--model", "m", str(predictions)
    )
    assert "warning: http://lb.invalid is plain http" in remote.stderr
    local = run(
        "--site",
        f"http://127.0.0.1:{closed_port}",
        "--benchmark",
        "b",
        "--model",
        "m",
        str(predictions),
    )
    assert "warning" not in local.stderr


@pytest.mark.parametrize(
    ("given", "site"),
    [
        ("https://lb.example.org", "https://lb.example.org"),
        ("https://lb.example.org/", "https://lb.example.org"),
        (" http://127.0.0.1:8000/ ", "http://127.0.0.1:8000"),
        ("https://example.org/leaderboard/", "https://example.org/leaderboard"),
    ],
)
def test_it_takes_the_site_with_or_without_a_trailing_slash(given, site):
    assert submit.site_url(given) == site


def test_it_sends_the_token_to_the_site_it_was_given_for_only():
    site = "https://lb.example.org/board"
    same = "https://lb.example.org/board/api/submissions/12"
    assert submit.poll_url(site, same) == same
    # A status_url a proxy made up with http, or another host: read on the site, same path.
    assert submit.poll_url(site, "http://lb.example.org/board/api/submissions/12") == same
    assert submit.poll_url(site, "https://elsewhere.example/board/api/submissions/12") == same
    assert submit.poll_url(site, "/board/api/submissions/12") == same


def test_it_reads_both_forms_of_retry_after():
    assert submit.retry_after("120") == 120
    in_a_minute = format_datetime(datetime.now(UTC) + timedelta(seconds=60), usegmt=True)
    assert 55 <= submit.retry_after(in_a_minute) <= 60
    assert submit.retry_after(None) is None
    assert submit.retry_after("soon") is None


def parsed(body: submit.MultipartBody) -> list:
    """The body's parts as the standard library's MIME parser reads them."""
    raw = b"".join(body)
    assert len(raw) == len(body)
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {body.content_type}\r\n\r\n".encode() + raw
    )
    assert message.is_multipart() and not message.defects
    return list(message.iter_parts())


def test_its_multipart_body_carries_the_fields_and_the_file_unchanged(tmp_path):
    log = tmp_path / "Modèle – «run».eval"
    log.write_bytes(EVAL_LOG.read_bytes())
    with open(log, "rb") as file:
        body = submit.MultipartBody(
            fields={"model_name": "Qwen-中文 «β»", "visibility": "private", "epoch": "2"},
            file_field="file",
            filename=log.name,
            file=file,
        )
        parts = parsed(body)
        # Sent again, it is the same (a file object read anew from its start).
        assert parsed(body)[-1].get_content() == EVAL_LOG.read_bytes()
    assert [part.get_param("name", header="content-disposition") for part in parts] == [
        "model_name",
        "visibility",
        "epoch",
        "file",
    ]
    assert parts[0].get_payload(decode=True).decode() == "Qwen-中文 «β»"
    assert parts[1].get_payload(decode=True) == b"private"
    assert parts[2].get_payload(decode=True) == b"2"
    file_part = parts[3]
    assert file_part.get_filename() == "Modèle – «run».eval"
    assert file_part.get_content_type() == "application/octet-stream"
    assert file_part.get_content() == EVAL_LOG.read_bytes()


def test_its_multipart_body_percent_encodes_quotes_and_line_breaks_in_names(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(b'id,answer\r\n--x\r\n"q1",Paris\r\n')
    with open(path, "rb") as handle:
        body = submit.MultipartBody(
            fields={"description": 'line one\r\n--"quoted"'},
            file_field="file",
            filename='a"b\r\nContent-Type: text/html.csv',
            file=handle,
        )
        parts = parsed(body)
    assert parts[0].get_payload(decode=True) == b'line one\r\n--"quoted"'
    assert parts[1].get_filename() == "a%22b%0D%0AContent-Type: text/html.csv"
    assert parts[1].get_content_type() == "application/octet-stream"
    assert parts[1].get_content() == b'id,answer\r\n--x\r\n"q1",Paris\r\n'


class Answers(http.server.BaseHTTPRequestHandler):
    """A server that gives, one per request, the answers a test lists: (status, headers, body).
    It stands for whatever a site's proxy or rate limit may answer in between."""

    answers: list[tuple[int, dict, bytes]] = []
    authorizations: list[str] = []

    def do_GET(self) -> None:
        status, headers, body = type(self).answers.pop(0)
        type(self).authorizations.append(self.headers.get("Authorization", ""))
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def answering():
    def serve(answers: list[tuple[int, dict, bytes]]) -> tuple[str, type[Answers]]:
        handler = type("Scripted", (Answers,), {"answers": list(answers), "authorizations": []})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append((server, handler))
        return f"http://127.0.0.1:{server.server_address[1]}", handler

    servers = []
    yield serve
    for server, _ in servers:
        server.shutdown()
        server.server_close()


def status(name: str, progress: int = 0) -> tuple[int, dict, bytes]:
    return 200, {}, json.dumps({"id": 1, "status": name, "progress": progress}).encode()


class Clock:
    """Time as the follower sees it, moved on by its sleeps alone."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_it_backs_off_while_nothing_changes_and_waits_as_long_as_the_site_asks(answering):
    site, _ = answering(
        [
            (429, {"Retry-After": "3"}, b'{"errors": ["Too many requests."]}'),
            status("queued"),
            status("queued"),
            status("queued"),
            status("scoring", 50),
            (503, {"Retry-After": "5", "Content-Type": "text/html"}, b"<h1>Busy</h1>"),
            status("scored", 100),
        ]
    )
    clock, progress = Clock(), io.StringIO()
    final = submit.follow(
        f"{site}/api/submissions/1",
        token=TOKEN,
        site=site,
        submission_id=1,
        poll_interval=2,
        timeout=60,
        progress=progress,
        clock=lambda: clock.now,
        sleep=clock.sleep,
    )
    assert final["status"] == "scored"
    # 3 s as asked; 2 s after a change, then 1.5 times longer each time nothing changes.
    assert clock.sleeps == [3, 2, 3, 4.5, 2, 5]
    assert progress.getvalue().splitlines() == [
        "#1 the site answered HTTP 429: looking again",
        "#1 queued",
        "#1 scoring 50%",
        "#1 the site answered HTTP 503: looking again",
        "#1 scored",
    ]


def test_it_gives_up_when_the_time_is_up_and_sends_the_token_each_time(answering):
    site, server = answering([status("queued")] * 5)
    clock = Clock()
    with pytest.raises(submit.TimedOut):
        submit.follow(
            f"{site}/api/submissions/1",
            token=TOKEN,
            site=site,
            submission_id=1,
            poll_interval=2,
            timeout=10,
            progress=io.StringIO(),
            clock=lambda: clock.now,
            sleep=clock.sleep,
        )
    # The last wait is cut to the time left.
    assert clock.sleeps == [2, 3, 4.5, 0.5]
    assert server.authorizations == [f"Bearer {TOKEN}"] * 5


def test_it_stops_following_when_the_site_refuses_to_say(answering):
    site, _ = answering([(401, {}, b'{"errors": ["This token was revoked."]}')])
    with pytest.raises(submit.Problem) as problem:
        submit.follow(
            f"{site}/api/submissions/1",
            token=TOKEN,
            site=site,
            submission_id=1,
            progress=io.StringIO(),
        )
    assert problem.value.lines == [
        f"{site}/api/submissions/1: HTTP 401 Unauthorized",
        "  This token was revoked.",
        f"Check LEADERBOARD_TOKEN (tokens are on {site}/accounts/).",
    ]


def test_it_needs_the_standard_library_only():
    # Without site-packages (-S), and importing nothing beyond the standard library.
    code = (
        "import importlib.util, sys\n"
        "spec = importlib.util.spec_from_file_location('submit', 'scoring/submit.py')\n"
        "module = sys.modules['submit'] = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "print(sorted({name.split('.')[0] for name in sys.modules}\n"
        "            - set(sys.stdlib_module_names) - {'submit', '__main__'}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
