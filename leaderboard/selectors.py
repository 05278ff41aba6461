"""Reads: the leaderboard of a benchmark as one user may see it, computed from the database and
cached, with its figures and JSON."""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import ParamSpec, TypeVar

import numpy as np
import pandas as pd
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.db.models import Case, Count, F, Q, TextField, Value, When
from django.db.models.functions import Cast
from numpy.typing import ArrayLike

import scoring
from leaderboard import charts
from leaderboard.boards import (
    CELL_FIELDS,
    COUNTS,
    EMPTY_CELL,
    Board,
    JSONColumn,
    JSONTexts,
    Row,
    RowTable,
    Rubric,
    baselines_of,
    behaviour_of,
    cycle_collection_paused,
    far_enough_apart,
)
from leaderboard.exports import board_json_bytes, board_json_pieces
from leaderboard.models import (
    METRICS,
    Benchmark,
    Item,
    Run,
    RunColumns,
    Submission,
    results_of,
    run_columns,
)
from leaderboard.results_cache import BOARD_CACHE_SECONDS, cached_results, warming
from scoring import BINARY_KEY

T = TypeVar("T")
P = ParamSpec("P")


def benchmark_index(user) -> list[Benchmark]:
    """The benchmarks this user may see, for ``/benchmarks/``: archived ones last, each with
    ``n_scored_public``, its scored public submissions on the board (current settings, not
    hidden)."""
    scored_public = Q(
        submissions__status=Submission.Status.SCORED,
        submissions__visibility=Submission.Visibility.PUBLIC,
        submissions__hidden=False,
        submissions__settings_fingerprint=F("settings_fingerprint"),
    )
    archived_last = Case(
        When(visibility=Benchmark.Visibility.ARCHIVED, then=Value(1)), default=Value(0)
    )
    return list(
        Benchmark.objects.visible_to(user)
        .annotate(n_scored_public=Count("submissions", filter=scored_public))
        .order_by(archived_last, "name")
    )


def board_for(benchmark: Benchmark, user, *, stale_ok: bool = False) -> Board:
    """The leaderboard of a benchmark, with the submissions this user may see.

    The public board, which most visitors see, is cached under the benchmark's results
    generation: scoring or hiding a submission bumps it; the first reader after the change, or a
    warm task queued when it commits (``cache_public_results``), computes the new board. With
    ``stale_ok`` (the busy public reads) a visitor who comes while another process computes it
    is given the one before (``cached_results``); without, the board is never older than the
    last change.

    A viewer who may see private submissions (their own, or all of them for staff) is given the
    public board with those rows merged in (``_merged_board``), never older than the last change.
    """
    return _board_adding(benchmark, _private_submissions(benchmark, user), stale_ok=stale_ok)


def _board_adding(benchmark: Benchmark, more: list[Submission], *, stale_ok: bool) -> Board:
    """The public board, with these private submissions merged in if there are any."""
    if not more:
        return _public_board(benchmark, stale_ok=stale_ok)
    return cached_results(
        benchmark,
        f"board-with-{_digest([submission.pk for submission in more])}",
        lambda: _merged_board(benchmark, _public_board(benchmark), more),
    )


def _public_board(benchmark: Benchmark, *, stale_ok: bool = False) -> Board:
    def build() -> Board:
        board, samples = _board_with_samples(benchmark, AnonymousUser(), public=True)
        if not _by_bounds(len(board.rows)):
            # Kept for the boards that add private rows to this one (``_public_samples``). Not
            # for a large board, whose rows are ranked by their bounds: its n × B matrices
            # would make the cached board large, and no board built from it reads them.
            cache.set(benchmark.results_cache_key("samples"), samples, BOARD_CACHE_SECONDS)
        return board

    return cached_results(benchmark, "board", build, stale_ok=stale_ok)


# A board of more rows has its JSON and CSV formatted as they are sent, a piece at a time
# (``exports.board_json_pieces``), and never cached whole: tens of megabytes at 10,000 rows, which
# every reader would otherwise hold at once in memory. The public board's JSON pieces are cached
# one by one and sent from the cache one at a time (``_caching_json_pieces``). A smaller board's
# JSON is cached whole.
STREAMED_ABOVE_ROWS = 1000


