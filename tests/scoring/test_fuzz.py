"""A fuzz of the reader: thousands of generated files, each scored or rejected with messages.

Files start as valid CSV, JSON Lines or JSON predictions of every shape the spec allows, then are
broken the ways uploads break: bytes inserted, cut, doubled or swapped, odd encodings, byte order
marks, quotes, deep nesting, huge numbers, NaN and infinity, gzip (sound, cut short or followed by
junk), names that lie about the format; and plain random bytes. Whatever comes in, reading either
gives rows that score, or raises FileRejected with printable messages; any other exception is a
bug. The settings are derandomised, so every run tries the same files.
"""

from __future__ import annotations

import csv
import functools
import gzip
import io
import json
import re

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from scoring import BenchmarkConfig, FileRejected, Gold, read_gold, read_predictions
from scoring import score_predictions as score

FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=False,
    suppress_health_check=list(HealthCheck),
)

IDS = [f"q{i:02d}" for i in range(1, 9)]
GOLD_ANSWERS = {
    "exact": ["Paris", "Rome", "Oslo", "Bern", "Kyiv", "Lima", "Quito", "Tokyo"],
    "choice": list("ABCDEFGH"),
    "numeric": ["1,234", "5%", "3.14", "1e3", "-2", "0", "0.001", "42"],
    "pregraded": ["Paris", "Rome", "Oslo", "Bern", "Kyiv", "Lima", "Quito", "Tokyo"],
}
GRADERS = tuple(GOLD_ANSWERS)


def gold_text(grader: str) -> str:
    answers = GOLD_ANSWERS[grader]
    rows = "".join(f'{item},"{answer}"\n' for item, answer in zip(IDS, answers, strict=True))
    return f"id,answer\n{rows}"


@functools.cache
def gold(grader: str) -> Gold:
    return read_gold(gold_text(grader).encode(), filename="gold.csv", grader=grader)


class Raw(str):
    """JSON text written into a JSON file as it is: what json.dumps cannot or will not write."""


TRICKY_TEXT = [
    "",
    " ",
    "Paris",
    " paris! ",
    "I don't know",
    "N/A",
    "B",
    "(c)",
    "answer is D",
    "1,234",
    "50%",
    "1e3",
    "½",
    "٣",
    '=HYPERLINK("http://x","y")',
    "+cmd|' /C calc'!A0",
    "@SUM(1)",
    "-2+3",
    '"',
    '""',
    "'",
    ",",
    ";",
    "\t",
    "\n",
    "\r\n",
    "\ufeff",
    "\u200b",
    "\u00a0",
    "\x00",
    "\u2028",
    "Zürich",
    "東京",
    "🦊",
    "NaN",
    "inf",
    "-Infinity",
    "1e400",
    "true",
    "null",
    "correct",
    "not_attempted",
    "A",
    "C",
    "yes",
    "maybe",
    "0.5",
    "0.75",
    "1",
    "-0",
]
RAW_JSON = [
    "NaN",
    "Infinity",
    "-Infinity",
    "1e400",
    "-1e400",
    "9" * 5000,
    "-" + "1" * 4400,
    "5e-324",
    "[" * 3000 + "]" * 3000,
    '{"a": ' * 1200 + "1" + "}" * 1200,
    "[" * 60 + "]" * 60,
    '"\\ud800"',
    '"\\u0000"',
    '"\\udfff\\ud800"',
    "123456789012345678901234567890",
]

