"""Harness logs of any size for the benchmarks, made from the real ones.

Each maker copies a real sample of its format (from ``../shared/real-clients``, the files the
importers' tests read) n times over, changing what differs from sample to sample: the id, the
target, the answer, the harness's grade and, for multiple choice, the log-probabilities. The logs
keep the real samples' fields and sizes, except Inspect's per-sample ``events`` and
``attachments`` (a transcript of each model call), which are dropped: they would make a
100,000-sample log gigabytes long, and they only add to the bare parse the importers are
measured against. Every maker returns the file name and the bytes an upload would carry.
"""

from __future__ import annotations

import copy
import io
import json
import zipfile
from pathlib import Path

import numpy as np

LETTERS = "ABCD"


def _choices(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Gold and answer letters: 60% right, the rest spread over the other options."""
    gold = rng.integers(0, 4, n)
    answer = np.where(rng.random(n) < 0.6, gold, rng.integers(0, 4, n))
    return gold, answer


def inspect_json(clients: Path, n: int) -> tuple[str, bytes]:
    log = json.loads((clients / "inspect-json" / "data_arc_qwen.json").read_text())
    template = _inspect_sample(log["samples"][0])
    rng = np.random.default_rng(1)
    gold, answer = _choices(rng, n)
    log["samples"] = [_inspect_copy(template, i, gold[i], answer[i]) for i in range(n)]
    log["eval"]["dataset"]["samples"] = n
    log["eval"]["dataset"]["sample_ids"] = list(range(1, n + 1))
    return "arc_easy.json", json.dumps(log).encode()


def inspect_eval(clients: Path, n: int) -> tuple[str, bytes]:
    real = zipfile.ZipFile(clients / "inspect-eval" / "mmlu-summary-choices.eval")
    template = _inspect_sample(json.loads(real.read("samples/1_epoch_1.json")))
    rng = np.random.default_rng(2)
    gold, answer = _choices(rng, n)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in ("_journal/start.json", "header.json", "reductions.json"):
            archive.writestr(name, real.read(name))
        summaries = []
        for i in range(n):
            sample = _inspect_copy(template, i, gold[i], answer[i])
            archive.writestr(f"samples/{sample['id']}_epoch_1.json", json.dumps(sample))
            summaries.append({"id": sample["id"], "epoch": 1, "target": sample["target"]})
        archive.writestr("summaries.json", json.dumps(summaries))
    return "mmlu.eval", buffer.getvalue()


def _inspect_sample(sample: dict) -> dict:
    sample = copy.deepcopy(sample)
    sample.pop("events", None)
    sample.pop("attachments", None)
    return sample


def _inspect_copy(template: dict, i: int, gold: int, answer: int) -> dict:
    sample = copy.copy(template)
    letter = LETTERS[answer]
    sample["id"] = i + 1
    sample["target"] = LETTERS[gold]
    output = copy.deepcopy(template["output"])
    output["completion"] = f"ANSWER: {letter}"
    output["choices"][0]["message"]["content"] = f"ANSWER: {letter}"
    sample["output"] = output
    (scorer,) = template["scores"]
    sample["scores"] = {
        scorer: {
            "value": "C" if gold == answer else "I",
            "answer": letter,
            "explanation": f"ANSWER: {letter}",
        }
    }
    return sample


def lm_eval(clients: Path, n: int) -> tuple[str, bytes]:
    """A multiple-choice task (log-likelihood per option), shaped as lm-evaluation-harness
    writes mmlu: the real generation sample's keys with four `loglikelihood` requests."""
    path = next((clients / "lm-eval").glob("samples_*.jsonl"))
    template = json.loads(path.read_text().splitlines()[0])
    rng = np.random.default_rng(3)
    gold, _ = _choices(rng, n)
    logits = rng.normal(size=(n, 4)) * 2
    lines = []
    for i in range(n):
        question = f"Question {i}: which option is right?"
        row = dict(template)
        row["doc_id"] = i
        row["doc"] = {
            "question": question,
            "choices": ["one", "two", "three", "four"],
            "answer": int(gold[i]),
        }
        row["target"] = int(gold[i])
        row["arguments"] = {
            f"gen_args_{k}": {"arg_0": f"{question}\nAnswer:", "arg_1": f" {LETTERS[k]}"}
            for k in range(4)
        }
        row["resps"] = [[[str(float(logits[i, k])), "False"]] for k in range(4)]
        row["filtered_resps"] = [[str(float(logits[i, k])), "False"] for k in range(4)]
        row["filter"] = "none"
        row["metrics"] = ["acc"]
        row["acc"] = float(np.argmax(logits[i]) == gold[i])
        row.pop("exact_match", None)
        lines.append(json.dumps(row))
    return "samples_mmlu_2026-01-21T03-44-18.458309.jsonl", ("\n".join(lines) + "\n").encode()


def helm(clients: Path, n: int) -> tuple[str, bytes]:
    run = clients / "helm" / "mmlu-philosophy-openai_gpt2"
    state = json.loads((run / "scenario_state.json").read_text())
    stats = json.loads((run / "per_instance_stats.json").read_text())
    request_template, stats_template = state["request_states"][0], stats[0]
    rng = np.random.default_rng(4)
    gold, answer = _choices(rng, n)
    requests, instances = [], []
    for i in range(n):
        request = dict(request_template)
        instance_id = f"id{i}"
        references = [
            {"output": reference["output"], "tags": ["correct"] if k == gold[i] else []}
            for k, reference in enumerate(request_template["instance"]["references"])
        ]
        request["instance"] = dict(request["instance"], id=instance_id, references=references)
        request["result"] = dict(request["result"])
        logprob = float(-abs(rng.normal()))
        request["result"]["completions"] = [
            {
                "text": f" {LETTERS[answer[i]]}",
                "logprob": logprob,
                "tokens": [{"text": f" {LETTERS[answer[i]]}", "logprob": logprob}],
            }
        ]
        requests.append(request)
        hit = float(gold[i] == answer[i])
        instance = dict(stats_template, instance_id=instance_id)
        instance["stats"] = [
            dict(stat, sum=hit, sum_squared=hit, min=hit, max=hit, mean=hit)
            if stat["name"]["name"] == "exact_match"
            else stat
            for stat in stats_template["stats"]
        ]
        instances.append(instance)
    state["request_states"] = requests
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in ("run_spec.json", "scenario.json", "stats.json"):
            archive.write(run / name, f"{run.name}/{name}")
        archive.writestr(f"{run.name}/scenario_state.json", json.dumps(state))
        archive.writestr(f"{run.name}/per_instance_stats.json", json.dumps(instances))
    return f"{run.name}.zip", buffer.getvalue()


def every_eval_ever(clients: Path, n: int) -> tuple[str, bytes]:
    path = clients / "every-eval-ever" / "demo_samples.jsonl"
    template = json.loads(path.read_text().splitlines()[0])
    rng = np.random.default_rng(5)
    gold = rng.integers(0, 1000, n)
    right = rng.random(n) < 0.6
    lines = []
    for i in range(n):
        answer = gold[i] if right[i] else gold[i] + 1
        row = copy.deepcopy(template)
        row["sample_id"] = f"demo_{i:06d}"
        row["input"]["raw"] = f"What is {gold[i]} + 0?"
        row["input"]["reference"] = [str(gold[i])]
        row["output"]["raw"] = [f"The answer is {answer}."]
        row["answer_attribution"][0]["extracted_value"] = str(answer)
        row["evaluation"] = {"score": float(right[i]), "is_correct": bool(right[i])}
        lines.append(json.dumps(row))
    return "instances.jsonl", ("\n".join(lines) + "\n").encode()


def lighteval(clients: Path, n: int) -> tuple[str, bytes]:
    """lighteval 0.13 `--save-details` of a multiple-choice task: the real anli file's first
    row (from the importers' test fixtures, the real-clients folder having no lighteval run)
    written n times with pyarrow, with ids, gold and log-probabilities changed."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "logs" / "lighteval"
    real = next((folder / "real").glob("details_anli*.parquet"))
    table = pq.read_table(real)
    template = table.slice(0, 1).to_pylist()[0]
    rng = np.random.default_rng(6)
    gold = rng.integers(0, 3, n)
    logprobs = -np.abs(rng.normal(size=(n, 3)))
    rows = []
    for i in range(n):
        row = {
            "doc": dict(template["doc"], id=str(i), gold_index=int(gold[i])),
            "metric": {"acc": int(np.argmax(logprobs[i]) == gold[i])},
            "model_response": dict(
                template["model_response"],
                logprobs=logprobs[i].tolist(),
                argmax_logits_eq_gold=[False, False, False],
            ),
        }
        rows.append(row)
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), buffer)
    return real.name, buffer.getvalue()


# Each maker, and the grader of a benchmark made from its log's targets.
MAKERS = {
    "inspect (.json)": (inspect_json, "choice"),
    "inspect (.eval)": (inspect_eval, "choice"),
    "lm-eval (.jsonl)": (lm_eval, "choice"),
    "helm (.zip)": (helm, "choice"),
    "every-eval-ever (.jsonl)": (every_eval_ever, "exact"),
    "lighteval (.parquet)": (lighteval, "choice"),
}


def bare_parse(name: str, data: bytes) -> object:
    """What merely parsing the file costs, with the library its format is written with: JSON,
    JSON Lines, a zip of JSON files, or pyarrow for parquet. Nothing is validated."""
    if name.endswith((".eval", ".zip")):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return [json.loads(archive.read(member)) for member in archive.namelist()]
    if name.endswith(".jsonl"):
        return [json.loads(line) for line in data.splitlines() if line.strip()]
    if name.endswith(".parquet"):
        import pyarrow.parquet as pq

        return pq.read_table(io.BytesIO(data))
    return json.loads(data)
