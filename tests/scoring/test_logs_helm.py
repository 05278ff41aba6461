"""HELM run directories uploaded as a zip: the real runs of tests/fixtures/logs/helm, zipped as
a user would (the directory itself, or its files at the root), and broken variants."""

from __future__ import annotations

import io
import json
import math
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from scoring import BenchmarkConfig, FileRejected, gold_from_frame, read_predictions
from scoring.reading.logs import LogOptions, helm
from scoring.scores import score_predictions

RUNS = Path(__file__).resolve().parent.parent / "fixtures" / "logs" / "helm"
MMLU = RUNS / "mmlu-philosophy-openai_gpt2"
REAL_RUNS = sorted(path.name for path in RUNS.iterdir() if path.is_dir())
LIMIT = 50 * 1024 * 1024


def zipped(run: Path, *, folder: str | None = None, replace: dict | None = None) -> bytes:
    """The run directory as a zip; `folder` puts the files under a directory, `replace` swaps
    a file's content (None leaves it out)."""
    buffer = io.BytesIO()
    replace = replace or {}
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(run.iterdir()):
            data = replace.get(path.name, path.read_bytes())
            if data is not None:
                archive.writestr(f"{folder}/{path.name}" if folder else path.name, data)
    return buffer.getvalue()


def read(data: bytes):
    return helm.read(data, filename="run.zip", options=LogOptions(), max_bytes=LIMIT)


def state(run: Path = MMLU) -> dict:
    return json.loads((run / "scenario_state.json").read_text())


def exact_match(run: Path) -> dict[str, float]:
    """HELM's exact_match per instance, from per_instance_stats.json."""
    out = {}
    for entry in json.loads((run / "per_instance_stats.json").read_text()):
        for stat in entry["stats"]:
            if stat["name"]["name"] == "exact_match":
                out[entry["instance_id"]] = stat["sum"] / stat["count"]
    return out


@pytest.mark.parametrize("run", REAL_RUNS)
def test_it_reads_each_real_run_with_helms_own_grades(run):
    path = RUNS / run
    data = zipped(path, folder=run)
    assert helm.looks_like(data, "run.zip")
    samples = read(data)
    request_states = state(path)["request_states"]
    frame = samples.frame
    assert frame["id"].tolist() == [r["instance"]["id"] for r in request_states]
    matches = exact_match(path)
    assert (frame["grade"] == "correct").sum() == sum(v == 1 for v in matches.values())
    assert frame["grade"].tolist() == [
        "correct" if matches[i] == 1 else "incorrect" for i in frame["id"]
    ]
    run_spec = json.loads((path / "run_spec.json").read_text())
    assert samples.model == run_spec["adapter_spec"]["model"]
    assert samples.task == run_spec["name"]
    assert frame["question"].tolist() == [r["instance"]["input"]["text"] for r in request_states]


@pytest.mark.parametrize("run", ["mmlu-philosophy-openai_gpt2", "hellaswag-pythia-1b"])
def test_multiple_choice_letters_go_through_output_mapping(run):
    path = RUNS / run
    frame = read(zipped(path)).frame
    for row, request_state in zip(frame.itertuples(), state(path)["request_states"], strict=True):
        mapping = request_state["output_mapping"]
        references = request_state["instance"]["references"]
        correct = next(r["output"]["text"] for r in references if "correct" in r["tags"])
        said = request_state["result"]["completions"][0]["text"].strip()
        assert row.options == [r["output"]["text"] for r in references]
        assert mapping[row.gold] == correct
        assert mapping[row.answer] == mapping[said]


@pytest.mark.parametrize("run", ["mmlu-philosophy-openai_gpt2", "hellaswag-pythia-1b"])
def test_our_choice_grader_agrees_with_helms_exact_match(run):
    path = RUNS / run
    frame = read(zipped(path)).frame
    gold = gold_from_frame(
        pd.DataFrame(
            {
                "id": frame["id"],
                "answer": frame["gold"],
                "n_options": frame["options"].map(len),
            }
        ),
        grader="choice",
    )
    config = BenchmarkConfig(grader="choice", n_resamples=0)
    table = frame[["id", "answer"]].to_csv(index=False).encode()
    predictions = read_predictions(table, filename="p.csv", gold=gold, config=config)
    result = score_predictions(gold, predictions, config).runs[0]
    matches = exact_match(path)
    assert result.correct == sum(v == 1 for v in matches.values())
    assert result.incorrect == sum(v == 0 for v in matches.values())


def test_a_generation_run_answers_with_the_completion_text():
    path = RUNS / "narrative_qa-openai_gpt2"
    frame = read(zipped(path)).frame
    request_states = state(path)["request_states"]
    assert frame["answer"].tolist() == [
        r["result"]["completions"][0]["text"].strip() for r in request_states
    ]
    assert frame["gold"].tolist() == [
        next(x["output"]["text"] for x in r["instance"]["references"] if "correct" in x["tags"])
        for r in request_states
    ]
    assert frame["options"].isna().all()


