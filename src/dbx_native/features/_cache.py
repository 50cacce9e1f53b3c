"""The feature cache: TTL + LRU, thread-safe, keeping expired entries for stale-on-error (`ExpiringCache`).

The values stored are the final, already validated objects, so nothing is parsed or validated on the hit path.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any

from dbx_native._core.cache import ExpiringCache

__all__ = ["CacheEntry", "FeatureCache"]


class CacheEntry:
    """One cached lookup result.

    Attributes:
        value: What `get` returns for the key (a row, a default row, or `None`).
        missing: The store had no row for the key.
        fetched_at: Wall-clock time (epoch seconds) the value was fetched.
        expires: Monotonic time after which the entry is stale.
        source: The backend that produced it (`serving`, `sql`, `lakebase`, ...).
    """

    __slots__ = ("expires", "fetched_at", "missing", "source", "value")

    def __init__(self, value: Any, *, missing: bool, fetched_at: float, expires: float, source: str) -> None:
        self.value = value
        self.missing = missing
        self.fetched_at = fetched_at
        self.expires = expires
        self.source = source


class FeatureCache(ExpiringCache[Hashable, CacheEntry]):
    """A bounded map of key -> `CacheEntry`, least recently used evicted first (expired entries stay, for
    stale-on-error).

    Args:
        maxsize: Most entries kept; 0 keeps nothing.
        now: Monotonic clock.
    """

    def put(self, key: Hashable, entry: CacheEntry) -> None:
        """Keep `entry` until its `expires` time."""
        self.store(key, entry, entry.expires)

    def invalidate(self, keys: Iterable[Hashable] | None = None) -> int:
        """Drop `keys` (all when `None`); returns how many entries were dropped."""
        return self.discard(keys)
