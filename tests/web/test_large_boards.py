"""Boards too large for paired resamples: ranked by the separation bounds each run stores."""

import numpy as np
import pytest
from django.contrib.auth.models import AnonymousUser

import scoring
from leaderboard import selectors, services
from leaderboard.boards import far_enough_apart
from leaderboard.models import Run, Submission

pytestmark = pytest.mark.django_db

N_ITEMS = 200
GOLD = "id,answer\n" + "".join(f"q{i},a{i}\n" for i in range(N_ITEMS))
KEYS = ("0", "0.5", "0.9")
# Scored for real: how many items each answers right, then wrong (the rest abstained).
SCORED = [(right, wrong) for right in range(60, 200, 14) for wrong in (0, 40 - right // 10)]


@pytest.fixture
def benchmark(make_benchmark):
    return make_benchmark(slug="large", gold=GOLD, targets=[0.5, 0.9])


@pytest.fixture
def scored(benchmark, user, save_submission):
    return score_all(benchmark, user, save_submission)


def score_all(benchmark, user, save_submission) -> list[Submission]:
    """A few submissions scored through the site, of different counts."""
    for right, wrong in SCORED:
        lines = [f"q{i},a{i}" for i in range(right)]
        lines += [f"q{i},x" for i in range(right, min(right + wrong, N_ITEMS))]
        content = ("id,answer\n" + "\n".join(lines) + "\n").encode()
        submission = save_submission(
            benchmark, user, content=content, model_name=f"m{right}-{wrong}"
        )
        services.submission_score(submission_id=submission.pk)
    return list(Submission.objects.filter(benchmark=benchmark, status="scored"))


def clone(submissions: list[Submission], total: int) -> None:
    """Copies of the scored submissions, runs included, until there are `total`: as a large
    board holds many submissions of much the same scores."""
    runs = {}
    for run in Run.objects.filter(submission__in=submissions):
        runs.setdefault(run.submission_id, []).append(run)
    copies = []
    for number in range(total - len(submissions)):
        source = submissions[number % len(submissions)]
        copy = Submission.objects.get(pk=source.pk)
        copy.pk = None
        copy.model_name = f"{source.model_name}-copy-{number}"
        copies.append((source, copy))
    Submission.objects.bulk_create([copy for _, copy in copies])
    new_runs = []
    for source, copy in copies:
        for run in runs[source.pk]:
            run = Run.objects.get(pk=run.pk)
            run.pk = None
            run.submission = copy
            new_runs.append(run)
    Run.objects.bulk_create(new_runs)


def paired_beats(benchmark, board, key: str) -> np.ndarray:
    """[i, j] true where the paired test finds that row j beats row i (rows in the order of
    `board.positions`), computed from the runs' stored bootstraps as a small board is."""
    rows = sorted(board.rows, key=lambda row: board.positions[row.id])
    matrix = selectors._sample_matrices(benchmark, rows, board.rubrics)[key]
    shares = scoring.statistics.significance_ranks(matrix).beats
    return shares >= scoring.statistics.BEATS_SHARE


def test_a_run_keeps_its_separation_bounds_under_every_rubric(benchmark, scored):
    for run in Run.objects.filter(submission__in=scored):
        counts = run.bootstrap_counts()
        assert set(run.bounds) == set(KEYS)
        for key in KEYS:
            samples = scoring.statistics.score_samples(counts, run.n_items, float(key))
            lo, hi = scoring.statistics.separation_bounds(samples)
            assert run.bounds[key] == [lo, hi]


def test_a_large_board_ranks_by_bounds_and_never_separates_what_pairs_would_not(benchmark, scored):
    limit = scoring.statistics.PAIRED_MAX_ROWS
    clone(scored, limit + 20)
    services.benchmark_results_changed(benchmark_id=benchmark.pk)
    benchmark.refresh_from_db()
    board = selectors.board_for(benchmark, AnonymousUser())
    assert len(board.rows) == limit + 20
    # No n × n matrices: each row's bounds.
    assert board.beats == {}
    assert set(board.bounds) == set(KEYS)
    rows = sorted(board.rows, key=lambda row: board.positions[row.id])
    separated = 0
    for key in KEYS:
        lo, hi = board.bounds[key]
        by_bounds = scoring.statistics.higher(lo[None, :], hi[:, None])
        paired = paired_beats(benchmark, board, key)
        # Every separation the bounds claim, the paired resamples make too.
        assert not (by_bounds & ~paired).any()
        separated += int(by_bounds.sum())
        # The ranks shown are those of the bounds: 1 + how many beat a row, and how low it
        # could be.
        shown = [(row.cells[key].significant_rank, row.cells[key].rank_low) for row in rows]
        expected = list(
            zip(1 + by_bounds.sum(axis=1), len(rows) - by_bounds.sum(axis=0), strict=True)
        )
        assert shown == expected
    assert separated > 0

    # At the limit, the paired resamples as before.
    extra = Submission.objects.filter(model_name__contains="-copy-").order_by("-pk")[:20]
    Run.objects.filter(submission__in=list(extra)).delete()
    Submission.objects.filter(pk__in=[s.pk for s in extra]).delete()
    services.benchmark_results_changed(benchmark_id=benchmark.pk)
    benchmark.refresh_from_db()
    board = selectors.board_for(benchmark, AnonymousUser())
    assert len(board.rows) == limit
    assert board.bounds == {}
    assert set(board.beats) == set(KEYS)


def test_a_large_board_with_private_rows_ranks_them_by_bounds_too(benchmark, scored, user):
    limit = scoring.statistics.PAIRED_MAX_ROWS
    clone(scored, limit + 5)
    mine = Submission.objects.filter(model_name__contains="-copy-").order_by("pk")[:10]
    Submission.objects.filter(pk__in=[s.pk for s in mine]).update(visibility="private")
    services.benchmark_results_changed(benchmark_id=benchmark.pk)
    benchmark.refresh_from_db()
    public = selectors.board_for(benchmark, AnonymousUser())
    assert len(public.rows) == limit - 5
    assert public.bounds == {} and public.beats
    # With the owner's private rows the board is above the limit: ranked by bounds, as a
    # board this large built from the database would be.
    board = selectors.board_for(benchmark, user)
    assert len(board.rows) == limit + 5
    assert board.beats == {}
    built = selectors._build_board(benchmark, user, public=False)
    assert [(row.id, row.cells) for row in board.rows] == [
        (row.id, row.cells) for row in built.rows
    ]


def test_a_large_board_of_hidden_gold_never_tells_apart_rows_too_close_in_counts(
    make_benchmark, settings, user, save_submission
):
    settings.HIDDEN_GOLD_MIN_ITEMS = K = 20
    benchmark = make_benchmark(slug="hidden", gold=GOLD, targets=[0.5, 0.9], gold_public=False)
    scored = score_all(benchmark, user, save_submission)
    clone(scored, scoring.statistics.PAIRED_MAX_ROWS + 20)
    services.benchmark_results_changed(benchmark_id=benchmark.pk)
    benchmark.refresh_from_db()
    board = selectors.board_for(benchmark, AnonymousUser())
    assert board.beats == {} and board.bounds
    rows = sorted(board.rows, key=lambda row: board.positions[row.id])
    kept_apart = 0
    for key, (lo, hi) in board.bounds.items():
        apart = far_enough_apart(rows, key, K)
        separable = scoring.statistics.higher(lo[None, :], hi[:, None])
        # Rows whose counts differ by fewer than K in both are never separated (the ranks
        # shown below are those of `by_bounds`) ...
        by_bounds = separable & apart
        kept_apart += int((separable & ~apart).sum())
        # ... and what is separated, the paired test under the same rule separates too.
        matrix = selectors._sample_matrices(benchmark, rows, board.rubrics)[key]
        paired = scoring.statistics.significance_ranks(matrix, comparable=apart).beats
        paired = paired >= scoring.statistics.BEATS_SHARE
        assert not (by_bounds & ~paired).any()
        shown = [(row.cells[key].significant_rank, row.cells[key].rank_low) for row in rows]
        expected = list(
            zip(1 + by_bounds.sum(axis=1), len(rows) - by_bounds.sum(axis=0), strict=True)
        )
        assert shown == expected
    # The rule made a difference: some pairs the bounds alone would separate are kept together.
    assert kept_apart > 0