def board_json(benchmark: Benchmark, user, *, stale_ok: bool = False) -> bytes | Iterator[bytes]:
    """The board as ``leaderboard.json`` sends it: its bytes, cached like the board, or for a
    board of more than ``STREAMED_ABOVE_ROWS`` rows, its pieces, formatted as they are read.

    A viewer who sees private rows, or private submissions being rescored, gets a JSON of their
    own, cached under exactly those: no viewer is ever given another's private names.
    """
    more = _private_submissions(benchmark, user)
    waiting = being_rescored(benchmark, user)
    if user.is_authenticated and (more or waiting != being_rescored(benchmark, AnonymousUser())):
        shown = _digest([submission.pk for submission in more])
        listed = _digest([submission["id"] for submission in waiting])
        kind = f"json-with-{shown}-{listed}"
        stale_ok = False
    else:
        more, kind = [], "json"
    found = cache.get(benchmark.results_cache_key(kind))
    if found is not None:
        return found
    if kind == "json":
        cached = cache.get(benchmark.results_cache_key("json-pieces"))
        if cached is not None and cached["rows"] > STREAMED_ABOVE_ROWS:
            return _cached_json_pieces(benchmark, cached["pieces"], waiting)
    board = _board_adding(benchmark, more, stale_ok=stale_ok)
    if len(board.rows) > STREAMED_ABOVE_ROWS:
        if kind == "json" and _of_these_results(board, benchmark):
            return _caching_json_pieces(benchmark, board, waiting)
        return board_json_pieces(board, waiting)
    return cached_results(
        benchmark,
        kind,
        # Always from the current board: a cached JSON must never hold an older one.
        lambda: board_json_bytes(_board_adding(benchmark, more, stale_ok=False), waiting),
        stale_ok=stale_ok,
    )


def _of_these_results(board: Board, benchmark: Benchmark) -> bool:
    """Whether the board was computed for the benchmark's current results, not the one before
    given to a reader who may have it (``cached_results``)."""
    return board.benchmark.results_cache_key("") == benchmark.results_cache_key("")


def _caching_json_pieces(
    benchmark: Benchmark, board: Board, waiting: list[dict]
) -> Iterator[bytes]:
    """The public board's ``leaderboard.json`` in pieces (``board_json_pieces``), each cached as
    it is sent, and then how many there are: the next reader is sent them from the cache, a piece
    at a time (``_cached_json_pieces``), without reading the board or formatting it again."""
    key = benchmark.results_cache_key("json-pieces")
    count = 0
    for piece in board_json_pieces(board, waiting):
        cache.set(f"{key}:{count}", piece, BOARD_CACHE_SECONDS)
        count += 1
        yield piece
    # Only once every piece is cached (a reader who leaves halfway caches no count).
    cache.set(key, {"pieces": count, "rows": len(board.rows)}, BOARD_CACHE_SECONDS)


def _cached_json_pieces(benchmark: Benchmark, count: int, waiting: list[dict]) -> Iterator[bytes]:
    """The public ``leaderboard.json`` from its cached pieces (``_caching_json_pieces``); a piece
    gone from the cache meanwhile is formatted again from the public board of these results."""
    key = benchmark.results_cache_key("json-pieces")
    for at in range(count):
        piece = cache.get(f"{key}:{at}")
        if piece is None:
            board = _public_board(benchmark)
            piece = next(itertools.islice(board_json_pieces(board, waiting), at, None))
        yield piece


def cache_public_results(benchmark: Benchmark) -> bool:
    """Compute the public board, its figures, its JSON and its resampled scores for the current
    results, and cache them; False, doing nothing, when the board is cached already or another
    process is computing it.

    The warm task that a change of results queues once it commits calls this
    (``services.benchmark_warm``), so that readers find them ready should none of them come
    first.
    """
    with warming(benchmark) as mine:
        if not mine:
            return False
        # The board caches its resampled scores as it is built, and its JSON the being-rescored
        # list.
        board = board_for(benchmark, AnonymousUser())
        charts_for(board, show_all=False)
        model_slugs(benchmark)
        body = board_json(benchmark, AnonymousUser())
        if not isinstance(body, bytes):
            # A large board's JSON is cached a piece at a time, as it is read.
            for _ in body:
                pass
    return True


def model_slugs(benchmark: Benchmark) -> dict[int, str]:
    """The slug of the model of each submission of the benchmark, by submission id: where its
    board rows link (``/models/<slug>/``). Cached with the board; a model merged since then has
    its old slug, which redirects."""
    return cached_results(
        benchmark,
        "model-slugs",
        lambda: dict(
            Submission.objects.filter(benchmark=benchmark, model__isnull=False)
            .order_by()
            .values_list("pk", "model__slug")
        ),
        stale_ok=True,
    )


def being_rescored(benchmark: Benchmark, user) -> list[dict]:
    """Submissions this user would see on the board whose results are under earlier settings
    and are being computed again: not ranked until then, and named as such.

    Each as {"id", "model", "url"}; the public list is cached with the board.
    """
    if not user.is_authenticated:
        return cached_results(
            benchmark, "being-rescored", lambda: _being_rescored(benchmark, AnonymousUser())
        )
    return _being_rescored(benchmark, user)


def _being_rescored(benchmark: Benchmark, user) -> list[dict]:
    waiting = (
        Submission.objects.filter(benchmark=benchmark, hidden=False)
        .being_rescored()
        .listed_for(user)
    )
    return [
        {"id": submission.pk, "model": submission.model_name, "url": submission.get_absolute_url()}
        for submission in waiting.only("id", "model_name").order_by("model_name", "pk")
    ]


