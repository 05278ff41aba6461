"""lighteval `--save-details` parquet files: the real 0.13.0 files of
tests/fixtures/logs/lighteval/real, the files built to lighteval's writer schema beside them
(make_details.py), and broken variants."""

from __future__ import annotations

import io
import json
import math
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from scoring import BenchmarkConfig, FileRejected, gold_from_frame, read_predictions
from scoring.reading.logs import LogOptions, lighteval
from scoring.scores import score_predictions

HERE = Path(__file__).resolve().parent.parent / "fixtures" / "logs" / "lighteval"
DATE = "2026-12-07T10-15-42.316402"
ANLI = HERE / "real" / "details_anli:r1|0_2026-08-10T17-22-11.385681.parquet"
SQUAD = HERE / "real" / "details_squad_v2|0_2026-08-10T17-22-11.385681.parquet"
RESULTS = HERE / "real" / "results_2026-08-10T17-22-11.385681.json"
IDK = HERE / f"details_mmlu_idk:philosophy|0_{DATE}.parquet"
GSM8K = HERE / f"details_gsm8k|0_{DATE}.parquet"
OLD_MC = HERE / f"details_leaderboard|arc:easy|0_{DATE}.parquet"
OLD_GEN = HERE / f"details_leaderboard|gsm8k|0_{DATE}.parquet"
LIMIT = 50 * 1024 * 1024


def read(data: bytes, filename: str = "details.parquet"):
    return lighteval.read(data, filename=filename, options=LogOptions(), max_bytes=LIMIT)


def read_path(path: Path):
    return read(path.read_bytes(), path.name)


def rows(path: Path) -> list[dict]:
    """The file's rows, read whole with pyarrow (the reference the reader is checked against)."""
    return pq.read_table(path).to_pylist()


def softmax_share(values: list[float]) -> tuple[int, float]:
    best = max(range(len(values)), key=values.__getitem__)
    return best, math.exp(values[best]) / sum(math.exp(v) for v in values)


def rewritten(path: Path, change) -> bytes:
    table = change(pq.read_table(path))
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("path", [ANLI, SQUAD, IDK, GSM8K, OLD_MC, OLD_GEN], ids=lambda p: p.name)
def test_it_reads_each_file_with_lightevals_own_grade(path):
    data = path.read_bytes()
    assert lighteval.looks_like(data, path.name)
    samples = read_path(path)
    reference = rows(path)
    metric_key = "metric" if "metric" in reference[0] else "metrics"
    first_metric = [next(iter(r[metric_key].values())) for r in reference]
    assert samples.n_rows == len(reference)
    assert (samples.frame["grade"] == "correct").sum() == sum(v == 1 for v in first_metric)
    assert samples.frame["grade"].tolist() == [
        "correct" if v == 1 else "incorrect" for v in first_metric
    ]
    assert samples.task == path.name.removeprefix("details_").rsplit("_", 1)[0]


def test_the_real_multiple_choice_file_answers_with_the_most_likely_option():
    samples = read_path(ANLI)
    frame = samples.frame
    reference = rows(ANLI)
    assert frame["id"].tolist() == [r["doc"]["id"] for r in reference]  # "776", "507"
    for i, row in enumerate(reference):
        best, share = softmax_share(row["model_response"]["logprobs"])
        assert frame["answer"][i] == "ABC"[best]
        assert frame["confidence"][i] == pytest.approx(share, rel=1e-12)
        assert frame["gold"][i] == "ABC"[row["doc"]["gold_index"]]
        assert frame["options"][i] == [c.strip() for c in row["doc"]["choices"]]
    # By hand, doc 776: logprobs (-0.6394, -0.0250, -0.2750): B with
    # e^-0.0250 / (e^-0.6394 + e^-0.0250 + e^-0.2750) = 0.97530 / 2.26247 = 0.43108.
    assert frame["answer"][0] == "B"
    assert frame["confidence"][0] == pytest.approx(0.43108, abs=1e-5)


def test_the_real_generative_file_answers_with_the_text():
    frame = read_path(SQUAD).frame
    reference = rows(SQUAD)
    assert frame["id"].tolist() == [r["doc"]["id"] for r in reference]
    assert frame["answer"].tolist() == [
        r["model_response"]["text_post_processed"][0] for r in reference
    ]
    assert frame["gold"].tolist() == [
        r["doc"]["choices"][r["doc"]["gold_index"][0]].strip() for r in reference
    ]
    assert frame["confidence"].isna().all() and frame["options"].isna().all()


def test_an_idk_task_keeps_its_options_for_the_abstention_mapping():
    frame = read_path(IDK).frame
    # Doc 1 chose its fifth option, "I don't know": the letter stays, the options say what it is.
    assert frame["answer"][1] == "E"
    assert frame["options"][1][4] == "I don't know"
    assert frame["grade"][1] == "incorrect"  # lighteval's own acc; the shared code maps it


def test_scores_agree_with_lightevals_accuracy():
    frame = read_path(IDK).frame
    gold = gold_from_frame(
        frame[["id", "gold"]]
        .assign(n_options=frame["options"].map(len))
        .rename(columns={"gold": "answer"}),
        grader="choice",
    )
    config = BenchmarkConfig(grader="choice", n_resamples=0)
    table = frame[["id", "answer", "confidence"]].to_csv(index=False).encode()
    predictions = read_predictions(table, filename="p.csv", gold=gold, config=config)
    run = score_predictions(gold, predictions, config).runs[0]
    accuracy = [r["metric"]["acc"] for r in rows(IDK)]
    assert run.correct == sum(v == 1 for v in accuracy) == 2


