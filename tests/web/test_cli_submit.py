"""`python -m scoring submit` against the site: a site address that is no leaderboard, its body
read by Django's own multipart parser, following a real submission scored by a real worker, and
the whole path (upload through the API with a token, from a separate process) to the board."""

import io
import json
import re
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.test import RequestFactory

from leaderboard import services
from leaderboard.models import Submission
from scoring import submit
from tests.processes import scoring_submit, start_gunicorn, stop

REPO = Path(__file__).resolve().parents[2]
EVAL_LOG = REPO / "tests/fixtures/logs/inspect-eval/log_read_sample.eval"
# Inspect AI's arc_easy on three items: it answers A, D and A where the key is A, B and D.
INSPECT_LOG = REPO / "tests/fixtures/logs/inspect-json/data_arc_qwen.json"
PREDICTIONS = REPO / "demo/simpleqa-cs/predictions/gpt-4o-mini-2024-07-18.csv.gz"


def run_cli(*args: str, token: str | None, timeout: float = 180) -> subprocess.CompletedProcess:
    return scoring_submit(*args, token=token, timeout=timeout)


@pytest.mark.django_db(transaction=True)
def test_it_says_an_address_is_no_leaderboard(live_server, make_benchmark, tmp_path):
    make_benchmark()
    predictions = tmp_path / "p.csv"
    predictions.write_text("id,answer\nq1,Paris\n")
    # The benchmark's page given as the site: its /api/... paths are HTML "not found" pages.
    page = f"{live_server.url}/benchmarks/capitals/"
    token = "lb_" + "y" * 40
    result = run_cli(
        "--site", page, "--benchmark", "capitals", "--model", "m", str(predictions), token=token
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"{live_server.url}/benchmarks/capitals/api/benchmarks/capitals/submissions answered "
        "HTTP 404 Not Found with text/html, not the JSON of a leaderboard's API: is "
        f"{live_server.url}/benchmarks/capitals the leaderboard's address?"
    )
    assert token not in result.stderr + result.stdout


def test_django_reads_its_multipart_body_as_the_form_would(tmp_path):
    log = tmp_path / "évaluation «β».eval"
    log.write_bytes(EVAL_LOG.read_bytes())
    with open(log, "rb") as file:
        body = submit.MultipartBody(
            fields={"model_name": "Qwen-中文 «β»", "organisation": "Ústav", "epoch": "1"},
            file_field="file",
            filename=log.name,
            file=file,
        )
        raw = b"".join(body)
    request = RequestFactory().generic("POST", "/", data=raw, content_type=body.content_type)
    assert int(request.META["CONTENT_LENGTH"]) == len(body)
    assert request.POST.dict() == {
        "model_name": "Qwen-中文 «β»",
        "organisation": "Ústav",
        "epoch": "1",
    }
    upload = request.FILES["file"]
    assert upload.name == "évaluation «β».eval"
    assert upload.read() == EVAL_LOG.read_bytes()


# The capitals benchmark: q1 Paris, q2 Shakespeare, q3 Jupiter, q4 Blue.
GOOD = b"id,answer\nq1,paris\nq2,Shakespeare\nq3,Saturn\nq4,I don't know\n"


def create(benchmark, owner, content: bytes, *, queue: bool = True):
    return services.submission_create(
        benchmark=benchmark,
        owner=owner,
        file=ContentFile(content, name="predictions.csv"),
        model_name="tiny-model",
        queue=queue,
    )


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_it_follows_a_submission_until_scored_and_prints_its_scores(
    celery_worker, live_server, user, make_benchmark
):
    submission = create(make_benchmark(), user, GOOD)
    progress = io.StringIO()
    # The site's own status JSON: the body GET /api/submissions/<id> gives too.
    final = submit.follow(
        f"{live_server.url}/submissions/{submission.pk}.json",
        token="lb_" + "z" * 40,
        site=live_server.url,
        submission_id=submission.pk,
        poll_interval=0.05,
        timeout=60,
        progress=progress,
    )
    assert final["status"] == "scored"
    lines = progress.getvalue().splitlines()
    assert lines[-1] == f"#{submission.pk} scored"
    assert all(
        line == f"#{submission.pk} queued" or line.startswith(f"#{submission.pk} scoring ")
        for line in lines[:-1]
    ), lines
    assert len(lines) == len(set(lines)), "one line per change"
    table = submit.scores_table(final, page_url="https://x/submissions/1/")
    assert table.splitlines()[:2] == [
        f"tiny-model on capitals: submission #{submission.pk} scored (https://x/submissions/1/)",
        "4 items, coverage 100.00%; correct 2, incorrect 1, abstained 1 (missing items included)",
    ]
    # Binary: 2/4 right; t = 0.75: (2 − 3·1)/4; t = 0.9: (2 − 9·1)/4; all from the default run.
    assert "  binary (t = 0)     0.5000   [" in table
    assert "  t = 0.75          -0.2500   [" in table
    assert "  t = 0.9           -1.7500   [" in table
    assert table.count("default (same answers)") == 3
    assert "  default    4 of 4 present: correct 2, incorrect 1, abstained 1" in table


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_it_follows_a_rejected_submission_to_its_errors(
    celery_worker, live_server, user, make_benchmark
):
    submission = create(make_benchmark(), user, b"id,answer\nnope,Paris\n")
    final = submit.follow(
        f"{live_server.url}/submissions/{submission.pk}.json",
        token="lb_" + "z" * 40,
        site=live_server.url,
        submission_id=submission.pk,
        poll_interval=0.05,
        timeout=60,
        progress=io.StringIO(),
    )
    assert final["status"] == "rejected"
    assert final["errors"] and "nope" in " ".join(final["errors"])


