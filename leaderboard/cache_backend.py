"""The shared cache (Redis), which the site can do without when it is down.

Everything the site caches can be computed again (boards, figures, pages) or may be lost
(counts of failed log-ins), so a Redis that is down or unreachable is a cache miss, not a server
error: each operation gives the answer of an empty cache and the failure is logged. After a
failure the process leaves Redis alone for `RETRY_AFTER` seconds, so that a dead Redis costs a
request nothing while it is down, and then tries it again.
"""

from __future__ import annotations

import logging
import time

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError, TimeoutError

log = logging.getLogger(__name__)

# How long a process serves without the cache after Redis failed to answer.
RETRY_AFTER = 2.0
UNAVAILABLE = (ConnectionError, TimeoutError)


class DegradingRedisCache(RedisCache):
    """Django's Redis cache, answering as an empty cache while Redis cannot be reached."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._down_until = 0.0

    @property
    def unavailable(self) -> bool:
        """Whether this process is serving without the cache right now."""
        return time.monotonic() < self._down_until

    def _call(self, operation: str, default, *args, **kwargs):
        if self.unavailable:
            return default
        try:
            return getattr(super(), operation)(*args, **kwargs)
        except UNAVAILABLE as error:
            self._down_until = time.monotonic() + RETRY_AFTER
            log.warning(
                "The cache is unavailable (%s: %s): serving without it for %g s",
                type(error).__name__,
                error,
                RETRY_AFTER,
            )
            return default

    def add(self, key, *args, **kwargs):
        # Not stored: whoever asked does not hold the key (a lock, a window's first count).
        return self._call("add", False, key, *args, **kwargs)

    def get(self, key, default=None, version=None):
        return self._call("get", default, key, default, version)

    def set(self, key, *args, **kwargs):
        return self._call("set", None, key, *args, **kwargs)

    def touch(self, key, *args, **kwargs):
        return self._call("touch", False, key, *args, **kwargs)

    def delete(self, key, *args, **kwargs):
        return self._call("delete", False, key, *args, **kwargs)

    def get_many(self, keys, *args, **kwargs):
        return self._call("get_many", {}, keys, *args, **kwargs)

    def has_key(self, key, *args, **kwargs):
        return self._call("has_key", False, key, *args, **kwargs)

    def incr(self, key, delta=1, version=None):
        missing = object()
        value = self._call("incr", missing, key, delta, version)
        if value is missing:
            # As for a key that is not there: the caller starts a count of its own, or gives up.
            raise ValueError(f"Key '{key}' not found: the cache is unavailable.")
        return value

    def set_many(self, data, *args, **kwargs):
        # Every key failed to be stored.
        return self._call("set_many", list(data), data, *args, **kwargs)

    def delete_many(self, keys, *args, **kwargs):
        return self._call("delete_many", None, keys, *args, **kwargs)

    def clear(self):
        return self._call("clear", False)
