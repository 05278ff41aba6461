"""The four graders: exact, choice, numeric and pregraded."""

import json

import pandas as pd
import pytest

from scoring import (
    OUTCOME_CORRECT,
    OUTCOME_INCORRECT,
    BenchmarkConfig,
    FileRejected,
    decode_outcomes,
    encode_outcomes,
    read_gold,
    read_predictions,
    score_predictions,
)
from scoring.answers import choice_letters, normalise_text, parse_numbers


def outcomes(grader: str, gold: bytes, predictions: bytes, **config) -> list[int]:
    config = BenchmarkConfig(grader=grader, **config)
    loaded = read_gold(gold, filename="gold.csv", grader=grader)
    rows = read_predictions(predictions, filename="predictions.jsonl", gold=loaded, config=config)
    return list(score_predictions(loaded, rows, config).primary.outcomes)


def jsonl(*rows: dict) -> bytes:
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


C, W = OUTCOME_CORRECT, OUTCOME_INCORRECT


def test_it_normalises_text_for_comparison():
    texts = pd.Series(["  The  Eiffel-Tower! ", "ＡＢＣ", "STRASSE", "Straße", "an apple", "a"])
    assert list(normalise_text(texts)) == [
        "eiffeltower",
        "abc",
        "strasse",
        "strasse",
        "apple",
        "",
    ]


def test_it_grades_exact_answers_after_normalising_both_sides():
    gold = b"id,answer\n1,The Eiffel Tower\n2,\xef\xbc\xa1\xef\xbc\xa2\xef\xbc\xa3\n3,Paris\n"
    predictions = jsonl(
        {"id": 1, "answer": "eiffel tower."},
        {"id": 2, "answer": "abc"},
        {"id": 3, "answer": "Paris, France"},
    )
    assert outcomes("exact", gold, predictions) == [C, C, W]


def test_it_accepts_aliases_as_a_json_array_or_separated_by_bars():
    gold = (
        b"id,answer,aliases\n"
        b'1,New York City,"[""NYC"", ""New York""]"\n'
        b"2,United Kingdom,UK | Britain\n"
        b"3,Mars,\n"
    )
    predictions = jsonl(
        {"id": 1, "answer": "new york"},
        {"id": 2, "answer": "britain"},
        {"id": 3, "answer": "the red planet"},
    )
    assert outcomes("exact", gold, predictions) == [C, C, W]


def test_it_reads_aliases_given_as_lists_in_a_json_gold():
    gold_items = [{"id": "1", "answer": "NYC", "aliases": ["New York", 1898]}]
    loaded = read_gold(json.dumps(gold_items).encode(), filename="gold.json", grader="exact")
    assert loaded.items["aliases"][0] == ("New York", "1898")


def test_it_takes_the_letter_of_a_choice_from_the_usual_forms():
    texts = pd.Series(
        [
            "B",
            "b",
            "(c)",
            "D)",
            "E.",
            "The answer is F",
            "answer is (g) because",
            "Answer: H",
            "I think so",
            "answer is a good question",
            "f(x) = 2",
            "",
            "Let me see: (J)",
        ]
    )
    letters = choice_letters(texts)
    assert letters.tolist()[:8] == ["B", "B", "C", "D", "E", "F", "G", "H"]
    assert letters[8:12].isna().all()
    assert letters[12] == "J"


def test_it_grades_choices_against_a_letter_or_an_index():
    by_letter = b"id,answer\n1,A\n2,c\n3,J\n"
    by_index = b"id,answer_index\n1,0\n2,2\n3,9\n"
    predictions = jsonl(
        {"id": 1, "answer": "a"},
        {"id": 2, "answer": "The answer is (C)"},
        {"id": 3, "answer": "I"},
    )
    assert outcomes("choice", by_letter, predictions) == [C, C, W]
    assert outcomes("choice", by_index, predictions) == [C, C, W]


def test_it_prefers_the_gold_letter_to_the_index_like_mmlu_pro():
    loaded = read_gold(
        b"question_id,answer,answer_index\n70,I,8\n71,?,5\n",
        filename="questions.csv",
        grader="choice",
    )
    assert loaded.items["answer"].tolist() == ["I", "F"]


def test_it_reads_numbers_with_separators_percent_and_exponents():
    numbers = parse_numbers(
        pd.Series(
            ["1,234", "1,234.5", "50%", "1.2e3", "-7", "\u22123", "$5", "5 apples", "", "1,23"]
        )
    )
    assert numbers[:6].tolist() == [1234, 1234.5, 50, 1200, -7, -3]
    assert pd.isna(numbers[6:]).all()


def test_it_grades_numbers_within_the_relative_tolerance():
    gold = b"id,answer\n1,1000\n2,0\n3,3.14159\n4,1200\n5,12\n"
    predictions = jsonl(
        {"id": 1, "answer": "1,000.0005"},
        {"id": 2, "answer": "0.0000001"},
        {"id": 3, "answer": "3.14"},
        {"id": 4, "answer": "1.2e3"},
        {"id": 5, "answer": "$12"},
    )
    assert outcomes("numeric", gold, predictions) == [C, W, W, C, W]
    assert outcomes("numeric", gold, predictions, numeric_tolerance=0.01) == [C, W, C, C, W]


def test_it_grades_zero_only_by_zero():
    gold = b"id,answer\n1,0\n"
    assert outcomes("numeric", gold, jsonl({"id": 1, "answer": "0.0"})) == [C]
    assert outcomes("numeric", gold, jsonl({"id": 1, "answer": "1e-300"})) == [W]


def test_it_refuses_a_numeric_gold_that_is_not_a_number():
    with pytest.raises(FileRejected) as rejected:
        read_gold(b"id,answer\n1,twelve\n", filename="g.csv", grader="numeric")
    assert rejected.value.errors == ['row 2: answer of item "1" is not a number']


@pytest.mark.parametrize(
    ("grade", "outcome"),
    [("A", C), ("b", W), ("correct", C), ("INCORRECT", W), (" Correct ", C)],
)
def test_it_takes_the_submitters_grade_on_a_pregraded_benchmark(grade, outcome):
    gold = b"id,answer\n1,Prague\n"
    predictions = jsonl({"id": 1, "answer": "Brno", "grade": grade})
    assert outcomes("pregraded", gold, predictions) == [outcome]


def test_it_accepts_a_pregraded_file_with_grades_and_no_answers():
    gold = b"id,answer\n1,Prague\n2,Brno\n"
    predictions = jsonl({"id": 1, "label": "correct"}, {"id": 2, "label": "incorrect"})
    assert outcomes("pregraded", gold, predictions) == [C, W]


def test_it_marks_pregraded_results_self_graded():
    config = BenchmarkConfig(grader="pregraded")
    loaded = read_gold(b"id,answer\n1,x\n", filename="gold.csv", grader="pregraded")
    rows = read_predictions(b"id,grade\n1,A\n", filename="p.csv", gold=loaded, config=config)
    assert score_predictions(loaded, rows, config).self_graded


def test_it_stores_outcomes_as_one_character_per_item():
    codes = decode_outcomes("CWA-C")
    assert codes.tolist() == [1, 2, 3, 0, 1]
    assert encode_outcomes(codes) == "CWA-C"
    with pytest.raises(ValueError):
        decode_outcomes("CX")