def test_lighteval_0_10_rows_carry_no_id_so_the_row_number_stands_for_it():
    samples = read_path(OLD_MC)
    frame = samples.frame
    assert frame["id"].tolist() == ["0", "1", "2"]
    for i, row in enumerate(rows(OLD_MC)):
        best, share = softmax_share([pair[0] for pair in row["predictions"]])
        assert frame["answer"][i] == "ABC"[best]
        assert frame["confidence"][i] == pytest.approx(share, rel=1e-12)
        assert frame["gold"][i] == "ABC"[row["gold_index"][0]]
    generative = read_path(OLD_GEN).frame
    assert generative["answer"].tolist() == ["4", "6"]
    assert generative["gold"].tolist() == ["4", "9"]


def test_an_empty_generation_is_an_unextracted_answer():
    frame = read_path(GSM8K).frame
    assert frame["answer"][2] == "" and not frame["extracted"][2]
    assert frame["extracted"].sum() == 3


def test_a_missing_column_is_refused_by_name():
    data = rewritten(OLD_MC, lambda table: table.drop_columns(["choices"]))
    with pytest.raises(FileRejected) as error:
        read(data)
    assert error.value.errors == ['the lighteval details have no column "choices"']


def test_a_missing_struct_field_is_refused_by_its_path():
    def drop_logprobs(table: pa.Table) -> pa.Table:
        response = table.column("model_response").combine_chunks()
        kept = [f.name for f in response.type if f.name != "logprobs"]
        fields = pa.StructArray.from_arrays([response.field(n) for n in kept], names=kept)
        return table.set_column(
            table.schema.get_field_index("model_response"), "model_response", fields
        )

    with pytest.raises(FileRejected) as error:
        read(rewritten(ANLI, drop_logprobs))
    assert error.value.errors == ['the lighteval details have no column "model_response.logprobs"']


def test_a_truncated_parquet_file_is_refused():
    data = ANLI.read_bytes()
    for cut in (data[: len(data) // 2], data[:-100]):
        assert lighteval.looks_like(cut, ANLI.name)
        with pytest.raises(FileRejected) as error:
            read(cut)
        assert error.value.errors == [
            "the file is not a parquet file, or it is truncated (its footer cannot be read)"
        ]


def test_damaged_column_data_is_refused():
    data = bytearray(ANLI.read_bytes())
    # Overwrite the start of the first data page, leaving the footer whole.
    data[8:2000] = b"\xff" * 1992
    with pytest.raises(FileRejected) as error:
        read(bytes(data))
    assert error.value.errors == [
        "the parquet file is damaged or truncated (its data cannot be read)"
    ]


def test_another_parquet_file_is_not_lighteval():
    buffer = io.BytesIO()
    pq.write_table(pa.table({"id": ["q1"], "answer": ["Paris"]}), buffer)
    with pytest.raises(FileRejected) as error:
        read(buffer.getvalue())
    assert error.value.errors[0].startswith('the parquet file\'s columns ("id", "answer")')


def test_details_written_as_text_by_lighteval_0_7_are_refused():
    def as_text(table: pa.Table) -> pa.Table:
        return pa.table(
            {name: [str(v) for v in table.column(name).to_pylist()] for name in table.column_names}
        )

    with pytest.raises(FileRejected) as error:
        read(rewritten(OLD_MC, as_text))
    assert "lighteval 0.7 or earlier" in error.value.errors[0]


def test_the_columns_read_may_not_unpack_past_the_limit():
    data = ANLI.read_bytes()
    with pytest.raises(FileRejected) as error:
        lighteval.read(data, filename=ANLI.name, options=LogOptions(), max_bytes=1000)
    assert error.value.errors == [
        "unpacked, the parquet file is larger than the limit of 1000 bytes"
    ]


def test_text_stays_in_python_storage_with_pyarrow_installed():
    # pandas 3 would keep text in Arrow once pyarrow is importable; the readers' messages about
    # unstorable text (lone surrogates) rely on Python strings.
    import pandas as pd

    assert pd.Series(["x"]).dtype.storage == "python"
    assert pd.Series(["\ud800"]).str.contains("\ud800", regex=False).all()


def zipped(*paths: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in paths:
            archive.writestr(f"results/{path.name}", path.read_bytes())
    return buffer.getvalue()


def test_a_zip_with_the_results_file_names_the_model():
    data = zipped(ANLI, RESULTS)
    assert lighteval.looks_like(data, "run.zip")
    samples = read(data, "run.zip")
    assert samples.model == json.loads(RESULTS.read_text())["config_general"]["model_name"]
    assert samples.task == "anli:r1|0"
    assert samples.frame["id"].tolist() == read_path(ANLI).frame["id"].tolist()


def test_a_zip_of_several_tasks_is_refused_with_the_tasks():
    with pytest.raises(FileRejected) as error:
        read(zipped(ANLI, SQUAD, RESULTS), "run.zip")
    (message,) = error.value.errors
    assert '"anli:r1|0"' in message and '"squad_v2|0"' in message and "one task" in message


def test_a_truncated_zip_is_refused():
    data = zipped(ANLI, RESULTS)
    with pytest.raises(FileRejected) as error:
        read(data[: len(data) // 2], "run.zip")
    assert "damaged or truncated" in error.value.errors[0]