# The fields a board row is made of.
ROW_FIELDS = (
    "id",
    "model_name",
    "organisation",
    "url",
    "visibility",
    "self_graded",
    # The targets it was scored under: which of the board's rubrics its row has a cell for.
    "targets",
)


def _private_submissions(benchmark: Benchmark, user) -> list[Submission]:
    """The private submissions on the board this user sees: their own, or every one for staff."""
    if not user.is_authenticated:
        return []
    return list(
        _on_board(benchmark, user)
        .filter(visibility=Submission.Visibility.PRIVATE)
        .only(*ROW_FIELDS)
    )


def _on_board(benchmark: Benchmark, user):
    # Newest first, in a fixed order: rows of equal rank are listed in this order.
    return (
        Submission.objects.filter(benchmark=benchmark).on_board(user).order_by("-created_at", "-pk")
    )


@dataclass(frozen=True, slots=True)
class _Listed:
    """A submission as a board row is made of it (``ROW_FIELDS``): read as plain values, not
    as a model instance, which on a board of 10,000 rows cost more than the rest of the read."""

    pk: int
    model_name: str
    organisation: str
    url: str
    visibility: str
    self_graded: bool
    targets: list | None


def _listed(submissions) -> list[_Listed]:
    """These submissions (a query), in its order, as ``_Listed``: their targets read as text
    and decoded in one go."""
    names = [name for name in ROW_FIELDS if name != "targets"]
    values = list(submissions.values_list(*names, Cast("targets", TextField())))
    texts = ["null" if targets is None else targets for *_, targets in values]
    decoded = json.loads("[" + ",".join(texts) + "]")
    return [
        _Listed(*fields, targets=targets)
        for (*fields, _), targets in zip(values, decoded, strict=True)
    ]


def _digest(ids: list[int]) -> str:
    """A short name for a set of submissions, for the cache keys of the boards that add them."""
    text = ",".join(str(pk) for pk in sorted(ids))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _rubrics(benchmark: Benchmark) -> list[Rubric]:
    return [Rubric(key=scoring.target_key(t), target=t) for t in benchmark.config().rubrics]


def _without_cycle_collection(build: Callable[P, T]) -> Callable[P, T]:
    """Build a board with Python's cycle collector paused (``boards.cycle_collection_paused``)."""

    @functools.wraps(build)
    def without(*args: P.args, **kwargs: P.kwargs) -> T:
        with cycle_collection_paused():
            return build(*args, **kwargs)

    return without


def _build_board(benchmark: Benchmark, user, *, public: bool) -> Board:
    """The board of every submission this user sees, computed from the database."""
    return _board_with_samples(benchmark, user, public=public)[0]


@_without_cycle_collection
def _board_with_samples(
    benchmark: Benchmark, user, *, public: bool
) -> tuple[Board, dict[str, np.ndarray]]:
    """The board of every submission this user sees, and its rows' resampled scores
    (``_sample_matrices``, in the order of ``Board.positions``).

    A board of more than ``PAIRED_MAX_ROWS`` rows is ranked by its runs' stored separation
    bounds instead (``_bounds_board``), and has no resampled scores: {}.
    """
    rubrics = _rubrics(benchmark)
    on_board = _on_board(benchmark, user)
    # The submissions read as plain values, and their runs in one query (with their separation
    # bounds on a board ranked by them).
    listed = _listed(on_board)
    by_bounds = _by_bounds(len(listed))
    runs = run_columns(
        Run.objects.filter(submission__in=on_board.order_by().values("pk")), with_bounds=by_bounds
    )
    rows = _unranked_rows(listed, rubrics, runs)
    if by_bounds:
        stored = dict(
            zip(zip(runs.submission_id, runs.values["key"], strict=True), runs.bounds, strict=True)
        )
        return _bounds_board(benchmark, rubrics, rows, stored, public=public), {}
    samples = _sample_matrices(benchmark, rows, rubrics)
    min_items = benchmark.config().min_items_per_figure
    significant = {
        key: scoring.statistics.significance_ranks(
            matrix, comparable=far_enough_apart(rows, key, min_items)
        ).beats
        >= scoring.statistics.BEATS_SHARE
        for key, matrix in samples.items()
        if matrix.shape[1]
    }
    return _ranked_board(benchmark, rubrics, rows, significant, public=public), samples


