"""The prompt cache: versions kept until evicted (they never change), alias lookups for a TTL; bounded LRU.

Expired alias entries stay until evicted or replaced, so a failing workspace can fall back to them (stale-on-error).
The cached values are the final `PromptVersion`s (`ExpiringCache`: one dict look-up and a clock reading per hit).
"""

from __future__ import annotations

import math

from dbx_native._core.cache import ExpiringCache
from dbx_native.prompts._models import PromptVersion

__all__ = ["CacheKey", "PromptCache"]

# (prompt name, alias, version): exactly one of alias and version is set.
CacheKey = tuple[str, "str | None", "int | None"]


class PromptCache(ExpiringCache[CacheKey, PromptVersion]):
    """A bounded map of `CacheKey` -> `PromptVersion`, least recently used evicted first.

    Args:
        maxsize: Most entries kept; 0 keeps nothing.
        now: Monotonic clock.
    """

    def put(self, key: CacheKey, value: PromptVersion, ttl: float | None) -> None:
        """Keep `value` for `ttl` seconds (`None`: until evicted)."""
        self.store(key, value, math.inf if ttl is None else self._now() + ttl)

    def drop(self, name: str | None = None, *, aliases_only: bool = False) -> int:
        """Forget the entries of prompt `name` (every prompt when `None`); returns how many were dropped."""
        return self.discard_where(
            lambda key: (name is None or key[0] == name) and (not aliases_only or key[1] is not None)
        )
