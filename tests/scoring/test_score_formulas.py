"""Every formula of SPEC §5, against cases computed by hand."""

import math

import numpy as np
import pytest

from scoring import (
    OUTCOME_CORRECT,
    OUTCOME_INCORRECT,
    OUTCOME_MISSING,
    BenchmarkConfig,
    metrics,
    penalty,
    read_gold,
    read_predictions,
    score_at_target,
    score_predictions,
    target_key,
)

GOLD = b"id,answer\n" + b"".join(b"q%d,a%d\n" % (i, i) for i in range(1, 11))


def score(predictions: bytes, **config):
    config = BenchmarkConfig(grader="exact", **config)
    gold = read_gold(GOLD, filename="gold.csv", grader="exact")
    rows = read_predictions(predictions, filename="predictions.csv", gold=gold, config=config)
    return score_predictions(gold, rows, config)


def test_it_penalises_a_wrong_answer_t_over_one_minus_t():
    assert penalty(0) == 0
    assert penalty(0.5) == 1
    assert penalty(0.75) == 3
    assert penalty(0.9) == pytest.approx(9)
    assert np.allclose(penalty(np.array([0.5, 0.75])), [1, 3])


def test_it_scores_correct_minus_penalty_times_wrong_over_n():
    # C = 6, W = 3, N = 10
    assert score_at_target(6, 3, 10, 0) == pytest.approx(0.6)
    assert score_at_target(6, 3, 10, 0.5) == pytest.approx(0.3)
    assert score_at_target(6, 3, 10, 0.75) == pytest.approx(-0.3)
    assert score_at_target(6, 3, 10, 0.9) == pytest.approx(-2.1)


def test_it_scores_many_targets_at_once_for_a_curve():
    targets = np.array([0, 0.5, 0.75, 0.9])
    assert np.allclose(score_at_target(6, 3, 10, targets), [0.6, 0.3, -0.3, -2.1])


def test_it_computes_the_rates_of_a_run():
    assert metrics.accuracy(6, 10) == pytest.approx(0.6)
    assert metrics.error_rate(3, 10) == pytest.approx(0.3)
    assert metrics.abstention_rate(1, 10) == pytest.approx(0.1)
    assert metrics.coverage(8, 10) == pytest.approx(0.8)
    assert metrics.accuracy_given_attempted(6, 3) == pytest.approx(6 / 9)
    assert metrics.f1(0.6, 6 / 9) == pytest.approx(2 * 0.6 * (6 / 9) / (0.6 + 6 / 9))


def test_it_gives_zero_when_nothing_was_attempted():
    assert metrics.accuracy_given_attempted(0, 0) == 0
    assert metrics.f1(0, 0) == 0


def test_it_scores_abstaining_below_t_from_stated_confidences():
    outcomes = np.array(
        [OUTCOME_CORRECT, OUTCOME_CORRECT, OUTCOME_INCORRECT, OUTCOME_INCORRECT, OUTCOME_MISSING]
    )
    confidence = np.array([0.9, 0.4, 0.8, 0.3, np.nan])
    # at t = 0.5 the second and fourth items become abstentions: C = 1, W = 1
    assert metrics.score_abstaining_below(outcomes, confidence, 0.5) == pytest.approx(0)
    # at t = 0.85 only the first is answered: C = 1, W = 0
    assert metrics.score_abstaining_below(outcomes, confidence, 0.85) == pytest.approx(0.2)
    assert metrics.score_abstaining_below(outcomes, confidence, 0) == pytest.approx(0.4)


def test_it_writes_targets_as_the_shortest_decimal():
    assert target_key(0) == "0"
    assert target_key(0.5) == "0.5"
    assert target_key(0.75) == "0.75"
    assert target_key(0.9) == "0.9"
    assert target_key(0.1 + 0.2) == "0.3"


