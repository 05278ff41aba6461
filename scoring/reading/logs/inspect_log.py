"""Inspect AI eval logs: a `.json` file, or a `.eval` zip (`header.json` and one
`samples/<id>_epoch_<n>.json` per sample and epoch).

One row per sample and epoch: the sample's `id` is the item id; the answer is the chosen
scorer's `answer`, else the model's completion; Inspect's grade (`C`, `I`, `P`, `N`, or a number
from 0 to 1 as `match`-style scorers write) is the harness grade; for a multiple-choice sample
(`choices`), the options and the letter chosen; the sample's `target` is the gold (the first
one when it lists several). A log whose samples ran several epochs, or carry several scorers,
needs the `epoch` or `scorer` chosen.

Inspect's own reader (`inspect_ai.log.read_eval_log`) is not used: it brings some forty
dependencies (about 325 MB installed, among them a web server, boto3 and textual) and a
two-second import into the workers, and builds a pydantic model of every message and event
of every sample, of which this reads six fields. The log's JSON is documented and stable
(Inspect reads logs of every earlier version with the same fields).

A log whose run stopped (status "error" or "cancelled", or "started" for one still being
written) is read for the samples it holds, and the report says so.
"""

from __future__ import annotations

import codecs
import json
import math
import re

import numpy as np

from scoring.reading.errors import MAX_ERRORS_SHOWN, FileRejected, _quote
from scoring.reading.logs import (
    CHOICE_LETTERS,
    LogOptions,
    LogSamples,
    describe_sample,
    first_text,
    metadata_category,
    samples_frame,
)
from scoring.reading.logs.archives import Archive, is_zip

FORMAT = "inspect"
NAME = "Inspect AI log (.json or .eval)"
ID_FIELD = "the sample's id"

GRADES = {"C": "correct", "I": "incorrect", "P": "partial", "N": "not_attempted"}
_SAMPLE_MEMBER = re.compile(r"^samples/[^/]+\.json$")
_JSON_LOG = re.compile(rb'"eval"\s*:\s*\{')
_JSON_LOG_KEYS = re.compile(rb'"(?:status|version)"\s*:')
_LOOK_BYTES = 1 << 16
_STOPPED = {
    "error": "the run stopped with an error",
    "cancelled": "the run was cancelled",
    "started": "the run had not finished when the log was written",
}
_NO_SAMPLES = (
    "the log holds no samples, only the run's summary: Inspect wrote it without them "
    "(--no-log-samples, or log_samples=False); run the evaluation again with samples logged "
    "(Inspect's default) and upload that log"
)


def looks_like(data: bytes, filename: str) -> bool:
    name = filename.lower().removesuffix(".gz")
    if name.endswith(".eval"):
        return True
    if is_zip(data):
        try:
            archive = Archive(data, max_bytes=len(data) or 1)
        except FileRejected:
            return False
        return "header.json" in archive or "_journal/start.json" in archive
    head = data[:_LOOK_BYTES].lstrip()
    return (
        head.startswith(b"{")
        and _JSON_LOG.search(head) is not None
        and _JSON_LOG_KEYS.search(head) is not None
    )


def read(data: bytes, *, filename: str, options: LogOptions, max_bytes: int) -> LogSamples:
    if is_zip(data) or filename.lower().endswith(".eval"):
        header, samples = _read_eval(data, max_bytes)
    else:
        header, samples = _read_json(data)
    spec = header.get("eval") if isinstance(header.get("eval"), dict) else {}
    status = header.get("status")
    notes = []
    if status in _STOPPED:
        notes.append(
            f"{_STOPPED[status]} (log status {_quote(status)}): only the samples the log holds "
            "are read"
        )
    if not samples:
        message = _NO_SAMPLES
        if status in _STOPPED:
            message = (
                f"the log holds no samples ({_STOPPED[status]}: log status {_quote(status)}); "
                "upload the log of a run that logged its samples"
            )
        raise FileRejected([message])
    return _samples(samples, spec, options, notes)


def _read_eval(data: bytes, max_bytes: int) -> tuple[dict, list[tuple[int, object]]]:
    if not is_zip(data):
        raise FileRejected(["the .eval log is not a zip file (an .eval log is one)"])
    archive = Archive(data, max_bytes=max_bytes, what="the .eval log")
    if "header.json" in archive:
        header = _member_json(archive, "header.json")
    elif "_journal/start.json" in archive:
        header = _member_json(archive, "_journal/start.json")
        header.setdefault("status", "started")
    else:
        raise FileRejected(["the .eval log has no header.json: it is not an Inspect log"])
    if not isinstance(header, dict):
        raise FileRejected(["the .eval log's header.json is not a JSON object"])
    names = [name for name in archive.names if _SAMPLE_MEMBER.match(name)]
    samples = [(number, _member_json(archive, name)) for number, name in enumerate(names, 1)]
    return header, samples


