"""What people click, in a real browser: sign up, upload, watch the status turn scored."""

import os
import re
import signal
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.browser,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
]


def test_it_takes_a_new_user_from_signup_to_the_board(
    celery_worker, page, live_server, make_benchmark, tmp_path
):
    # Public gold: the new account uploads before confirming its address.
    make_benchmark(gold_public=True)
    page.goto("/")
    page.get_by_role("link", name="Sign up").click()
    page.fill("#id_username", "hopper")
    page.fill("#id_email", "grace@example.org")
    page.fill("#id_password1", "compilers-since-1952")
    page.fill("#id_password2", "compilers-since-1952")
    page.get_by_role("button", name="Create account").click()
    page.get_by_text("Log out hopper").wait_for()

    page.get_by_role("link", name="Capitals").first.click()
    page.get_by_role("link", name="Submit predictions").click()
    predictions = tmp_path / "predictions.jsonl"
    predictions.write_text(
        '{"id": "q1", "answer": "Paris"}\n'
        '{"id": "q2", "answer": "Marlowe"}\n'
        '{"id": "q3", "answer": "Jupiter"}\n'
        '{"id": "q4", "abstain": true}\n'
    )
    page.fill("#id_model_name", "careful-model")
    page.fill("#id_organisation", "Harvard Mark I")
    page.set_input_files("#id_file", str(predictions))
    # The worker is paused, so the page is certain to open before the scoring ends.
    os.killpg(celery_worker.pid, signal.SIGSTOP)
    try:
        page.get_by_role("button", name="Upload and score").click()
        page.wait_for_url("**/submissions/*/")
        assert page.locator("#status-text").inner_text() == "queued"
    finally:
        os.killpg(celery_worker.pid, signal.SIGCONT)

    # The status page follows the scoring by itself, with no reload from the user.
    page.get_by_role("heading", name="Outcomes").wait_for(timeout=60_000)
    assert page.locator("#status-text").inner_text() == "scored"
    table = page.locator("table.paper").inner_text()
    assert "50.0%" in table  # 2 of 4 correct
    assert "25.0%" in table  # 1 wrong, 1 abstained

    page.get_by_role("link", name="Capitals").click()
    assert "careful-model" in page.locator(".columns").inner_text()


def test_it_confirms_an_address_before_a_hidden_gold_upload(
    page, live_server, make_benchmark, mailoutbox, tmp_path
):
    make_benchmark(gold_public=False)
    page.goto("/accounts/signup/?next=/benchmarks/capitals/submit/")
    page.fill("#id_username", "noether")
    page.fill("#id_email", "emmy@example.org")
    page.fill("#id_password1", "invariants-of-1918")
    page.fill("#id_password2", "invariants-of-1918")
    page.get_by_role("button", name="Create account").click()
    page.locator("#needs-confirmation").wait_for()
    assert page.locator("#id_file").count() == 0

    (link,) = re.findall(r"http://\S+/accounts/confirm/\S+/", mailoutbox[0].body)
    page.goto(link)
    page.get_by_role("button", name="Confirm emmy@example.org").click()
    assert "emmy@example.org is confirmed" in page.locator(".messages").inner_text()

    page.goto("/benchmarks/capitals/submit/")
    predictions = tmp_path / "predictions.csv"
    predictions.write_text("id,answer\nq1,Paris\nq2,Marlowe\nq3,Jupiter\nq4,Blue\n")
    page.fill("#id_model_name", "confirmed-model")
    page.set_input_files("#id_file", str(predictions))
    page.get_by_role("button", name="Upload and score").click()
    page.wait_for_url("**/submissions/*/")
    assert "confirmed-model" in page.locator("h1").inner_text()


# What the status said when the page was left, kept for the next page of the same tab.
KEEP_STATUS_ON_LEAVING = """
window.addEventListener("pagehide", () => {
  const status = document.getElementById("status-text");
  if (status) sessionStorage.setItem("statusWhenLeft", status.textContent);
});
"""


def test_it_shows_scored_before_the_page_reloads_with_the_results(
    page, make_benchmark, user, save_submission
):
    from leaderboard import services

    submission = save_submission(make_benchmark(), user, b"id,answer\nq1,Paris\nq2,Marlowe\n")
    page.add_init_script(KEEP_STATUS_ON_LEAVING)
    page.goto("/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", "a-long-passphrase-1")
    page.get_by_role("button", name="Log in").click()
    page.get_by_text(f"Log out {user.username}").wait_for()
    page.goto(f"/submissions/{submission.pk}/")
    assert page.locator("#status-text").inner_text() == "queued"

    services.submission_score(submission_id=submission.pk)
    page.get_by_role("heading", name="Outcomes").wait_for(timeout=30_000)
    assert page.locator("#status-text").inner_text() == "scored"
    # The status had turned already on the page that followed the scoring, before the reload
    # that brought the results.
    assert page.evaluate("() => sessionStorage.getItem('statusWhenLeft')") == "scored"


ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def table_models(page) -> list[str]:
    return page.locator("table.board tbody tr td:nth-child(2) > a").all_inner_texts()


