"""`/submissions/<id>.json`: the documented shape (README, "A submission as JSON"), its values
checked by hand, and nothing more than the scored result holds."""

import pytest

from leaderboard import services
from leaderboard.models import Run

pytestmark = pytest.mark.django_db

# The capitals benchmark: q1 Paris (geography), q2 Shakespeare (literature), q3 Jupiter and
# q4 Blue (science). The default run answers q1 right and q2 wrong with stated confidences,
# abstains on q3 and leaves q4 out; the run prompted at 0.75 answers q1 and q3 right, q4 wrong,
# and abstains on q2.
FILE = (
    b"id,answer,confidence,target\n"
    b"q1,Paris,0.9,\n"
    b"q2,Hamlet,0.6,\n"
    b"q3,I don't know,,\n"
    b"q1,Paris,,0.75\n"
    b"q2,I don't know,,0.75\n"
    b"q3,Jupiter,,0.75\n"
    b"q4,Red,,0.75\n"
)

STATUS_FIELDS = [
    "id",
    "benchmark",
    "model",
    "organisation",
    "visibility",
    "status",
    "progress",
    "errors",
    "n_errors",
    "created_at",
    "finished_at",
    "source",
]
RESULT_FIELDS = [
    "n_items",
    "self_graded",
    "primary_run",
    "coverage",
    "accuracy",
    "error_rate",
    "abstention_rate",
    "accuracy_given_attempted",
    "f1",
    "counts",
    "intervals",
    "scores",
    "runs",
    "columns",
]
RUN_FIELDS = [
    "key",
    "target",
    "n_items",
    "present",
    "coverage",
    "accuracy",
    "error_rate",
    "abstention_rate",
    "accuracy_given_attempted",
    "f1",
    "counts",
    "intervals",
    "behaviourally_calibrated",
    "has_confidence",
    "scores_abstaining_below",
    "confidence_calibration",
    "categories",
    "categories_not_shown",
]
RATES = ("accuracy", "error_rate", "abstention_rate", "accuracy_given_attempted")


@pytest.fixture
def scored(client, user, make_benchmark, save_submission):
    benchmark = make_benchmark()
    submission = save_submission(benchmark, user, FILE, model_name="probe", organisation="Lab")
    services.submission_score(submission_id=submission.pk)
    return submission


def test_it_gives_the_status_until_scored(client, user, make_benchmark, save_submission):
    submission = save_submission(make_benchmark(), user, FILE, model_name="probe")
    data = client.get(f"/submissions/{submission.pk}.json").json()
    assert list(data) == STATUS_FIELDS
    assert (data["status"], data["progress"], data["errors"], data["n_errors"]) == (
        "queued",
        0,
        [],
        0,
    )
    assert data["finished_at"] is None


def test_it_gives_the_documented_shape_once_scored(client, scored):
    data = client.get(f"/submissions/{scored.pk}.json").json()
    assert list(data) == [*STATUS_FIELDS, "metrics"]
    assert data["id"] == scored.pk
    assert (data["benchmark"], data["model"], data["organisation"]) == ("capitals", "probe", "Lab")
    assert (data["status"], data["progress"], data["errors"]) == ("scored", 100, [])
    metrics = data["metrics"]
    assert list(metrics) == RESULT_FIELDS
    assert list(metrics["intervals"]) == list(RATES)
    assert list(metrics["scores"]) == ["0", "0.5", "0.75", "0.9"]
    for cell in metrics["scores"].values():
        assert list(cell) == ["score", "prompted", "run", "interval"]
    assert [run["key"] for run in metrics["runs"]] == ["default", "0.75"]
    for run in metrics["runs"]:
        assert list(run) == RUN_FIELDS
        assert list(run["counts"]) == ["correct", "incorrect", "abstained"]
        assert list(run["intervals"]) == list(RATES)


