"""Every Eval Ever instance-level JSON Lines (schema 0.3.0), which its converters write from
Inspect AI, lm-evaluation-harness, HELM and other harnesses: one line per sample.

The `sample_id` is the item id; the answer is the `extracted_value` of the final
`answer_attribution` entry (the one marked `is_terminal`, else the last); `evaluation.is_correct`
is the harness grade; `input.reference` (its first entry) is the gold, `input.raw` the question,
`input.choices` the options of a multiple-choice sample (an answer or reference that is an
option's text, or its letter, becomes the letter; a reference that is an option's number, as
lm-evaluation-harness writes it, too); `metadata.subject` or `metadata.category` the category;
`model_id` the model and `evaluation_name` the task.

An entry whose `extracted_value` is empty is an answer the harness could not extract. Some
converters (Inspect's) write no `answer_attribution` at all and put the scored answer in
`output.raw`: that is then the answer, and the report says so. Samples of several epochs
(`metadata.epoch`, as the Inspect converter writes it) need the epoch chosen. Messages number
a sample by its line in the file.
"""

from __future__ import annotations

import json
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
from scoring.reading.raw import _check_text, _decode
from scoring.reading.tables import _json_line_errors, _json_loads, _JsonBeyondLimits

FORMAT = "every-eval-ever"
NAME = "Every Eval Ever instances (.jsonl)"
ID_FIELD = "sample_id"

_LOOK_BYTES = 1 << 16
_INSTANCE_KEYS = (re.compile(rb'"schema_version"\s*:'), re.compile(rb'"sample_id"\s*:'))
_AGGREGATE_KEY = re.compile(rb'"evaluation_results"\s*:')


def looks_like(data: bytes, filename: str) -> bool:
    head = data[:_LOOK_BYTES].lstrip()
    if not head.startswith(b"{") or not _INSTANCE_KEYS[0].search(head):
        return False
    return bool(_INSTANCE_KEYS[1].search(head) or _AGGREGATE_KEY.search(head))


def read(data: bytes, *, filename: str, options: LogOptions, max_bytes: int) -> LogSamples:
    _check_text(data)
    text = _decode(data).removeprefix("\ufeff")
    records, places = _records(text)
    if len(records) == 1 and isinstance(records[0], dict) and "evaluation_results" in records[0]:
        details = records[0].get("detailed_evaluation_results")
        where = ""
        if isinstance(details, dict) and isinstance(details.get("file_path"), str):
            where = f" ({_quote(details['file_path'])})"
        raise FileRejected(
            [
                "this is an Every Eval Ever aggregate record, which holds scores but no "
                f"samples: upload its instance-level JSON Lines file{where}"
            ]
        )
    messages: list[str] = []
    count = 0

    def problem(message: str) -> None:
        nonlocal count
        count += 1
        if len(messages) < MAX_ERRORS_SHOWN:
            messages.append(message)

    rows = []
    for number, record in zip(places, records, strict=True):
        if not isinstance(record, dict):
            problem(f"{describe_sample(number)}: not a JSON object")
            continue
        sample_id = record.get("sample_id")
        if isinstance(sample_id, bool) or not isinstance(sample_id, str | int):
            problem(f"{describe_sample(number)}: sample_id: missing, or not a text")
            continue
        if str(sample_id).strip() == "":
            problem(f"{describe_sample(number)}: sample_id is empty")
            continue
        rows.append((number, record, _epoch(record)))
    if count:
        raise FileRejected(messages, count)

    epochs = sorted({epoch for _, _, epoch in rows if epoch is not None}, key=_epoch_order)
    found: dict[str, list[str]] = {}
    used: dict[str, str] = {}
    if epochs:
        found["epoch"] = epochs
        chosen = None if options.epoch is None else str(options.epoch)
        if chosen is not None and chosen not in epochs:
            raise FileRejected(
                [f"epoch {chosen} is not in the file; its samples ran epochs {', '.join(epochs)}"]
            )
        if chosen is None and len(epochs) > 1:
            raise FileRejected(
                [
                    f"the file's samples ran {len(epochs)} epochs ({', '.join(epochs)}); an item "
                    "takes one answer per run, so choose the epoch to score (the field epoch)"
                ]
            )
        chosen = chosen or epochs[0]
        used["epoch"] = chosen
        rows = [row for row in rows if row[2] in (None, chosen)]

    columns: dict[str, list] = {
        name: []
        for name in ("id", "answer", "extracted", "grade", "gold", "question", "options")
        + ("category",)
    }
    raw_answers = 0
    for _, record, _ in rows:
        given = record.get("input") if isinstance(record.get("input"), dict) else {}
        options_list = _options(given.get("choices"))
        answer, extracted, from_output = _answer(record)
        raw_answers += from_output
        if options_list is not None and extracted:
            answer = _as_letter(answer, options_list, by_number=False)
        gold = first_text(given.get("reference"))
        if options_list is not None and gold is not None:
            gold = _as_letter(gold, options_list, by_number=True)
        evaluation = record.get("evaluation")
        verdict = evaluation.get("is_correct") if isinstance(evaluation, dict) else None
        columns["id"].append(str(record["sample_id"]).strip())
        columns["answer"].append(answer)
        columns["extracted"].append(extracted)
        columns["grade"].append(
            None if not isinstance(verdict, bool) else "correct" if verdict else "incorrect"
        )
        columns["gold"].append(gold)
        raw = given.get("raw")
        columns["question"].append(raw if isinstance(raw, str) and raw else None)
        columns["options"].append(options_list)
        columns["category"].append(metadata_category(record.get("metadata")))

    notes = []
    if raw_answers:
        notes.append(
            f"{raw_answers} sample{'s' if raw_answers != 1 else ''} have no answer_attribution: "
            "the answer read is the model's output (output.raw)"
        )
    tasks = list(dict.fromkeys(record.get("evaluation_name") for _, record, _ in rows))
    if len(tasks) > 1:
        notes.append(
            "the file holds several evaluations: " + ", ".join(_quote(task) for task in tasks[:5])
        )
    first = rows[0][1] if rows else {}
    return LogSamples(
        format=FORMAT,
        id_field=ID_FIELD,
        frame=samples_frame(columns),
        places=np.asarray([number for number, _, _ in rows], dtype=np.int64),
        model=_text(first.get("model_id")),
        task=_text(first.get("evaluation_name")),
        found=found,
        used=used,
        notes=notes,
    )