def _member_json(archive: Archive, name: str) -> object:
    try:
        return json.loads(archive.read(name))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise FileRejected([f"the .eval log: {_quote(name)} is not valid JSON"]) from None


def _read_json(data: bytes) -> tuple[dict, list[tuple[int, object]]]:
    try:
        document = json.loads(data.removeprefix(codecs.BOM_UTF8))
    except UnicodeDecodeError:
        raise FileRejected(["the file is not UTF-8 text, so not an Inspect log"]) from None
    except json.JSONDecodeError as error:
        raise FileRejected(
            [f"line {error.lineno}, column {error.colno}: not valid JSON ({error.msg})"]
        ) from None
    except (ValueError, RecursionError):
        raise FileRejected(["the file is not JSON that can be read"]) from None
    if not isinstance(document, dict) or not isinstance(document.get("eval"), dict):
        raise FileRejected(['the JSON file is not an Inspect log (it has no "eval" object)'])
    samples = document.get("samples")
    if samples is not None and not isinstance(samples, list):
        raise FileRejected(['the log\'s "samples" is not a list'])
    return document, list(enumerate(samples or [], 1))


class _Problems:
    def __init__(self) -> None:
        self.messages: list[str] = []
        self.count = 0

    def add(self, message: str) -> None:
        self.count += 1
        if len(self.messages) < MAX_ERRORS_SHOWN:
            self.messages.append(message)

    def check(self) -> None:
        if self.count:
            raise FileRejected(self.messages, self.count)


def _samples(
    samples: list[tuple[int, object]], spec: dict, options: LogOptions, notes: list[str]
) -> LogSamples:
    problems = _Problems()
    kept: list[tuple[int, dict, int]] = []
    scorers: dict[str, None] = {}
    for number, sample in samples:
        if not isinstance(sample, dict):
            problems.add(f"{describe_sample(number)}: not a JSON object")
            continue
        sample_id = sample.get("id")
        if not _is_id(sample_id):
            what = "has no id" if sample_id is None else "id is not a text or a whole number"
            problems.add(f"{describe_sample(number)}: {what}")
            continue
        epoch = sample.get("epoch", 1)
        if not _is_whole(epoch):
            problems.add(f"{describe_sample(number, sample_id)}: epoch {epoch!r} is not a number")
            continue
        scores = sample.get("scores")
        if isinstance(scores, dict):
            scorers.update(dict.fromkeys(scores))
        kept.append((number, sample, int(epoch)))
    problems.check()

    epochs = sorted({epoch for _, _, epoch in kept})
    found = {"epoch": [str(epoch) for epoch in epochs], "scorer": list(scorers)}
    used: dict[str, str] = {}
    epoch = _choose_epoch(epochs, options.epoch)
    if epoch is not None:
        used["epoch"] = str(epoch)
        kept = [row for row in kept if row[2] == epoch]
    scorer = _choose_scorer(list(scorers), options.scorer)
    if scorer is not None:
        used["scorer"] = scorer

    columns: dict[str, list] = {
        name: []
        for name in ("id", "answer", "extracted", "grade", "gold", "question", "options")
        + ("category",)
    }
    places = []
    errored = 0
    for number, sample, sample_epoch in kept:
        where = describe_sample(number, sample["id"], sample_epoch if len(epochs) > 1 else None)
        row = _row(sample, scorer, where, problems)
        if row is None:
            continue
        if row.pop("errored"):
            errored += 1
        places.append(number)
        for name, value in row.items():
            columns[name].append(value)
    problems.check()
    if errored:
        notes.append(
            f"{errored} sample{'s' if errored != 1 else ''} ended in an error with no score: "
            "each is read as no answer"
        )
    return LogSamples(
        format=FORMAT,
        id_field=ID_FIELD,
        frame=samples_frame(columns),
        places=np.asarray(places, dtype=np.int64),
        model=_text_or_none(spec.get("model")),
        task=_text_or_none(spec.get("task")),
        found=found,
        used=used,
        notes=notes,
    )


def _choose_epoch(epochs: list[int], chosen: int | str | None) -> int | None:
    listed = ", ".join(map(str, epochs))
    if isinstance(chosen, str):  # as a form or stored options may give it
        chosen = int(chosen) if chosen.strip().isdigit() else chosen
    if chosen is not None:
        if chosen not in epochs:
            raise FileRejected(
                [f"epoch {chosen} is not in the log; its samples ran epochs {listed}"]
            )
        return chosen
    if len(epochs) > 1:
        raise FileRejected(
            [
                f"the log's samples ran {len(epochs)} epochs ({listed}); an item takes one "
                "answer per run, so choose the epoch to score (the field epoch)"
            ]
        )
    return epochs[0] if epochs else None


