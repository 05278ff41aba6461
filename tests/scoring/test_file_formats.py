"""Reading uploads: formats, compression, encodings, column aliases, ids, stored gold."""

import gzip
import io
import json

import numpy as np
import pandas as pd
import pytest

from scoring import (
    BenchmarkConfig,
    ColumnReport,
    FileRejected,
    Gold,
    gold_from_frame,
    gold_from_records,
    read_gold,
    read_predictions,
    score_predictions,
)

CONFIG = BenchmarkConfig(grader="exact")
GOLD_CSV = b"id,answer\n70,Paris\n71,Rome\nq-3,Oslo\n"


def gold() -> Gold:
    return read_gold(GOLD_CSV, filename="gold.csv", grader="exact")


def scored(data: bytes, filename: str) -> dict:
    loaded = gold()
    rows = read_predictions(data, filename=filename, gold=loaded, config=CONFIG)
    return score_predictions(loaded, rows, CONFIG).to_dict()


ROWS = [{"id": 70, "answer": "paris"}, {"id": "71", "answer": "Milan"}]
LINES = "".join(json.dumps(row) + "\n" for row in ROWS).encode()
EXPECTED = {"correct": 1, "incorrect": 1, "abstained": 1}


@pytest.mark.parametrize(
    ("filename", "data"),
    [
        ("p.csv", b"id,answer\n70,paris\n71,Milan\n"),
        ("p.jsonl", LINES),
        ("p.json", json.dumps(ROWS).encode()),
        ("p.json", json.dumps({"predictions": ROWS}).encode()),
        ("p.json", json.dumps({"items": ROWS}).encode()),
        ("p.csv.gz", gzip.compress(b"id,answer\n70,paris\n71,Milan\n")),
        ("P.JSONL.GZ", gzip.compress(LINES)),
        ("p.json.gz", gzip.compress(json.dumps(ROWS).encode())),
    ],
)
def test_it_reads_every_format(filename, data):
    assert scored(data, filename)["counts"] == EXPECTED


