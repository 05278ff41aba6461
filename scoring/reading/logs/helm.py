"""HELM run directories (`benchmark_output/runs/<suite>/<run>/`), uploaded as a zip of the
directory or of its files: `scenario_state.json` (a request state per instance: the instance's
input and references, the model's completions and, for multiple-choice questions, the
`output_mapping` from the letter shown to the option), joined on the instance id with
`per_instance_stats.json` (HELM's own `exact_match` per instance), and `run_spec.json` (the
model and the run's name).

Only the plain evaluation is read: train trial 0 and instances without a perturbation (HELM's
robustness and fairness runs add perturbed copies of an instance, under the same id). Runs whose
adapter scores each option separately (`multiple_choice_separate_*`) are refused: they hold no
answer, only a log-probability per option.
"""

from __future__ import annotations

import json
import math
import posixpath
import re

import numpy as np

from scoring.reading.errors import FileRejected, _quote
from scoring.reading.logs import LogOptions, LogSamples, samples_frame
from scoring.reading.logs.archives import Archive, is_zip
from scoring.reading.logs.likelihoods import letter

FORMAT = "helm"
NAME = "HELM run directory (.zip)"
ID_FIELD = "instance.id (HELM's instance id, e.g. id147; train trial 0, unperturbed instances)"

_STATE = "scenario_state.json"
_STATS = "per_instance_stats.json"
_RUN_SPEC = "run_spec.json"


def looks_like(data: bytes, filename: str) -> bool:
    if not is_zip(data):
        return False
    try:
        names = Archive(data, max_bytes=len(data)).names
    except FileRejected:
        return False
    return any(posixpath.basename(name) == _STATE for name in names)


def read(data: bytes, *, filename: str, options: LogOptions, max_bytes: int) -> LogSamples:
    if not is_zip(data):
        raise FileRejected(
            ["a HELM run is read from a zip of its run directory (with scenario_state.json)"]
        )
    archive = Archive(data, max_bytes=max_bytes)
    states = [name for name in archive.names if posixpath.basename(name) == _STATE]
    if not states:
        raise FileRejected([f"the zip file has no {_STATE}: is it a HELM run directory?"])
    if len(states) > 1:
        runs = ", ".join(_quote(posixpath.dirname(name) or ".") for name in states[:10])
        raise FileRejected(
            [
                f"the zip file holds {len(states)} HELM runs ({runs}); a submission is one run: "
                "zip one run directory"
            ]
        )
    folder = posixpath.dirname(states[0])
    state = _json(archive, states[0], dict)
    run_spec_name = posixpath.join(folder, _RUN_SPEC)
    run_spec = _json(archive, run_spec_name, dict) if run_spec_name in archive else {}
    stats_name = posixpath.join(folder, _STATS)
    stats = _json(archive, stats_name, list) if stats_name in archive else None

    adapter = run_spec.get("adapter_spec") or state.get("adapter_spec") or {}
    if not isinstance(adapter, dict):
        adapter = {}
    method = str(adapter.get("method") or "")
    if method.startswith("multiple_choice_separate"):
        raise FileRejected(
            [
                f"the run's adapter method is {_quote(method)}, which scores each option apart and "
                "holds no answer; runs with method multiple_choice_joint or generation are read"
            ]
        )
    request_states = state.get("request_states")
    if not isinstance(request_states, list):
        raise FileRejected([f"{_STATE} has no request_states: is it a HELM run directory?"])

    frame, places = _samples(request_states, adapter.get("output_mapping_pattern"))
    if stats is not None:
        frame["grade"] = _grades(stats, frame["id"].tolist())
    model = adapter.get("model")
    task = run_spec.get("name") or (posixpath.basename(folder) or None)
    return LogSamples(
        format=FORMAT,
        id_field=ID_FIELD,
        frame=frame,
        places=places,
        model=model if isinstance(model, str) and model else None,
        task=task if isinstance(task, str) else None,
    )


def _json(archive: Archive, name: str, kind: type) -> dict | list:
    try:
        value = json.loads(archive.read(name))
    except (ValueError, UnicodeDecodeError) as error:
        raise FileRejected([f"{_quote(name)} is not valid JSON ({error})"]) from None
    if not isinstance(value, kind):
        shape = "an object" if kind is dict else "a list"
        raise FileRejected([f"{_quote(name)} is not {shape} as HELM writes it"])
    return value


