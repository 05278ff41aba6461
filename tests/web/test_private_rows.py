"""Boards of viewers who see private submissions: the cached public board with their rows merged.

A user with private scored submissions, and every staff member, used to have the whole board
computed again at each request. On the real MMLU-Pro board with private copies of its models,
the merged board is exactly the one computed from scratch, and computing it reads the bootstraps
of the private rows only.
"""

from __future__ import annotations

import csv
import gzip
import io
import random
import re

import numpy as np
import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leaderboard import selectors, services
from leaderboard.models import Benchmark, Submission
from tests.processes import ROOT

pytestmark = pytest.mark.django_db

PREDICTIONS = ROOT / "demo" / "mmlu-pro" / "predictions"


def blanked_copy(name: str, share: float, seed: int) -> bytes:
    """A real MMLU-Pro prediction file with about `share` of its answers left blank."""
    rng = random.Random(seed)
    with gzip.open(PREDICTIONS / f"{name}.csv.gz", "rt", newline="") as handle:
        rows = list(csv.reader(handle))
    column = rows[0].index("pred")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(rows[0])
    for row in rows[1:]:
        if rng.random() < share:
            row[column] = ""
        writer.writerow(row)
    return out.getvalue().encode()


def scored(benchmark, owner, name: str, share: float, visibility: str = "private") -> Submission:
    submission = services.submission_create(
        benchmark=benchmark,
        owner=owner,
        file=ContentFile(blanked_copy(name, share, seed=len(name)), name=f"{name}.csv"),
        model_name=f"{name}-blank{round(share * 100)}",
        visibility=visibility,
        queue=False,
    )
    services.submission_score(submission_id=submission.pk)
    submission.refresh_from_db()
    assert submission.status == "scored", submission.errors
    return submission


def assert_same_board(merged: selectors.Board, rebuilt: selectors.Board) -> None:
    assert not merged.public and not rebuilt.public
    assert merged.rows == rebuilt.rows
    assert merged.taus == rebuilt.taus
    assert merged.positions == rebuilt.positions
    assert merged.beats.keys() == rebuilt.beats.keys()
    for key, matrix in rebuilt.beats.items():
        assert np.array_equal(merged.beats[key], matrix), key
    assert merged.to_json() == rebuilt.to_json()
    assert merged.headline() == rebuilt.headline()


def test_it_merges_private_rows_into_the_cached_public_board_exactly_as_a_rebuild(
    user, other_user, admin_user
):
    call_command("seed_demo", only="mmlu-pro", stdout=io.StringIO())
    benchmark = Benchmark.objects.get(slug="mmlu-pro")
    public = selectors.board_for(benchmark, user)
    leader = public.leader("0").model
    # Close to the leader (within noise of it), a weaker copy, and another user's copy.
    mine = [
        scored(benchmark, user, leader, 0.01),
        scored(benchmark, user, "Llama-2-13b-hf", 0.35),
    ]
    theirs = [scored(benchmark, other_user, "Mixtral-8x7B-Instruct-v0.1", 0.1)]
    # A public upload after them: the public board is not the demo's any more.
    scored(benchmark, other_user, "gemma-7b", 0.2, visibility="public")
    benchmark.refresh_from_db()
    public = selectors.board_for(benchmark, AnonymousUser())
    assert public.public and len(public.rows) == 30

    # The owner's board: only the bootstraps of the added rows are read from the database.
    with CaptureQueriesContext(connection) as queries:
        selectors.board_for(benchmark, user)
    read = set()
    for query in queries.captured_queries:
        if 'FROM "leaderboard_run"' in query["sql"]:
            listed = re.search(r"IN \(([\d, ]+)\)", query["sql"]).group(1)
            read |= {int(pk) for pk in listed.split(",")}
    assert read == {submission.pk for submission in mine}

    for viewer, private in ((user, mine), (other_user, theirs), (admin_user, mine + theirs)):
        merged = selectors.board_for(benchmark, viewer)
        assert {row.id for row in merged.rows if row.private} == {s.pk for s in private}
        assert len(merged.rows) == 30 + len(private)
        assert_same_board(merged, selectors._build_board(benchmark, viewer, public=False))

    # The added rows move the public ones: the ranks and the significance counts are not the
    # public board's.
    staff_board = selectors.board_for(benchmark, admin_user)
    before = {row.id: row.cells["0.9"] for row in public.rows}
    after = {row.id: row.cells["0.9"] for row in staff_board.rows if row.id in before}
    assert any(after[i].rank != before[i].rank for i in before)
    assert any(after[i].significant_rank != before[i].significant_rank for i in before)
    assert any(after[i].rank_low != before[i].rank_low for i in before)