texts = st.one_of(st.sampled_from(TRICKY_TEXT), st.text(max_size=12))
numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(0, 1),
    st.integers(-(10**30), 10**30),
    st.sampled_from([0, 1, 0.5, 0.75, 0.9, 0.1 + 0.2, 1e-10]),
)
cells = st.one_of(
    texts,
    numbers,
    st.booleans(),
    st.none(),
    st.sampled_from([[], ["Paris"], {"text": "Rome"}, [1, [2]]]),
    st.sampled_from(RAW_JSON).map(Raw),
)
# Written into JSON as they are: ids holding a lone surrogate or a NUL, which PostgreSQL refuses
# to store, and a number past the largest float.
ODD_IDS = st.one_of(
    st.sampled_from(['"q01\\ud800"', '"\\u0000q02"', '"\\udfff"', "1e400"]).map(Raw),
    st.sampled_from(["\u202eq01", "q01\u200b", "<b>q01</b>", "=1+1"]),
)
ODD_NAMES = ["notes", "", "\ufeffid", "Q", "\x00", "x\ud800", "\u202e", "a" * 300]
item_ids = st.one_of(
    st.sampled_from(IDS),
    st.sampled_from(IDS).map(lambda item: f" {item} "),
    st.integers(0, 12),
    texts,
    ODD_IDS,
)
FIELD_NAMES = {
    "id": ["id", "ID", "question_id", "qid", "item_id", " Id "],
    "answer": ["answer", "prediction", "pred", "predicted_answer", "response", "output", "Answer"],
    "grade": ["grade", "label", "judgement", "grade_str"],
    "abstain": ["abstain", "abstained", "idk"],
    "confidence": ["confidence", "conf", "p_correct", "probability"],
    "target": ["target", "t", "confidence_target"],
    "other": ["notes", "question", "", "id", "answer", "\ufeffid", "metadata", "\x00", "x\ud800"],
}
VALUES = {
    "id": item_ids,
    "answer": st.one_of(st.sampled_from(GOLD_ANSWERS["exact"] + list("ABCDE")), cells),
    "grade": st.one_of(st.sampled_from(["correct", "incorrect", "not_attempted", "A", "B"]), cells),
    "abstain": st.one_of(st.sampled_from(["true", "false", "1", "0", "yes", ""]), cells),
    "confidence": st.one_of(numbers, cells),
    "target": st.one_of(st.sampled_from([None, "", 0, 0.5, 0.75, 0.9, "0.50"]), cells),
    "other": cells,
}


SOUND_VALUES = {
    "answer": st.one_of(texts, st.integers(-5, 5), st.floats(allow_nan=False)),
    "grade": st.sampled_from(["correct", "Incorrect", "not_attempted", "A", "B", "c"]),
    "abstain": st.sampled_from(["true", "false", "1", "0", "yes", "", True, False, None]),
    "confidence": st.one_of(st.floats(0, 1), st.sampled_from(["", None, "0.5", 1])),
    "other": cells,
}


@st.composite
def sound_tables(draw) -> tuple[list[str], list[list[object]]]:
    """Column names and rows of a prediction file that must score."""
    extra = draw(
        st.lists(st.sampled_from(["confidence", "abstain", "target", "other"]), unique=True)
    )
    fields = ["id", "answer", "grade", *extra]
    names = [draw(st.sampled_from(FIELD_NAMES[field][:4])) for field in fields]
    if "other" in fields:  # a column the reader ignores, named unlike any field
        names[fields.index("other")] = draw(st.sampled_from(ODD_NAMES))
    targets = [None, 0.5, 0.75, 0.9, 0.3] if "target" in fields else [None]
    keys = draw(
        st.lists(st.tuples(st.sampled_from(IDS), st.sampled_from(targets)), min_size=1, unique=True)
    )
    rows = []
    for item, target in draw(st.permutations(keys)):
        row = {"id": item, "target": target}
        for field in fields:
            if field not in row:
                row[field] = draw(SOUND_VALUES[field])
        rows.append([row[field] for field in fields])
    if draw(st.integers(0, 5)) == 5:  # one id that is no item, and hard to show or store
        rows[draw(st.integers(0, len(rows) - 1))][0] = draw(ODD_IDS)
    return names, rows


@st.composite
def tables(draw) -> tuple[list[str], list[list[object]]]:
    """Column names and rows of any fields and cells."""
    fields = draw(st.lists(st.sampled_from([f for f in FIELD_NAMES if f != "id"]), max_size=6))
    if draw(st.integers(0, 9)):  # most files have an id column, not always first
        fields.insert(draw(st.integers(0, len(fields))), "id")
    names = [draw(st.sampled_from(FIELD_NAMES[field])) for field in fields]
    n_rows = draw(st.integers(0, 12))
    rows = [[draw(VALUES[field]) for field in fields] for _ in range(n_rows)]
    return names, rows


