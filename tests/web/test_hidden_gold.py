"""Hidden gold stays hidden: the attacks that rebuilt a hidden answer key, replayed by an ordinary
user through the site's pages and JSON, each learning no more than the README states.

The bound (README, "Guarantees"): what one upload reveals is, per run, its counts, and one pair of
counts per category or calibration bin shown, each over at least K answered items. An attacker
who knows what they uploaded turns every figure into such constraints: a set of their own items
and how many of them the key holds a given letter for. The tests collect every constraint the
site gives and check that none is over fewer than K items, then count what the attack pinned.
"""

from __future__ import annotations

import io
import json
import re

import numpy as np
import plotly.io
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

import scoring
from leaderboard import services
from leaderboard.models import Submission

pytestmark = pytest.mark.django_db

K = 25
N = 300
LETTERS = "ABCD"
KEY = list(np.random.default_rng(20261202).choice(list(LETTERS), size=N))
# Six categories, two of them smaller than K.
CATEGORY_SIZES = {"algebra": 100, "biology": 80, "chemistry": 60, "drama": 40, "ethics": 15}
CATEGORY_SIZES["folklore"] = N - sum(CATEGORY_SIZES.values())
CATEGORIES = [name for name, size in CATEGORY_SIZES.items() for _ in range(size)]


@pytest.fixture
def hidden(make_benchmark, settings):
    settings.HIDDEN_GOLD_MIN_ITEMS = K
    gold = "id,answer,category\n" + "".join(f"q{i},{KEY[i]},{CATEGORIES[i]}\n" for i in range(N))
    return make_benchmark(slug="hidden-choice", gold=gold, grader="choice", gold_public=False)


def upload(client, benchmark, content: bytes, model: str = "probe") -> dict:
    """Upload through the form as the logged-in user, score it in-process, read its JSON."""
    response = client.post(
        f"/benchmarks/{benchmark.slug}/submit/",
        {"model_name": model, "visibility": "public", "file": SimpleUploadedFile("p.csv", content)},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    submission = Submission.objects.filter(benchmark=benchmark).latest("created_at")
    services.submission_score(submission_id=submission.pk)
    return client.get(f"/submissions/{submission.pk}.json").json()


def csv(rows: list[tuple[int, str, float | None, float | None]]) -> bytes:
    out = io.StringIO()
    out.write("id,answer,confidence,target\n")
    for item, answer, confidence, target in rows:
        out.write(f"q{item},{answer},{'' if confidence is None else confidence},")
        out.write(f"{'' if target is None else target}\n")
    return out.getvalue().encode()


# --- the attacker's side: every figure as constraints ---------------------------------------------


def constraints_of_run(run: dict, answered: dict[int, float]) -> list[tuple[frozenset, int]]:
    """Every (items, how many of them are right) a run's figures give, for a run that answered
    `answered` (item → stated confidence).

    Figures over answers ordered by confidence (curve points, bins, scores abstaining below t)
    are counts over the most confident answers down to some cut; all the cuts of all of them
    together split the answers into cells, each with a known count.
    """
    n_items = run["n_items"]
    order = sorted(answered, key=lambda item: -answered[item])
    confs = np.array([answered[item] for item in order])
    counts = run["counts"]
    cuts = {len(order): counts["correct"]}  # the run itself: every answer, its count right
    calibration = run["confidence_calibration"]
    if calibration:
        curve = calibration["risk_coverage"]
        n = calibration["n_answered"]
        assert n == len(order)
        for coverage, risk in zip(curve["coverage"], curve["risk"], strict=True):
            kept = round(coverage * n)
            cuts[kept] = round(kept - risk * kept)
        # Bins, from the most confident down: cumulative counts at each bin's lower edge.
        right = 0
        for row in reversed(calibration["bins"]):
            right += round((row["accuracy"] or 0) * row["n"])
            cuts[int(np.count_nonzero(confs >= row["low"]))] = right
    for key, score in run["scores_abstaining_below"].items():
        if score is None:
            continue
        t = float(key)
        kept = int(np.count_nonzero(confs >= t))
        # score · N = C − t/(1 − t) · W with C + W = kept: solve for C.
        penalty = t / (1 - t)
        cuts[kept] = round((score * n_items + penalty * kept) / (1 + penalty))
    cuts.setdefault(0, 0)
    edges = sorted(cuts)
    return [
        (frozenset(order[low:high]), cuts[high] - cuts[low])
        for low, high in zip(edges, edges[1:], strict=False)
    ]


def pin(constraints: list[tuple[str, frozenset, int]]) -> dict[int, str]:
    """Items whose key letter the constraints force, by propagation to a fixed point."""
    known: dict[int, str] = {}
    ruled_out: dict[int, set[str]] = {}
    changed = True
    while changed:
        changed = False
        for letter, items, right in constraints:
            open_items = [i for i in items if i not in known and letter not in ruled_out.get(i, ())]
            left = right - sum(1 for i in items if known.get(i) == letter)
            if open_items and left == 0:
                for i in open_items:
                    ruled_out.setdefault(i, set()).add(letter)
                changed = True
            elif open_items and left == len(open_items):
                for i in open_items:
                    known[i] = letter
                changed = True
        for i, out in ruled_out.items():
            if i not in known and len(out) == len(LETTERS) - 1:
                known[i] = next(letter for letter in LETTERS if letter not in out)
                changed = True
    return known


def figure_points(html: str, element_id: str) -> list[float]:
    found = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html)
    assert found, element_id
    figure = plotly.io.from_json(found.group(1).replace("\\u003c", "<").replace("\\u003e", ">"))
    return [float(x) for x in figure.data[0].x]