def test_it_scores_a_file_as_computed_by_hand():
    # 10 items: 6 right, 3 wrong, 1 "I don't know"; none missing
    rows = (
        b"id,answer\n"
        + b"".join(b"q%d,a%d\n" % (i, i) for i in range(1, 7))
        + b"q7,x\nq8,y\nq9,z\nq10,I don't know\n"
    )
    result = score(rows)
    run = result.primary
    assert (run.correct, run.incorrect, run.abstained, run.present) == (6, 3, 1, 10)
    assert result.to_dict()["scores"] == pytest.approx(
        {"0": 0.6, "0.5": 0.3, "0.75": -0.3, "0.9": -2.1}
    )
    assert run.accuracy_given_attempted == pytest.approx(6 / 9)
    assert run.f1 == pytest.approx(2 * 0.6 * (6 / 9) / (0.6 + 6 / 9))


def test_it_counts_missing_items_as_abstained_and_lowers_coverage():
    rows = b"id,answer\nq1,a1\nq2,a2\nq3,wrong\n"
    result = score(rows)
    run = result.primary
    assert (run.correct, run.incorrect, run.abstained, run.present) == (2, 1, 7, 3)
    assert run.coverage == pytest.approx(0.3)
    assert run.abstention_rate == pytest.approx(0.7)
    assert list(run.outcomes[:4]) == [
        OUTCOME_CORRECT,
        OUTCOME_CORRECT,
        OUTCOME_INCORRECT,
        OUTCOME_MISSING,
    ]
    assert result.rubrics["0.75"].score == pytest.approx((2 - 3 * 1) / 10)


def test_it_scores_abstaining_below_t_in_a_file_with_confidences():
    rows = (
        b"id,answer,confidence\n"
        b"q1,a1,0.95\nq2,a2,0.6\nq3,a3,0.2\nq4,wrong,0.7\nq5,wrong,0.3\nq6,I don't know,0.1\n"
    )
    run = score(rows).primary
    assert run.has_confidence
    # t = 0.5: q3 and q5 fall below: C = 2, W = 1
    assert run.scores_abstaining_below["0.5"] == pytest.approx((2 - 1) / 10)
    # t = 0.75: only q1 stays: C = 1, W = 0
    assert run.scores_abstaining_below["0.75"] == pytest.approx(0.1)
    # t = 0: nothing falls below and wrong answers cost nothing
    assert run.scores_abstaining_below["0"] == pytest.approx(0.3)
    assert set(run.scores_abstaining_below) == {"0", "0.5", "0.75", "0.9"}


def test_it_leaves_abstaining_below_empty_without_confidences():
    run = score(b"id,answer\nq1,a1\n").primary
    assert not run.has_confidence
    assert run.scores_abstaining_below == {}


def test_it_counts_each_category():
    gold = read_gold(
        b"id,answer,category\n1,a,x\n2,b,x\n3,c,y\n4,d,\n", filename="g.csv", grader="exact"
    )
    config = BenchmarkConfig(grader="exact")
    rows = read_predictions(
        b"id,answer\n1,a\n2,z\n3,\n", filename="p.csv", gold=gold, config=config
    )
    run = score_predictions(gold, rows, config).primary
    assert run.categories == {
        "x": {
            "n_items": 2,
            "correct": 1,
            "incorrect": 1,
            "abstained": 0,
            "accuracy": 0.5,
            "error_rate": 0.5,
            "abstention_rate": 0.0,
        },
        "y": {
            "n_items": 1,
            "correct": 0,
            "incorrect": 0,
            "abstained": 1,
            "accuracy": 0.0,
            "error_rate": 0.0,
            "abstention_rate": 1.0,
        },
    }


def test_it_reports_no_categories_when_the_gold_has_none():
    assert score(b"id,answer\nq1,a1\n").primary.categories == {}


def test_it_keeps_scores_finite_and_plain_in_the_json_object():
    result = score(b"id,answer\nq1,a1\n").to_dict()
    for value in result["scores"].values():
        assert isinstance(value, float) and math.isfinite(value)
    assert result["counts"] == {"correct": 1, "incorrect": 0, "abstained": 9}
    assert all(type(v) is int for v in result["counts"].values())