def render_csv(names: list[str], rows: list[list[object]], draw, sound: bool) -> bytes:
    out = io.StringIO()
    writer = csv.writer(
        out,
        delimiter="," if sound else draw(st.sampled_from([",", ",", ";", "\t"])),
        quoting=draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC])),
        lineterminator=draw(st.sampled_from(["\n", "\r\n", "\r"])),
    )
    writer.writerow(names)
    for row in rows:
        writer.writerow(["" if cell is None else cell for cell in row])
    return out.getvalue().encode("utf-8", errors="surrogatepass")


def json_value(cell: object) -> str:
    if isinstance(cell, Raw):
        return str(cell)
    return json.dumps(cell, ensure_ascii=False)


def json_record(names: list[str], row: list[object]) -> str:
    pairs = zip(names, row, strict=True)
    return "{" + ", ".join(f"{json.dumps(name)}: {json_value(cell)}" for name, cell in pairs) + "}"


def render_jsonl(names: list[str], rows: list[list[object]], draw, sound: bool) -> bytes:
    ending = draw(st.sampled_from(["\n", "\r\n", "\n\n"]))
    text = "".join(json_record(names, row) + ending for row in rows)
    return text.encode("utf-8", errors="surrogatepass")


def render_json(names: list[str], rows: list[list[object]], draw, sound: bool) -> bytes:
    array = "[" + ",\n".join(json_record(names, row) for row in rows) + "]"
    wrappers = ["{}", '{{"predictions": {}}}', '{{"items": {}}}']
    wrapper = draw(st.sampled_from(wrappers if sound else [*wrappers, "[{}]", '{{"rows": {}}}']))
    return wrapper.format(array).encode("utf-8", errors="surrogatepass")


RENDERERS = {".csv": render_csv, ".jsonl": render_jsonl, ".json": render_json}
SNIPPETS = [
    b'"',
    b"'",
    b",",
    b"\n",
    b"\r",
    b"\x00",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"\xc3",
    b"\xe2\x80",
    b"\xed\xa0\x80",
    b"[" * 2000,
    b'{"a":' * 1500,
    b"9" * 5000,
    b"NaN",
    b"-Infinity",
    b"\\u0000",
    b"\\ud800",
    b"}",
    b"]",
]


@st.composite
def mutated(draw, data: bytes) -> bytes:
    """The bytes broken in up to three ways."""
    for _ in range(draw(st.sampled_from([0, 0, 0, 0, 0, 0, 1, 1, 2, 3]))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["insert", "snippet", "delete", "double", "swap", "cut"]))
        if kind == "insert":
            data = data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
        elif kind == "snippet":
            data = data[:at] + draw(st.sampled_from(SNIPPETS)) + data[at:]
        elif kind == "delete":
            data = data[:at] + data[at + draw(st.integers(1, 20)) :]
        elif kind == "double":
            data = data[:at] + data[at : at + draw(st.integers(1, 40))] + data[at:]
        elif kind == "swap" and at < len(data):
            data = data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1 :]
        elif kind == "cut":
            data = data[:at]
    return data


@st.composite
def encoded(draw, data: bytes) -> bytes:
    """The bytes as they were, with a byte order mark, or in another encoding."""
    how = draw(
        st.sampled_from(
            ["utf-8"] * 20
            + ["bom", "utf-16", "utf-16-le", "utf-32", "latin-1", "cp1252", "shift_jis"]
        )
    )
    if how == "utf-8":
        return data
    if how == "bom":
        return b"\xef\xbb\xbf" + data
    text = data.decode("utf-8", errors="replace")
    return text.encode(how, errors="replace")


@st.composite
def compressed(draw, data: bytes) -> tuple[bytes, bool]:
    """The bytes, or gzip of them: whole, cut short, followed by junk, or in many members."""
    how = draw(st.sampled_from(["plain"] * 12 + ["gzip"] * 3 + ["cut", "junk", "members", "twice"]))
    if how == "plain":
        return data, False
    packed = gzip.compress(data, mtime=0)
    if how == "cut":
        packed = packed[: draw(st.integers(0, len(packed)))]
    elif how == "junk":
        packed += draw(st.binary(min_size=1, max_size=30))
    elif how == "members":
        middle = draw(st.integers(0, len(data)))
        packed = gzip.compress(data[:middle], mtime=0) + gzip.compress(data[middle:], mtime=0)
    elif how == "twice":
        packed = gzip.compress(packed, mtime=0)
    return packed, True


