"""Rejected files: each error of SPEC §3 names its place and its cause; gold stays secret."""

import gzip
import json
import resource

import pytest

from scoring import BenchmarkConfig, FileRejected, Gold, read_gold, read_predictions

GOLD = b"id,answer\n70,Paris\n71,Rome\n72,Oslo\n73,Bern\n"


def gold(grader: str = "exact") -> Gold:
    return read_gold(GOLD, filename="gold.csv", grader=grader)


def rejection(data: bytes, filename: str = "p.csv", **config) -> FileRejected:
    config = BenchmarkConfig(grader=config.pop("grader", "exact"), **config)
    with pytest.raises(FileRejected) as rejected:
        read_predictions(data, filename=filename, gold=gold(config.grader), config=config)
    return rejected.value


def errors(data: bytes, filename: str = "p.csv", **config) -> list[str]:
    return rejection(data, filename, **config).errors


@pytest.mark.parametrize(
    ("filename", "data", "message"),
    [
        ("p.csv", b"", "the file is empty"),
        ("p.jsonl", b"\n  \n", "the file is empty"),
        ("p.csv", b"id,answer\n", "the file has a header but no rows"),
        ("p.json", b"[]", "the file has no items"),
        (
            "p.json",
            b'{"rows": []}',
            'the JSON object has no "predictions" or "items" array of rows',
        ),
        ("p.json", b'"hello"', "the JSON file must hold an array of objects"),
        ("p.txt", b"id,answer\n70,x\n", '"p.txt" is not a .csv, .jsonl or .json file'),
    ],
)
def test_it_rejects_files_without_rows(filename, data, message):
    assert errors(data, filename)[0].startswith(message)


def test_it_rejects_a_file_that_is_not_utf8():
    assert errors(b"id,answer\n70,Paris\n71,Z\xfcrich\n") == [
        "line 3: the file is not UTF-8 (byte 0xfc cannot be read); save it as UTF-8"
    ]
    assert errors(b'{"id": 70, "answer": "Z\xfcrich"}\n', "p.jsonl")[0].startswith("line 1:")


def test_it_names_each_unparseable_json_line():
    data = (
        b'{"id": 70, "answer": "Paris"}\n'
        b'{"id": 71, "answer": "Rome"\n'  # unclosed: the parser only notices on the next line
        b'{"id": 72, "answer": "Oslo"}\n'
        b"{'id': 73}\n"
    )
    assert errors(data, "p.jsonl") == [
        "line 2: not valid JSON (Expecting ',' delimiter at column 28)",
        "line 4: not valid JSON (Expecting property name enclosed in double quotes at column 2)",
    ]


def test_it_finds_a_line_whose_open_bracket_swallows_the_lines_after_it():
    data = b'{"id": 70}\n{"id": 71, "answer": ["Rome"\n{"id": 72}\n{"id": 73}\n'
    assert [error.split(":")[0] for error in errors(data, "p.jsonl")] == ["line 2"]


def test_it_stops_naming_unparseable_lines_after_twenty():
    data = b"".join(b"{broken %d\n" % i for i in range(30))
    rejected = rejection(data, "p.jsonl")
    assert rejected.errors[0].startswith("line 1: not valid JSON")
    assert rejected.errors[18].startswith("line 19: not valid JSON")
    assert rejected.errors[19] == "line 20: this line or a later one is not valid JSON either"
    assert len(rejected.errors) == 20


def test_it_names_a_broken_json_file_by_line_and_column():
    assert errors(b'[{"id": 70},\n {"id": 71,}]', "p.json") == [
        "line 2, column 12: not valid JSON (Expecting property name enclosed in double quotes)"
    ]


def test_it_wants_objects_in_json_files():
    assert errors(b'[{"id": 70, "answer": "x"}, [71, "y"], 5]', "p.json") == [
        "item 2: expected a JSON object, found an array",
        "item 3: expected a JSON object, found a number",
    ]


def test_it_names_the_accepted_columns_when_one_is_missing():
    assert errors(b"item,answer\n70,x\n") == [
        "no id column (accepted names: id, question_id, qid, item_id)"
    ]
    assert errors(b"id,text\n70,x\n") == [
        "no answer column (accepted names: answer, prediction, pred, predicted_answer, "
        "response, output)"
    ]


