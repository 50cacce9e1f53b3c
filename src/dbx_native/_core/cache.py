"""A bounded, thread-safe map with expiry: what `FeatureLookup` and `PromptRegistry` cache in.

Least recently used entries are evicted first. Expired entries stay until evicted or replaced, so a client whose
backend fails can still serve them (stale-on-error) through `peek`. A hit is one dict look-up and one clock
reading under a lock; values are stored as callers will return them, so nothing is parsed on the hit path.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from typing import Generic, TypeVar

__all__ = ["ExpiringCache"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class ExpiringCache(Generic[K, V]):
    """A bounded map of key -> (value, expiry time), least recently used evicted first.

    Args:
        maxsize: Most entries kept; 0 keeps nothing.
        now: The monotonic clock expiry times are read against.

    Attributes:
        hits: `get` calls that found a fresh value.
        misses: `get` calls that did not.
    """

    def __init__(self, *, maxsize: int, now: Callable[[], float]) -> None:
        self.maxsize = maxsize
        self._now = now
        self._data: OrderedDict[K, tuple[V, float]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: K) -> V | None:
        """The fresh value for `key` (counted as a hit), or `None` (counted as a miss)."""
        with self._lock:
            item = self._data.get(key)
            if item is not None and item[1] > self._now():
                self._data.move_to_end(key)
                self.hits += 1
                return item[0]
            self.misses += 1
            return None

    def peek(self, key: K) -> V | None:
        """The value for `key`, fresh or expired, without counting or reordering."""
        with self._lock:
            item = self._data.get(key)
            return None if item is None else item[0]

    def store(self, key: K, value: V, expires: float) -> None:
        """Keep `value` until the monotonic time `expires` (`math.inf`: until evicted)."""
        if self.maxsize <= 0:
            return
        with self._lock:
            self._data[key] = (value, expires)
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def discard(self, keys: Iterable[K] | None = None) -> int:
        """Forget `keys` (every entry when `None`); returns how many were there."""
        with self._lock:
            if keys is None:
                count = len(self._data)
                self._data.clear()
                return count
            return sum(1 for key in keys if self._data.pop(key, None) is not None)

    def discard_where(self, doomed: Callable[[K], bool]) -> int:
        """Forget the entries whose key `doomed` accepts; returns how many."""
        with self._lock:
            keys = [key for key in self._data if doomed(key)]
            for key in keys:
                del self._data[key]
            return len(keys)

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)
