"""Harness logs read as predictions and as gold: the real Inspect AI and Every Eval Ever files of
tests/fixtures/logs (see its README for their sources), and small logs written here in the same
shapes for what the real ones do not show (an "I don't know" option, partial grades, epochs,
several scorers, broken files).

The counts the harness gave are counted here from the raw JSON, with no code of the importers.
"""

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from scoring import (
    BenchmarkConfig,
    ColumnReport,
    FileRejected,
    LogOptions,
    detect_format,
    read_gold,
    read_log,
    read_predictions,
    score_predictions,
)

REPO = Path(__file__).resolve().parents[2]
LOGS = REPO / "tests" / "fixtures" / "logs"
INSPECT_LOGS = [
    LOGS / "inspect-json" / "data_arc_qwen.json",
    LOGS / "inspect-json" / "data_pubmedqa_gpt4o_mini.json",
    LOGS / "inspect-eval" / "log_read_sample.eval",
    LOGS / "inspect-eval" / "mmlu-summary-choices.eval",
]
EEE_LOG = LOGS / "every-eval-ever" / "demo_samples.jsonl"
NO_SAMPLES = LOGS / "inspect-json" / "data_with_llm_scoring.json"
MAX_BYTES = 50 * 1024 * 1024


def raw_inspect_samples(path: Path) -> list[dict]:
    if path.suffix == ".eval":
        with zipfile.ZipFile(path) as archive:
            return [
                json.loads(archive.read(name))
                for name in archive.namelist()
                if name.startswith("samples/")
            ]
    return json.loads(path.read_text())["samples"]


def harness_counts(samples: list[dict]) -> dict[str, int]:
    """Inspect's own per-sample grades, counted as the scorer wrote them."""
    counts = {"correct": 0, "incorrect": 0, "abstained": 0}
    for sample in samples:
        (score,) = sample["scores"].values()
        value = score["value"]
        if value in ("C", 1, 1.0, True):
            counts["correct"] += 1
        elif value in ("I", 0, 0.0, False):
            counts["incorrect"] += 1
        else:
            assert value == "N", value
            counts["abstained"] += 1
    return counts


def score(path: Path, grader: str, **settings) -> tuple[dict, dict]:
    """Gold from the log, the log scored against it: the scores and the log report."""
    config = BenchmarkConfig(grader=grader, n_resamples=0, **settings)
    gold = read_gold(path, filename=path.name, grader=grader)
    predictions = read_predictions(path, filename=path.name, gold=gold, config=config)
    result = score_predictions(gold, predictions, config).to_dict()
    return result, result["columns"]["log"]


# --- The real files -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", INSPECT_LOGS, ids=lambda path: path.name)
def test_each_real_inspect_log_scores_as_inspect_graded_it_when_pregraded(path):
    samples = raw_inspect_samples(path)
    result, log = score(path, "pregraded")
    assert result["counts"] == harness_counts(samples)
    assert result["n_items"] == len(samples)
    assert log["format"] == "inspect"
    assert log["rows"] == log["matched"] == len(samples)
    assert log["unmatched"] == 0 and log["first_unmatched"] == []
    header = (
        json.loads(zipfile.ZipFile(path).read("header.json"))
        if path.suffix == ".eval"
        else json.loads(path.read_text())
    )
    assert log["model"] == header["eval"]["model"]
    assert log["task"] == header["eval"]["task"]


@pytest.mark.parametrize(
    "path", [path for path in INSPECT_LOGS if "choices" in raw_inspect_samples(path)[0]]
)
def test_each_real_multiple_choice_inspect_log_is_graded_by_letter(path):
    samples = raw_inspect_samples(path)
    chosen_right = sum(
        sample["scores"]["choice"]["answer"] == sample["target"] for sample in samples
    )
    result, log = score(path, "choice")
    assert result["counts"]["correct"] == chosen_right
    assert result["counts"]["incorrect"] == len(samples) - chosen_right
    gold = read_gold(path, filename=path.name, grader="choice")
    assert gold.items["n_options"].tolist() == [len(sample["choices"]) for sample in samples]
    assert gold.items["answer"].tolist() == [sample["target"] for sample in samples]
    assert gold.columns.log["format"] == "inspect"


