"""The cache of what is computed from a benchmark's public results, keyed by its results generation.

Writes bump; reads build. Every change of results bumps the benchmark's generation
(``Benchmark.results_cache_key``), so a value cached here is never older than the last change.
Nothing is computed in the writer's transaction. Once it commits, the first reader who needs a
value computes it while readers who come meanwhile are given the value before, one process at
a time (``cached_results``); a warm task queued by the change computes the public board, its
figures and its JSON should no reader come first (``warming``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import TypeVar

from django.core.cache import cache

from leaderboard.models import Benchmark

BOARD_CACHE_SECONDS = 24 * 3600
# How long one process may hold the right to recompute a cached board, figure or page before
# another may try: a process that dies while computing frees it by itself after this.
RECOMPUTE_LOCK_SECONDS = 30

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


@contextmanager
def warming(benchmark: Benchmark) -> Iterator[bool]:
    """The right to compute the board of the benchmark's current results and what is drawn from
    it, for the warm task queued by a change: True when this process holds it; False, with
    nothing to do, when the board is cached already or another process (a reader who came
    first) is computing it.
    """
    if cache.get(benchmark.results_cache_key("board")) is not None:
        yield False
        return
    with recomputing(benchmark, "board") as mine:
        yield mine


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
    (the board, its figures and its JSON may have been computed by the warm task that the change
    queues, ``warming``). On a miss one process computes the value while holding the right to
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
