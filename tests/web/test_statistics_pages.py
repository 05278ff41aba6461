"""The statistics a reader sees: intervals, significance-aware ranks, behavioural calibration,
stated confidences, and the page that explains them."""

import io
import json
import re

import numpy as np
import pandas as pd
import pytest

import scoring
from leaderboard import services

pytestmark = pytest.mark.django_db

GOLD = "id,answer\n" + "".join(f"q{i},a{i}\n" for i in range(60))


@pytest.fixture
def benchmark(make_benchmark):
    return make_benchmark(slug="stats", gold=GOLD, targets=[0.5, 0.9])


@pytest.fixture
def submit(benchmark, user, save_submission):
    def submit(model: str, content: str):
        submission = save_submission(benchmark, user, content=content.encode(), model_name=model)
        services.submission_score(submission_id=submission.pk)
        submission.refresh_from_db()
        assert submission.status == "scored", submission.errors
        return submission

    return submit


def answers(right: range, wrong: range, target: str = "", confidence=None) -> str:
    lines = []
    for i in right:
        lines.append((f"q{i}", f"a{i}"))
    for i in wrong:
        lines.append((f"q{i}", "x"))
    rows = []
    for n, (item, answer) in enumerate(lines):
        stated = "" if confidence is None else f"{confidence(n):.2f}"
        rows.append(f"{item},{answer},{target},{stated}")
    return "\n".join(rows) + "\n"


HEADER = "id,answer,target,confidence\n"


def figure(page: str, element_id: str) -> dict:
    found = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', page)
    assert found, f"no figure {element_id}"
    return json.loads(found.group(1))


def test_it_exports_intervals_and_significance_aware_ranks(client, submit):
    submit("steady", HEADER + answers(range(0, 40), range(40, 45)))
    submit("bluffer", HEADER + answers(range(0, 42), range(42, 60)))
    board = client.get("/benchmarks/stats/leaderboard.json").json()
    by_model = {row["model"]: row for row in board["rows"]}
    # Binary: 42 against 40 right of 60, within noise; at 0.9: 40 − 9·5 against 42 − 9·18.
    assert by_model["bluffer"]["scores"]["0"]["rank"] == 1
    assert by_model["bluffer"]["scores"]["0"]["rank_range"] == [1, 2]
    assert by_model["steady"]["scores"]["0.9"]["rank_range"] == [1, 1]
    assert by_model["bluffer"]["scores"]["0.9"]["rank_range"] == [2, 2]
    for row in board["rows"]:
        low, high = row["scores"]["0.9"]["interval"]
        assert low <= row["scores"]["0.9"]["score"] <= high
        assert row["intervals"]["accuracy"][0] <= row["accuracy"] <= row["intervals"]["accuracy"][1]

    frame = pd.read_csv(io.BytesIO(client.get("/benchmarks/stats/leaderboard.csv").content))
    for position, row in enumerate(board["rows"]):
        assert frame["score_low_0.9"][position] == pytest.approx(
            row["scores"]["0.9"]["interval"][0]
        )
        assert frame["rank_significant_0"][position] == row["scores"]["0"]["rank_significant"]
        assert frame["rank_low_0"][position] == row["scores"]["0"]["rank_range"][1]
        assert frame["accuracy_high"][position] == pytest.approx(row["intervals"]["accuracy"][1])

    page = client.get("/benchmarks/stats/").content.decode()
    assert "(tied 1–2)" in page
    assert 'href="/how-scores-are-computed/"' in page


