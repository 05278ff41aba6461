"""The cache of what is computed from a benchmark's public results, keyed by its results generation.

Every change of results bumps the benchmark's generation (``Benchmark.results_cache_key``), so a
value cached here is never older than the last change; on a miss one process computes it while
the others are given the value before (``cached_results``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from django.core.cache import cache

from leaderboard.models import Benchmark

BOARD_CACHE_SECONDS = 24 * 3600
# How long one process may hold the right to recompute a cached board, figure or page before
# another may try: a process that dies while computing frees it by itself after this.
RECOMPUTE_LOCK_SECONDS = 30

T = TypeVar("T")


@contextmanager
def recomputing(benchmark: Benchmark, kind: str) -> Iterator[bool]:
    """The right to compute one cached value of the benchmark's current results.

    True when this process holds it (until the block ends); False while another process does.
    """
    lock_key = f"{benchmark.results_cache_key(kind)}:computing"
    locked = cache.add(lock_key, 1, RECOMPUTE_LOCK_SECONDS)
    try:
        yield locked
    finally:
        if locked:
            cache.delete(lock_key)


def cached_results(
    benchmark: Benchmark, kind: str, build: Callable[[], T], *, stale_ok: bool = False
) -> T:
    """A value computed from the benchmark's public results, cached under its results generation.

    Every change of results bumps the generation, so each cached value misses once per change
    (the board, its figures and its JSON not even once: ``cache_public_results`` computes them
    with the change). On a miss one process computes the value while holding the right to
    (``recomputing``); a reader that comes meanwhile with ``stale_ok`` is given the newest
    value computed for an earlier generation instead of computing it too. Without that, every
    web worker would compute the same page at once after each scoring while all readers wait.
    Such a reader is at most one computation behind, and only while that computation runs;
    without ``stale_ok`` (or before any value exists) a reader computes the value itself.
    """
    key = benchmark.results_cache_key(kind)
    value = cache.get(key)
    if value is not None:
        return value
    latest_key = f"{kind}:{benchmark.pk}:latest"
    with recomputing(benchmark, kind) as mine:
        if not mine and stale_ok:
            value = cache.get(latest_key)
            if value is not None:
                return value
        value = build()
        cache.set_many({key: value, latest_key: value}, BOARD_CACHE_SECONDS)
    return value