def test_it_lets_a_reader_see_the_board_reorder(page, seeded_simpleqa_cs):
    page.set_viewport_size({"width": 1300, "height": 900})
    page.goto("/")
    assert "claude-3-5-sonnet-20240620" in page.locator(".card").inner_text()
    screenshot(page, "home")
    page.get_by_role("link", name="SimpleQA in Czech").click()
    assert "falls to #4" in page.locator("#headline").inner_text()
    # plotly.js, served by the site itself, drew all three charts.
    for chart in ("#bump-chart", "#curves-chart", "#outcomes-chart"):
        page.locator(f"{chart} .main-svg").first.wait_for()
    screenshot(page, "benchmark")
    assert table_models(page)[0] == "gpt-4o-2024-11-20"
    page.locator(".sort-link", has_text="t = 0.9").click()
    page.wait_for_url("**?sort=0.9#table")
    assert table_models(page)[0] == "claude-3-5-sonnet-20240620"
    assert table_models(page)[3] == "gpt-4o-2024-11-20"
    # The model's name leads to its page across benchmarks, and on to the submission.
    page.locator("table.board").get_by_role("link", name="claude-3-5-sonnet-20240620").click()
    page.locator("#model-ranks-chart .main-svg").first.wait_for()
    page.locator(".model-benchmark").get_by_role("link", name="claude-3-5-sonnet-20240620").click()
    page.get_by_role("heading", name="Scores by rubric").wait_for()
    assert "1 of 5" in page.locator("table", has_text="wrong costs").inner_text()
    page.locator("#categories-chart .main-svg").first.wait_for()
    screenshot(page, "submission")

    # Back past the model's page to the board.
    page.go_back()
    page.go_back()
    page.locator("table.board input[type=checkbox]").nth(0).check()
    page.locator("table.board input[type=checkbox]").nth(3).check()
    page.get_by_role("button", name="Compare the ticked models").click()
    page.wait_for_url("**/compare/?ids=*")
    agreement = page.locator("#agreement").inner_text()
    assert "abstained" in agreement and "incorrect" in agreement
    screenshot(page, "compare")


def test_it_draws_the_reference_lines_on_the_score_chart(page, seeded_simpleqa_cs):
    page.goto("/benchmarks/simpleqa-cs/")
    chart = page.locator("#curves-chart")
    chart.locator(".main-svg").first.wait_for()
    assert chart.locator(".legendtext", has_text="abstain on everything (reference)").count() == 1
    assert chart.locator(".annotation-text", has_text="abstain on everything").count() == 1
    assert "abstain on everything" in page.locator(".rank-column li.baseline").first.inner_text()


def test_it_draws_the_calibration_of_a_submission(page, make_benchmark, user, save_submission):
    from leaderboard import services

    benchmark = make_benchmark(
        slug="calibrated", gold="id,answer\n" + "".join(f"q{i},a{i}\n" for i in range(30))
    )
    rows = ["id,answer,target,confidence"]
    rows += [f"q{i},{'a' if i % 4 else 'x'}{i},,{(i % 10) / 10 + 0.05:.2f}" for i in range(30)]
    rows += [f"q{i},{'a' if i % 6 else 'x'}{i},0.75," for i in range(24)]
    submission = save_submission(
        benchmark, user, content=("\n".join(rows) + "\n").encode(), model_name="careful"
    )
    services.submission_score(submission_id=submission.pk)
    page.set_viewport_size({"width": 1300, "height": 900})
    page.goto(f"/submissions/{submission.pk}/")
    page.get_by_role("heading", name="Behavioural calibration").wait_for()
    for chart in ("#behaviour-chart", "#chart-figure-reliability-0", "#chart-figure-risk-0"):
        page.locator(f"{chart} .main-svg").first.wait_for()
    assert "Expected calibration error" in page.locator("dl.stats").inner_text()
    screenshot(page, "calibration")
    page.locator("main").get_by_role("link", name="How scores are computed").click()
    page.get_by_role("heading", name="Significance-aware ranks").wait_for()


def test_it_offers_the_filters_an_lm_eval_log_holds(page, make_benchmark, user, tmp_path):
    # A samples file holding two filters, as lm-evaluation-harness writes one line per sample and
    # filter: the real file's samples, each under both filters.
    real = Path(__file__).resolve().parents[1] / "fixtures" / "logs" / "lm-eval"
    (source,) = real.glob("samples_*.jsonl")
    lines = [
        line.replace('"filter": "none"', f'"filter": "{name}"')
        for name in ("strict-match", "flexible-extract")
        for line in source.read_text().splitlines()
    ]
    log = tmp_path / f"{source.stem}.jsonl"
    log.write_text("\n".join(lines) + "\n")
    make_benchmark()
    page.goto("/accounts/login/?next=/benchmarks/capitals/submit/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", "a-long-passphrase-1")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/benchmarks/capitals/submit/")
    assert page.locator("#filters-found option").count() == 0

    page.set_input_files("#id_file", str(log))
    page.locator("#log-options-found").wait_for()
    options = page.locator("#filters-found option")
    assert [options.nth(i).get_attribute("value") for i in range(options.count())] == [
        "flexible-extract",
        "strict-match",
    ]
    assert page.locator("#log-options-found").inner_text() == (
        "In this file: filters flexible-extract, strict-match."
    )
    assert page.locator("#id_filter").get_attribute("list") == "filters-found"

    # An Inspect log: its one epoch and one scorer are offered, and nothing needs choosing.
    page.set_input_files("#id_file", str(real.parent / "inspect-json" / "data_arc_qwen.json"))
    page.locator("#scorers-found option").first.wait_for(state="attached")
    assert page.locator("#scorers-found option").get_attribute("value") == "choice"
    assert page.locator("#epochs-found option").get_attribute("value") == "1"
    assert page.locator("#filters-found option").count() == 0
    assert page.locator("#log-options-found").is_hidden()

    # A file of ours: nothing is offered.
    csv = tmp_path / "predictions.csv"
    csv.write_text("id,answer\nq1,Paris\n")
    page.set_input_files("#id_file", str(csv))
    page.locator("#scorers-found option").wait_for(state="detached")
    assert page.locator("#epochs-found option").count() == 0
