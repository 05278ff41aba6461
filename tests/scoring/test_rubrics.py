"""Runs and rubrics: which run scores each rubric, and the headline metrics of a submission."""

import dataclasses
import json
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scoring
from scoring import (
    BenchmarkConfig,
    FileRejected,
    read_gold,
    read_predictions,
    score_file,
    score_predictions,
    scores,
)
from scoring.scores import RunScore

GOLD = b"id,answer\n1,a\n2,b\n3,c\n4,d\n"


def score(predictions: bytes, **config):
    config = BenchmarkConfig(grader="exact", **config)
    gold = read_gold(GOLD, filename="gold.csv", grader="exact")
    rows = read_predictions(predictions, filename="predictions.csv", gold=gold, config=config)
    return score_predictions(gold, rows, config)


def test_it_scores_every_rubric_from_the_default_run_as_same_answers():
    result = score(b"id,answer\n1,a\n2,b\n3,x\n")
    assert [run.key for run in result.runs] == ["default"]
    for key, expected in {"0": 0.5, "0.5": 0.25, "0.75": -0.25, "0.9": -0.25 - 1.5}.items():
        rubric = result.rubrics[key]
        assert rubric.score == pytest.approx(expected)
        assert not rubric.prompted
        assert rubric.run_key == "default"


def test_it_scores_a_rubric_from_the_run_prompted_at_its_target():
    result = score(
        b"id,answer,target\n"
        b"1,a,\n2,b,\n3,x,\n4,y,\n"  # default: C = 2, W = 2
        b"1,a,0.75\n2,I don't know,0.75\n"  # prompted at 0.75: C = 1, W = 0
    )
    assert [run.key for run in result.runs] == ["default", "0.75"]
    assert result.rubrics["0.75"].prompted
    assert result.rubrics["0.75"].run_key == "0.75"
    assert result.rubrics["0.75"].score == pytest.approx(0.25)
    assert not result.rubrics["0.5"].prompted
    assert result.rubrics["0.5"].score == pytest.approx(0)
    assert result.primary.key == "default"
    assert result.to_dict()["accuracy"] == pytest.approx(0.5)


def test_it_matches_targets_equal_within_1e_9():
    result = score(b"id,answer,target\n1,a,0.7500000004\n2,b,0.75\n")
    assert [run.key for run in result.runs] == ["0.75"]
    assert result.runs[0].correct == 2
    assert result.rubrics["0.75"].prompted


def test_it_keeps_targets_further_apart_as_separate_runs():
    result = score(b"id,answer,confidence_target\n1,a,0.751\n2,b,0.75\n")
    assert [run.key for run in result.runs] == ["0.75", "0.751"]
    assert result.rubrics["0.75"].score == pytest.approx(0.25)


def test_it_uses_the_t_0_run_for_binary_when_only_targeted_runs_exist():
    result = score(b"id,answer,t\n1,a,0\n2,b,0\n3,c,0\n1,a,0.5\n")
    assert [run.key for run in result.runs] == ["0", "0.5"]
    assert result.rubrics["0"].prompted
    assert result.rubrics["0"].score == pytest.approx(0.75)
    assert result.rubrics["0.5"].score == pytest.approx(0.25)
    assert result.rubrics["0.75"].score is None
    assert result.primary.key == "0"
    assert result.to_dict()["scores"]["0.75"] is None


def test_it_has_no_binary_score_when_only_targeted_runs_without_t_0_exist():
    result = score(b"id,answer,target\n1,a,0.5\n2,x,0.5\n3,c,0.9\n")
    assert result.rubrics["0"].score is None
    assert result.rubrics["0"].run_key is None
    assert result.rubrics["0.5"].score == pytest.approx(0)
    assert result.rubrics["0.9"].score == pytest.approx(0.25)
    # the headline metrics come from the lowest target
    assert result.primary.key == "0.5"
    assert result.to_dict()["scores"] == {
        "0": None,
        "0.5": pytest.approx(0),
        "0.75": None,
        "0.9": pytest.approx(0.25),
    }