# --- the attacks ---------------------------------------------------------------------------------


def test_the_risk_coverage_oracle_learns_no_more_than_counts_over_k_items(client, user, hidden):
    """The issue's attack: runs of at most 101 answers, each answer with its own confidence, so
    that the curve's points would step one answer at a time; one letter per upload."""
    client.force_login(user)
    constraints = []
    steps = []
    for upload_number, letter in enumerate("ABC"):
        rows, answered = [], {}
        for r, target in enumerate((None, 0.5, 0.75)):
            answered[target] = {}
            for j in range(100):
                item = 100 * r + j
                confidence = round(0.99 - 0.0098 * j, 4)
                rows.append((item, letter, confidence, target))
                answered[target][item] = confidence
        metrics = upload(client, hidden, csv(rows), model=f"probe-{upload_number}")["metrics"]
        submission = Submission.objects.latest("created_at")
        html = client.get(f"/submissions/{submission.pk}/").content.decode()
        for index, run in enumerate(sorted(metrics["runs"], key=lambda r: r["target"] or 0)):
            target = run["target"]
            for items, right in constraints_of_run(run, answered[target]):
                constraints.append((letter, items, right))
                steps.append(len(items))
            # The page draws the same coarse curve the JSON gives.
            points = figure_points(html, f"figure-risk-{index}")
            assert points == run["confidence_calibration"]["risk_coverage"]["coverage"]
    # No figure, alone or cut against the others, covers fewer than K answers.
    assert min(steps) >= K
    # Against the 300/300 of the attack on pages that kept a point per answer.
    learned = pin(constraints)
    assert len(learned) < K
    # The best guess the counts allow, item by item, is far from the key.
    share = {}
    for letter, items, right in constraints:
        for i in items:
            share.setdefault(i, {})[letter] = right / len(items)
    guess = [max(LETTERS, key=lambda x: share.get(i, {}).get(x, 0.25)) for i in range(N)]
    assert sum(g == k for g, k in zip(guess, KEY, strict=True)) < N // 2