@st.composite
def prediction_files(draw) -> tuple[str, bytes]:
    """A file name and its bytes: a prediction file, more or less broken."""
    # Hypothesis favours the smallest choice, so the rare branches sit at the other end.
    if draw(st.integers(0, 9)) == 9:
        data = draw(st.binary(max_size=3000))
        kind = draw(st.sampled_from(list(RENDERERS)))
        gz = draw(st.booleans())
        return f"random{kind}{'.gz' if gz else ''}", data
    kind = draw(st.sampled_from(list(RENDERERS)))
    sound = draw(st.integers(0, 4)) <= 3
    names, rows = draw(sound_tables() if sound else tables())
    data = RENDERERS[kind](names, rows, draw, sound)
    data = draw(mutated(data))
    data = draw(encoded(data))
    data, gz = draw(compressed(data))
    # Mostly the name says what the file is; sometimes it lies.
    if draw(st.integers(0, 11)) == 11:
        kind = draw(st.sampled_from([*RENDERERS, ".txt", ".csv.zip", ""]))
    if draw(st.integers(0, 11)) == 11:
        gz = not gz
    return f"predictions{kind}{'.gz' if gz else ''}", data


configs = st.builds(
    BenchmarkConfig,
    grader=st.sampled_from(GRADERS),
    min_coverage=st.sampled_from([0.0] * 8 + [0.25, 1.0]),
    max_bytes=st.sampled_from([50 * 1024 * 1024] * 12 + [64, 1024]),
)


def read_and_score(filename: str, data: bytes, config: BenchmarkConfig) -> dict | None:
    """The scored summary, or None if the file was rejected with proper messages."""
    loaded = gold(config.grader)
    try:
        predictions = read_predictions(data, filename=filename, gold=loaded, config=config)
    except FileRejected as rejected:
        assert rejected.errors, "rejected without a message"
        assert rejected.n_errors >= 1
        for message in rejected.errors:
            assert isinstance(message, str) and message.strip(), rejected.errors
            # Shown on a page and stored: no control characters, no lone surrogates.
            assert message.isprintable(), message
        # `--hypothesis-show-statistics` shows which causes the fuzz reaches.
        event("rejected: " + re.sub(r'"[^"]*"|\d[\d,.]*', "…", rejected.errors[0])[:70])
        return None
    result = score(loaded, predictions, config).to_dict()
    # Stored as JSON by the site: no NaN, nothing but plain values, printable column names.
    json.dumps(result, allow_nan=False)
    columns = result["columns"]
    for name in [*columns["used"].values(), *columns["ignored"]]:
        assert name.isprintable(), name
    event("scored")
    return result


@settings(FUZZ, max_examples=1500)
@given(file=prediction_files(), config=configs)
def test_it_scores_or_rejects_every_broken_prediction_file(file, config):
    filename, data = file
    read_and_score(filename, data, config)


@settings(FUZZ, max_examples=400)
@given(
    data=st.binary(max_size=5000),
    filename=st.sampled_from(["p.csv", "p.jsonl", "p.json", "p.csv.gz", "p.json.gz", "p.jsonl.gz"]),
    config=configs,
)
def test_it_scores_or_rejects_random_bytes(data, filename, config):
    read_and_score(filename, data, config)


@settings(FUZZ, max_examples=300)
@given(file=prediction_files(), grader=st.sampled_from(GRADERS))
def test_it_reads_or_rejects_every_broken_gold_file(file, grader):
    filename, data = file
    try:
        loaded = read_gold(data, filename=filename, grader=grader, max_bytes=1024 * 1024)
    except FileRejected as rejected:
        assert rejected.errors and all(m.strip() and m.isprintable() for m in rejected.errors)
        return
    assert loaded.n_items >= 1