def test_it_prefers_a_t_0_run_to_the_default_run_for_binary():
    result = score(b"id,answer,target\n1,a,\n2,x,\n1,a,0\n2,b,0\n")
    assert result.rubrics["0"].prompted
    assert result.rubrics["0"].score == pytest.approx(0.5)
    # the default run still holds the headline metrics
    assert result.primary.key == "default"
    assert result.primary.correct == 1


def test_it_names_runs_after_the_benchmark_target_they_match():
    result = score(b"id,answer,target\n1,a,0.49999999999\n", targets=(0.5,))
    assert result.runs[0].key == "0.5"
    assert result.runs[0].target == 0.5


def test_it_gives_the_cli_object_of_the_spec():
    result = score(b"id,answer,confidence\n1,a,0.9\n2,x,0.2\n")
    data = result.to_dict()
    assert set(data) >= {
        "n_items",
        "coverage",
        "counts",
        "accuracy",
        "error_rate",
        "abstention_rate",
        "accuracy_given_attempted",
        "f1",
        "scores",
        "runs",
    }
    assert data["n_items"] == 4
    assert data["counts"] == {"correct": 1, "incorrect": 1, "abstained": 2}
    assert list(data["scores"]) == ["0", "0.5", "0.75", "0.9"]
    assert data["runs"][0]["key"] == "default"
    assert "outcomes" not in data["runs"][0]
    assert data["rubrics"]["0.5"] == {
        "target": 0.5,
        "score": pytest.approx(0),
        "prompted": False,
        "run": "default",
        # One item of four right and one wrong, resampled with the default seed.
        "interval": [-0.75, 0.75],
    }
    assert data["self_graded"] is False


def test_it_refuses_a_benchmark_config_that_makes_no_sense():
    with pytest.raises(ValueError, match="grader"):
        BenchmarkConfig(grader="fuzzy")
    for target in (0, 1, 1.5, -0.1, float("nan")):
        with pytest.raises(ValueError, match="target"):
            BenchmarkConfig(grader="exact", targets=(target,))
    with pytest.raises(ValueError, match="min_coverage"):
        BenchmarkConfig(grader="exact", min_coverage=1.5)


def test_it_sorts_and_deduplicates_targets():
    config = BenchmarkConfig(grader="exact", targets=(0.9, 0.5, 0.5000000001, 0.75))
    assert config.targets == (0.5, 0.75, 0.9)
    assert config.rubrics == (0.0, 0.5, 0.75, 0.9)