def test_it_wants_grades_on_a_pregraded_benchmark():
    message = errors(b"id,answer\n70,x\n", grader="pregraded")[0]
    assert message.startswith("no grade column: this benchmark is pregraded")
    assert errors(b"id,answer,grade\n70,x,A\n71,y,\n", grader="pregraded") == [
        "row 3: missing grade (this benchmark is pregraded: every row needs a grade)"
    ]


def test_it_names_an_unknown_grade():
    advice = "(use correct, incorrect or not_attempted, or the letters A, B, C)"
    assert errors(b"id,answer,grade\n70,x,D\n71,y,wrong\n") == [
        f'row 2: unknown grade "D" {advice}',
        f'row 3: unknown grade "wrong" {advice}',
    ]


def test_it_names_unknown_and_missing_ids():
    data = b"id,answer\n70,x\nq-999,y\n,z\n"
    assert errors(data) == [
        'row 3: unknown id "q-999" (not an item of this benchmark)',
        "row 4: missing id",
    ]


def test_it_names_duplicates_with_the_row_first_seen():
    data = b"id,answer,target\n71,a,\n72,b,\n70,c,0.5\n73,d,\n70,e,\n72,f,\n71,g,\n70,h,0.50\n"
    assert errors(data) == [
        'row 7: duplicate id "72" in the default run (first seen at row 3)',
        'row 8: duplicate id "71" in the default run (first seen at row 2)',
        'row 9: duplicate id "70" for target 0.5 (first seen at row 4)',
    ]


def test_it_names_confidences_and_targets_out_of_range():
    data = b"id,answer,confidence,target\n70,a,1.7,\n71,b,high,\n72,c,nan,1\n73,d,-inf,0.5x\n"
    assert errors(data) == [
        'row 2: confidence "1.7" is out of range [0, 1]',
        'row 3: confidence "high" is not a number',
        'row 4: confidence "nan" is not a number',
        'row 4: target "1" is out of range [0, 1)',
        'row 5: confidence "-inf" is out of range [0, 1]',
        'row 5: target "0.5x" is not a number',
    ]


def test_it_names_json_lines_and_rejects_nan_and_infinity():
    data = (
        b'{"id": 70, "answer": "a", "confidence": 1.7}\n'
        b'{"id": 71, "answer": "b", "confidence": NaN}\n'
        b'{"id": 72, "answer": "c", "target": Infinity}\n'
    )
    assert errors(data, "p.jsonl") == [
        'line 1: confidence "1.7" is out of range [0, 1]',
        'line 2: confidence "NaN" is not a number',
        'line 3: target "Infinity" is out of range [0, 1)',
    ]


def test_it_names_a_bad_abstain_flag():
    assert errors(b"id,answer,idk\n70,x,maybe\n") == [
        'row 2: abstain "maybe" is not true or false (use true/false, yes/no or 1/0)'
    ]


def test_it_names_cells_that_are_neither_text_nor_number():
    data = json.dumps([{"id": [70], "answer": "x"}, {"id": 71, "answer": {"text": "y"}}])
    assert errors(data.encode(), "p.json") == [
        "item 1: id is not a text or a number",
        "item 2: answer is not a text or a number",
    ]


def test_it_names_a_row_with_too_many_fields():
    assert errors(b"id,answer\n70,x\n71,y,z\n") == ["row 3: 3 fields where the header has 2"]


def test_it_rejects_coverage_below_the_minimum_per_run():
    data = b"id,answer,target\n70,a,\n71,b,\n72,c,\n70,a,0.5\n"
    assert errors(data, min_coverage=0.5) == [
        'coverage 25% of run "0.5" is below this benchmark\'s minimum of 50%'
    ]
    assert errors(b"id,answer\n70,a\n", min_coverage=0.3) == [
        'coverage 25% of run "default" is below this benchmark\'s minimum of 30%'
    ]