def _choose_scorer(scorers: list[str], chosen: str | None) -> str | None:
    listed = ", ".join(map(_quote, scorers)) or "none"
    if chosen is not None:
        if chosen not in scorers:
            raise FileRejected(
                [f"scorer {_quote(chosen)} is not in the log; its samples carry {listed}"]
            )
        return chosen
    if len(scorers) > 1:
        raise FileRejected(
            [
                f"the log's samples carry {len(scorers)} scorers ({listed}); choose the one whose "
                "answers and grades to read (the field scorer)"
            ]
        )
    return scorers[0] if scorers else None


def _row(sample: dict, scorer: str | None, where: str, problems: _Problems) -> dict | None:
    scores = sample.get("scores")
    errored = bool(sample.get("error")) and not scores
    if not errored and (not isinstance(scores, dict) or not scores):
        problems.add(
            f"{where}: scores: none (the sample was not scored; Inspect writes them unless "
            "scoring was skipped with --no-score)"
        )
        return None
    grade, answer = None, None
    extracted = True
    if errored:
        grade, answer, extracted = "not_attempted", "", False
    else:
        score = scores.get(scorer)
        if not isinstance(score, dict):
            problems.add(f"{where}: scores has no {_quote(scorer)}")
            return None
        grade = _grade(score.get("value"), f"{where}: scores.{scorer}.value", problems)
        if grade is None:
            return None
        answer = score.get("answer")
        if not isinstance(answer, str) or not answer.strip():
            answer = _completion(sample.get("output"))
        if grade == "not_attempted" or not answer.strip():
            answer, extracted = "", False
    options = sample.get("choices")
    if isinstance(options, list) and options:
        options = [str(option) for option in options[: len(CHOICE_LETTERS)]]
    else:
        options = None
    return {
        "id": str(sample["id"]),
        "answer": answer,
        "extracted": extracted,
        "grade": grade,
        "gold": first_text(sample.get("target")),
        "question": _question(sample.get("input")),
        "options": options,
        "category": metadata_category(sample.get("metadata")),
        "errored": errored,
    }


def _grade(value: object, where: str, problems: _Problems) -> str | None:
    if isinstance(value, str):
        grade = GRADES.get(value.strip().upper())
        if grade is None:
            problems.add(f"{where} {_quote(value)} is not a grade Inspect writes (C, I, P, N)")
        return grade
    if isinstance(value, bool):
        return "correct" if value else "incorrect"
    if isinstance(value, int | float) and math.isfinite(value) and 0 <= value <= 1:
        return "correct" if value == 1 else "incorrect" if value == 0 else "partial"
    if value is None:
        problems.add(f"{where}: none (the scorer gave the sample no grade)")
    elif isinstance(value, dict | list):
        problems.add(
            f"{where} is a {'dict' if isinstance(value, dict) else 'list'} of several values, "
            "not one grade (C, I, P, N or a number from 0 to 1): choose a scorer that grades "
            "each sample once"
        )
    else:
        problems.add(f"{where} {_quote(value)} is not a grade (C, I, P, N or a number from 0 to 1)")
    return None


def _completion(output: object) -> str:
    """The model's completion: `output.completion`, else the first choice's message text."""
    if not isinstance(output, dict):
        return ""
    completion = output.get("completion")
    if isinstance(completion, str) and completion.strip():
        return completion
    choices = output.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        message = choices[0].get("message")
        if isinstance(message, dict):
            return _content_text(message.get("content"))
    return ""


def _content_text(content: object) -> str:
    """A message's text: a string, or the text parts of a list of content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [part.get("text") for part in content if isinstance(part, dict)]
        kinds = [part.get("type") for part in content if isinstance(part, dict)]
        return "\n".join(
            text
            for text, kind in zip(texts, kinds, strict=True)
            if kind == "text" and isinstance(text, str)
        )
    return ""


def _question(given: object) -> str | None:
    """The sample's input: a string, or the last user message of a list of messages."""
    if isinstance(given, str):
        return given or None
    if isinstance(given, list):
        for message in reversed(given):
            if isinstance(message, dict) and message.get("role") == "user":
                return _content_text(message.get("content")) or None
    return None


def _is_id(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, str):
        return value.strip() != ""
    return isinstance(value, int)


def _is_whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