def test_the_real_inspect_logs_agree_with_their_own_reductions():
    # arc_easy: Inspect graded sample 1 correct and samples 2 and 3 incorrect.
    result, _ = score(INSPECT_LOGS[0], "choice")
    assert result["counts"] == {"correct": 1, "incorrect": 2, "abstained": 0}
    reductions = json.loads(INSPECT_LOGS[0].read_text())["reductions"][0]["samples"]
    assert sum(sample["value"] for sample in reductions) == 1


def test_the_real_every_eval_ever_file_imports_and_agrees_with_its_grades():
    records = [json.loads(line) for line in EEE_LOG.read_text().splitlines() if line.strip()]
    right = sum(record["evaluation"]["is_correct"] for record in records)
    result, log = score(EEE_LOG, "pregraded")
    assert result["counts"] == {
        "correct": right,
        "incorrect": len(records) - right,
        "abstained": 0,
    }
    assert log["format"] == "every-eval-ever"
    assert log["id_field"] == "sample_id"
    assert log["model"] == records[0]["model_id"]
    assert log["task"] == records[0]["evaluation_name"]
    exact, _ = score(EEE_LOG, "numeric")
    assert exact["counts"]["correct"] == right
    gold = read_gold(EEE_LOG, filename=EEE_LOG.name, grader="exact")
    assert gold.items["category"].tolist() == [record["metadata"]["subject"] for record in records]


def test_an_inspect_log_written_without_samples_is_refused_saying_how_to_get_them():
    gold = read_gold(EEE_LOG, filename=EEE_LOG.name, grader="exact")
    with pytest.raises(FileRejected) as rejected:
        read_predictions(
            NO_SAMPLES,
            filename=NO_SAMPLES.name,
            gold=gold,
            config=BenchmarkConfig(grader="exact"),
        )
    (message,) = rejected.value.errors
    assert "holds no samples" in message
    assert "--no-log-samples" in message and "log_samples=False" in message


def test_the_every_eval_ever_aggregate_record_is_refused_pointing_at_its_samples_file():
    aggregate = LOGS / "every-eval-ever" / "demo_aggregate.json"
    with pytest.raises(FileRejected) as rejected:
        read_gold(aggregate, filename=aggregate.name, grader="exact")
    (message,) = rejected.value.errors
    assert "aggregate record" in message and "instance-level JSON Lines" in message


def test_logs_are_recognised_from_their_bytes_and_our_tables_are_not():
    for path in INSPECT_LOGS:
        assert detect_format(path.read_bytes(), path.name) == "inspect"
    assert detect_format(EEE_LOG.read_bytes(), EEE_LOG.name) == "every-eval-ever"
    assert detect_format(b"id,answer\n1,A\n", "p.csv") is None
    assert detect_format(b'{"predictions": [{"id": "1", "answer": "A"}]}', "p.json") is None
    assert detect_format(b'{"id": "1", "answer": "A"}\n', "p.jsonl") is None


# --- Logs written here --------------------------------------------------------------------------


def inspect_sample(sample_id, answer, value, *, target="A", epoch=1, choices=None, **extra):
    sample = {
        "id": sample_id,
        "epoch": epoch,
        "input": f"Question {sample_id}?",
        "target": target,
        "output": {"completion": f"ANSWER: {answer}"},
        "scores": {"choice": {"value": value, "answer": answer}},
    }
    if choices is not None:
        sample["choices"] = choices
    sample.update(extra)
    return sample


def inspect_log(samples: list[dict], *, status: str = "success") -> dict:
    return {
        "version": 2,
        "status": status,
        "eval": {"task": "capitals", "model": "test/model", "dataset": {"samples": len(samples)}},
        "results": {"total_samples": len(samples)},
        "samples": samples,
    }


