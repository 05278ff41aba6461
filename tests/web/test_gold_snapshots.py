"""The gold's snapshot: what scoring reads instead of the Item rows, equal to what they hold."""

from __future__ import annotations

import pandas as pd
import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext

import scoring
from leaderboard import gold_snapshots, services
from leaderboard.models import Item, Submission

pytestmark = pytest.mark.django_db

# Every kind of cell a stored gold holds: aliases (none, one, several), questions with commas,
# quotes, line breaks, tabs, backslashes and none at all, categories and none, text beyond ASCII,
# a number of options on some items.
RICH_GOLD = (
    "id,question,answer,aliases,category,n_options\n"
    'q1,"Capital of France, in one word?",Paris,,geography,4\n'
    'q2,"Who wrote ""Hamlet""?\nAnswer with the surname.",William Shakespeare,'
    '"[""Shakespeare"", ""W. Shakespeare""]",literature,\n'
    "q3,,Jupiter,Jove,,\n"
    "q4,Écrivez « bleu ».,Bleu,,science,2\n"
    "  q5  ,What is 2+2?,4,,science,\n"
    'q6,"A tab\there, a backslash?",C:\\temp\\new,"[""a\\\\b""]",,\n'
)


def assert_same_gold(got: scoring.Gold, expected: scoring.Gold) -> None:
    pd.testing.assert_frame_equal(got.items, expected.items)
    assert got.items.to_dict("records") == expected.items.to_dict("records")
    assert got.columns == expected.columns
    assert got.digest == expected.digest


@pytest.mark.parametrize("grader", ["exact", "numeric", "choice"])
def test_it_reads_back_from_the_snapshot_the_gold_the_items_hold(make_benchmark, grader):
    gold = {
        "exact": RICH_GOLD,
        "numeric": "id,answer,question\na,1.5,How much?\nb,-2e3,\nc,70,Degrees?\n",
        "choice": 'id,answer,options\nm1,B,"[""x"", ""y"", ""z""]"\nm2,a,"[""u"", ""v""]"\n',
    }[grader]
    benchmark = make_benchmark(gold=gold, grader=grader)
    name = gold_snapshots.snapshot_name(benchmark)
    assert default_storage.exists(name)  # written with the items
    # The items stored are the file's, character for character (escapes, line breaks, accents).
    assert benchmark.gold().digest == benchmark.gold_digest
    assert_same_gold(gold_snapshots.benchmark_gold(benchmark), benchmark.gold())


def test_it_scores_from_the_snapshot_without_reading_the_items(make_benchmark):
    benchmark = make_benchmark(gold=RICH_GOLD)
    with CaptureQueriesContext(connection) as queries:
        gold = gold_snapshots.benchmark_gold(benchmark)
    assert gold.n_items == 6
    assert not [q for q in queries.captured_queries if Item._meta.db_table in q["sql"]]


def test_it_rebuilds_a_missing_snapshot_from_the_items(make_benchmark):
    benchmark = make_benchmark(gold=RICH_GOLD)
    name = gold_snapshots.snapshot_name(benchmark)
    default_storage.delete(name)
    assert_same_gold(gold_snapshots.benchmark_gold(benchmark), benchmark.gold())
    assert default_storage.exists(name)
    with CaptureQueriesContext(connection) as queries:
        gold_snapshots.benchmark_gold(benchmark)
    assert not [q for q in queries.captured_queries if Item._meta.db_table in q["sql"]]


@pytest.mark.parametrize(
    "damage",
    [b"", b"not a zip file", "truncated"],
    ids=["empty", "garbage", "truncated"],
)
def test_it_rebuilds_a_damaged_snapshot(make_benchmark, damage):
    benchmark = make_benchmark(gold=RICH_GOLD)
    name = gold_snapshots.snapshot_name(benchmark)
    with default_storage.open(name, "rb") as handle:
        whole = handle.read()
    data = whole[: len(whole) // 2] if damage == "truncated" else damage
    with open(default_storage.path(name), "wb") as handle:
        handle.write(data)
    assert_same_gold(gold_snapshots.benchmark_gold(benchmark), benchmark.gold())
    with default_storage.open(name, "rb") as handle:
        assert handle.read() == whole


def test_it_never_serves_the_snapshot_of_another_gold(make_benchmark):
    first = make_benchmark(slug="first", gold=RICH_GOLD)
    second = make_benchmark(slug="second", gold="id,answer\nz1,Oslo\nz2,Rome\n")
    # The second benchmark's file put where the first one's belongs: refused, and rebuilt.
    with default_storage.open(gold_snapshots.snapshot_name(second), "rb") as handle:
        other = handle.read()
    with open(default_storage.path(gold_snapshots.snapshot_name(first)), "wb") as handle:
        handle.write(other)
    assert_same_gold(gold_snapshots.benchmark_gold(first), first.gold())


def test_it_reads_the_new_gold_once_the_gold_changes(make_benchmark):
    benchmark = make_benchmark(gold=RICH_GOLD)
    old_name = gold_snapshots.snapshot_name(benchmark)
    new = scoring.read_gold(b"id,answer\nq1,Lyon\nq9,Nine\n", filename="g.csv", grader="exact")
    services.benchmark_set_items(benchmark=benchmark, gold=new)
    assert gold_snapshots.snapshot_name(benchmark) != old_name
    gold = gold_snapshots.benchmark_gold(benchmark)
    assert gold.items["id"].tolist() == ["q1", "q9"]
    assert gold.items["answer"].tolist() == ["Lyon", "Nine"]
    assert_same_gold(gold, benchmark.gold())
    # Missing, it is rebuilt from the new items, not the old ones.
    default_storage.delete(gold_snapshots.snapshot_name(benchmark))
    assert gold_snapshots.benchmark_gold(benchmark).items["answer"].tolist() == ["Lyon", "Nine"]


def test_it_scores_a_submission_alike_from_the_snapshot_and_from_the_items(
    make_benchmark, user, save_submission
):
    benchmark = make_benchmark(gold=RICH_GOLD)
    content = b"id,answer\nq1,paris\nq2,Shakespeare\nq3,Saturn\nq5,I don't know\n"
    first = save_submission(benchmark, user, content)
    services.submission_score(submission_id=first.pk)
    default_storage.delete(gold_snapshots.snapshot_name(benchmark))
    second = save_submission(benchmark, user, content)
    services.submission_score(submission_id=second.pk)
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == second.status == Submission.Status.SCORED
    assert first.summary == second.summary
    expected = scoring.score_predictions(
        benchmark.gold(),
        scoring.read_predictions(
            content, filename="p.csv", gold=benchmark.gold(), config=benchmark.config()
        ),
        benchmark.config(),
    )
    assert first.summary == expected.to_dict()