def test_it_draws_intervals_as_error_bars(client, submit):
    steady = submit("steady", HEADER + answers(range(0, 40), range(40, 45)))
    page = client.get("/benchmarks/stats/").content.decode()
    curves = figure(page, "figure-curves")
    markers = [trace for trace in curves["data"] if trace.get("mode") == "markers"]
    assert len(markers) == 1 and markers[0]["x"] == [0.0, 0.5, 0.9]
    rubrics = steady.result().rubrics
    low, high = rubrics["0.9"].interval
    score = rubrics["0.9"].score
    assert markers[0]["error_y"]["array"][2] == pytest.approx(high - score)
    assert markers[0]["error_y"]["arrayminus"][2] == pytest.approx(score - low)
    outcomes = figure(page, "figure-outcomes")
    correct = next(trace for trace in outcomes["data"] if trace["name"] == "correct")
    accuracy_low, accuracy_high = steady.result().runs[0].intervals["accuracy"]
    assert correct["error_x"]["array"][0] == pytest.approx(accuracy_high - 40 / 60)
    assert correct["error_x"]["arrayminus"][0] == pytest.approx(40 / 60 - accuracy_low)


def test_it_shows_behavioural_calibration_of_prompted_runs(client, user, submit):
    # Prompted at 0.5: 30 right, 10 wrong → 75% of the answered, calibrated at 0.5.
    # Prompted at 0.9: 40 right, 10 wrong → 80% < 90%, not calibrated.
    content = (
        HEADER
        + answers(range(0, 50), range(50, 60))
        + answers(range(0, 30), range(30, 40), target="0.5")
        + answers(range(0, 40), range(40, 50), target="0.9")
    )
    submission = submit("prompted", content)
    client.force_login(user)
    page = client.get(f"/submissions/{submission.pk}/").content.decode()
    table = page[page.index('id="behaviour"') :]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", table[: table.index("</table>")], re.S)
    assert cells[:7] == ["0.5", "75.0%", cells[2], "16.7%", "33.3%", "0.333", cells[6]]
    assert "yes" in cells[6]
    assert cells[7:10] == ["0.9", "80.0%", cells[9]] and "no: below t" in cells[13]
    chart = figure(page, "figure-behaviour")
    diagonal, model = chart["data"]
    assert diagonal["x"] == [0, 1] and diagonal["y"] == [0, 1]
    assert model["x"] == [0.5, 0.9] and model["y"] == pytest.approx([0.75, 0.8])
    assert model["marker"]["symbol"] == ["circle", "x"]

    board = client.get("/benchmarks/stats/").content.decode()
    assert 'id="behaviour"' in board and "figure-behaviour" in board
    row = client.get("/benchmarks/stats/leaderboard.json").json()["rows"][0]
    assert [run["calibrated"] for run in row["behavioural_calibration"]] == [True, False]
    # The rubric at 0.9 takes its score from the run prompted there, and says so.
    assert row["scores"]["0.9"]["prompted"] is True
    assert row["scores"]["0.9"]["score"] == pytest.approx((40 - 9 * 10) / 60)


def test_it_shows_how_well_stated_confidences_match(client, user, submit):
    rng = np.random.default_rng(5)
    confidence = rng.random(60)
    content = HEADER + answers(range(0, 40), range(40, 60), confidence=lambda n: confidence[n])
    submission = submit("confident", content)
    run = submission.runs.get()
    stated = np.round(confidence, 2)
    outcomes = np.array([scoring.OUTCOME_CORRECT] * 40 + [scoring.OUTCOME_INCORRECT] * 20)
    expected = scoring.statistics.confidence_calibration(outcomes, stated)
    assert run.confidence_calibration["ece"] == pytest.approx(expected["ece"])
    assert run.confidence_calibration["brier"] == pytest.approx(
        np.mean((stated - (np.arange(60) < 40)) ** 2)
    )
    client.force_login(user)
    page = client.get(f"/submissions/{submission.pk}/").content.decode()
    assert "Expected calibration error" in page and f"{expected['ece']:.3f}" in page
    assert f"{expected['aurc']:.3f}" in page
    reliability = figure(page, "figure-reliability-0")
    bars = next(trace for trace in reliability["data"] if trace["type"] == "bar")
    assert sum(1 for bin in expected["bins"] if bin["n"]) == len(bars["y"])
    risk = figure(page, "figure-risk-0")["data"][0]
    assert risk["x"][-1] == 1.0 and risk["y"][-1] == pytest.approx(20 / 60)
    # Beside each score, what abstaining below t would have scored.
    assert "abstaining below t" in page
    below = run.scores_abstaining_below["0.9"]
    assert f"{below:.3f}".replace("-", "−") in page
    data = client.get(f"/submissions/{submission.pk}.json").json()
    assert data["metrics"]["runs"][0]["confidence_calibration"]["ece"] == pytest.approx(
        expected["ece"]
    )


