"""Properties that hold for any submission: scores fall with t, counts add up, and the same
predictions score the same in every format and under every column alias."""

import gzip
import json

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scoring import (
    BenchmarkConfig,
    read_gold,
    read_predictions,
    score_at_target,
    score_predictions,
)
from scoring.reading.predictions import PREDICTION_FIELDS

ANSWERS = ["Paris", "Rome", "Oslo", "Bern", "Kyiv", "Riga", "Lima", "Quito"]
GOLD = read_gold(
    ("id,answer\n" + "".join(f"q{i},{a}\n" for i, a in enumerate(ANSWERS))).encode(),
    filename="gold.csv",
    grader="exact",
)
CONFIG = BenchmarkConfig(grader="exact", targets=(0.5, 0.75, 0.9))
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

texts = st.one_of(
    st.sampled_from(ANSWERS + ["paris!", "  the Rome ", "", "I don't know", "N/A", "Zürich"]),
    st.text(alphabet="abcXYZ é,.'\"ß-", max_size=12),
)


@st.composite
def submissions(draw) -> pd.DataFrame:
    """Rows of a prediction file: unique (id, target), optional confidences and flags."""
    keys = draw(
        st.lists(
            st.tuples(st.integers(0, len(ANSWERS) - 1), st.sampled_from([None, 0.5, 0.75])),
            min_size=1,
            max_size=20,
            unique=True,
        )
    )
    n = len(keys)
    return pd.DataFrame(
        {
            "id": [f"q{item}" for item, _ in keys],
            "answer": draw(st.lists(texts, min_size=n, max_size=n)),
            "confidence": draw(
                st.lists(
                    st.one_of(st.none(), st.floats(0, 1, allow_subnormal=False)),
                    min_size=n,
                    max_size=n,
                )
            ),
            "abstain": draw(st.lists(st.booleans(), min_size=n, max_size=n)),
            "target": [target for _, target in keys],
        }
    )


def score(data: bytes, filename: str):
    rows = read_predictions(data, filename=filename, gold=GOLD, config=CONFIG)
    return score_predictions(GOLD, rows, CONFIG)


def as_records(frame: pd.DataFrame) -> list[dict]:
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def encodings(frame: pd.DataFrame) -> dict[str, bytes]:
    records = as_records(frame)
    lines = "".join(json.dumps(record) + "\n" for record in records).encode()
    csv = frame.to_csv(index=False).encode()
    return {
        "p.csv": csv,
        "p.jsonl": lines,
        "p.json": json.dumps(records).encode(),
        "wrapped.json": json.dumps({"predictions": records}).encode(),
        "p.csv.gz": gzip.compress(csv),
        "p.jsonl.gz": gzip.compress(lines),
    }


@SETTINGS
@given(
    correct=st.integers(0, 1000),
    incorrect=st.integers(1, 1000),
    abstained=st.integers(0, 1000),
    percents=st.lists(st.integers(0, 99), min_size=2, max_size=5, unique=True),
)
def test_it_scores_lower_as_t_rises_whenever_something_is_wrong(
    correct, incorrect, abstained, percents
):
    n = correct + incorrect + abstained
    scores = score_at_target(correct, incorrect, n, np.sort(percents) / 100)
    assert (np.diff(scores) < 0).all()


@SETTINGS
@given(frame=submissions())
def test_it_scores_lower_as_t_rises_for_the_same_answers(frame):
    result = score(frame.to_csv(index=False).encode(), "p.csv")
    for run in result.runs:
        scores = [run.score_at(t) for t in CONFIG.rubrics]
        if run.incorrect:
            assert all(a > b for a, b in zip(scores, scores[1:], strict=False))
        else:
            assert len(set(scores)) == 1


@SETTINGS
@given(frame=submissions())
def test_it_counts_every_item_once(frame):
    result = score(frame.to_csv(index=False).encode(), "p.csv")
    for run in result.runs:
        assert run.correct + run.incorrect + run.abstained == GOLD.n_items
        assert run.present <= GOLD.n_items
        assert len(run.outcomes) == GOLD.n_items
        assert abs(run.accuracy + run.error_rate + run.abstention_rate - 1) < 1e-12
    targets = frame["target"].astype(float)
    default = frame[targets.isna()]
    if len(default):
        assert result.runs[0].present == len(default)


@SETTINGS
@given(frame=submissions())
def test_it_scores_the_same_predictions_the_same_in_every_format(frame):
    results = {name: score(data, name) for name, data in encodings(frame).items()}
    first = results.pop("p.csv")
    for name, result in results.items():
        assert result == first, name


@SETTINGS
@given(
    frame=submissions(),
    names=st.fixed_dictionaries(
        {field: st.sampled_from(aliases) for field, aliases in PREDICTION_FIELDS.items()}
    ),
    case=st.sampled_from([str.lower, str.upper, str.title]),
)
def test_it_scores_the_same_under_any_alias_in_any_case(frame, names, case):
    expected = score(frame.to_csv(index=False).encode(), "p.csv")
    renamed = frame.rename(columns={field: case(names[field]) for field in frame.columns})
    result = score(renamed.to_csv(index=False).encode(), "p.csv")
    assert result.to_dict() | {"columns": None} == expected.to_dict() | {"columns": None}
    for run, other in zip(result.runs, expected.runs, strict=True):
        assert np.array_equal(run.outcomes, other.outcomes)
    assert result.columns.used == {
        field: case(names[field]) for field in frame.columns if field in names
    }


def test_it_reads_what_pandas_writes_back_unchanged():
    frame = pd.DataFrame({"id": ["q1"], "answer": ['say "hi", twice\nthen go']})
    rows = read_predictions(
        frame.to_csv(index=False).encode(), filename="p.csv", gold=GOLD, config=CONFIG
    )
    assert rows.rows["answer"].tolist() == ['say "hi", twice\nthen go']
