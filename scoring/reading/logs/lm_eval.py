"""lm-evaluation-harness `--log_samples` output: `samples_<task>_<date>.jsonl`, a line per document
and filter, as `EvaluationTracker.save_results_samples` writes it (lm-eval 0.4), alone or in a
zip with the run's `results_<date>.json` (which names the model).

A line holds `doc_id`, `doc`, `target` (written as text), `arguments` (`gen_args_<i>` →
`arg_0` the prompt, `arg_1` the continuation or generation settings), `resps`,
`filtered_resps` (every number written as text), `filter`, `metrics` (the names of the
per-sample metrics) and one key per metric. Generation tasks answer with the filtered text;
multiple-choice tasks hold one `[loglikelihood, is_greedy]` pair per option, and the answer is
the most likely option.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd

from scoring.reading.errors import FileRejected, _quote
from scoring.reading.logs import LogOptions, LogSamples, samples_frame
from scoring.reading.logs.archives import Archive, is_zip
from scoring.reading.logs.likelihoods import (
    best_option,
    letter,
    metric_grades,
    run_results,
)

FORMAT = "lm-eval"
NAME = "lm-evaluation-harness samples (.jsonl)"
ID_FIELD = "doc_id (the document's number in the task's evaluation split)"

_SAMPLES = re.compile(r"(?:^|/)samples_(?P<task>.+)_(?P<date>\d{4}-\d{2}-\d{2}T[0-9.\-]+)\.jsonl$")
# What the harness's regex filters write when they find no answer.
_NO_ANSWER = {"", "[invalid]"}
_QUESTION_KEYS = ("question", "problem", "query", "input", "prompt")
_CATEGORY_KEYS = ("subject", "category", "type")


def looks_like(data: bytes, filename: str) -> bool:
    if is_zip(data):
        try:
            names = Archive(data, max_bytes=len(data)).names
        except FileRejected:
            return False
        return any(_SAMPLES.search(name) for name in names)
    # The harness writes `doc_id` first in every line.
    head = data[:64].lstrip()
    return head.startswith(b'{"doc_id"') or (
        _SAMPLES.search(filename) is not None and head.startswith(b"{")
    )


def read(data: bytes, *, filename: str, options: LogOptions, max_bytes: int) -> LogSamples:
    model = None
    if is_zip(data):
        filename, data, model = _from_zip(data, max_bytes)
    match = _SAMPLES.search(filename)
    task = match["task"] if match else None
    records, places = _parse_lines(data)
    filters = list(dict.fromkeys(str(record.get("filter", "none")) for record in records))
    chosen = _choose_filter(filters, options.filter)
    keep = [i for i, record in enumerate(records) if str(record.get("filter", "none")) == chosen]
    frame = _samples([records[i] for i in keep], [places[i] for i in keep])
    return LogSamples(
        format=FORMAT,
        id_field=ID_FIELD,
        frame=frame,
        places=np.asarray([places[i] for i in keep], dtype=np.int64),
        model=model,
        task=task,
        found={"filter": filters},
        used={"filter": chosen},
    )


def _from_zip(data: bytes, max_bytes: int) -> tuple[str, bytes, str | None]:
    """The samples file of a zip (of one task) and the model its results file names."""
    archive = Archive(data, max_bytes=max_bytes)
    samples = [name for name in archive.names if _SAMPLES.search(name)]
    if not samples:
        raise FileRejected(
            [
                "the zip file holds no lm-evaluation-harness samples file "
                "(samples_<task>_<date>.jsonl)"
            ]
        )
    tasks = list(dict.fromkeys(_SAMPLES.search(name)["task"] for name in samples))  # type: ignore[index]
    if len(tasks) > 1:
        shown = ", ".join(_quote(task) for task in tasks[:10])
        raise FileRejected(
            [
                f"the zip file holds the samples of {len(tasks)} tasks ({shown}); a submission is "
                "one task: upload that task's samples_<task>_<date>.jsonl (with its results json)"
            ]
        )
    if len(samples) > 1:
        shown = ", ".join(_quote(name) for name in samples[:10])
        raise FileRejected(
            [
                f"the zip file holds {len(samples)} samples files of the same task ({shown}); "
                "keep one"
            ]
        )
    name = samples[0]
    date = _SAMPLES.search(name)["date"]  # type: ignore[index]
    results = run_results(archive, date)
    model = _model(*results) if results else None
    return name, archive.read(name), model


def _model(name: str, results: object) -> str | None:
    if not isinstance(results, dict):
        raise FileRejected([f"{_quote(name)} is not an lm-evaluation-harness results file"])
    if isinstance(results.get("model_name"), str) and results["model_name"]:
        return results["model_name"]
    model_args = (results.get("config") or {}).get("model_args")
    if isinstance(model_args, dict) and isinstance(model_args.get("pretrained"), str):
        return model_args["pretrained"]
    if isinstance(model_args, str):
        for part in model_args.split(","):
            key, _, value = part.partition("=")
            if key.strip() == "pretrained" and value.strip():
                return value.strip()
    sanitized = results.get("model_name_sanitized")
    return sanitized if isinstance(sanitized, str) and sanitized else None


def _parse_lines(data: bytes) -> tuple[list[dict], list[int]]:
    records: list[dict] = []
    places: list[int] = []
    errors: list[str] = []
    for number, line in enumerate(data.split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (ValueError, UnicodeDecodeError) as error:
            errors.append(f"line {number}: not valid JSON ({error})")
            continue
        if not isinstance(record, dict):
            errors.append(f"line {number}: not a JSON object")
        elif "doc_id" not in record:
            errors.append(
                f"line {number}: no doc_id: is this an lm-evaluation-harness samples file?"
            )
        elif "filtered_resps" not in record:
            errors.append(f"line {number} (doc_id {_quote(record['doc_id'])}): no filtered_resps")
        else:
            records.append(record)
            places.append(number)
    if errors:
        raise FileRejected(errors)
    if not records:
        raise FileRejected(["the file holds no samples"])
    return records, places


def _choose_filter(filters: list[str], wanted: str | None) -> str:
    shown = ", ".join(_quote(name) for name in filters)
    if wanted is None:
        if len(filters) > 1:
            raise FileRejected(
                [
                    f"the log holds the answers of {len(filters)} filters ({shown}): choose one as "
                    "the filter (the field `filter`)"
                ]
            )
        return filters[0]
    if wanted not in filters:
        raise FileRejected([f"the filter {_quote(wanted)} is not in the log, which holds {shown}"])
    return wanted


def _samples(records: list[dict], places: list[int]) -> pd.DataFrame:
    n = len(records)
    ids: list[str] = [""] * n
    answers: list[str] = [""] * n
    extracted = np.ones(n, dtype=bool)
    confidence = np.full(n, np.nan)
    gold: list[str | None] = [None] * n
    question: list[str | None] = [None] * n
    options: list[list[str] | None] = [None] * n
    category: list[str | None] = [None] * n
    errors: list[str] = []
    metrics = records[0].get("metrics")
    metric = metrics[0] if isinstance(metrics, list) and metrics else None
    values: list[object] = []
    for i, record in enumerate(records):
        ids[i] = str(record["doc_id"])
        where = f"line {places[i]} (doc_id {_quote(ids[i])})"
        responses = record["filtered_resps"]
        doc = record.get("doc") if isinstance(record.get("doc"), dict) else {}
        target = record.get("target")
        if not isinstance(responses, list) or not responses:
            errors.append(f"{where}: filtered_resps is not a list of responses")
            continue
        if all(_is_loglikelihood(r) for r in responses):
            if len(responses) < 2:
                errors.append(
                    f"{where}: filtered_resps holds the log-likelihood of one continuation "
                    "(a loglikelihood task), which is no answer to a question"
                )
                continue
            try:
                loglikelihoods = [float(r[0]) for r in responses]
            except (TypeError, ValueError):
                errors.append(
                    f"{where}: filtered_resps holds a log-likelihood that is not a number"
                )
                continue
            if any(math.isnan(v) for v in loglikelihoods) or len(responses) > 26:
                errors.append(f"{where}: filtered_resps: log-likelihoods cannot be compared")
                continue
            answers[i], confidence[i] = best_option(loglikelihoods)
            options[i] = _option_texts(record, doc, len(responses))
            gold[i] = _gold_letter(target, options[i], len(responses))
        elif isinstance(responses[0], str):
            text = responses[0].strip()
            if text in _NO_ANSWER:
                extracted[i] = False
            else:
                answers[i] = text
            gold[i] = None if target is None else str(target)
        else:
            errors.append(
                f"{where}: filtered_resps holds several responses per request; choose a filter "
                "that keeps one (take_first, majority vote)"
            )
            continue
        question[i] = _first_text(doc, _QUESTION_KEYS)
        category[i] = _first_text(doc, _CATEGORY_KEYS)
        if metric is not None:
            values.append(record.get(metric))
    if errors:
        raise FileRejected(errors)
    grades = metric_grades(values) if metric is not None else [None] * n
    return samples_frame(
        id=ids,
        answer=answers,
        extracted=extracted,
        grade=grades,
        confidence=confidence,
        gold=gold,
        question=question,
        options=options,
        category=category,
    )


def _is_loglikelihood(response: object) -> bool:
    """A `[loglikelihood, is_greedy]` pair, as the harness writes it (is_greedy as text)."""
    return (
        isinstance(response, list)
        and len(response) == 2
        and response[1] in ("True", "False", True, False)
    )


def _option_texts(record: dict, doc: dict, n: int) -> list[str] | None:
    arguments = record.get("arguments")
    if isinstance(arguments, dict) and len(arguments) == n:
        texts = [
            (arg or {}).get("arg_1") if isinstance(arg, dict) else None
            for arg in arguments.values()
        ]
        if all(isinstance(text, str) for text in texts):
            # The continuation starts with the task's target delimiter (a space).
            return [text.strip() for text in texts]  # type: ignore[union-attr]
    choices = doc.get("choices")
    if isinstance(choices, list) and len(choices) == n and all(isinstance(c, str) for c in choices):
        return list(choices)
    return None


def _gold_letter(target: object, option_texts: list[str] | None, n: int) -> str | None:
    text = "" if target is None else str(target).strip()
    if text.isdigit():
        return letter(int(text), n)
    if option_texts and text in option_texts:
        return letter(option_texts.index(text), n)
    return None


def _first_text(doc: dict, keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = doc.get(key)
        if isinstance(value, str) and value:
            return value
    return None