def write_json(tmp_path: Path, log: dict, name: str = "log.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(log))
    return path


def write_eval(tmp_path: Path, log: dict, name: str = "log.eval") -> Path:
    path = tmp_path / name
    header = {key: value for key, value in log.items() if key != "samples"}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("header.json", json.dumps(header))
        for sample in log["samples"]:
            member = f"samples/{sample['id']}_epoch_{sample['epoch']}.json"
            archive.writestr(member, json.dumps(sample))
    return path


CAPITALS = ["Paris", "Rome", "I don't know", "Madrid"]


def capitals_gold(tmp_path: Path, ids=("q1", "q2", "q3", "q4")):
    path = tmp_path / "gold.csv"
    path.write_text("id,answer,n_options\n" + "".join(f"{i},A,4\n" for i in ids))
    return read_gold(path, filename=path.name, grader="choice")


def read(path: Path, gold, grader="choice", log=None, **settings):
    config = BenchmarkConfig(grader=grader, n_resamples=0, **settings)
    predictions = read_predictions(path, filename=path.name, gold=gold, config=config, log=log)
    return score_predictions(gold, predictions, config).to_dict()


@pytest.mark.parametrize("writer", [write_json, write_eval])
def test_choosing_the_i_dont_know_option_is_an_abstention_whatever_its_letter(tmp_path, writer):
    moved = ["I don't know.", "Paris", "Rome", "Madrid"]
    path = writer(
        tmp_path,
        inspect_log(
            [
                inspect_sample("q1", "A", "C", choices=CAPITALS),
                inspect_sample("q2", "C", "I", choices=CAPITALS),  # "I don't know"
                inspect_sample("q3", "B", "I", choices=CAPITALS),
                inspect_sample("q4", "A", "I", choices=moved),  # "I don't know." as A
            ]
        ),
    )
    gold = capitals_gold(tmp_path)
    result = read(path, gold)
    assert result["counts"] == {"correct": 1, "incorrect": 1, "abstained": 2}
    assert result["columns"]["log"]["idk_abstentions"] == 2
    pregraded = read(path, gold, grader="pregraded")
    assert pregraded["counts"] == {"correct": 1, "incorrect": 1, "abstained": 2}
    # With no abstention phrases, the option is an answer like any other, and wrong.
    plain = read(path, gold, abstention_phrases=())
    assert plain["counts"] == {"correct": 2, "incorrect": 2, "abstained": 0}
    assert plain["columns"]["log"]["idk_abstentions"] == 0


def partial_log(tmp_path: Path) -> Path:
    return write_json(
        tmp_path,
        inspect_log(
            [
                inspect_sample("q1", "Paris", "C", target="Paris"),
                inspect_sample("q2", "Rome, probably", "P", target="Rome"),
                inspect_sample("q3", "", "N", target="Madrid"),
                inspect_sample("q4", "Lisbon", 0.5, target="Lisbon"),
            ]
        ),
    )


def test_a_partial_grade_is_refused_naming_the_samples_unless_the_benchmark_counts_it(tmp_path):
    path = partial_log(tmp_path)
    gold = read_gold(path, filename=path.name, grader="pregraded")
    with pytest.raises(FileRejected) as rejected:
        read(path, gold, grader="pregraded")
    assert rejected.value.n_errors == 2
    first, second = rejected.value.errors
    assert first.startswith('sample 2 (id "q2"): ') and "partial" in first
    assert "partial credit" in first
    assert second.startswith('sample 4 (id "q4"): ')
    expected = {
        "correct": {"correct": 3, "incorrect": 0, "abstained": 1},
        "incorrect": {"correct": 1, "incorrect": 2, "abstained": 1},
        "not_attempted": {"correct": 1, "incorrect": 0, "abstained": 3},
    }
    for setting, counts in expected.items():
        result = read(path, gold, grader="pregraded", partial_credit=setting)
        assert result["counts"] == counts, setting
        log = result["columns"]["log"]
        assert (log["partial"], log["partial_credit"]) == (2, setting)
        assert log["unextracted"] == 1  # Inspect's N: no answer


def test_a_partial_grade_does_not_matter_where_our_grader_grades(tmp_path):
    path = partial_log(tmp_path)
    gold = read_gold(path, filename=path.name, grader="exact")
    result = read(path, gold, grader="exact")
    # "Rome, probably" is not "Rome"; "Lisbon" is; the N sample has no answer.
    assert result["counts"] == {"correct": 2, "incorrect": 1, "abstained": 1}


def test_partial_credit_is_a_validated_setting():
    assert BenchmarkConfig(grader="pregraded", partial_credit="incorrect").partial_credit
    with pytest.raises(ValueError, match="partial_credit"):
        BenchmarkConfig(grader="pregraded", partial_credit="half")
    config = BenchmarkConfig(grader="pregraded", partial_credit="not_attempted")
    assert BenchmarkConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize("writer", [write_json, write_eval])
def test_a_log_of_several_epochs_needs_one_chosen(tmp_path, writer):
    samples = [
        inspect_sample(f"q{i}", answer, "C" if answer == "A" else "I", epoch=epoch)
        for epoch, answers in ((1, "AAB"), (2, "BBB"))
        for i, answer in enumerate(answers, 1)
    ]
    path = writer(tmp_path, inspect_log(samples))
    gold = capitals_gold(tmp_path, ids=("q1", "q2", "q3"))
    with pytest.raises(FileRejected) as rejected:
        read(path, gold)
    (message,) = rejected.value.errors
    assert "2 epochs (1, 2)" in message and "the field epoch" in message
    first = read(path, gold, log=LogOptions(epoch=1))
    assert first["counts"] == {"correct": 2, "incorrect": 1, "abstained": 0}
    second = read(path, gold, log=LogOptions(epoch=2))
    assert second["counts"] == {"correct": 0, "incorrect": 3, "abstained": 0}
    assert second["columns"]["log"]["options"]["epoch"] == "2"
    assert second["columns"]["log"]["found"]["epoch"] == ["1", "2"]
    with pytest.raises(
        FileRejected, match="epoch 3 is not in the log; its samples ran epochs 1, 2"
    ):
        read(path, gold, log=LogOptions(epoch=3))
    # The gold of such a log is read from epoch 1 unless told otherwise.
    assert read_gold(path, filename=path.name, grader="choice").n_items == 3


def test_a_log_of_several_scorers_needs_one_chosen(tmp_path):
    samples = [
        inspect_sample("q1", "A", "C"),
        inspect_sample("q2", "B", "I"),
    ]
    for sample in samples:
        sample["scores"]["strict"] = {"value": "I", "answer": "D"}
    path = write_json(tmp_path, inspect_log(samples))
    gold = capitals_gold(tmp_path, ids=("q1", "q2"))
    with pytest.raises(FileRejected) as rejected:
        read(path, gold)
    (message,) = rejected.value.errors
    assert '2 scorers ("choice", "strict")' in message and "the field scorer" in message
    assert read(path, gold, log=LogOptions(scorer="choice"))["counts"]["correct"] == 1
    strict = read(path, gold, grader="pregraded", log=LogOptions(scorer="strict"))
    assert strict["counts"] == {"correct": 0, "incorrect": 2, "abstained": 0}
    with pytest.raises(FileRejected, match='scorer "lenient" is not in the log'):
        read(path, gold, log=LogOptions(scorer="lenient"))


def test_an_option_the_format_has_not_is_refused(tmp_path):
    gold = read_gold(EEE_LOG, filename=EEE_LOG.name, grader="exact")
    with pytest.raises(FileRejected, match="the option scorer does not apply to this file"):
        read(EEE_LOG, gold, grader="exact", log=LogOptions(scorer="choice"))


def test_samples_of_other_items_are_left_out_and_reported(tmp_path):
    samples = [inspect_sample(f"q{i}", "A", "C") for i in range(1, 15)]
    path = write_json(tmp_path, inspect_log(samples))
    gold = capitals_gold(tmp_path, ids=("q1", "q2", "q3"))
    result = read(path, gold)
    log = result["columns"]["log"]
    assert (log["rows"], log["matched"], log["unmatched"]) == (14, 3, 11)
    assert log["first_unmatched"] == [f"q{i}" for i in range(4, 14)]
    assert result["counts"]["correct"] == 3


def test_a_log_of_more_samples_of_the_items_than_a_file_may_have_rows_is_refused(tmp_path):
    # One item and three targets: at most 10 × 1 × 4 = 40 rows, whatever the file's format.
    lines = [eee_line("q1", "A", correct=True, reference="A") for _ in range(41)]
    lines += [eee_line(f"other-{i}", "A", correct=True, reference="A") for i in range(100)]
    path = tmp_path / "instances.jsonl"
    path.write_text("\n".join(lines) + "\n")
    (message,) = rejected_messages(path, capitals_gold(tmp_path, ids=("q1",)))
    assert message == (
        "the file has more than 40 rows, this benchmark's limit (10 rows per item and run)"
    )


def test_a_log_of_another_task_is_refused(tmp_path):
    path = write_json(tmp_path, inspect_log([inspect_sample("x-1", "A", "C")]))
    with pytest.raises(FileRejected) as rejected:
        read(path, capitals_gold(tmp_path))
    (message,) = rejected.value.errors
    assert message == (
        'no sample id in the log is an item of this benchmark (the first is "x-1") '
        '(the log\'s task is "capitals"): is it a log of another task?'
    )


def test_a_stopped_run_is_read_for_the_samples_it_holds_and_the_report_says_so(tmp_path):
    samples = [
        inspect_sample("q1", "A", "C"),
        {"id": "q2", "epoch": 1, "target": "A", "error": {"message": "timeout"}, "scores": {}},
    ]
    path = write_eval(tmp_path, inspect_log(samples, status="error"))
    result = read(path, capitals_gold(tmp_path, ids=("q1", "q2")))
    assert result["counts"] == {"correct": 1, "incorrect": 0, "abstained": 1}
    notes = result["columns"]["log"]["notes"]
    assert "the run stopped with an error" in notes[0]
    assert notes[1].startswith("1 sample ended in an error with no score")


# --- Broken logs --------------------------------------------------------------------------------


def rejected_messages(path: Path, gold, **kwargs) -> list[str]:
    with pytest.raises(FileRejected) as rejected:
        read(path, gold, **kwargs)
    return rejected.value.errors


def test_a_truncated_eval_log_is_refused(tmp_path):
    data = INSPECT_LOGS[3].read_bytes()
    path = tmp_path / "cut.eval"
    path.write_bytes(data[: len(data) // 2])
    messages = rejected_messages(path, capitals_gold(tmp_path))
    assert messages == [
        "the .eval log is damaged or truncated (its table of contents cannot be read)"
    ]


def test_an_eval_log_that_is_not_a_zip_is_refused(tmp_path):
    path = tmp_path / "log.eval"
    path.write_text("not a zip")
    assert rejected_messages(path, capitals_gold(tmp_path)) == [
        "the .eval log is not a zip file (an .eval log is one)"
    ]


@pytest.mark.parametrize("writer", [write_json, write_eval])
def test_a_sample_without_an_id_is_refused_by_its_number(tmp_path, writer):
    samples = [inspect_sample("q1", "A", "C"), inspect_sample("q2", "A", "C")]
    if writer is write_eval:
        path = writer(tmp_path, inspect_log(samples))
        with zipfile.ZipFile(path, "a") as archive:
            archive.writestr("samples/zz_epoch_1.json", json.dumps({"epoch": 1, "scores": {}}))
        expected = "sample 3: has no id"
    else:
        del samples[1]["id"]
        path = writer(tmp_path, inspect_log(samples))
        expected = "sample 2: has no id"
    assert rejected_messages(path, capitals_gold(tmp_path)) == [expected]


def test_a_sample_without_scores_is_refused(tmp_path):
    samples = [inspect_sample("q1", "A", "C"), inspect_sample("q2", "A", "C")]
    del samples[1]["scores"]
    path = write_json(tmp_path, inspect_log(samples))
    (message,) = rejected_messages(path, capitals_gold(tmp_path))
    assert message.startswith('sample 2 (id "q2"): scores: none')


def test_a_grade_inspect_does_not_write_is_refused(tmp_path):
    path = write_json(tmp_path, inspect_log([inspect_sample("q1", "A", "X")]))
    assert rejected_messages(path, capitals_gold(tmp_path)) == [
        'sample 1 (id "q1"): scores.choice.value "X" is not a grade Inspect writes (C, I, P, N)'
    ]


def test_a_file_named_as_a_log_that_is_not_json_is_refused(tmp_path):
    path = tmp_path / "log.json"
    path.write_text('{"version": 2, "eval": {"task": "x"}, "samples": [')
    (message,) = rejected_messages(path, capitals_gold(tmp_path))
    assert message.startswith("line 1, column ") and "not valid JSON" in message
    path.write_text("id,answer\nq1,A\n")
    (message,) = rejected_messages(path, capitals_gold(tmp_path), log=LogOptions(format="inspect"))
    assert "not valid JSON" in message


def test_our_own_table_can_be_forced_and_an_unknown_format_is_refused(tmp_path):
    gold = capitals_gold(tmp_path, ids=("q1",))
    log = write_json(tmp_path, inspect_log([inspect_sample("q1", "A", "C")]))
    with pytest.raises(FileRejected, match='"predictions" or "items"'):
        read(log, gold, log=LogOptions(format="table"))
    with pytest.raises(FileRejected, match='unknown format "helmet"'):
        read(log, gold, log=LogOptions(format="helmet"))
    table = tmp_path / "p.csv"
    table.write_text("id,answer\nq1,A\n")
    assert read(table, gold)["columns"].get("log") is None


def eee_line(sample_id, extracted, *, correct, reference, choices=None, **extra) -> str:
    record = {
        "schema_version": "0.3.0",
        "evaluation_id": "test/1",
        "model_id": "test/model",
        "evaluation_name": "capitals",
        "sample_id": sample_id,
        "interaction_type": "single_turn",
        "input": {"raw": f"Question {sample_id}?", "reference": [reference]},
        "output": {"raw": [f"The answer is {extracted}"]},
        "answer_attribution": [
            {
                "turn_idx": 0,
                "source": "output.raw",
                "extracted_value": extracted,
                "extraction_method": "match",
                "is_terminal": True,
            }
        ],
        "evaluation": {"score": float(correct), "is_correct": correct},
    }
    if choices is not None:
        record["input"]["choices"] = choices
    record.update(extra)
    return json.dumps(record)


def test_every_eval_ever_options_and_references_become_letters(tmp_path):
    path = tmp_path / "samples.jsonl"
    path.write_text(
        "\n".join(
            [
                eee_line("q1", "Paris", correct=True, reference="0", choices=CAPITALS),
                eee_line("q2", "I don't know", correct=False, reference="A", choices=CAPITALS),
                eee_line("q3", "B", correct=False, reference="Paris", choices=CAPITALS),
                eee_line("q4", "", correct=False, reference="A", choices=CAPITALS),
            ]
        )
        + "\n"
    )
    gold = read_gold(path, filename=path.name, grader="choice")
    assert gold.items["answer"].tolist() == ["A", "A", "A", "A"]
    result = read(path, gold)
    assert result["counts"] == {"correct": 1, "incorrect": 1, "abstained": 2}
    log = result["columns"]["log"]
    assert (log["idk_abstentions"], log["unextracted"]) == (1, 1)


def test_broken_every_eval_ever_files_are_refused_by_line(tmp_path):
    path = tmp_path / "samples.jsonl"
    good = eee_line("q1", "A", correct=True, reference="A")
    path.write_text(good + "\n" + good.replace('"sample_id": "q1", ', "") + "\n")
    gold = capitals_gold(tmp_path)
    assert rejected_messages(path, gold) == ["sample 2: sample_id: missing, or not a text"]
    path.write_text(good + "\n" + good[:40] + "\n")
    (message,) = rejected_messages(path, gold, log=LogOptions(format="every-eval-ever"))
    assert message.startswith("line 2: not valid JSON")


def test_a_gold_made_from_a_log_names_its_problems_by_sample_never_by_answer(tmp_path):
    samples = [
        inspect_sample("q1", "A", "C", target="Secret answer one"),
        inspect_sample("q2", "A", "C", target=[]),
        inspect_sample("q1", "A", "C", target="Secret answer three"),
    ]
    path = write_json(tmp_path, inspect_log(samples))
    with pytest.raises(FileRejected) as rejected:
        read_gold(path, filename=path.name, grader="exact")
    assert rejected.value.errors == [
        'sample 2: empty answer for item "q2"',
        'sample 3: duplicate id "q1" (first seen at sample 1)',
    ]
    assert "Secret" not in str(rejected.value)


def test_a_column_report_with_a_log_reads_back_from_its_dict(tmp_path):
    result, log = score(INSPECT_LOGS[0], "choice")
    stored = result["columns"]
    assert ColumnReport(**stored).to_dict() == stored
    assert "log" not in ColumnReport(used={"id": "id"}, ignored=[]).to_dict()


def test_read_log_reads_the_samples_of_a_gzip_compressed_log(tmp_path):
    import gzip

    path = tmp_path / "data_arc_qwen.json.gz"
    path.write_bytes(gzip.compress(INSPECT_LOGS[0].read_bytes()))
    samples = read_log(path, filename=path.name, max_bytes=MAX_BYTES)
    assert samples.frame["id"].tolist() == ["1", "2", "3"]
    assert samples.frame["answer"].tolist() == ["A", "D", "A"]
    with pytest.raises(FileRejected, match="larger than the limit"):
        read_log(io.BytesIO(INSPECT_LOGS[0].read_bytes()), filename="x.json", max_bytes=1000)


# --- The command line ---------------------------------------------------------------------------


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "scoring", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_command_line_scores_a_real_inspect_log_against_its_own_gold():
    path = str(INSPECT_LOGS[3])
    result = run(path, path, "--grader", "choice", "--resamples", "0", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["counts"] == {"correct": 0, "incorrect": 1, "abstained": 0}
    assert data["columns"]["log"]["format"] == "inspect"
    assert data["columns"]["log"]["options"] == {"epoch": "1", "scorer": "choice"}
    summary = run(path, path, "--grader", "choice", "--resamples", "0")
    assert "Read as Inspect AI log" in summary.stdout
    assert "1 sample: 1 matched an item by the sample's id" in summary.stdout


def test_the_command_line_takes_the_log_options_and_reports_refusals():
    path = str(INSPECT_LOGS[0])
    result = run(path, path, "--grader", "choice", "--epoch", "2", "--json")
    assert result.returncode == 1
    assert json.loads(result.stdout)["errors"] == [
        "epoch 2 is not in the log; its samples ran epochs 1"
    ]
    result = run(str(EEE_LOG), str(NO_SAMPLES))
    assert result.returncode == 1
    assert "holds no samples" in result.stderr
    result = run(path, path, "--epoch", "0")
    assert result.returncode == 2
    eee = run(str(EEE_LOG), str(EEE_LOG), "--grader", "pregraded", "--json")
    assert eee.returncode == 0, eee.stderr
    assert json.loads(eee.stdout)["columns"]["log"]["format"] == "every-eval-ever"
