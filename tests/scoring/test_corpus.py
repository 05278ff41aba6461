"""The corpus of bad files (tests/corpus): each one read by the scoring package is rejected with
every error it must show, naming its place and cause, and the gzip bombs cost no memory."""

import functools
import json
import tracemalloc

import pytest

from scoring import FileRejected, Gold, read_gold, read_predictions, score_predictions
from tests.corpus import CASES, GOLD, PREDICTIONS, README, Case

REJECTED = [case for case in CASES if not case.scored]
SCORED = [case for case in CASES if case.scored]


@functools.cache
def gold(grader: str) -> Gold:
    return read_gold(GOLD, filename=GOLD.name, grader=grader)


def score(case: Case):
    config = case.config()
    predictions = read_predictions(
        case.path, filename=case.name, gold=gold(case.grader), config=config
    )
    return score_predictions(gold(case.grader), predictions, config)


@pytest.mark.parametrize("case", REJECTED, ids=lambda case: case.name)
def test_it_rejects_each_bad_file_naming_the_place_and_the_cause(case):
    with pytest.raises(FileRejected) as rejected:
        score(case)
    assert rejected.value.errors == list(case.errors)
    assert rejected.value.n_errors == case.total_errors


@pytest.mark.parametrize("case", REJECTED, ids=lambda case: case.name)
def test_it_rejects_each_bad_file_read_from_an_open_file_alike(case):
    # The worker hands the reader an open file, not a path.
    with case.path.open("rb") as handle, pytest.raises(FileRejected) as rejected:
        read_predictions(handle, filename=case.name, gold=gold(case.grader), config=case.config())
    assert rejected.value.errors == list(case.errors)


@pytest.mark.parametrize("case", SCORED, ids=lambda case: case.name)
def test_it_scores_answers_that_look_like_spreadsheet_formulas_as_text(case):
    run = score(case).runs[0]
    assert (run.correct, run.incorrect, run.abstained) == case.counts


def test_it_keeps_a_case_for_every_file_and_a_file_for_every_case():
    assert sorted(path.name for path in PREDICTIONS.iterdir()) == sorted(c.name for c in CASES)
    assert len(REJECTED) >= 50


def test_it_lists_every_file_in_the_readme_with_the_error_expected():
    lines = README.read_text(encoding="utf-8").splitlines()
    for case in CASES:
        rows = [line for line in lines if line.startswith(f"| `{case.name}` |")]
        assert len(rows) == 1, case.name
        last_cell = rows[0].rstrip(" |").rsplit(" | ", 1)[-1]
        if case.scored:
            assert last_cell.startswith("scored"), case.name
        else:
            assert last_cell == f"`{case.errors[0]}`", case.name


@pytest.mark.parametrize("name", ["zip-bomb.csv.gz", "one-gigabyte-line.csv.gz"])
def test_it_stops_unpacking_a_gzip_bomb_at_the_limit_without_filling_the_memory(name):
    case = next(case for case in CASES if case.name == name)
    # Unpacked whole, these files would take 1 GiB and more.
    tracemalloc.start()
    try:
        with pytest.raises(FileRejected) as rejected:
            score(case)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rejected.value.errors == list(case.errors)
    assert peak < 128 * 1024 * 1024


def test_it_names_the_line_of_a_gold_file_whose_aliases_nest_too_deep():
    deep = "[" * 10_000 + "]" * 10_000
    data = f'id,answer,aliases\nq1,Paris,"[""Paname""]"\nq2,Rome,"{deep}"\n'.encode()
    with pytest.raises(FileRejected) as rejected:
        read_gold(data, filename="gold.csv", grader="exact")
    assert rejected.value.errors == ['row 3: aliases of item "q2" are not a valid JSON array']


def test_it_reads_a_gold_file_whose_metadata_nests_too_deep_without_its_topic():
    deep = json.dumps('{"topic": ' * 5_000 + '"x"' + "}" * 5_000)
    topic = json.dumps("{'topic': 'Art'}")
    data = f'[{{"id": "q1", "answer": "A", "metadata": {topic}}},\n'
    data += f'{{"id": "q2", "answer": "B", "metadata": {deep}}}]'
    loaded = read_gold(data.encode(), filename="gold.json", grader="exact")
    assert loaded.items["category"].tolist() == ["Art", None]
