"""The cache of what is computed from a benchmark's public results, keyed by its results generation.

Writes bump; reads build. Every change of results bumps the benchmark's generation
(``Benchmark.results_cache_key``), so a value cached here is never older than the last change.
Nothing is computed in the writer's transaction: once it commits, a warm task computes the
public board, its figures and its JSON (``warming``), and readers who come meanwhile are given
the value before; a value that nobody is computing is computed by the first reader that needs
it, one process at a time (``cached_results``).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import TypeVar

from django.core.cache import cache

from leaderboard.models import Benchmark

BOARD_CACHE_SECONDS = 24 * 3600
# How long one process may hold the right to recompute a cached board, figure or page before
# another may try: a process that dies while computing frees it by itself after this.
RECOMPUTE_LOCK_SECONDS = 30
# How long the warm task queued by a change may take to start before readers stop waiting for
# it and compute the board themselves: a task queued behind others, or lost with its broker or
# worker, keeps the board from readers no longer than this.
WARM_CLAIM_SECONDS = 2

# How long a reader who needs the current value waits for the process computing it before
# computing it too: about as long as a large board takes.
WAIT_SECONDS = 10

T = TypeVar("T")

# The rights to compute (lock keys) held by this thread: it never waits for itself.
_held = threading.local()


def _held_here() -> set[str]:
    if not hasattr(_held, "keys"):
        _held.keys = set()
    return _held.keys


def _lock_key(benchmark: Benchmark, kind: str) -> str:
    return f"{benchmark.results_cache_key(kind)}:computing"


@contextmanager
def recomputing(benchmark: Benchmark, kind: str) -> Iterator[bool]:
    """The right to compute one cached value of the benchmark's current results.

    True when this process holds it (until the block ends); False while another process does.
    """
    lock_key = _lock_key(benchmark, kind)
    locked = cache.add(lock_key, 1, RECOMPUTE_LOCK_SECONDS)
    if locked:
        _held_here().add(lock_key)
    try:
        yield locked
    finally:
        if locked:
            _held_here().discard(lock_key)
            cache.delete(lock_key)


def claim_warming(benchmark: Benchmark) -> str:
    """Take the right to compute the board of the benchmark's current results for a warm task
    about to be queued, and the token that hands it over (``warming``); "" when another process
    has it already.

    Taken before the task is queued, so that readers who come before it starts are given the
    board before instead of computing it in a web process; held at most ``WARM_CLAIM_SECONDS``
    until the task starts.
    """
    token = uuid.uuid4().hex
    return token if cache.add(_lock_key(benchmark, "board"), token, WARM_CLAIM_SECONDS) else ""


def release_warming(benchmark: Benchmark, token: str) -> None:
    """Give back a claim whose task could not be queued: readers compute the board."""
    lock_key = _lock_key(benchmark, "board")
    if token and cache.get(lock_key) == token:
        cache.delete(lock_key)


@contextmanager
def warming(benchmark: Benchmark, token: str = "") -> Iterator[bool]:
    """The right to compute the board of the benchmark's current results and what is drawn from
    it, for a warm task: True when this process holds it (the claim of ``token``, handed over, or
    one free to take) and the board is not cached yet; False when there is nothing to do.
    """
    key = benchmark.results_cache_key("board")
    lock_key = _lock_key(benchmark, "board")
    found = cache.get_many([key, lock_key])
    if key in found:
        release_warming(benchmark, token)
        yield False
        return
    holder = found.get(lock_key)
    if token and holder == token:
        # Taken over from the writer: held as long as any computation may hold it.
        cache.set(lock_key, token, RECOMPUTE_LOCK_SECONDS)
        mine = True
    else:
        mine = holder is None and cache.add(lock_key, token or 1, RECOMPUTE_LOCK_SECONDS)
    if mine:
        _held_here().add(lock_key)
    try:
        yield mine
    finally:
        if mine:
            _held_here().discard(lock_key)
            cache.delete(lock_key)


def computations(benchmark: Benchmark, kind: str) -> int:
    """How many times a value of the benchmark's current results was computed (and cached), by
    any process: once per change for the public board, however many readers come at once."""
    return cache.get(f"{benchmark.results_cache_key(kind)}:computed", 0)


def _count_computation(key: str) -> None:
    counter = f"{key}:computed"
    if not cache.add(counter, 1, BOARD_CACHE_SECONDS):
        # Gone meanwhile, or the cache is down: the count is only a check.
        with suppress(ValueError):
            cache.incr(counter)


def cached_results(
    benchmark: Benchmark, kind: str, build: Callable[[], T], *, stale_ok: bool = False
) -> T:
    """A value computed from the benchmark's public results, cached under its results generation.

    Every change of results bumps the generation, so each cached value misses once per change
    (the board, its figures and its JSON are computed by the warm task that the change queues,
    ``warming``). On a miss one process computes the value while holding the right to
    (``recomputing``); a reader that comes meanwhile with ``stale_ok`` is given the newest
    value computed for an earlier generation instead of computing it too, and so is one that
    comes while the board it is drawn from is being computed. Without that, every web worker
    would compute the same page at once after each scoring while all readers wait. Such a
    reader is at most one computation behind, and only while that computation runs. A reader
    without ``stale_ok`` (or before any value exists) waits for the process computing it, and
    computes the value itself only should that process give up or take longer than
    ``WAIT_SECONDS``.
    """
    key = benchmark.results_cache_key(kind)
    latest_key = f"{kind}:{benchmark.pk}:latest"
    board_lock = _lock_key(benchmark, "board")
    # One round trip: the value, and for a reader who may be given the one before, whether the
    # board is being computed (the value before is read only then: a board may be large).
    found = cache.get_many([key, board_lock] if stale_ok else [key])
    if key in found:
        return found[key]
    if stale_ok and board_lock in found:
        value = cache.get(latest_key)
        if value is not None:
            return value
    with recomputing(benchmark, kind) as mine:
        if not mine and stale_ok:
            value = cache.get(latest_key)
            if value is not None:
                return value
        if not mine and _lock_key(benchmark, kind) not in _held_here():
            value = _computed_by_another(key, _lock_key(benchmark, kind))
            if value is not None:
                return value
        value = build()
        cache.set_many({key: value, latest_key: value}, BOARD_CACHE_SECONDS)
        _count_computation(key)
    return value


def _computed_by_another(key: str, lock_key: str) -> object | None:
    """The value under `key` once the process holding `lock_key` has cached it; None should it
    give up (or the cache be down), or not be done within ``WAIT_SECONDS``."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        time.sleep(0.02)
        found = cache.get_many([key, lock_key])
        if key in found:
            return found[key]
        if lock_key not in found:
            return None
    return None