def test_single_item_runs_are_rejected_whatever_the_item_holds(client, user, hidden):
    client.force_login(user)
    right_letter, wrong_letter = KEY[0], next(x for x in LETTERS if x != KEY[0])
    seen = []
    for letter in (right_letter, wrong_letter):
        rows = [(0, letter, None, None), (1, letter, None, 0.5)]
        rows += [(i, "I don't know", None, None) for i in range(2, N)]
        status = upload(client, hidden, csv(rows))
        assert status["status"] == "rejected"
        assert "metrics" not in status
        seen.append(status["errors"])
    # The answer to the probe is the same whether its one answer was right or wrong.
    assert (
        seen[0]
        == seen[1]
        == [
            'run "default" answers 1 item (abstentions do not count); this benchmark\'s answers '
            "are hidden, so every run must answer at least 25",
            'run "0.5" answers 1 item (abstentions do not count); this benchmark\'s answers are '
            "hidden, so every run must answer at least 25",
        ]
    )
    submission = Submission.objects.latest("created_at")
    html = client.get(f"/submissions/{submission.pk}/").content.decode()
    assert "every run must answer at least 25" in html


def test_runs_at_other_targets_are_rejected_with_the_allowed_ones(client, user, hidden):
    client.force_login(user)
    rows = [(i, "A", None, None) for i in range(N)] + [(i, "A", None, 0.6) for i in range(N)]
    status = upload(client, hidden, csv(rows))
    assert status["status"] == "rejected"
    assert status["errors"] == [
        "row 302: target 0.6 is not a target of this benchmark; its answers are hidden, so runs "
        "are limited to its targets (0.5, 0.75, 0.9) and the default run (rows without a target)"
    ]


def test_categories_with_few_answers_are_left_out_and_said_so(client, user, hidden):
    client.force_login(user)
    rows = [(i, "A", None, None) for i in range(N)]
    metrics = upload(client, hidden, csv(rows))["metrics"]
    run = metrics["runs"][0]
    # ethics and folklore hold 20 items together: drama, the smallest row left, joins them, or
    # the run's counts minus the rows shown would be a figure over 20 items.
    assert sorted(run["categories"]) == ["algebra", "biology", "chemistry"]
    assert all(row["n_items"] >= K for row in run["categories"].values())
    assert run["categories_not_shown"] == 3
    submission = Submission.objects.latest("created_at")
    html = client.get(f"/submissions/{submission.pk}/").content.decode()
    assert "3 categories are not shown: this benchmark's answers are hidden" in html
    assert "ethics" not in html and "folklore" not in html and "drama" not in html