def test_it_shows_the_first_twenty_errors_and_counts_the_rest():
    data = b"id,answer\n70,a\n" + b"".join(b"x%d,a\n" % i for i in range(57))
    rejected = rejection(data)
    assert rejected.n_errors == 57
    assert len(rejected.errors) == 21
    assert rejected.errors[0] == 'row 3: unknown id "x0" (not an item of this benchmark)'
    assert rejected.errors[19] == 'row 22: unknown id "x19" (not an item of this benchmark)'
    assert rejected.errors[20] == "… and 37 more errors"
    assert str(rejected).splitlines() == rejected.errors


def test_it_orders_errors_of_every_kind_by_their_place_in_the_file():
    data = b"id,answer,confidence\n" + b"".join(b"70,a,%d\n" % (i + 2) for i in range(30))
    rejected = rejection(data)
    places = [int(message.split(":")[0].split()[1]) for message in rejected.errors[:20]]
    assert places == sorted(places)
    assert (
        rejected.n_errors == 30 + 29
    )  # each row out of range, each row after the first a duplicate


def test_it_limits_the_rows_to_ten_per_item_and_run():
    # 4 items, 1 target: at most 10 * 4 * 2 = 80 rows
    data = b"id,answer\n" + b"70,a\n" * 81
    assert errors(data, targets=(0.5,)) == [
        "the file has more than 80 rows, this benchmark's limit (10 rows per item and run)"
    ]
    lines = b'{"id": 70, "answer": "a"}\n' * 81
    assert errors(lines, "p.jsonl", targets=(0.5,))[0].startswith("the file has more than 80")


def test_it_refuses_more_runs_than_it_can_score():
    data = b"id,answer,target\n" + b"".join(b"70,a,0.%02d\n" % i for i in range(1, 30))
    assert "at most 20 runs are allowed" in errors(data)[0]


def test_it_rejects_a_file_over_the_size_limit():
    data = b"id,answer\n" + b"70,abcdefghij\n" * 100
    assert errors(data, max_bytes=1000) == [
        "the file is larger than the limit of 1000 bytes (it passes the limit in line 72)"
    ]


def test_it_rejects_a_file_over_the_size_limit_once_uncompressed():
    data = gzip.compress(b"id,answer\n" + b"70,a\n" * 10_000)
    assert len(data) < 2000
    assert errors(data, "p.csv.gz", max_bytes=2000) == [
        "uncompressed, the file is larger than the limit of 1.95312 KB "
        "(it passes the limit in line 400)"
    ]


