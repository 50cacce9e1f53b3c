"""A bounded, thread-safe map with expiry: what `FeatureLookup` and `PromptRegistry` cache in.

Least recently used entries are evicted first. Expired entries stay until evicted or replaced, so a client whose
backend fails can still serve them (stale-on-error) through `peek`. Values are stored as callers will return them,
so nothing is parsed on the hit path.

A hit takes no lock: a dict look-up, a clock reading, a reorder and a counter bump. All but the clock reading are
single C calls that run whole under the GIL, and a thread switch between them is harmless (`get` says why). A lock
on the hit path made many threads slower than one: when the thread holding it was
switched out by the GIL, every other thread queued on it (a lock convoy). Writers (`store`, `discard`,
`discard_where`) still take the lock between themselves, and are written so that concurrent hits cannot break them.
This relies on the GIL; a free-threaded build would need the lock back on `get`.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from typing import Generic, TypeVar

__all__ = ["ExpiringCache"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class ExpiringCache(Generic[K, V]):
    """A bounded map of key -> (value, expiry time), least recently used evicted first.

    `get` is lock-free, so under concurrent use the LRU order is approximate: a hit racing a `store` may be
    reordered just after the store's eviction picked its victim, so a recently read entry can be evicted (its
    reader still gets the value it found). Values and counters are always exact: a hit returns the value stored
    for the key at the moment of the look-up, and only if it had not expired.

    Args:
        maxsize: Most entries kept; 0 keeps nothing.
        now: The monotonic clock expiry times are read against.
    """

    def __init__(self, *, maxsize: int, now: Callable[[], float]) -> None:
        self.maxsize = maxsize
        self._now = now
        self._data: OrderedDict[K, tuple[V, float]] = OrderedDict()
        self._lock = threading.Lock()
        # `next()` on an itertools.count is one C call that cannot be interrupted by another thread, so every
        # bump counts exactly once without a lock. Reading one takes `next()` too: each read is itself counted,
        # so a read subtracts the reads made before it (they are serialized by the lock).
        self._hits = itertools.count()
        self._misses = itertools.count()
        self._hit_reads = 0
        self._miss_reads = 0

    @property
    def hits(self) -> int:
        """`get` calls that found a fresh value (exact under any number of threads)."""
        with self._lock:
            count = next(self._hits) - self._hit_reads
            self._hit_reads += 1
            return count

    @property
    def misses(self) -> int:
        """`get` calls that did not (exact under any number of threads)."""
        with self._lock:
            count = next(self._misses) - self._miss_reads
            self._miss_reads += 1
            return count

    def get(self, key: K) -> V | None:
        """The fresh value for `key` (counted as a hit), or `None` (counted as a miss); takes no lock.

        The answer is the entry found by the look-up: if a writer replaces, evicts or discards it before `get`
        returns, `get` behaves as if it had run just before the writer (as it would have with a lock).
        """
        item = self._data.get(key)  # (value, expires) is one tuple: the value always goes with its own expiry
        if item is not None and item[1] > self._now():
            # Not contextlib.suppress: it would cost more than the rest of the hit.
            try:  # noqa: SIM105
                self._data.move_to_end(key)
            except KeyError:  # evicted or discarded since the look-up: the value found is still the answer
                pass
            next(self._hits)
            return item[0]
        next(self._misses)
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
            data = self._data
            # Only lock holders add or remove keys (hits only reorder them), so `key in data` and `len(data)`
            # hold until this block ends. Evicting before inserting means a hit reordering the map meanwhile
            # can never make the new entry the one evicted.
            if key in data:
                data.move_to_end(key)
            else:
                while len(data) >= self.maxsize:
                    data.popitem(last=False)
            data[key] = (value, expires)

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
            # A snapshot (`list()` copies in one C call): iterating the map itself while `doomed` runs would
            # raise "mutated during iteration" as soon as a concurrent hit reorders it.
            keys = [key for key in list(self._data) if doomed(key)]
            for key in keys:
                del self._data[key]
            return len(keys)

    def __len__(self) -> int:
        return len(self._data)
