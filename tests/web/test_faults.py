"""Faults caused for real, and what the submitter sees after them.

Worker processes are killed with SIGKILL in the middle of scoring, the broker is stopped while a
file is uploaded, and one task is delivered to two workers at once. Each test runs its own worker
processes on a queue of its own, against the test database, and checks that the submission ends
scored (or failed, with its reason) with exactly one result set.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from leaderboard.models import Run, Submission
from tests.processes import (
    Browser,
    children,
    start_gunicorn,
    start_worker,
    stop,
)

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

# Large enough that scoring takes a good part of a second, so a test can catch it under way.
N_ITEMS = 60_000
BIG_GOLD = "id,answer\n" + "".join(f"q{i},answer {i % 97}\n" for i in range(N_ITEMS))
BIG_PREDICTIONS = (
    "id,answer,target\n"
    + "".join(f"q{i},answer {i % 89},\n" for i in range(N_ITEMS))
    + "".join(f"q{i},answer {i % 97},0.9\n" for i in range(0, N_ITEMS, 2))
).encode()
# The default run and the run prompted at t = 0.9.
RUN_KEYS = {"default", "0.9"}


@pytest.fixture
def queue() -> str:
    return f"faults-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def workers(worker_env, queue, tmp_path):
    """Start worker processes on this test's queue; all are stopped when the test ends."""
    started: list[subprocess.Popen] = []

    def start_one(name: str, beat: bool = False, **env: str) -> subprocess.Popen:
        process = start_worker(
            {**worker_env, **env}, tmp_path / f"{name}.log", name=name, queue=queue, beat=beat
        )
        started.append(process)
        return process

    yield start_one
    for process in started:
        stop(process)


@pytest.fixture
def big_benchmark(make_benchmark):
    return make_benchmark(slug="big", gold=BIG_GOLD)


def enqueue(queue: str, submission_id: int) -> None:
    from leaderboard.tasks import score_submission

    score_submission.apply_async((submission_id,), queue=queue)


def wait_for(predicate, what: str, timeout: float = 90, every: float = 0.01):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def state(submission_id: int) -> tuple[str, int]:
    return Submission.objects.values_list("status", "attempts").get(pk=submission_id)


def pool_process(worker: subprocess.Popen) -> int:
    """The pool process of a worker started with --concurrency=1: the one running its task."""
    pids = wait_for(lambda: children(worker.pid), "the worker's pool process")
    assert len(pids) == 1, pids
    return pids[0]


def catch_scoring(submission_id: int, attempt: int, process: int) -> None:
    """Freeze `process` as soon as the submission's `attempt` is under way, then check it is."""
    wait_for(lambda: state(submission_id) == ("scoring", attempt), f"attempt {attempt}")
    os.kill(process, signal.SIGSTOP)
    status, attempts = state(submission_id)
    progress = Submission.objects.values_list("progress", flat=True).get(pk=submission_id)
    assert (status, attempts) == ("scoring", attempt) and progress < 100, (
        "scoring finished before the worker could be stopped; make the file larger"
    )


def handled(log: Path) -> int:
    """How many scoring tasks a worker's log shows as done."""
    return len(re.findall(r"score_submission\[[-0-9a-f]+\] succeeded", log.read_text()))