def test_it_reads_paths_and_binary_files(tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes(b"id,answer\n70,paris\n71,Milan\n")
    assert scored(path.read_bytes(), "p.csv")["counts"] == EXPECTED
    loaded = gold()
    from_path = read_predictions(path, filename="p.csv", gold=loaded, config=CONFIG)
    from_str = read_predictions(str(path), filename="p.csv", gold=loaded, config=CONFIG)
    with open(path, "rb") as handle:
        from_handle = read_predictions(handle, filename="p.csv", gold=loaded, config=CONFIG)
    from_buffer = read_predictions(
        io.BytesIO(path.read_bytes()), filename="p.csv", gold=loaded, config=CONFIG
    )
    for rows in (from_str, from_handle, from_buffer):
        pd.testing.assert_frame_equal(rows.rows, from_path.rows)


def test_it_tolerates_a_byte_order_mark():
    assert scored(b"\xef\xbb\xbfid,answer\n70,paris\n71,Milan\n", "p.csv")["counts"] == EXPECTED


def test_it_treats_70_and_70_point_0_and_the_text_70_as_one_id():
    loaded = gold()
    for value in (70, 70.0, "70"):
        data = json.dumps([{"id": value, "answer": "Paris"}]).encode()
        rows = read_predictions(data, filename="p.json", gold=loaded, config=CONFIG)
        assert rows.rows["id"].tolist() == ["70"]


def test_it_reads_numeric_gold_ids_as_text():
    loaded = read_gold(
        b'[{"id": 1, "answer": "x"}, {"id": 2.0, "answer": "y"}]', filename="g.json", grader="exact"
    )
    assert loaded.items["id"].tolist() == ["1", "2"]


def test_it_keeps_na_and_n_a_as_text():
    loaded = read_gold(b"id,answer\n1,NA\n2,N/A\n3,null\n", filename="g.csv", grader="exact")
    assert loaded.items["answer"].tolist() == ["NA", "N/A", "null"]


def test_it_matches_column_names_in_any_case_through_the_aliases():
    loaded = gold()
    rows = read_predictions(
        b"Question_ID,Predicted_Answer,Notes\n70,paris,first try\n",
        filename="p.csv",
        gold=loaded,
        config=CONFIG,
    )
    assert rows.columns == ColumnReport(
        used={"id": "Question_ID", "answer": "Predicted_Answer"}, ignored=["Notes"]
    )


def test_it_prefers_the_first_alias_and_ignores_the_others():
    loaded = gold()
    rows = read_predictions(
        b"response,prediction,id\nlong text,paris,70\n",
        filename="p.csv",
        gold=loaded,
        config=CONFIG,
    )
    assert rows.columns.used == {"id": "id", "answer": "prediction"}
    assert rows.columns.ignored == ["response"]


def test_it_reports_the_columns_of_a_gold_file():
    loaded = read_gold(
        b"qid,gold_answer,problem,subject,extra\n1,x,What?,math,0\n",
        filename="g.csv",
        grader="exact",
    )
    assert loaded.columns.used == {
        "id": "qid",
        "answer": "gold_answer",
        "question": "problem",
        "category": "subject",
    }
    assert loaded.columns.ignored == ["extra"]
    assert loaded.items.loc[0, "question"] == "What?"
    assert loaded.items.loc[0, "category"] == "math"


def test_it_reads_the_topic_from_simpleqa_metadata():
    data = (
        b"id,problem,answer,metadata\n"
        b"1,Q?,A,\"{'topic': 'Art', 'answer_type': 'Person', 'urls': ['https://x']}\"\n"
        b'2,Q?,B,"{""topic"": ""Music""}"\n'
        b"3,Q?,C,not a dict\n"
        b"4,Q?,D,\n"
    )
    loaded = read_gold(data, filename="g.csv", grader="exact")
    assert loaded.items["category"].tolist() == ["Art", "Music", None, None]


def test_it_reads_the_topic_from_metadata_objects_in_json():
    data = json.dumps(
        [
            {"id": 1, "answer": "a", "metadata": {"topic": "Art"}},
            {"id": 2, "answer": "b", "metadata": {"other": 1}},
        ]
    ).encode()
    loaded = read_gold(data, filename="g.json", grader="exact")
    assert loaded.items["category"].tolist() == ["Art", None]


def test_it_gives_the_gold_items_in_file_order():
    loaded = read_gold(
        b'id,answer,aliases,question,category\nb,Two,,,\na,One,"[""uno""]",What is one?,numbers\n',
        filename="g.csv",
        grader="exact",
    )
    assert loaded.n_items == 2
    assert loaded.items.to_dict("list") == {
        "id": ["b", "a"],
        "answer": ["Two", "One"],
        "aliases": [(), ("uno",)],
        "question": [None, "What is one?"],
        "category": [None, "numbers"],
        "n_options": [None, None],
    }


def test_it_rebuilds_the_same_gold_from_stored_items():
    loaded = read_gold(
        b'id,answer,aliases,category\n1,One,"[""uno""]",n\n2,Two,,\n',
        filename="g.csv",
        grader="exact",
    )
    records = loaded.items.to_dict("records")
    again = gold_from_records(records)
    pd.testing.assert_frame_equal(again.items, loaded.items)
    pd.testing.assert_frame_equal(gold_from_frame(loaded.items).items, loaded.items)


def test_it_rebuilds_a_choice_gold_and_grades_the_same():
    config = BenchmarkConfig(grader="choice")
    loaded = read_gold(b"id,answer_index\n1,0\n2,3\n", filename="g.csv", grader="choice")
    again = gold_from_frame(loaded.items.copy())
    for each in (loaded, again):
        rows = read_predictions(
            b"id,answer\n1,A\n2,C\n", filename="p.csv", gold=each, config=config
        )
        assert score_predictions(each, rows, config).primary.outcomes.tolist() == [1, 2]


def test_it_validates_stored_items_like_a_file():
    with pytest.raises(FileRejected) as rejected:
        gold_from_records([{"id": "1", "answer": "x"}, {"id": "1", "answer": "y"}])
    assert rejected.value.errors == ['item 2: duplicate id "1" (first seen at item 1)']
    with pytest.raises(FileRejected):
        gold_from_records([{"id": "1", "answer": "x"}], grader="numeric")


def test_it_keeps_each_row_with_its_run_and_item():
    loaded = gold()
    rows = read_predictions(
        b"id,answer,confidence,target,abstain,grade\nq-3,Oslo,0.9,,no,\n70,Paris,,0.5,,correct\n",
        filename="p.csv",
        gold=loaded,
        config=CONFIG,
    ).rows
    assert rows["id"].tolist() == ["q-3", "70"]
    assert rows["answer"].tolist() == ["Oslo", "Paris"]
    assert rows["abstain"].tolist() == [False, False]
    assert rows["confidence"].tolist()[0] == 0.9 and np.isnan(rows["confidence"][1])
    assert np.isnan(rows["target"][0]) and rows["target"][1] == 0.5
    assert rows["grade"].isna()[0] and rows["grade"][1] == "correct"
    assert rows["position"].tolist() == [2, 0]


def test_it_skips_blank_lines_and_rows():
    assert scored(b"id,answer\n70,paris\n\n,\n71,Milan\n", "p.csv")["counts"] == EXPECTED
    lines = b'{"id": 70, "answer": "paris"}\n\n   \n{"id": 71, "answer": "Milan"}\n'
    assert scored(lines, "p.jsonl")["counts"] == EXPECTED