def _samples(request_states: list, pattern: object) -> tuple[object, np.ndarray]:
    ids: list[str] = []
    answers: list[str] = []
    extracted: list[bool] = []
    confidence: list[float] = []
    gold: list[str | None] = []
    question: list[str | None] = []
    options: list[list[str] | None] = []
    places: list[int] = []
    errors: list[str] = []
    for number, request_state in enumerate(request_states, 1):
        where = f"request state {number}"
        instance = request_state.get("instance") if isinstance(request_state, dict) else None
        if not isinstance(instance, dict) or not isinstance(instance.get("id"), str | int):
            errors.append(f"{where}: no instance.id")
            continue
        where += f" (id {_quote(instance['id'])})"
        if request_state.get("train_trial_index", 0) != 0 or instance.get("perturbation"):
            continue
        if request_state.get("reference_index") is not None:
            errors.append(f"{where}: reference_index is set: each option was scored apart")
            continue
        references = instance.get("references")
        if not isinstance(references, list) or not all(
            isinstance(r, dict) and isinstance((r.get("output") or {}).get("text"), str)
            for r in references
        ):
            errors.append(f"{where}: instance.references is not a list of outputs with a text")
            continue
        texts = [r["output"]["text"] for r in references]
        correct = [i for i, r in enumerate(references) if "correct" in (r.get("tags") or [])]
        mapping = request_state.get("output_mapping")
        if mapping is not None and not isinstance(mapping, dict):
            errors.append(f"{where}: output_mapping is not an object")
            continue
        completion = _best_completion(request_state.get("result"))
        if completion is False:
            errors.append(f"{where}: result.completions is not a list of completions with a text")
            continue
        text = "" if completion is None else completion["text"].strip()
        if mapping is not None and isinstance(pattern, str) and pattern:
            found = re.search(pattern, text)
            text = "" if not found else found.group(1) if found.groups() else found.group(0)
        answer = text
        if mapping is not None:
            answer = _letter(mapping, texts, text) or ""
            gold.append(letter(correct[0], len(texts)) if correct else None)
            options.append(texts)
        else:
            gold.append(texts[correct[0]] if correct else None)
            options.append(None)
        ids.append(str(instance["id"]))
        answers.append(answer)
        extracted.append(answer != "")
        confidence.append(_probability(completion))
        prompt = (instance.get("input") or {}).get("text")
        question.append(prompt if isinstance(prompt, str) else None)
        places.append(number)
    if errors:
        raise FileRejected(errors)
    if not ids:
        raise FileRejected([f"{_STATE} holds no unperturbed instance of train trial 0"])
    frame = samples_frame(
        id=ids,
        answer=answers,
        extracted=np.asarray(extracted, dtype=bool),
        confidence=np.asarray(confidence, dtype=float),
        gold=gold,
        question=question,
        options=options,
    )
    return frame, np.asarray(places, dtype=np.int64)


def _best_completion(result: object) -> dict | None | bool:
    """HELM's prediction: the completion of highest log-probability (None when the request has
    no result; False when the result is malformed)."""
    if result is None:
        return None
    completions = result.get("completions") if isinstance(result, dict) else None
    if not isinstance(completions, list) or not all(
        isinstance(c, dict) and isinstance(c.get("text"), str) for c in completions
    ):
        return False
    if not completions:
        return None
    return max(completions, key=lambda c: _number(c.get("logprob"), -math.inf))


def _letter(mapping: dict, texts: list[str], shown: str) -> str | None:
    """Our letter for the option behind the letter the model wrote (the references' order)."""
    option = mapping.get(shown)
    if not isinstance(option, str):
        return None
    if option in texts:
        return letter(texts.index(option), len(texts))
    return shown if len(shown) == 1 and shown.isalpha() else None


def _probability(completion: dict | None) -> float:
    if completion is None:
        return math.nan
    logprob = _number(completion.get("logprob"), math.nan)
    return math.nan if math.isnan(logprob) else min(1.0, max(0.0, math.exp(min(logprob, 0.0))))


def _number(value: object, default: float) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and not math.isnan(value):
        return float(value)
    return default


def _grades(stats: list, ids: list[str]) -> list[str | None]:
    """HELM's exact_match per instance (sum / count over its completions) as a grade."""
    match: dict[str, float] = {}
    for entry in stats:
        if (
            not isinstance(entry, dict)
            or entry.get("train_trial_index", 0) != 0
            or entry.get("perturbation")
        ):
            continue
        for stat in entry.get("stats") or []:
            name = stat.get("name") if isinstance(stat, dict) else None
            if (
                isinstance(name, dict)
                and name.get("name") == "exact_match"
                and not name.get("perturbation")
            ):
                count = _number(stat.get("count"), 0.0)
                if count > 0:
                    total = _number(stat.get("sum"), math.nan)
                    match[str(entry.get("instance_id"))] = total / count
    grades: list[str | None] = []
    for item in ids:
        share = match.get(item, math.nan)
        if math.isnan(share) or not 0 <= share <= 1:
            grades.append(None)
        else:
            grades.append("correct" if share == 1 else "incorrect" if share == 0 else "partial")
    return grades
