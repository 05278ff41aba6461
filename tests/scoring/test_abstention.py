"""Abstentions, for every grader: never correct, never incorrect."""

import json

import pytest

from scoring import (
    OUTCOME_ABSTAINED,
    OUTCOME_CORRECT,
    OUTCOME_INCORRECT,
    OUTCOME_MISSING,
    BenchmarkConfig,
    read_gold,
    read_predictions,
    score_predictions,
)

A, C, W, M = OUTCOME_ABSTAINED, OUTCOME_CORRECT, OUTCOME_INCORRECT, OUTCOME_MISSING

GOLDS = {
    "exact": b"id,answer\n1,Paris\n2,Rome\n3,Oslo\n4,Bern\n5,Kyiv\n6,Riga\n",
    "choice": b"id,answer\n1,A\n2,B\n3,C\n4,D\n5,E\n6,F\n",
    "numeric": b"id,answer\n1,1\n2,2\n3,3\n4,4\n5,5\n6,6\n",
    "pregraded": b"id,answer\n1,Paris\n2,Rome\n3,Oslo\n4,Bern\n5,Kyiv\n6,Riga\n",
}
RIGHT = {
    "exact": ["Paris", "Rome", "Oslo", "Bern", "Kyiv", "Riga"],
    "choice": ["A", "B", "C", "D", "E", "F"],
    "numeric": ["1", "2", "3", "4", "5", "6"],
    "pregraded": ["Paris", "Rome", "Oslo", "Bern", "Kyiv", "Riga"],
}


def outcomes(grader: str, rows: list[dict], **config) -> list[int]:
    config = BenchmarkConfig(grader=grader, **config)
    gold = read_gold(GOLDS[grader], filename="gold.csv", grader=grader)
    data = "".join(json.dumps(row) + "\n" for row in rows).encode()
    predictions = read_predictions(data, filename="p.jsonl", gold=gold, config=config)
    return list(score_predictions(gold, predictions, config).primary.outcomes)


@pytest.mark.parametrize("grader", ["exact", "choice", "numeric", "pregraded"])
def test_it_counts_every_kind_of_abstention_as_abstained(grader):
    right = RIGHT[grader]
    rows = [
        {"id": 1, "answer": right[0], "abstain": True},  # right answer, but abstained
        {"id": 2, "answer": right[1], "grade": "not_attempted"},
        {"id": 3, "answer": ""},
        {"id": 4, "answer": "  I don't know. "},
        {"id": 5},  # no answer at all
    ]
    for row in rows:
        row.setdefault("grade", "A")  # pregraded: the judge said correct; abstention wins
    assert outcomes(grader, rows) == [A, A, A, A, A, M]


@pytest.mark.parametrize("grader", ["exact", "choice", "numeric"])
def test_it_grades_the_answers_that_are_not_abstentions(grader):
    right = RIGHT[grader]
    rows = [{"id": 1, "answer": right[0]}, {"id": 2, "answer": right[0]}]
    assert outcomes(grader, rows) == [C, W, M, M, M, M]


@pytest.mark.parametrize("phrase", ["IDK", "N/A", "Unknown", "i'm not sure", "cannot answer!"])
def test_it_recognises_the_default_abstention_phrases(phrase):
    assert outcomes("exact", [{"id": 1, "answer": phrase}])[0] == A


def test_it_uses_the_benchmarks_own_abstention_phrases():
    rows = [{"id": 1, "answer": "Nevím"}, {"id": 2, "answer": "unknown"}]
    assert outcomes("exact", rows, abstention_phrases=("nevím",))[:2] == [A, W]


@pytest.mark.parametrize("flag", ["true", "TRUE", "1", "yes", "Yes", "t", "T", 1, True])
def test_it_reads_the_abstain_flag_in_any_form(flag):
    assert outcomes("exact", [{"id": 1, "answer": "Paris", "idk": flag}])[0] == A


@pytest.mark.parametrize("flag", ["false", "0", "no", "f", "", 0, False, None])
def test_it_reads_a_false_abstain_flag_in_any_form(flag):
    assert outcomes("exact", [{"id": 1, "answer": "Paris", "abstained": flag}])[0] == C


def test_it_takes_the_grade_letter_c_as_not_attempted():
    assert outcomes("exact", [{"id": 1, "answer": "Paris", "grade": "C"}])[0] == A


def test_it_does_not_take_a_letter_a_for_an_empty_answer():
    # "a" normalises to nothing (it is an article) but was an answer
    config = BenchmarkConfig(grader="choice")
    gold = read_gold(b"id,answer\n1,A\n", filename="gold.csv", grader="choice")
    rows = read_predictions(b"id,answer\n1,a\n", filename="p.csv", gold=gold, config=config)
    assert list(score_predictions(gold, rows, config).primary.outcomes) == [C]


def test_it_lets_the_grade_decide_when_a_pregraded_file_has_no_answer_column():
    rows = [{"id": 1, "grade": "A"}, {"id": 2, "grade": "B"}, {"id": 3, "grade": "C"}]
    assert outcomes("pregraded", rows) == [C, W, A, M, M, M]


def test_it_takes_an_empty_answer_cell_as_abstention_even_when_pregraded():
    config = BenchmarkConfig(grader="pregraded")
    gold = read_gold(GOLDS["pregraded"], filename="gold.csv", grader="pregraded")
    rows = read_predictions(
        b"id,answer,grade\n1,,A\n2,Rome,A\n", filename="p.csv", gold=gold, config=config
    )
    assert list(score_predictions(gold, rows, config).primary.outcomes[:2]) == [A, C]