def test_it_explains_every_statistic_on_one_page(client, db):
    page = client.get("/how-scores-are-computed/").content.decode()
    for words in (
        "(<var>C</var> − <var>t</var>/(1 − <var>t</var>) · <var>W</var>) / <var>N</var>",
        "1,000 times",
        "97.5%",
        "tied 2–4",
        "behaviourally calibrated",
        "expected calibration error",
        "Brier score",
        "AURC",
        "Kendall's τ<sub>b</sub>",
    ):
        assert words in page, words


def test_it_says_on_the_compare_page_whether_a_difference_is_real(client, submit):
    steady = submit("steady", HEADER + answers(range(0, 40), range(40, 45)))
    bluffer = submit("bluffer", HEADER + answers(range(0, 42), range(42, 60)))
    page = client.get(f"/benchmarks/stats/compare/?ids={steady.pk},{bluffer.pk}").content.decode()
    table = page[page.index('id="paired"') : page.index("</table>", page.index('id="paired"'))]
    rows = re.findall(
        r"<tr><td>(.*?)</td><td[^>]*>(.*?)</td><td[^>]*>(.*?)</td>\s*<td>(.*?)</td></tr>",
        table,
        re.S,
    )
    verdicts = {label: (first, second, verdict.strip()) for label, first, second, verdict in rows}
    # Bluffer is right wherever steady is, and on two more items: never below it, and above it
    # in every resample that draws one of those two, which most but not 97.5% do.
    counts = scoring.statistics.bootstrap_counts(
        [
            scoring.decode_outcomes(steady.runs.get().outcomes),
            scoring.decode_outcomes(bluffer.runs.get().outcomes),
        ],
        seed=steady.benchmark.pk,
    )
    above = np.mean(counts[1][0] > counts[0][0])
    assert 0.5 < above < 0.975
    assert verdicts["binary"] == (
        "0.0% of resamples",
        f"{above * 100:.1f}% of resamples",
        "within noise",
    )
    # At 0.9 steady's 15 abstentions against bluffer's 15 more wrong answers outweigh the two
    # items only bluffer gets right, in all but the rarest resamples.
    steady_at_09 = counts[0][0] - 9 * counts[0][1]
    bluffer_at_09 = counts[1][0] - 9 * counts[1][1]
    share = np.mean(steady_at_09 > bluffer_at_09)
    assert share >= 0.975
    assert verdicts["t = 0.9"][0] == f"{share * 100:.1f}% of resamples"
    assert verdicts["t = 0.9"][2] == "steady is ahead beyond noise"


def test_it_ranks_plainly_while_a_submission_lacks_its_bootstrap(client, submit):
    from leaderboard.models import Run

    steady = submit("steady", HEADER + answers(range(0, 40), range(40, 45)))
    submit("bluffer", HEADER + answers(range(0, 42), range(42, 60)))
    # As left by a release that kept no bootstraps.
    Run.objects.filter(submission=steady).update(bootstrap=None)
    services.benchmark_results_changed(benchmark_id=steady.benchmark_id)
    rows = client.get("/benchmarks/stats/leaderboard.json").json()["rows"]
    assert [row["scores"]["0.9"]["rank"] for row in rows] == [2, 1]
    assert all(row["scores"][key]["rank_range"] is None for row in rows for key in ("0", "0.9"))
    page = client.get("/benchmarks/stats/").content.decode()
    assert "2 of 2 models change rank; the binary leader bluffer falls to #2" in page
    assert "noise" not in page.split('id="headline"')[1].split("</p>")[0]