@pytest.mark.django_db(transaction=True)
def test_it_gives_up_waiting_when_the_time_is_up(live_server, user, make_benchmark):
    # Not queued: nothing will score it.
    submission = create(make_benchmark(), user, GOOD, queue=False)
    progress = io.StringIO()
    with pytest.raises(submit.TimedOut) as timed_out:
        submit.follow(
            f"{live_server.url}/submissions/{submission.pk}.json",
            token="lb_" + "z" * 40,
            site=live_server.url,
            submission_id=submission.pk,
            poll_interval=0.1,
            timeout=0.5,
            progress=progress,
        )
    assert timed_out.value.status == "queued"
    assert progress.getvalue() == f"#{submission.pk} queued\n"


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_it_waits_out_a_site_that_goes_down_while_it_follows(
    worker_env, collected_static, user, make_benchmark, tmp_path
):
    submission = create(make_benchmark(), user, GOOD, queue=False)
    env = {**worker_env, "STATIC_ROOT": str(collected_static)}
    web, site = start_gunicorn(env, tmp_path / "web.log")
    progress = io.StringIO()
    followed = {}

    def follow() -> None:
        followed["final"] = submit.follow(
            f"{site}/submissions/{submission.pk}.json",
            token="lb_" + "z" * 40,
            site=site,
            submission_id=submission.pk,
            poll_interval=0.1,
            timeout=60,
            progress=progress,
        )

    def printed(text: str) -> bool:
        deadline = time.monotonic() + 30
        while text not in progress.getvalue():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    thread = threading.Thread(target=follow)
    thread.start()
    try:
        assert printed(f"#{submission.pk} queued\n")
        stop(web)
        assert printed(": unreachable (")
        # Back on the same address, and the submission is scored meanwhile.
        web, _ = start_gunicorn(env, tmp_path / "web-again.log", options=("--bind", site[7:]))
        services.submission_score(submission_id=submission.pk)
        thread.join(timeout=60)
    finally:
        stop(web)
    assert followed["final"]["status"] == "scored"
    lines = progress.getvalue().splitlines()
    assert lines[0] == f"#{submission.pk} queued"
    # Refused, or cut while it answered when it stopped.
    assert lines[1].startswith(
        f"#{submission.pk} {site}/submissions/{submission.pk}.json: unreachable ("
    )
    assert lines[1].endswith("): looking again")
    assert lines[-1] == f"#{submission.pk} scored"