def _records(text: str) -> tuple[list, list[int]]:
    """The JSON value of each non-blank line and its line number."""
    lines = text.split("\n")
    numbers = [index for index, line in enumerate(lines, 1) if line.strip()]
    kept = [lines[number - 1] for number in numbers]
    if not kept:
        raise FileRejected(["the file is empty"])
    try:
        values = _json_loads("[" + ",\n".join(kept) + "]")
    except (json.JSONDecodeError, _JsonBeyondLimits):
        # A whole JSON document (the aggregate record, pretty-printed) is not JSON Lines.
        try:
            document = _json_loads(text)
        except (json.JSONDecodeError, _JsonBeyondLimits):
            document = None
        if isinstance(document, dict):
            return [document], [1]
        found = _json_line_errors(kept)
        raise FileRejected(
            [f"line {numbers[index]}: {message}" for index, message in found]
        ) from None
    if len(values) != len(kept):
        raise FileRejected(["the file is not JSON Lines: some lines hold more than one value"])
    return values, numbers


def _answer(record: dict) -> tuple[str, bool, bool]:
    """The answer, whether the harness extracted one, and whether it came from output.raw."""
    attributions = record.get("answer_attribution")
    if isinstance(attributions, list) and attributions:
        entries = [entry for entry in attributions if isinstance(entry, dict)]
        terminal = [entry for entry in entries if entry.get("is_terminal") is True]
        entry = (terminal or entries or [{}])[-1]
        value = entry.get("extracted_value")
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str) and value.strip():
            return value, True, False
        return "", False, False
    output = record.get("output")
    raw = output.get("raw") if isinstance(output, dict) else None
    if isinstance(raw, list):
        raw = next((value for value in reversed(raw) if isinstance(value, str)), None)
    if isinstance(raw, str) and raw.strip():
        return raw, True, True
    return "", False, False


def _as_letter(value: str, options: list[str], *, by_number: bool) -> str:
    """The letter of the option `value` names: a letter in range, an option's text, or (for
    references) the option's number from 0; the value itself otherwise."""
    text = value.strip()
    if len(text) == 1 and text.upper() in CHOICE_LETTERS[: len(options)]:
        return text.upper()
    stripped = [option.strip() for option in options]
    if text in stripped:
        return CHOICE_LETTERS[stripped.index(text)]
    if by_number and text.isdigit() and int(text) < len(options):
        return CHOICE_LETTERS[int(text)]
    return value


def _options(choices: object) -> list[str] | None:
    if not isinstance(choices, list) or not choices:
        return None
    return [str(choice) for choice in choices[: len(CHOICE_LETTERS)]]


def _epoch(record: dict) -> str | None:
    metadata = record.get("metadata")
    epoch = metadata.get("epoch") if isinstance(metadata, dict) else None
    if isinstance(epoch, str | int) and not isinstance(epoch, bool) and str(epoch).strip():
        return str(epoch).strip()
    return None


def _epoch_order(epoch: str) -> tuple[int, str]:
    return (int(epoch), "") if epoch.isdigit() else (1 << 62, epoch)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
