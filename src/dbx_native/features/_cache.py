"""The feature cache: TTL + LRU, thread-safe, keeping expired entries for stale-on-error.

A hit is one dict look-up and one clock reading under a lock: the values stored are the final, already
validated objects, so nothing is parsed or validated on the hit path.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from typing import Any

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


class FeatureCache:
    """A bounded map of key -> `CacheEntry`, least recently used evicted first.

    Expired entries stay (until evicted or replaced) so a failing backend can fall back to them.

    Args:
        maxsize: Most entries kept; 0 keeps nothing.
        now: Monotonic clock.
    """

    def __init__(self, *, maxsize: int, now: Callable[[], float]) -> None:
        self.maxsize = maxsize
        self._now = now
        self._data: OrderedDict[Hashable, CacheEntry] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> CacheEntry | None:
        """The fresh entry for `key` (counted as a hit), or `None` (counted as a miss)."""
        with self._lock:
            entry = self._data.get(key)
            if entry is not None and entry.expires > self._now():
                self._data.move_to_end(key)
                self.hits += 1
                return entry
            self.misses += 1
            return None

    def peek(self, key: Hashable) -> CacheEntry | None:
        """The entry for `key`, fresh or stale, without counting or reordering."""
        with self._lock:
            return self._data.get(key)

    def put(self, key: Hashable, entry: CacheEntry) -> None:
        if self.maxsize <= 0:
            return
        with self._lock:
            self._data[key] = entry
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def invalidate(self, keys: Iterable[Hashable] | None = None) -> int:
        """Drop `keys` (all when `None`); returns how many entries were dropped."""
        with self._lock:
            if keys is None:
                count = len(self._data)
                self._data.clear()
                return count
            return sum(1 for key in keys if self._data.pop(key, None) is not None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)