def test_compare_differencing_learns_nothing_beyond_the_two_runs_counts(
    client, user, hidden, settings
):
    """Two submissions that differ in one item: the compare page shows neither the agreement
    matrix nor the paired resamples, whose cells would say how that item was graded."""
    settings.SUBMISSION_DAILY_QUOTA = 7
    client.force_login(user)
    everything = [(i, "A", None, None) for i in range(N)]
    one_less = [(0, "I don't know", None, None)] + everything[1:]
    upload(client, hidden, csv(everything), model="all-A")
    upload(client, hidden, csv(one_less), model="all-A-but-one")
    ids = ",".join(str(pk) for pk in Submission.objects.order_by("pk").values_list("pk", flat=True))
    page = client.get(f"/benchmarks/{hidden.slug}/compare/?ids={ids}")
    assert page.status_code == 200
    assert page.context["agreement"] is None
    assert page.context["shares"] == {}
    html = page.content.decode()
    assert 'id="agreement"' not in html and 'id="paired"' not in html
    assert "The item-by-item comparison is not shown" in html
    # Answers differing on the same single item but both given: a cell of one item, withheld.
    other = [(0, "B", None, None)] + everything[1:]
    upload(client, hidden, csv(other), model="all-A-but-B")
    last_two = Submission.objects.order_by("-pk").values_list("pk", flat=True)[:2]
    page = client.get(f"/benchmarks/{hidden.slug}/compare/?ids={last_two[1]},{last_two[0]}")
    assert page.context["agreement"] is None and page.context["shares"] == {}
    # Two models right on about 40% and 70% of the items, independently, are still set side by
    # side: every cell holds dozens of items, and their counts are far more than K apart.
    rng = np.random.default_rng(5)
    for number, share in enumerate((0.4, 0.7)):
        wrong = {letter: next(x for x in LETTERS if x != letter) for letter in LETTERS}
        rows = [
            (i, KEY[i] if rng.random() < share else wrong[KEY[i]], None, None) for i in range(N)
        ]
        upload(client, hidden, csv(rows), model=f"model-{number}")
    last_two = Submission.objects.order_by("-pk").values_list("pk", flat=True)[:2]
    page = client.get(f"/benchmarks/{hidden.slug}/compare/?ids={last_two[1]},{last_two[0]}")
    agreement = page.context["agreement"]
    assert agreement is not None and agreement["n"] == N
    assert page.context["shares"]
    assert "not shown" not in page.content.decode()
    # Counts fewer than K apart, on dozens of items each way: the matrix is shown, but not which
    # scores higher in the resamples, as the board never tells such a pair apart either.
    wrong = {letter: next(x for x in LETTERS if x != letter) for letter in LETTERS}
    for model, right in (("first-150", range(0, 150)), ("from-30", range(30, 190))):
        rows = [(i, KEY[i] if i in right else wrong[KEY[i]], None, None) for i in range(N)]
        upload(client, hidden, csv(rows), model=model)
    last_two = Submission.objects.order_by("-pk").values_list("pk", flat=True)[:2]
    page = client.get(f"/benchmarks/{hidden.slug}/compare/?ids={last_two[1]},{last_two[0]}")
    assert page.context["agreement"] is not None
    assert page.context["shares"] == {}


def test_nothing_on_the_pages_of_a_hidden_benchmark_covers_fewer_than_k(client, user, hidden):
    """Every figure of a scored upload, as the JSON and the exports give them."""
    client.force_login(user)
    rng = np.random.default_rng(9)
    rows = [(i, rng.choice(list(LETTERS)), round(float(rng.random()), 3), None) for i in range(N)]
    rows += [(i, "A", 0.8, 0.9) for i in range(40)]
    metrics = upload(client, hidden, csv(rows))["metrics"]
    for run in metrics["runs"]:
        answered = run["counts"]["correct"] + run["counts"]["incorrect"]
        assert answered >= K
        calibration = run["confidence_calibration"]
        if calibration:
            assert all(row["n"] >= K for row in calibration["bins"] if row["n"])
            assert calibration["brier"] is None
            kept = [
                round(c * calibration["n_answered"])
                for c in calibration["risk_coverage"]["coverage"]
            ]
            assert min(np.diff([0, *kept])) >= K
        for score in run["scores_abstaining_below"].values():
            assert score is None or isinstance(score, float)
    assert len(metrics["runs"]) == 2