@_without_cycle_collection
def _merged_board(benchmark: Benchmark, board: Board, more: list[Submission]) -> Board:
    """The public board with more submissions on it, as ``_build_board`` would compute it.

    The public rows keep everything but their ranks; ranks, rank shifts and Kendall's tau are
    computed again over all rows (cheap), and the significance-aware ranks from the public
    board's paired comparisons plus those of the added rows with all the others, on the public
    rows' resampled scores cached with it (``_public_samples``).
    """
    rubrics = board.rubrics
    more = [submission for submission in more if submission.pk not in board.positions]
    public_ids = board.rows.column("id")
    public = board.rows.taken(
        sorted(range(len(public_ids)), key=lambda at: board.positions[public_ids[at]])
    )
    added = _unranked_rows(
        more,
        rubrics,
        run_columns(Run.objects.filter(submission__in=[row.pk for row in more])),
    )
    both = RowTable.joined([public, added])
    ids = both.column("id")
    # Every row in the order the database lists them (``_on_board``): newest first.
    created = dict(Submission.objects.filter(pk__in=ids).values_list("pk", "created_at"))
    # (A row deleted since the public board was computed goes last, until the next change.)
    oldest = datetime.min.replace(tzinfo=UTC)
    # From the order of the public rows then the added ones to that of `rows`.
    index = sorted(
        range(len(ids)), key=lambda at: (created.get(ids[at], oldest), ids[at]), reverse=True
    )
    rows = both.taken(index)
    if _by_bounds(len(rows)):
        # Ranked by the stored bounds, as ``_build_board`` would rank a board this large.
        return _bounds_board(benchmark, rubrics, rows, _stored_bounds(benchmark), public=False)
    public_samples = _public_samples(benchmark, board)
    added_samples = _sample_matrices(benchmark, added, rubrics)
    min_items = benchmark.config().min_items_per_figure
    significant = {}
    for rubric in rubrics:
        key = rubric.key
        known, extra = public_samples.get(key), added_samples.get(key)
        if known is None or extra is None:
            continue  # a run without its bootstrap: no significance-aware ranks, as in a rebuild
        widths = {matrix.shape[1] for matrix in (known, extra) if matrix.shape[1]}
        if len(widths) != 1:
            continue
        width = widths.pop()
        if not extra.shape[1]:
            extra = np.full((len(added), width), np.nan)
        comparable = far_enough_apart(both, key, min_items)
        if known.shape[1]:
            grown = scoring.statistics.significant_with_more(
                board.beats[key], known, extra, comparable=comparable
            )
        else:
            # No public row has a score here: the added rows are all there is to compare.
            known = np.full((len(public), width), np.nan)
            grown = scoring.statistics.significance_ranks(
                np.vstack([known, extra]), comparable=comparable
            ).beats
            grown = grown >= scoring.statistics.BEATS_SHARE
        significant[key] = grown[np.ix_(index, index)]
    return _ranked_board(benchmark, rubrics, rows, significant, public=False)


def _by_bounds(n_rows: int) -> bool:
    """Whether a board of this many rows is ranked by its runs' separation bounds: above
    ``PAIRED_MAX_ROWS``, where paired resamples would cost n² comparisons of B resamples."""
    return n_rows > scoring.statistics.PAIRED_MAX_ROWS


def _bounds_board(
    benchmark: Benchmark,
    rubrics: list[Rubric],
    rows: RowTable,
    stored: dict[tuple[int, str], dict | None],
    *,
    public: bool,
) -> Board:
    """The board of these rows, its significance-aware ranks from each row's separation bounds
    (``scoring.statistics.ranks_from_bounds``), stored with its runs when they were scored:
    `stored` holds them by submission id and run key.

    As with paired resamples, a rubric where a scored row's run has no bounds (scored before
    they were kept: rescoring adds them) has no significance-aware ranks; on a benchmark whose
    gold is hidden, rows whose counts are fewer than K items apart are never told apart.
    """
    min_items = benchmark.config().min_items_per_figure
    bounds = _bounds_of(rows, rubrics, stored)
    ranked = {}
    for key, (lo, hi) in bounds.items():
        answered = None
        if min_items:
            answered = np.array(
                [
                    (np.nan, np.nan) if counts is None else counts
                    for counts in rows.cell_column(key, "answered")
                ],
                dtype=float,
            ).reshape(len(rows), 2)
        ranked[key] = scoring.statistics.ranks_from_bounds(
            lo, hi, answered=answered, min_items=min_items
        )
    return _ranked_board(benchmark, rubrics, rows, {}, public=public, bounds=bounds, ranks=ranked)


def _stored_bounds(benchmark: Benchmark) -> dict[tuple[int, str], dict | None]:
    """The separation bounds of the benchmark's runs, by submission id and run key."""
    # The bounds as text decoded in one go: a JSON value decoded per run (and a list of every
    # row's id in the query) would cost more than the ranking itself.
    runs = list(
        Run.objects.filter(submission__benchmark_id=benchmark.pk).values_list(
            "submission_id", "key", Cast("bounds", TextField())
        )
    )
    decoded = json.loads("[" + ",".join(text for _, _, text in runs) + "]")
    return {
        (submission_id, key): bounds
        for (submission_id, key, _), bounds in zip(runs, decoded, strict=True)
    }