def test_it_stops_a_gzip_bomb_without_filling_the_memory():
    bomb = gzip.compress(b"\0" * (200 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 1024 * 1024
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert errors(bomb, "p.csv.gz", max_bytes=5 * 1024 * 1024) == [
        "uncompressed, the file is larger than the limit of 5 MB (it passes the limit in line 1)"
    ]
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kb < 50 * 1024


def test_it_rejects_a_gz_name_on_a_file_that_is_not_compressed():
    assert errors(b"id,answer\n70,a\n", "p.csv.gz") == [
        "the file name ends in .gz but the file is not gzip-compressed"
    ]
    assert errors(gzip.compress(b"id,answer\n70,a\n")[:-10], "p.csv.gz") == [
        "the gzip data ends early: the file is truncated"
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the file is empty"),
        (b"item,answer\n1,x\n", "no id column (accepted names: id, question_id, qid, item_id)"),
        (b"id,text\n1,x\n", "no answer column"),
        (b"id,answer\n1,x\n1,y\n", 'row 3: duplicate id "1" (first seen at row 2)'),
        (b"id,answer\n1,x\n2,\n", 'row 3: empty answer for item "2"'),
        (b"id,answer\n1,x\n,y\n", "row 3: missing id"),
        (
            b'id,answer,aliases\n1,x,"[""a"""\n',
            'row 2: aliases of item "1" are not a valid JSON array',
        ),
    ],
)
def test_it_names_what_is_wrong_with_a_gold_file(data, message):
    with pytest.raises(FileRejected) as rejected:
        read_gold(data, filename="gold.csv", grader="exact")
    assert rejected.value.errors[0].startswith(message)


def test_it_names_gold_answers_that_are_not_choice_letters():
    with pytest.raises(FileRejected) as rejected:
        read_gold(b"id,answer\n1,B\n2,Paris\n3,\n", filename="gold.csv", grader="choice")
    assert rejected.value.errors == [
        'row 3: answer of item "2" is not a choice letter A–Z',
        'row 4: answer of item "3" is not a choice letter A–Z',
    ]
    with pytest.raises(FileRejected) as rejected:
        read_gold(b"id,answer_index\n1,3\n2,26\n3,1.5\n", filename="gold.csv", grader="choice")
    neither = "has neither a choice letter A–Z as answer nor an answer_index from 0 to 25"
    assert rejected.value.errors == [f'row 3: item "2" {neither}', f'row 4: item "3" {neither}']


def test_it_never_shows_a_gold_answer_or_question_in_an_error():
    secret_gold = (
        b"id,answer,question,aliases\n"
        b"s1,SECRET-ANSWER-1,SECRET-QUESTION-1,SECRET-ALIAS-1\n"
        b"s2,SECRET-ANSWER-2,SECRET-QUESTION-2,\n"
        b"s2,SECRET-ANSWER-3,SECRET-QUESTION-3,\n"
        b"s4,,SECRET-QUESTION-4,\n"
        b'"",SECRET-ANSWER-5,SECRET-QUESTION-5,"[SECRET-ALIAS-5"\n'
    )
    messages = []
    for grader in ("exact", "choice", "numeric", "pregraded"):
        with pytest.raises(FileRejected) as rejected:
            read_gold(secret_gold, filename="gold.csv", grader=grader)
        messages += rejected.value.errors
    loaded = read_gold(
        b"id,answer,question\ns1,SECRET-ANSWER-1,SECRET-QUESTION-1\n",
        filename="gold.csv",
        grader="exact",
    )
    for predictions in (
        b"id,answer,confidence,grade\ns1,x,2,maybe\ns1,y,,\nzz,z,,\n",
        b'{"id": "s1", "answer": "SECRET"\n',
    ):
        for grader in ("exact", "pregraded"):
            config = BenchmarkConfig(grader=grader, min_coverage=1.0)
            with pytest.raises(FileRejected) as rejected:
                read_predictions(predictions, filename="p.csv", gold=loaded, config=config)
            messages += rejected.value.errors
    assert len(messages) > 10
    assert not [message for message in messages if "SECRET-" in message]


@pytest.mark.parametrize(
    ("filename", "data", "message"),
    [
        (
            "g.csv",
            b"id,answer\n70,Paris\n" + b"7" * 256 + b",Rome\n",
            'row 3: id "7777',
        ),
        (
            "g.csv",
            b"id,answer,category\n70,Paris," + b"c" * 201 + b"\n",
            'row 2: the category of item "70" is 201 characters long; a category may have at '
            "most 200",
        ),
        (
            "g.jsonl",
            b'{"id": "70", "answer": "Paris"}\n{"id": "71", "answer": "Ro\\u0000me"}\n',
            'line 2: the answer of item "71": not storable text (a zero character U+0000',
        ),
        (
            "g.json",
            b'[{"id": "70", "answer": "Paris", "aliases": ["\\ud800"]}]',
            'item 1: the aliases of item "70": not storable text',
        ),
        (
            "g.jsonl",
            b'{"id": "70", "answer": "Paris", "question": "a\\u0000b"}\n',
            'line 1: the question of item "70": not storable text',
        ),
    ],
)
def test_it_rejects_gold_that_the_site_could_not_store(filename, data, message):
    with pytest.raises(FileRejected) as rejected:
        read_gold(data, filename=filename, grader="exact")
    assert rejected.value.errors[0].startswith(message), rejected.value.errors
    assert "Ro" not in rejected.value.errors[0]  # the answer itself is never shown


def test_it_takes_ids_and_categories_at_their_longest():
    data = b"id,answer,category\n" + b"7" * 255 + b",Paris," + b"c" * 200 + b"\n"
    assert read_gold(data, filename="g.csv", grader="exact").n_items == 1
