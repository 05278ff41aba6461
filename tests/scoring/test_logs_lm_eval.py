"""lm-evaluation-harness samples files (`--log_samples`), read as the harness wrote them: the
real file of tests/fixtures/logs/lm-eval, its zip with the results file, a multiple-choice file
written as the harness's EvaluationTracker writes one, and broken variants."""

from __future__ import annotations

import io
import json
import math
import zipfile
from pathlib import Path

import pytest

from scoring import BenchmarkConfig, FileRejected, gold_from_frame, read_predictions
from scoring.reading.logs import LogOptions, lm_eval
from scoring.scores import score_predictions

HERE = Path(__file__).resolve().parent.parent / "fixtures" / "logs" / "lm-eval"
SAMPLES = HERE / "samples_math_perturbed_full_2026-01-21T03-44-18.458309.jsonl"
RESULTS = HERE / "results_2026-01-21T03-44-18.458309.json"
LIMIT = 50 * 1024 * 1024


def read(data: bytes, filename: str = SAMPLES.name, **options: object):
    return lm_eval.read(data, filename=filename, options=LogOptions(**options), max_bytes=LIMIT)


def lines(path: Path = SAMPLES) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def jsonl(records: list[dict]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def mc_record(doc_id: int, loglikelihoods: list[float], target: int, filter_key="none") -> dict:
    """A loglikelihood multiple-choice sample as EvaluationTracker.save_results_samples writes
    it: arguments as gen_args_<i>, every response number as text, target as text."""
    options = [" Paris", " Rome", " Oslo", " I don't know"][: len(loglikelihoods)]
    best = loglikelihoods.index(max(loglikelihoods))
    return {
        "doc_id": doc_id,
        "doc": {"question": f"question {doc_id}", "choices": [o.strip() for o in options]},
        "target": str(target),
        "arguments": {
            f"gen_args_{i}": {"arg_0": f"Question {doc_id}\nAnswer:", "arg_1": option}
            for i, option in enumerate(options)
        },
        "resps": [[[str(ll), "False"]] for ll in loglikelihoods],
        "filtered_resps": [[str(ll), "False"] for ll in loglikelihoods],
        "filter": filter_key,
        "metrics": ["acc", "acc_norm"],
        "doc_hash": "0" * 64,
        "prompt_hash": "1" * 64,
        "target_hash": "2" * 64,
        "acc": 1.0 if best == target else 0.0,
        "acc_norm": 0.0,
    }


def test_it_reads_the_real_samples_file():
    data = SAMPLES.read_bytes()
    assert lm_eval.looks_like(data, SAMPLES.name)
    samples = read(data)
    raw = lines()
    frame = samples.frame
    assert samples.task == "math_perturbed_full"
    assert samples.found == {"filter": ["none"]} and samples.used == {"filter": "none"}
    assert frame["id"].tolist() == [str(r["doc_id"]) for r in raw]
    assert frame["answer"].tolist() == [r["filtered_resps"][0].strip() for r in raw]
    assert frame["gold"].tolist() == [r["target"] for r in raw]
    assert samples.places.tolist() == list(range(1, len(raw) + 1))
    # The harness's own exact_match, sample by sample, is the grade.
    assert (frame["grade"] == "correct").sum() == sum(r["exact_match"] == 1 for r in raw)
    assert frame["grade"].tolist() == [
        "correct" if r["exact_match"] == 1 else "incorrect" for r in raw
    ]
    assert frame["category"].tolist() == [r["doc"]["type"] for r in raw]


def test_it_scores_the_real_file_as_the_harness_counted_it():
    samples = read(SAMPLES.read_bytes())
    gold = gold_from_frame(samples.frame[["id", "gold"]].rename(columns={"gold": "answer"}))
    table = samples.frame[["id", "grade"]].to_csv(index=False).encode()
    config = BenchmarkConfig(grader="pregraded", n_resamples=0)
    predictions = read_predictions(table, filename="p.csv", gold=gold, config=config)
    run = score_predictions(gold, predictions, config).runs[0]
    raw = lines()
    assert run.correct == sum(r["exact_match"] == 1 for r in raw)
    assert run.incorrect == sum(r["exact_match"] == 0 for r in raw)


def test_a_zip_with_the_results_file_names_the_model():
    data = zipped(
        {
            f"out/RylanSchaeffer__model/{SAMPLES.name}": SAMPLES.read_bytes(),
            f"out/RylanSchaeffer__model/{RESULTS.name}": RESULTS.read_bytes(),
        }
    )
    assert lm_eval.looks_like(data, "run.zip")
    samples = read(data, filename="run.zip")
    results = json.loads(RESULTS.read_text())
    assert samples.model == results["model_name"]
    assert samples.task == "math_perturbed_full"
    assert samples.n_rows == len(lines())


def test_the_model_comes_from_model_args_when_the_results_file_has_no_model_name():
    results = json.loads(RESULTS.read_text())
    del results["model_name"]
    data = zipped({SAMPLES.name: SAMPLES.read_bytes(), RESULTS.name: json.dumps(results).encode()})
    pretrained = results["config"]["model_args"].split(",")[0].removeprefix("pretrained=")
    assert read(data, filename="run.zip").model == pretrained


def test_a_zip_of_several_tasks_is_refused_with_the_tasks():
    other = SAMPLES.name.replace("math_perturbed_full", "math_rephrased_full")
    data = zipped({SAMPLES.name: SAMPLES.read_bytes(), other: SAMPLES.read_bytes()})
    with pytest.raises(FileRejected) as error:
        read(data, filename="run.zip")
    (message,) = error.value.errors
    assert '"math_perturbed_full"' in message and '"math_rephrased_full"' in message
    assert "one task" in message


def test_multiple_choice_answers_are_the_most_likely_option_with_its_softmax_share():
    records = [mc_record(0, [-1.2, -0.3, -2.5, -4.0], 1), mc_record(1, [-0.9, -1.1, -0.4], 0)]
    samples = read(jsonl(records), filename="samples_geo_2026-01-01T00-00-00.000000.jsonl")
    frame = samples.frame
    assert frame["answer"].tolist() == ["B", "C"]
    assert frame["gold"].tolist() == ["B", "A"]
    assert frame["grade"].tolist() == ["correct", "incorrect"]
    assert frame["options"][0] == ["Paris", "Rome", "Oslo", "I don't know"]
    # By hand: e^-0.3 / (e^-1.2 + e^-0.3 + e^-2.5 + e^-4.0).
    expected = math.exp(-0.3) / sum(math.exp(v) for v in (-1.2, -0.3, -2.5, -4.0))
    assert frame["confidence"][0] == pytest.approx(expected, rel=1e-12)
    # 0.740818 / (0.301194 + 0.740818 + 0.082085 + 0.018316) = 0.64847
    assert frame["confidence"][0] == pytest.approx(0.64847, abs=1e-5)
    assert frame["question"].tolist() == ["question 0", "question 1"]


def test_several_filters_need_one_chosen():
    records = []
    for filter_key in ("strict-match", "flexible-extract"):
        for record in lines():
            records.append(dict(record, filter=filter_key))
    data = jsonl(records)
    with pytest.raises(FileRejected) as error:
        read(data)
    (message,) = error.value.errors
    assert '"strict-match"' in message and '"flexible-extract"' in message
    assert "`filter`" in message
    samples = read(data, filter="flexible-extract")
    assert samples.used == {"filter": "flexible-extract"}
    assert samples.found == {"filter": ["strict-match", "flexible-extract"]}
    assert samples.n_rows == len(lines())
    # Places are the lines of the chosen filter's samples in the file.
    assert samples.places.tolist() == list(range(len(lines()) + 1, 2 * len(lines()) + 1))


def test_a_filter_not_in_the_log_is_refused_with_those_present():
    with pytest.raises(FileRejected) as error:
        read(SAMPLES.read_bytes(), filter="strict-match")
    assert error.value.errors == ['the filter "strict-match" is not in the log, which holds "none"']


def test_an_invalid_extraction_is_an_empty_unextracted_answer():
    records = lines()[:3]
    records[0]["filtered_resps"] = ["[invalid]"]
    records[1]["filtered_resps"] = ["  "]
    frame = read(jsonl(records)).frame
    assert frame["answer"].tolist()[:2] == ["", ""]
    assert frame["extracted"].tolist() == [False, False, True]


def test_a_bad_json_line_is_refused_with_its_number():
    data = SAMPLES.read_bytes().split(b"\n")
    data[3] = data[3][:40]
    with pytest.raises(FileRejected) as error:
        read(b"\n".join(data))
    (message,) = error.value.errors
    assert message.startswith("line 4: not valid JSON")


def test_a_missing_field_is_refused_with_the_line_and_doc_id():
    records = lines()
    del records[2]["filtered_resps"]
    with pytest.raises(FileRejected) as error:
        read(jsonl(records))
    assert error.value.errors == ['line 3 (doc_id "2"): no filtered_resps']


def test_a_log_likelihood_that_is_not_a_number_is_refused():
    record = mc_record(7, [-1.0, -2.0], 0)
    record["filtered_resps"][1][0] = "nan-ish"
    with pytest.raises(FileRejected) as error:
        read(jsonl([record]))
    assert error.value.errors == [
        'line 1 (doc_id "7"): filtered_resps holds a log-likelihood that is not a number'
    ]


def test_another_format_is_not_taken_for_lm_eval():
    other = b'{"id": "q1", "answer": "Paris"}\n'
    assert not lm_eval.looks_like(other, "predictions.jsonl")
    with pytest.raises(FileRejected) as error:
        read(other, filename="predictions.jsonl")
    assert "no doc_id" in error.value.errors[0]


def test_a_truncated_zip_is_refused():
    data = zipped({SAMPLES.name: SAMPLES.read_bytes(), RESULTS.name: RESULTS.read_bytes()})
    with pytest.raises(FileRejected) as error:
        read(data[: len(data) // 2], filename="run.zip")
    assert "damaged or truncated" in error.value.errors[0]


def test_messages_never_show_the_target():
    records = lines()
    records[4]["filtered_resps"] = 5
    with pytest.raises(FileRejected) as error:
        read(jsonl(records))
    assert str(error.value) == 'line 5 (doc_id "4"): filtered_resps is not a list of responses'


def test_a_target_given_as_the_option_text_becomes_its_letter():
    record = mc_record(3, [-2.0, -0.5, -1.0], 0)
    record["target"] = "Oslo"
    frame = read(jsonl([record])).frame
    assert frame["gold"].tolist() == ["C"] and frame["answer"].tolist() == ["B"]


def test_several_responses_per_request_need_a_filter_that_keeps_one():
    records = lines()[:2]
    records[1]["filtered_resps"] = [["first answer", "second answer"]]
    with pytest.raises(FileRejected) as error:
        read(jsonl(records))
    assert error.value.errors == [
        'line 2 (doc_id "1"): filtered_resps holds several responses per request; choose a '
        "filter that keeps one (take_first, majority vote)"
    ]


def test_a_results_file_that_is_not_json_is_refused_by_name():
    data = zipped({SAMPLES.name: SAMPLES.read_bytes(), RESULTS.name: b'{"results": '})
    with pytest.raises(FileRejected) as error:
        read(data, filename="run.zip")
    assert error.value.errors[0].startswith(f'"{RESULTS.name}" is not valid JSON')


def test_a_metric_that_is_not_a_share_grades_nothing():
    records = lines()[:3]
    for record, bleu in zip(records, (12.5, 0.0, 40.1), strict=True):
        record["metrics"] = ["bleu"]
        record["bleu"] = bleu
    assert read(jsonl(records)).frame["grade"].isna().all()
