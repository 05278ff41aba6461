"""Baselines: the uniform-guessing score, and the number of options read from a gold file."""

import json
from pathlib import Path

import pytest

from scoring import FileRejected, read_gold, uniform_guessing_score

MMLU_PRO = Path(__file__).resolve().parents[2] / "demo" / "mmlu-pro" / "questions.csv.gz"


def test_it_computes_the_uniform_guessing_score_by_hand():
    # Items with 2, 4 and 5 options: right with 1/2, 1/4, 1/5.
    options = [2, 4, 5]
    # Binary: the mean chance, (0.5 + 0.25 + 0.2) / 3.
    assert uniform_guessing_score(options, 0.0) == pytest.approx(0.95 / 3)
    # t = 0.5 (penalty 1): (0.5 − 0.5) + (0.25 − 0.75) + (0.2 − 0.8), over 3.
    assert uniform_guessing_score(options, 0.5) == pytest.approx(-1.1 / 3)
    # t = 0.75 (penalty 3): (0.5 − 1.5) + (0.25 − 2.25) + (0.2 − 2.4), over 3.
    assert uniform_guessing_score(options, 0.75) == pytest.approx(-5.2 / 3)
    # t = 0.9 (penalty 9): (0.5 − 4.5) + (0.25 − 6.75) + (0.2 − 7.2), over 3.
    assert uniform_guessing_score(options, 0.9) == pytest.approx(-17.5 / 3)
    # Over many targets at once, as the chart draws it.
    assert list(uniform_guessing_score(options, [0.0, 0.5])) == pytest.approx([0.95 / 3, -1.1 / 3])


def test_it_reads_the_number_of_options_from_n_options_or_an_options_list():
    gold = read_gold(
        b"id,answer,n_options\nq1,A,4\nq2,B,\nq3,C,3\n", filename="gold.csv", grader="choice"
    )
    assert list(gold.items["n_options"].astype(object).fillna(0)) == [4, 0, 3]

    rows = [
        {"id": "q1", "answer": "B", "options": ["x", "y", "z"]},
        {"id": "q2", "answer": "A", "options": json.dumps(["x", "y"])},
        {"id": "q3", "answer": "A"},
    ]
    gold = read_gold(json.dumps(rows).encode(), filename="gold.json", grader="choice")
    assert list(gold.items["n_options"].astype(object).fillna(0)) == [3, 2, 0]

    csv = 'id,answer,options_json\nq1,D,"[""a"", ""b"", ""c"", ""d"", ""e""]"\n'
    gold = read_gold(csv.encode(), filename="gold.csv", grader="choice")
    assert list(gold.items["n_options"]) == [5]


def test_it_counts_the_options_of_the_real_mmlu_pro_gold():
    gold = read_gold(MMLU_PRO, filename=MMLU_PRO.name, grader="choice")
    counts = gold.items["n_options"].value_counts()
    assert counts.sum() == 12032
    # Most questions have ten options; some had fewer left after the authors' filtering.
    assert counts[10] == 9982 and counts[4] == 607 and counts.index.min() == 3


@pytest.mark.parametrize(
    ("gold", "message"),
    [
        (b"id,answer,n_options\nq1,A,one\n", 'n_options of item "q1" is not a whole number'),
        (b"id,answer,n_options\nq1,A,1\n", 'n_options of item "q1" is not a whole number'),
        (b"id,answer,n_options\nq1,E,4\n", 'answer E of item "q1" is not among its 4 options'),
        (b"id,answer,n_options\nq1,A,27\n", 'item "q1" has 27 options, more than A'),
        (b'id,answer,options\nq1,A,"[""a""]"\n', 'item "q1" lists fewer than 2 options'),
        (b"id,answer,options\nq1,A,a|b\n", 'options of item "q1" are not a JSON array'),
        (b'id,answer,options\nq1,A,"[""a"",]"\n', 'options of item "q1" are not a valid JSON'),
        (
            b'id,answer,n_options,options\nq1,A,3,"[""a"", ""b""]"\n',
            'item "q1" has n_options 3 but lists 2 options',
        ),
    ],
)
def test_it_names_the_item_whose_options_are_wrong(gold, message):
    with pytest.raises(FileRejected) as rejected:
        read_gold(gold, filename="gold.csv", grader="choice")
    assert any(message in error for error in rejected.value.errors), rejected.value.errors