def test_its_numbers_are_those_worked_out_by_hand(client, scored):
    metrics = client.get(f"/submissions/{scored.pk}.json").json()["metrics"]
    # The headline run is the default one: 1 right, 1 wrong, 2 abstained (q4 left out) of 4.
    assert (metrics["n_items"], metrics["self_graded"], metrics["primary_run"]) == (
        4,
        False,
        "default",
    )
    assert metrics["counts"] == {"correct": 1, "incorrect": 1, "abstained": 2}
    assert metrics["coverage"] == 0.75
    assert (metrics["accuracy"], metrics["error_rate"], metrics["abstention_rate"]) == (
        0.25,
        0.25,
        0.5,
    )
    assert metrics["accuracy_given_attempted"] == 0.5
    assert metrics["f1"] == pytest.approx(2 * 0.25 * 0.5 / 0.75)

    # (C − t/(1 − t)·W) / N, from the run prompted at t where there is one, else the default.
    scores = metrics["scores"]
    assert {key: cell["score"] for key, cell in scores.items()} == pytest.approx(
        {"0": 1 / 4, "0.5": (1 - 1) / 4, "0.75": (2 - 3 * 1) / 4, "0.9": (1 - 9 * 1) / 4}
    )
    assert {key: (cell["prompted"], cell["run"]) for key, cell in scores.items()} == {
        "0": (False, "default"),
        "0.5": (False, "default"),
        "0.75": (True, "0.75"),
        "0.9": (False, "default"),
    }

    default, prompted = metrics["runs"]
    assert (default["target"], default["n_items"], default["present"]) == (None, 4, 3)
    assert (prompted["target"], prompted["n_items"], prompted["present"]) == (0.75, 4, 4)
    assert prompted["counts"] == {"correct": 2, "incorrect": 1, "abstained": 1}
    assert (prompted["coverage"], prompted["accuracy"], prompted["error_rate"]) == (1.0, 0.5, 0.25)
    assert prompted["accuracy_given_attempted"] == pytest.approx(2 / 3)
    # Right on 2 of the 3 it answered, when told to answer only above 75% confidence.
    assert (default["behaviourally_calibrated"], prompted["behaviourally_calibrated"]) == (
        None,
        False,
    )
    assert (default["has_confidence"], prompted["has_confidence"]) == (True, False)
    # Abstaining below t drops the wrong answer (stated 0.6) from t = 0.75 on.
    assert default["scores_abstaining_below"] == pytest.approx(
        {"0": 0.25, "0.5": 0.0, "0.75": 0.25, "0.9": 0.25}
    )
    assert prompted["scores_abstaining_below"] == {}
    assert default["confidence_calibration"]["n_answered"] == 2
    assert prompted["confidence_calibration"] is None
    assert default["categories"] == {
        "geography": {
            "n_items": 1,
            "correct": 1,
            "incorrect": 0,
            "abstained": 0,
            "accuracy": 1.0,
            "error_rate": 0.0,
            "abstention_rate": 0.0,
        },
        "literature": {
            "n_items": 1,
            "correct": 0,
            "incorrect": 1,
            "abstained": 0,
            "accuracy": 0.0,
            "error_rate": 1.0,
            "abstention_rate": 0.0,
        },
        "science": {
            "n_items": 2,
            "correct": 0,
            "incorrect": 0,
            "abstained": 2,
            "accuracy": 0.0,
            "error_rate": 0.0,
            "abstention_rate": 1.0,
        },
    }
    assert default["categories_not_shown"] == 0
    assert metrics["columns"] == {
        "used": {"id": "id", "answer": "answer", "confidence": "confidence", "target": "target"},
        "ignored": [],
    }


def test_its_intervals_are_the_stored_bootstrap_intervals(client, scored):
    metrics = client.get(f"/submissions/{scored.pk}.json").json()["metrics"]
    stored = {run.key: run.intervals for run in Run.objects.filter(submission=scored)}
    for run in metrics["runs"]:
        assert run["intervals"] == {name: stored[run["key"]][name] for name in RATES}
        for name in RATES:
            low, high = run["intervals"][name]
            assert low <= run[name] <= high
    assert metrics["intervals"] == metrics["runs"][0]["intervals"]
    for key, cell in metrics["scores"].items():
        assert cell["interval"] == stored[cell["run"]]["scores"][key]
        assert cell["interval"][0] <= cell["score"] <= cell["interval"][1]


def test_it_agrees_with_the_leaderboard_json_where_both_say_the_same(client, scored):
    metrics = client.get(f"/submissions/{scored.pk}.json").json()["metrics"]
    (row,) = client.get("/benchmarks/capitals/leaderboard.json").json()["rows"]
    for name in ("coverage", *RATES, "f1"):
        assert metrics[name] == row[name]
    assert metrics["intervals"] == row["intervals"]
    assert metrics["counts"] == {
        name: row["counts"][name] for name in ("correct", "incorrect", "abstained")
    }
    for key, cell in metrics["scores"].items():
        for name in ("score", "prompted", "interval"):
            assert cell[name] == row["scores"][key][name]