def assert_one_result_set(submission_id: int) -> Submission:
    submission = Submission.objects.get(pk=submission_id)
    assert submission.status == "scored", (submission.status, submission.errors)
    runs = list(Run.objects.filter(submission_id=submission_id).values_list("key", flat=True))
    assert sorted(runs) == sorted(RUN_KEYS)
    default = submission.runs.get(key="default")
    right = sum(1 for i in range(N_ITEMS) if i % 89 == i % 97)
    assert (default.correct, default.incorrect, default.abstained) == (right, N_ITEMS - right, 0)
    prompted = submission.runs.get(key="0.9")
    assert (prompted.correct, prompted.incorrect) == (N_ITEMS // 2, 0)
    return submission


def test_it_scores_again_when_the_process_scoring_is_killed(
    workers, queue, big_benchmark, user, save_submission, tmp_path
):
    worker = workers("first")
    submission = save_submission(big_benchmark, user, content=BIG_PREDICTIONS)
    enqueue(queue, submission.pk)
    victim = pool_process(worker)
    catch_scoring(submission.pk, attempt=1, process=victim)
    os.kill(victim, signal.SIGKILL)
    # The worker gives the task back (late acknowledgement, requeue on worker loss) and a new
    # pool process scores it from the start.
    wait_for(lambda: state(submission.pk)[0] == "scored", "the submission to be scored", every=0.1)
    scored = assert_one_result_set(submission.pk)
    assert scored.attempts == 2
    log = (tmp_path / "first.log").read_text()
    assert "WorkerLostError" in log and "signal 9" in log
    assert pool_process(worker) != victim


def test_it_scores_in_another_worker_when_a_whole_worker_is_killed(
    workers, queue, big_benchmark, user, save_submission, tmp_path
):
    doomed = workers("doomed")
    submission = save_submission(big_benchmark, user, content=BIG_PREDICTIONS)
    enqueue(queue, submission.pk)
    catch_scoring(submission.pk, attempt=1, process=pool_process(doomed))
    # The machine goes away: no process is left to give the task back.
    os.killpg(doomed.pid, signal.SIGKILL)
    doomed.wait(timeout=10)
    assert state(submission.pk) == ("scoring", 1)
    # Another worker, with the periodic sweep, finds it left scoring past the timeout.
    workers("rescuer", beat=True, SCORING_STALE_AFTER="3", SCORING_SWEEP_EVERY="1")
    wait_for(lambda: state(submission.pk)[0] == "scored", "the submission to be scored", every=0.1)
    scored = assert_one_result_set(submission.pk)
    assert scored.attempts == 2
    assert "score_submission" in (tmp_path / "rescuer.log").read_text()


def test_it_fails_a_file_that_kills_every_worker_after_bounded_tries(
    workers, queue, big_benchmark, user, save_submission, client
):
    worker = workers("unlucky")
    submission = save_submission(big_benchmark, user, content=BIG_PREDICTIONS)
    enqueue(queue, submission.pk)
    for attempt in (1, 2, 3):
        victim = pool_process(worker)
        catch_scoring(submission.pk, attempt=attempt, process=victim)
        os.kill(victim, signal.SIGKILL)
        wait_for(
            lambda victim=victim: victim not in children(worker.pid),
            "the dead process to be replaced",
        )
    wait_for(lambda: state(submission.pk)[0] == "failed", "the submission to fail")
    client.force_login(user)
    data = client.get(f"/submissions/{submission.pk}.json").json()
    assert data["status"] == "failed"
    assert data["errors"] == [
        "Scoring was tried 3 times and never finished. The file is kept and the staff have "
        "been told; a smaller file may help."
    ]
    assert not Run.objects.filter(submission_id=submission.pk).exists()
    page = client.get(f"/submissions/{submission.pk}/").content.decode()
    assert "tried 3 times" in page


def test_it_scores_once_when_two_workers_get_the_same_submission_at_once(
    workers, queue, big_benchmark, user, save_submission, tmp_path
):
    workers("one")
    workers("two")
    submission = save_submission(big_benchmark, user, content=BIG_PREDICTIONS)
    enqueue(queue, submission.pk)
    enqueue(queue, submission.pk)
    wait_for(lambda: state(submission.pk)[0] == "scored", "the submission to be scored", every=0.1)
    # Both workers took a message for it; one claimed it, the other found it taken.
    wait_for(lambda: handled(tmp_path / "one.log") + handled(tmp_path / "two.log") == 2, "both")
    assert handled(tmp_path / "one.log") == handled(tmp_path / "two.log") == 1
    scored = assert_one_result_set(submission.pk)
    assert scored.attempts == 1
    run_ids = set(scored.runs.values_list("pk", flat=True))
    finished_at = scored.finished_at

    # A third message, after the fact (a task delivered again), changes nothing.
    enqueue(queue, submission.pk)
    wait_for(
        lambda: handled(tmp_path / "one.log") + handled(tmp_path / "two.log") == 3,
        "the third message to be handled",
    )
    again = assert_one_result_set(submission.pk)
    assert set(again.runs.values_list("pk", flat=True)) == run_ids
    assert again.finished_at == finished_at and again.attempts == 1


# --- the broker down while a file is uploaded --------------------------------------------------


@pytest.fixture
def web(worker_env, own_redis, queue, collected_static, tmp_path):
    """The site under gunicorn, with the production settings, sending tasks to `own_redis`."""
    env = {
        **worker_env,
        "CELERY_BROKER_URL": own_redis.url,
        "CELERY_QUEUE": queue,
        "STATIC_ROOT": str(collected_static),
    }
    process, url = start_gunicorn(env, tmp_path / "web.log")
    yield url
    stop(process)


def test_it_keeps_an_upload_made_while_the_broker_is_down_and_scores_it_later(
    web, own_redis, workers, queue, make_benchmark, user, client, tmp_path
):
    make_benchmark()
    # The worker runs the sweep beside it, as `celery beat` does in production.
    worker = workers(
        "patient",
        beat=True,
        CELERY_BROKER_URL=own_redis.url,
        SCORING_STALE_AFTER="2",
        SCORING_SWEEP_EVERY="1",
    )
    client.force_login(user)
    browser = Browser(web, client.cookies["sessionid"].value)

    own_redis.stop()
    status, headers, body = browser.post_file(
        "/benchmarks/capitals/submit/",
        {"model_name": "patient-model", "visibility": "public"},
        "predictions.csv",
        b"id,answer\nq1,Paris\nq2,Shakespeare\nq3,Mars\n",
    )
    # Saved and answered: the submitter is sent to the page of a queued submission.
    assert status == 302, body
    submission_id = int(headers["Location"].strip("/").split("/")[-1])
    assert f"Could not queue submission {submission_id}" in (tmp_path / "web.log").read_text()
    status, _, page = browser.request(f"/submissions/{submission_id}/")
    assert status == 200 and "queued" in page
    submission = Submission.objects.get(pk=submission_id)
    assert submission.status == "queued" and Path(submission.file.path).exists()
    time.sleep(3)  # down for longer than the sweep's timeout: nothing may give up meanwhile
    assert state(submission_id) == ("queued", 0)
    assert worker.poll() is None

    own_redis.start()
    # Nobody does anything: the sweep queues it again and the worker scores it.
    wait_for(lambda: state(submission_id)[0] == "scored", "the submission to be scored", every=0.2)
    data = client.get(f"/submissions/{submission_id}.json").json()
    assert data["metrics"]["counts"] == {"correct": 2, "incorrect": 1, "abstained": 1}
    board = client.get("/benchmarks/capitals/leaderboard.json").json()
    assert [row["id"] for row in board["rows"]] == [submission_id]


def test_it_fails_with_its_reason_when_scoring_runs_past_the_time_limit(
    workers, queue, big_benchmark, user, save_submission, client
):
    from leaderboard.tasks import score_submission

    worker = workers("slow")
    submission = save_submission(big_benchmark, user, content=BIG_PREDICTIONS)
    # Time limits travel in the task message, from the settings of whoever queued it.
    score_submission.apply_async((submission.pk,), queue=queue, soft_time_limit=1, time_limit=30)
    scoring = pool_process(worker)
    catch_scoring(submission.pk, attempt=1, process=scoring)
    time.sleep(2)  # frozen mid-scoring past the soft limit, as a file too slow to score would be
    os.kill(scoring, signal.SIGCONT)
    wait_for(lambda: state(submission.pk)[0] == "failed", "the submission to fail", every=0.1)
    client.force_login(user)
    data = client.get(f"/submissions/{submission.pk}.json").json()
    assert data["errors"] == [
        "Scoring took longer than the site allows and was stopped. The file is kept; a smaller "
        "file (fewer rows or runs) will score faster."
    ]
    assert not Run.objects.filter(submission_id=submission.pk).exists()