def test_hiding_a_benchmarks_gold_rescores_what_was_scored_in_full(
    client, admin_client, user, make_benchmark, settings
):
    settings.HIDDEN_GOLD_MIN_ITEMS = K
    gold = "id,answer\n" + "".join(f"q{i},{KEY[i]}\n" for i in range(N))
    benchmark = make_benchmark(slug="was-open", gold=gold, grader="choice", gold_public=True)
    client.force_login(user)
    rows = [(j, "A", round(0.99 - 0.0098 * j, 4), None) for j in range(100)]
    metrics = upload(client, benchmark, csv(rows))["metrics"]
    assert len(metrics["runs"][0]["confidence_calibration"]["risk_coverage"]["coverage"]) == 100
    submission = Submission.objects.get(benchmark=benchmark)

    form = {
        "name": benchmark.name,
        "slug": benchmark.slug,
        "description": "",
        "source": "",
        "grader": "choice",
        "targets": "0.5, 0.75, 0.9",
        "abstention_phrases": "\n".join(benchmark.abstention_phrases),
        "min_coverage": "0",
        "numeric_tolerance": "1e-06",
        "visibility": "published",
        "gold_public": "on",
    }
    change = f"/admin/leaderboard/benchmark/{benchmark.pk}/change/"
    assert admin_client.post(change, form).status_code == 302
    submission.refresh_from_db()
    assert submission.status == Submission.Status.SCORED  # nothing changed, nothing rescored

    assert admin_client.post(change, {**form, "gold_public": ""}).status_code == 302
    submission.refresh_from_db()
    assert submission.status == Submission.Status.QUEUED
    assert "metrics" not in client.get(f"/submissions/{submission.pk}.json").json()
    services.submission_score(submission_id=submission.pk)
    run = client.get(f"/submissions/{submission.pk}.json").json()["metrics"]["runs"][0]
    kept = [round(c * 100) for c in run["confidence_calibration"]["risk_coverage"]["coverage"]]
    assert min(np.diff([0, *kept])) >= K


def test_the_board_never_tells_apart_two_runs_within_k_items(client, user, hidden, make_benchmark):
    """Whether one submission beats another beyond noise turns, for two that differ in a few
    items, on which of those few are right: on a hidden board such a pair stays tied."""
    client.force_login(user)
    everything = [(i, KEY[i], None, None) for i in range(N)]
    five_less = [(i, "I don't know", None, None) for i in range(5)] + everything[5:]
    gold = "id,answer\n" + "".join(f"q{i},{KEY[i]}\n" for i in range(N))
    public = make_benchmark(slug="open-choice", gold=gold, grader="choice", gold_public=True)
    ranges = {}
    for benchmark in (hidden, public):
        upload(client, benchmark, csv(everything), model="all")
        upload(client, benchmark, csv(five_less), model="five-less")
        board = client.get(f"/benchmarks/{benchmark.slug}/leaderboard.json").json()
        ranges[benchmark.slug] = {
            row["model"]: row["scores"]["0"]["rank_range"] for row in board["rows"]
        }
    # Five answers right apart: beyond noise where the gold is public, tied where it is hidden.
    assert ranges["open-choice"] == {"all": [1, 1], "five-less": [2, 2]}
    assert ranges["hidden-choice"] == {"all": [1, 2], "five-less": [1, 2]}


def _values(data) -> set:
    """Every number, text, truth value and null a JSON document holds, wherever it holds it."""
    if isinstance(data, dict):
        return set().union(*(_values(value) for value in data.values()))
    if isinstance(data, list):
        return set().union(*(_values(value) for value in data))
    return {data}


def test_the_submission_json_gives_nothing_the_scored_result_does_not(client, user, hidden):
    """The JSON is built from the stored result: on a hidden benchmark it gives no figure, and
    names no category, beyond scoring's own object for the file (what it used to send whole)."""
    client.force_login(user)
    rng = np.random.default_rng(11)
    rows = [(i, rng.choice(list(LETTERS)), round(float(rng.random()), 3), None) for i in range(N)]
    rows += [(i, "A", None, 0.75) for i in range(60)]
    metrics = upload(client, hidden, csv(rows))["metrics"]
    config = hidden.config()
    gold = hidden.gold()
    predictions = scoring.read_predictions(csv(rows), filename="p.csv", gold=gold, config=config)
    scored = json.loads(json.dumps(scoring.score_predictions(gold, predictions, config).to_dict()))
    assert _values(metrics) <= _values(scored)
    for run, scored_run in zip(metrics["runs"], scored["runs"], strict=True):
        assert run["categories"] == scored_run["categories"]
        assert run["categories_not_shown"] == scored_run["categories_not_shown"] > 0