def test_the_files_at_the_zip_root_read_as_the_directory_does():
    at_root = read(zipped(MMLU)).frame
    in_folder = read(zipped(MMLU, folder="runs/v1/mmlu:subject=philosophy")).frame
    pd.testing.assert_frame_equal(at_root, in_folder)


def test_confidence_is_the_completions_probability():
    changed = state()
    changed["request_states"][0]["result"]["completions"][0]["logprob"] = -0.5
    del changed["request_states"][1]["result"]["completions"][0]["logprob"]
    frame = read(zipped(MMLU, replace={"scenario_state.json": json.dumps(changed)})).frame
    assert frame["confidence"][0] == pytest.approx(math.exp(-0.5))
    assert math.isnan(frame["confidence"][1])
    assert frame["confidence"][2] == 1.0  # the real log-probability 0.0


def test_perturbed_instances_and_later_trials_are_left_out():
    changed = state()
    original = changed["request_states"][0]
    perturbed = json.loads(json.dumps(original))
    perturbed["instance"]["perturbation"] = {"name": "typos", "robustness": True}
    perturbed["result"]["completions"][0]["text"] = " A"
    later = json.loads(json.dumps(original))
    later["train_trial_index"] = 1
    changed["request_states"] += [perturbed, later]
    frame = read(zipped(MMLU, replace={"scenario_state.json": json.dumps(changed)})).frame
    assert frame["id"].tolist() == [r["instance"]["id"] for r in state()["request_states"]]


def test_a_letter_outside_the_mapping_is_an_unextracted_answer():
    changed = state()
    changed["request_states"][3]["result"]["completions"][0]["text"] = " M"
    frame = read(zipped(MMLU, replace={"scenario_state.json": json.dumps(changed)})).frame
    assert frame["answer"][3] == "" and not frame["extracted"][3]
    assert frame["extracted"].sum() == len(frame) - 1


def test_without_per_instance_stats_there_is_no_harness_grade():
    frame = read(zipped(MMLU, replace={"per_instance_stats.json": None})).frame
    assert frame["grade"].isna().all()


def test_a_zip_of_several_runs_is_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for run in ("a", "b"):
            archive.writestr(
                f"{run}/scenario_state.json", (MMLU / "scenario_state.json").read_bytes()
            )
    with pytest.raises(FileRejected) as error:
        read(buffer.getvalue())
    assert error.value.errors == [
        'the zip file holds 2 HELM runs ("a", "b"); a submission is one run: zip one run directory'
    ]


def test_a_truncated_zip_is_refused():
    data = zipped(MMLU)
    with pytest.raises(FileRejected) as error:
        read(data[: len(data) - 200])
    assert error.value.errors == [
        "the zip file is damaged or truncated (its table of contents cannot be read)"
    ]


def test_a_zip_without_scenario_state_is_not_helm():
    data = zipped(MMLU, replace={"scenario_state.json": None})
    assert not helm.looks_like(data, "run.zip")
    with pytest.raises(FileRejected) as error:
        read(data)
    assert error.value.errors == [
        "the zip file has no scenario_state.json: is it a HELM run directory?"
    ]


def test_bad_json_is_refused_with_the_file():
    data = zipped(MMLU, replace={"per_instance_stats.json": b'[{"instance_id": "id1",'})
    with pytest.raises(FileRejected) as error:
        read(data)
    assert error.value.errors[0].startswith('"per_instance_stats.json" is not valid JSON')


def test_a_missing_field_is_refused_with_the_request_state():
    changed = state()
    del changed["request_states"][4]["instance"]["references"]
    changed["request_states"][6]["result"]["completions"] = "D"
    with pytest.raises(FileRejected) as error:
        read(zipped(MMLU, replace={"scenario_state.json": json.dumps(changed)}))
    assert error.value.errors == [
        'request state 5 (id "id59"): instance.references is not a list of outputs with a text',
        'request state 7 (id "id131"): result.completions is not a list of completions with a text',
    ]


def test_separately_scored_options_are_refused():
    run_spec = json.loads((MMLU / "run_spec.json").read_text())
    run_spec["adapter_spec"]["method"] = "multiple_choice_separate_original"
    with pytest.raises(FileRejected) as error:
        read(zipped(MMLU, replace={"run_spec.json": json.dumps(run_spec)}))
    assert "multiple_choice_separate_original" in error.value.errors[0]


def test_a_file_that_is_no_zip_is_refused():
    data = (MMLU / "scenario_state.json").read_bytes()
    assert not helm.looks_like(data, "scenario_state.json")
    with pytest.raises(FileRejected) as error:
        read(data)
    assert "zip" in error.value.errors[0]