def test_a_benchmark_config_travels_as_json_with_every_setting():
    config = BenchmarkConfig(
        grader="numeric",
        targets=(0.8,),
        abstention_phrases=("pass",),
        min_coverage=0.5,
        numeric_tolerance=0.01,
        max_bytes=1000,
        seed=42,
        n_resamples=10,
    )
    data = json.loads(json.dumps(config.to_dict()))
    assert set(data) == {setting.name for setting in dataclasses.fields(BenchmarkConfig)}
    assert data["targets"] == [0.8] and data["abstention_phrases"] == ["pass"]
    assert BenchmarkConfig.from_dict(data) == config
    # Other keys of benchmark.json are not settings; settings left out take their defaults.
    assert BenchmarkConfig.from_dict(
        {"grader": "exact", "items": [], "benchmark": "b"}
    ) == BenchmarkConfig(grader="exact")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "no grader"),
        ({"grader": 3}, "grader 3 is not a text"),
        ({"grader": "exact", "targets": 0.5}, "targets 0.5 is not a list"),
        ({"grader": "exact", "targets": ["x"]}, "could not convert"),
        ({"grader": "exact", "targets": [{}]}, "float"),
        ({"grader": "exact", "seed": -1}, "seed -1 is not a whole number ≥ 0"),
        ({"grader": "exact", "seed": 1.5}, "seed 1.5 is not a whole number"),
        ({"grader": "exact", "n_resamples": True}, "n_resamples True is not a whole number"),
        ({"grader": "exact", "min_coverage": "0.5"}, "min_coverage '0.5' is not a number"),
        ({"grader": "exact", "min_coverage": 2}, "min_coverage 2 is not in"),
    ],
)
def test_it_refuses_settings_read_back_that_make_no_sense(data, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        BenchmarkConfig.from_dict(data)


def test_it_scores_files_from_their_paths(tmp_path):
    (tmp_path / "gold.csv").write_bytes(GOLD)
    (tmp_path / "predictions.jsonl").write_text('{"id": 1, "answer": "a"}\n')
    result = score_file(
        tmp_path / "gold.csv",
        tmp_path / "predictions.jsonl",
        gold_filename="gold.csv",
        predictions_filename="predictions.jsonl",
        config=BenchmarkConfig(grader="exact", targets=(0.5,)),
    )
    assert result.to_dict()["scores"] == {"0": 0.25, "0.5": 0.25}


def test_it_rejects_a_file_before_scoring_it(tmp_path):
    (tmp_path / "gold.csv").write_bytes(GOLD)
    with pytest.raises(FileRejected):
        score_file(
            tmp_path / "gold.csv",
            b"id,answer\n7,a\n",
            gold_filename="gold.csv",
            predictions_filename="p.csv",
            config=BenchmarkConfig(grader="exact"),
        )


def _run(target: float | None) -> RunScore:
    return RunScore(
        target=target,
        key="default" if target is None else scoring.target_key(target),
        n_items=1,
        present=1,
        correct=0,
        incorrect=0,
        abstained=1,
        coverage=1.0,
        accuracy=0.0,
        error_rate=0.0,
        abstention_rate=1.0,
        accuracy_given_attempted=0.0,
        f1=0.0,
    )


# A submission's runs as scoring makes them: a default run or not, then targets in order (two
# within 1e-9 of each other never both: they are one run).
_submission_runs = st.tuples(
    st.booleans(), st.sets(st.sampled_from([0.0, 1e-10, 0.5, 0.75, 0.9, 0.95]), max_size=4)
).map(
    lambda drawn: [
        *([_run(None)] if drawn[0] else []),
        *(_run(t) for t in sorted({round(t, 6) for t in drawn[1]})),
    ]
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(_submission_runs, max_size=8),
    st.sampled_from([0.0, 1e-10, 0.5, 0.75, 0.9]),
    st.randoms(use_true_random=False),
)
def test_a_board_applies_the_rubric_and_headline_policies_as_a_result_does(submissions, t, random):
    # The policies for many submissions at once, as a board applies them to its runs in columns
    # (runs of all submissions mixed, each submission's in its own order), choose for each
    # submission the very run the policies for one submission choose.
    runs = [(at, run) for at, own in enumerate(submissions) for run in own]
    random.shuffle(runs)
    runs.sort(key=lambda pair: scores.run_order(pair[1].target))
    owner = np.array([at for at, _ in runs], dtype=np.int64)
    targets = np.array([np.nan if run.target is None else run.target for _, run in runs])
    # Some submissions were not scored under this rubric.
    asked = np.array([t if random.random() < 0.8 else np.nan for _ in submissions])
    chosen, prompted = scores.rubric_runs(owner, targets, asked)
    primary = scores.primary_runs(owner, targets, len(submissions))
    for at, own in enumerate(submissions):
        got = runs[chosen[at]][1] if chosen[at] >= 0 else None
        if np.isnan(asked[at]) or not own:
            assert got is None and not prompted[at]
        else:
            expected, was_prompted = scores.rubric_run(own, t)
            assert got is expected and bool(prompted[at]) == was_prompted
        headline = runs[primary[at]][1] if primary[at] >= 0 else None
        assert headline is (scores.primary_run(own) if own else None)