def _bounds_of(
    rows: RowTable, rubrics: list[Rubric], stored: dict[tuple[int, str], dict | None]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per rubric key, the rows' separation bounds (lo, hi; NaN for a row without a score there),
    from the runs that score them; a key is missing where a scored row's run has none."""
    ids = rows.column("id")
    out = {}
    for rubric in rubrics:
        key = rubric.key
        found = []
        for row_id, score, run in zip(
            ids, rows.cell_column(key, "score"), rows.cell_column(key, "run"), strict=True
        ):
            if score is None:
                found.append(None)
                continue
            run_bounds = stored.get((row_id, run)) or {}
            if key not in run_bounds:
                break
            found.append(run_bounds[key])
        else:
            both = np.array(
                [(np.nan, np.nan) if pair is None else pair for pair in found], dtype=float
            ).reshape(len(rows), 2)
            out[key] = (both[:, 0].copy(), both[:, 1].copy())
    return out


def _unranked_rows(
    submissions: Iterable[Submission | _Listed], rubrics: list[Rubric], runs: RunColumns
) -> RowTable:
    """These submissions' rows, with their scores but no ranks yet (``_ranked_board`` gives
    them), from their runs as columns (``models.run_columns``): a cell per rubric of the board
    that the submission was scored under, the others empty.

    A row holds what its result (``Submission.result_of``) holds for those rubrics: the same
    policies, applied to every row at once (``scoring.scores.rubric_runs``, ``primary_runs``),
    each rubric's scores computed in one call, and the runs' intervals decoded only for the
    rows that are read (``boards.JSONColumn``).
    """
    submissions = list(submissions)
    n = len(submissions)
    position = {submission.pk: at for at, submission in enumerate(submissions)}
    # Each run's submission: its index, or n for a submission not among these (deleted since
    # they were listed), whose rubrics are never asked for and whose row is never made.
    owner = np.array([position.get(pk, n) for pk in runs.submission_id], dtype=np.int64)
    values = runs.values
    texts = JSONTexts(runs.intervals)
    # A scored submission without runs, which no scoring leaves, has no figure.
    primary = scoring.scores.primary_runs(owner, runs.target, n + 1)[:n].tolist()
    columns: dict[str, Sequence] = {
        "id": [submission.pk for submission in submissions],
        "model": [submission.model_name for submission in submissions],
        "organisation": [submission.organisation for submission in submissions],
        "url": [submission.url for submission in submissions],
        "self_graded": [submission.self_graded for submission in submissions],
        "private": [
            submission.visibility == Submission.Visibility.PRIVATE for submission in submissions
        ],
        "intervals": JSONColumn(texts, primary, missing={}),
        "behaviour": _behaviours(owner, runs, n),
    }
    for name in METRICS:
        column = values[name]
        columns[name] = [None if at < 0 else column[at] for at in primary]
    for name in COUNTS:
        column = values[name]
        columns[name] = [0 if at < 0 else column[at] for at in primary]
    # The rubrics a submission was scored under, by key (as its result keys them: the later of
    # two targets of one key wins), for each list of targets.
    wanted_of: dict[tuple, dict[str, float]] = {}
    wanted = []
    for submission in submissions:
        own = tuple(submission.targets or ())
        found = wanted_of.get(own)
        if found is None:
            found = wanted_of[own] = {scoring.target_key(t): t for t in (0.0, *own)}
        wanted.append(found)
    correct = np.array(values["correct"], dtype=float)
    incorrect = np.array(values["incorrect"], dtype=float)
    n_items = np.array(values["n_items"], dtype=float)
    cells = {}
    for rubric in rubrics:
        key = rubric.key
        t = np.array([*(each.get(key, np.nan) for each in wanted), np.nan], dtype=float)
        chosen, prompted = scoring.scores.rubric_runs(owner, runs.target, t)
        chosen, prompted, t = chosen[:n], prompted[:n], t[:n]
        scored = chosen >= 0
        score = np.full(n, np.nan)
        picked = chosen[scored]
        score[scored] = scoring.metrics.score_at_target(
            correct[picked], incorrect[picked], n_items[picked], t[scored]
        )
        chosen = chosen.tolist()
        cells[key] = {
            **{name: [getattr(EMPTY_CELL, name)] * n for name in CELL_FIELDS},
            "score": _numbers(score),
            "prompted": prompted.tolist(),
            "interval": JSONColumn(texts, chosen, ("scores", key)),
            "run": [None if at < 0 else values["key"][at] for at in chosen],
            "answered": [
                None if at < 0 else (values["correct"][at], values["incorrect"][at])
                for at in chosen
            ],
        }
    return RowTable(columns, cells)


def _behaviours(owner: np.ndarray, runs: RunColumns, n: int) -> list[list]:
    """Per submission (of the first n owners), its runs prompted at a target above 0
    (``boards.behaviour_of``)."""
    out: list[list] = [[] for _ in range(n)]
    prompted: dict[int, list[int]] = {}
    for at in np.flatnonzero((runs.target > 0) & (owner < n)).tolist():
        prompted.setdefault(int(owner[at]), []).append(at)
    for submission, own in prompted.items():
        out[submission] = behaviour_of([runs.run(at) for at in own])
    return out


def _ranked_board(
    benchmark: Benchmark,
    rubrics: list[Rubric],
    rows: RowTable,
    significant: dict[str, np.ndarray],
    *,
    public: bool,
    bounds: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
    ranks: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> Board:
    """The board of these rows (in the order the database lists them), ranked under each rubric.

    `significant[key][i, j]` is true where row j beats row i under that rubric in at least
    97.5% of the paired resamples; a rubric without it has no significance-aware ranks. A large
    board gives instead its rows' separation bounds and the ranks from them (`_bounds_board`).
    """
    baselines, baseline_notes = baselines_of(rubrics, _item_options(benchmark))
    keys = [rubric.key for rubric in rubrics]
    if not len(rows):
        return Board(
            benchmark=benchmark,
            rubrics=rubrics,
            rows=RowTable.empty(keys),
            taus={},
            public=public,
            baselines=baselines,
            baseline_notes=baseline_notes,
        )
    ids = rows.column("id")
    scores = pd.DataFrame(
        {
            # (None, no score, as NaN.)
            key: np.array(rows.cell_column(key, "score"), dtype=float)
            for key in keys
        },
        index=ids,
        columns=keys,
    )
    table, taus = scoring.rank_table(scores, keys)
    position = {row_id: index for index, row_id in enumerate(ids)}
    order = [position[row_id] for row_id in table.index.tolist()]
    present = {key: ~scores[key].isna().to_numpy() for key in significant}
    ranked = ranks or {
        key: scoring.statistics.ranks_from_significant(matrix, present[key])
        for key, matrix in significant.items()
    }
    # Column by column into plain Python values, in rank order.
    cells = {}
    for key in keys:
        shifts = table.get(f"rank_shift_{key}")
        significance = ranked.get(key)
        cells[key] = {
            "score": _numbers(table[key].to_numpy()),
            "rank": _integers(table[f"rank_{key}"].to_numpy()),
            "rank_shift": [0 if key == BINARY_KEY else None] * len(order)
            if key == BINARY_KEY or shifts is None
            else _integers(shifts.to_numpy()),
            "significant_rank": [None] * len(order)
            if significance is None
            else _integers(significance[0][order]),
            "rank_low": [None] * len(order)
            if significance is None
            else _integers(significance[1][order]),
        }
    return Board(
        benchmark=benchmark,
        rubrics=rubrics,
        rows=rows.taken(order, cells),
        taus={key: _number(tau) for key, tau in taus.items()},
        public=public,
        beats=significant,
        bounds=bounds or {},
        positions=position,
        baselines=baselines,
        baseline_notes=baseline_notes,
    )


def _item_options(benchmark: Benchmark) -> list[tuple[int | None, int]] | None:
    """The benchmark's items by number of options (the gold file's, else the benchmark's), for
    its uniform-guessing line (``boards.baselines_of``); None where it has none to draw."""
    if benchmark.grader != Benchmark.Grader.CHOICE or not benchmark.n_items:
        return None
    # Items by number of options: a few groups, however many items.
    groups = (
        Item.objects.filter(benchmark=benchmark)
        .values_list("n_options")
        .annotate(items=Count("pk"))
        .order_by()
    )
    return [(n_options or benchmark.n_options, items) for n_options, items in groups]


def _public_samples(benchmark: Benchmark, board: Board) -> dict[str, np.ndarray]:
    """Per rubric key, the public rows' scores on the benchmark's resamples (rows in the order
    of ``board.positions``), cached with the public board when it is computed; a key is missing
    where a run lacks its bootstrap."""
    return cached_results(
        benchmark,
        "samples",
        lambda: _sample_matrices(
            benchmark,
            sorted(board.rows, key=lambda row: board.positions[row.id]),
            board.rubrics,
        ),
    )


def _resampled_scores(
    stored: dict, n_items: int, runs: list[tuple[int, str | None]], rubric: Rubric
) -> list[np.ndarray | None] | None:
    """Each (submission id, run key)'s score under `rubric` on the benchmark's resamples.

    `stored` holds the runs' bootstrap counts (`_bootstraps`). None in the list where there is
    no run to score (no score under this rubric); None for the whole list when a run lacks its
    bootstrap (scored before bootstraps were kept: rescoring adds it).
    """
    samples = []
    for submission_id, run_key in runs:
        if run_key is None:
            samples.append(None)
            continue
        counts = stored.get((submission_id, run_key))
        if counts is None:
            return None
        samples.append(scoring.statistics.score_samples(counts, n_items, rubric.target))
    return samples


def _bootstraps(submission_ids: list[int]) -> dict:
    """The stored bootstrap counts of these submissions' runs, by (submission id, run key)."""
    return {
        (run.submission_id, run.key): run.bootstrap_counts()
        for run in Run.objects.filter(submission_id__in=submission_ids).only(
            "submission_id", "key", "bootstrap"
        )
    }


def _sample_matrices(
    benchmark: Benchmark, rows: list[Row], rubrics: list[Rubric]
) -> dict[str, np.ndarray]:
    """Per rubric key, the rows' scores on the benchmark's resamples (rows × B, in their order).

    Each row's score under a rubric comes from the run that scores it; a row without a score
    has NaN. A rubric is left out when a run lacks its bootstrap (or the runs' resamples differ
    in number); where no row has a score, its matrix has no columns.
    """
    stored = _bootstraps([row.id for row in rows])
    out = {}
    for rubric in rubrics:
        runs = []
        for row in rows:
            cell = row.cells.get(rubric.key)
            runs.append((row.id, cell.run if cell and cell.score is not None else None))
        samples = _resampled_scores(stored, benchmark.n_items, runs, rubric)
        if samples is None:
            continue
        widths = {len(sample) for sample in samples if sample is not None}
        if not widths:
            out[rubric.key] = np.zeros((len(rows), 0))
            continue
        if len(widths) != 1:
            continue
        width = widths.pop()
        out[rubric.key] = np.stack(
            [np.full(width, np.nan) if sample is None else sample for sample in samples]
        ).reshape(len(rows), width)
    return out


def paired_shares(benchmark: Benchmark, first: Row, second: Row, rubrics: list[Rubric]) -> dict:
    """Per rubric key, the shares of the paired resamples in which `first` scores above
    `second`, and in which `second` scores above `first` (ties count for neither).

    Missing for a rubric that either lacks a score or a stored bootstrap.
    """
    stored = _bootstraps([first.id, second.id])
    shares = {}
    for rubric in rubrics:
        runs = [(row.id, row.cells[rubric.key].run) for row in (first, second)]
        pair = _resampled_scores(stored, benchmark.n_items, runs, rubric)
        if pair is None or any(sample is None for sample in pair):
            continue
        if len(pair[0]) == len(pair[1]):
            shares[rubric.key] = (
                float(np.mean(scoring.statistics.higher(pair[0], pair[1]))),
                float(np.mean(scoring.statistics.higher(pair[1], pair[0]))),
            )
    return shares


def compared(benchmark: Benchmark, board: Board, rows: list[Row]) -> tuple[dict | None, dict, bool]:
    """What the compare page shows of two rows of the board beyond the board itself: the
    agreement matrix of their primary runs, the shares of the paired resamples in which each
    scores above the other (by rubric key), and whether any of that is withheld. Nothing for
    another number of rows.
    """
    min_items = benchmark.config().min_items_per_figure
    agreement = None
    shares = {}
    withheld = False
    if len(rows) == 2:
        outcomes = {
            (run.submission_id, run.key): scoring.decode_outcomes(run.outcomes)
            for run in Run.objects.filter(submission_id__in=[r.id for r in rows]).only(
                "submission_id", "key", "outcomes"
            )
        }

        def pair(keys: tuple[str | None, str | None]) -> list | None:
            found = [outcomes.get((row.id, key)) for row, key in zip(rows, keys, strict=True)]
            return None if any(runs is None for runs in found) else found

        def disclosed(runs: list) -> bool:
            return scoring.agreement_disclosed(*runs, min_items=min_items)

        # On a benchmark whose gold is hidden, both the matrix and the paired resamples are
        # shown only when no count among the items where the two differ covers fewer than K;
        # the resamples, besides, only for two runs the board may tell apart (counts K apart).
        every_share = paired_shares(benchmark, rows[0], rows[1], board.rubrics)
        shares = {
            key: share
            for key, share in every_share.items()
            if (runs := pair((rows[0].cells[key].run, rows[1].cells[key].run))) is not None
            and disclosed(runs)
            and ((apart := far_enough_apart(rows, key, min_items)) is None or apart[0, 1])
        }
        results = results_of(
            list(
                Submission.objects.filter(pk__in=[r.id for r in rows]).only(*ROW_FIELDS, "columns")
            ),
            for_board=True,
        )
        primary = pair(
            tuple(results[row.id].primary.key if row.id in results else None for row in rows)
        )
        if primary is not None and disclosed(primary):
            matrix = scoring.agreement_matrix(*primary)
            agreement = {
                "labels": scoring.AGREEMENT_OUTCOMES,
                "matrix": list(zip(scoring.AGREEMENT_OUTCOMES, matrix.tolist(), strict=True)),
                "same": int(matrix.trace()),
                "n": int(matrix.sum()),
            }
        withheld = (primary is not None and agreement is None) or len(shares) < len(every_share)
    return agreement, shares, withheld


def rubric_rows(
    submission: Submission, result: scoring.SubmissionScore | None, viewer
) -> list[dict]:
    """The scored submission's score, rank and rank shift under each rubric of its board, for
    its page: [] until it is scored."""
    if submission.status != Submission.Status.SCORED or result is None:
        return []
    # Ranked among what the owner sees, but only for the owner and staff: for anyone else the
    # owner's private submissions would show through the ranks and their count.
    sees_owners_board = viewer.is_staff or viewer.pk == submission.owner_id
    board = board_for(submission.benchmark, submission.owner if sees_owners_board else viewer)
    row = board.row(submission.pk)
    rows = []
    for rubric in board.rubrics:
        scored = result.rubrics.get(rubric.key)
        run = result.run(scored.run_key) if scored else None
        cell = row.cells[rubric.key] if row else None
        rows.append(
            {
                "rubric": rubric,
                "score": _number(scored.score) if scored else None,
                "prompted": scored.prompted if scored else False,
                "interval": scored.interval if scored else None,
                "rank": cell.rank if cell else None,
                "tied": cell.tied if cell else "",
                "rank_shift": cell.rank_shift if cell else None,
                "of": len(board.ranking(rubric.key)),
                # What the run's own confidences would have scored, abstaining below t.
                "abstaining_below": (
                    run.scores_abstaining_below.get(rubric.key) if run is not None else None
                ),
            }
        )
    return rows


def _number(value) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def _numbers(values: ArrayLike) -> list[float | None]:
    """``_number`` of each value (NaN: None), converted by NumPy: a board of 10,000 rows
    converts a quarter of a million."""
    values = np.asarray(values, dtype=float)
    out = values.astype(object)
    out[np.isnan(values)] = None
    return out.tolist()


def _integers(values: ArrayLike) -> list[int | None]:
    """Each value as an int (NaN: None), as ``_numbers``."""
    values = np.asarray(values, dtype=float)
    missing = np.isnan(values)
    out = np.where(missing, 0, values).astype(np.int64).astype(object)
    out[missing] = None
    return out.tolist()


# Charts show the top models by binary rank unless the reader asks for all of them.
CHART_TOP = 15


def charts_for(board: Board, *, show_all: bool) -> dict[str, str]:
    """The board's figures as JSON text, cached."""
    rows = board.rows if show_all else board.rows[:CHART_TOP]

    def build() -> dict[str, str]:
        if not rows:
            return {}
        figures = {
            "bump": charts.bump_chart(board, rows),
            "curves": charts.score_curves(board, rows),
            "outcomes": charts.outcome_bars(
                [
                    (
                        row.model,
                        row.metrics["accuracy"],
                        row.metrics["abstention_rate"],
                        row.metrics["error_rate"],
                        row.intervals,
                    )
                    for row in rows
                ]
            ),
        }
        prompted = [(row.model, row.behaviour) for row in rows if row.behaviour]
        if prompted:
            figures["behaviour"] = charts.behaviour_chart(prompted)
        return figures

    # Cached under what they are drawn from, never stale: boards whose charted rows are the same
    # (the public board and most boards with private rows added below its top, or the boards
    # before and after a change further down) share their figures instead of drawing them again.
    key = charts_cache_key(board, show_all=show_all)
    figures = cache.get(key)
    if figures is None:
        figures = build()
        cache.set(key, figures, BOARD_CACHE_SECONDS)
    return figures


def charts_cache_key(board: Board, *, show_all: bool) -> str:
    """Where the board's figures are cached: a digest of what they show (the same digest, the
    same figures)."""
    rows = board.rows if show_all else board.rows[:CHART_TOP]
    shown = [
        (
            row.id,
            row.model,
            row.metrics,
            row.counts,
            row.intervals,
            row.behaviour,
            # Not the significance-aware ranks, which no figure shows.
            [replace(cell, significant_rank=None, rank_low=None) for cell in row.cells.values()],
        )
        for row in rows
    ]
    benchmark = board.benchmark
    drawn = (benchmark.n_items, benchmark.updated_at, board.rubrics, board.baselines, shown)
    # Digested as text: equal boards give equal text, whichever objects they share (a board
    # read back from the cache shares fewer than the one it was built as, and its pickle
    # differs).
    return f"charts:{benchmark.pk}:{hashlib.sha256(repr(drawn).encode()).hexdigest()}"


def category_figure(submission: Submission, categories: list[tuple[str, dict]]) -> str:
    """Outcome bars per category of a scored submission, cached until it is scored again."""
    if len(categories) < 2 or submission.finished_at is None:
        return ""
    key = f"categories:{submission.pk}:{submission.finished_at.timestamp()}"
    figure = cache.get(key)
    if figure is None:
        figure = charts.outcome_bars(
            [
                (name, row["accuracy"], row["abstention_rate"], row["error_rate"])
                for name, row in categories
            ]
        )
        cache.set(key, figure, BOARD_CACHE_SECONDS)
    return figure