def api_token(user) -> str:
    """A personal API token of this user, made as the account page makes one."""
    _, token = services.api_token_create(user=user, name="CI")
    return token


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_it_submits_through_the_api_and_the_result_is_on_the_board(
    celery_worker, live_server, user, seeded_simpleqa_cs
):
    token = api_token(user)
    result = run_cli(
        "--site",
        live_server.url + "/",
        "--benchmark",
        "simpleqa-cs",
        "--model",
        "cli-model «β»",
        "--organisation",
        "Example Lab",
        str(PREDICTIONS),
        "--poll-interval",
        "0.2",
        "--timeout",
        "150",
        "--json",
        token=token,
    )
    assert result.returncode == 0, result.stderr
    assert token not in result.stderr + result.stdout
    final = json.loads(result.stdout)
    assert final["status"] == "scored"
    assert final["model"] == "cli-model «β»"
    assert f"uploaded {PREDICTIONS.name} " in result.stderr
    assert result.stderr.rstrip().endswith(f"#{final['id']} scored")
    with urllib.request.urlopen(f"{live_server.url}/benchmarks/simpleqa-cs/leaderboard.json") as r:
        board = json.load(r)
    row = next(row for row in board["rows"] if row["id"] == final["id"])
    assert row["model"] == "cli-model «β»"
    # The same predictions as the seeded gpt-4o-mini row, so the same numbers.
    seeded = next(row for row in board["rows"] if row["model"] == "gpt-4o-mini-2024-07-18")
    assert row["counts"] == seeded["counts"]
    assert row["scores"]["0.9"]["score"] == seeded["scores"]["0.9"]["score"]


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_it_submits_an_inspect_log_as_the_harness_wrote_it(
    celery_worker, live_server, user, make_benchmark
):
    make_benchmark(
        slug="arc-easy", gold="id,answer,n_options\n1,A,4\n2,B,4\n3,D,4\n", grader="choice"
    )
    result = run_cli(
        "--site",
        live_server.url,
        "--benchmark",
        "arc-easy",
        "--model",
        "qwen2.5:0.5b",
        str(INSPECT_LOG),
        "--poll-interval",
        "0.2",
        "--timeout",
        "60",
        token=api_token(user),
    )
    assert result.returncode == 0, result.stderr
    assert "3 items, coverage 100.00%; correct 1, incorrect 2, abstained 0" in result.stdout
    # Binary 1/3; at t = 0.5, (1 − 2)/3.
    assert "  binary (t = 0)     0.3333   [" in result.stdout
    assert "  t = 0.5           -0.3333   [" in result.stdout
    with urllib.request.urlopen(f"{live_server.url}/benchmarks/arc-easy/leaderboard.json") as r:
        board = json.load(r)
    assert [row["model"] for row in board["rows"]] == ["qwen2.5:0.5b"]
    assert board["rows"][0]["counts"]["correct"] == 1


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_file_the_worker_rejects_exits_1_with_its_errors(
    celery_worker, live_server, user, make_benchmark, tmp_path
):
    make_benchmark()
    bad = tmp_path / "bad.csv"
    bad.write_text("id,answer\nnope,Paris\n")
    result = run_cli(
        "--site",
        live_server.url,
        "--benchmark",
        "capitals",
        "--model",
        "m",
        str(bad),
        "--poll-interval",
        "0.2",
        "--timeout",
        "60",
        token=api_token(user),
    )
    assert result.returncode == 1, result.stderr
    assert "rejected" in result.stderr and "nope" in result.stderr


@pytest.mark.django_db(transaction=True)
def test_a_token_the_site_does_not_know_exits_2(live_server, make_benchmark, tmp_path):
    make_benchmark()
    predictions = tmp_path / "p.csv"
    predictions.write_text("id,answer\nq1,Paris\n")
    unknown = "lb_" + "q" * 40
    result = run_cli(
        "--site",
        live_server.url,
        "--benchmark",
        "capitals",
        "--model",
        "m",
        str(predictions),
        token=unknown,
    )
    assert result.returncode == 2
    assert (
        f"Check LEADERBOARD_TOKEN: tokens are created and revoked on {live_server.url}/accounts/."
        in result.stderr
    )
    assert unknown not in result.stderr + result.stdout


@pytest.mark.django_db(transaction=True)
def test_a_benchmark_the_site_does_not_have_exits_2(live_server, user, tmp_path):
    predictions = tmp_path / "p.csv"
    predictions.write_text("id,answer\nq1,Paris\n")
    result = run_cli(
        "--site",
        live_server.url,
        "--benchmark",
        "nothing",
        "--model",
        "m",
        str(predictions),
        token=api_token(user),
    )
    assert result.returncode == 2
    assert "Is 'nothing' the benchmark's slug" in result.stderr


@pytest.mark.django_db(transaction=True)
def test_a_file_refused_at_the_upload_exits_1_with_the_reason(
    live_server, user, make_benchmark, tmp_path
):
    make_benchmark()
    notes = tmp_path / "notes.txt"
    notes.write_text("id,answer\nq1,Paris\n")
    result = run_cli(
        "--site",
        live_server.url,
        "--benchmark",
        "capitals",
        "--model",
        "m",
        str(notes),
        "--json",
        token=api_token(user),
    )
    assert result.returncode == 1
    assert f"{notes}: refused by {live_server.url} (1 error)" in result.stderr
    assert "notes.txt" in json.loads(result.stdout)["errors"][0]


@pytest.mark.django_db(transaction=True)
def test_it_gives_up_when_the_time_is_up_and_names_the_submission(
    live_server, user, make_benchmark, tmp_path
):
    make_benchmark()
    predictions = tmp_path / "p.csv"
    predictions.write_text("id,answer\nq1,Paris\n")
    result = run_cli(
        "--site",
        live_server.url,
        "--benchmark",
        "capitals",
        "--model",
        "m",
        str(predictions),
        "--timeout",
        "0.01",
        token=api_token(user),
    )
    assert result.returncode == 2
    submission = Submission.objects.get(model_name="m")
    page = f"{live_server.url}/submissions/{submission.pk}/"
    assert re.search(
        rf"still (queued|scoring) after 1 s: submission #{submission.pk} is not finished yet\.\n"
        rf"See {re.escape(page)} later \(or GET \S+ with your token\)\.\n$",
        result.stderr,
    ), result.stderr
