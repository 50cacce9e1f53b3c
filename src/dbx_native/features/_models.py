"""Results of feature lookups: rows (schema instances or read-only mappings), `FeatureRecord`, `LookupStats`."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from dbx_native.errors import APIResponseError

__all__ = ["FeatureRecord", "LookupStats", "make_row"]

T = TypeVar("T")


@dataclass(frozen=True)
class FeatureRecord(Generic[T]):
    """A looked-up value with where and when it came from (`get_many(keys, with_meta=True)`).

    Attributes:
        value: The row (a `schema` instance or a read-only mapping), a default row, or `None`.
        fetched_at: When the value was fetched from the store (UTC).
        source: The backend that answered: `serving`, `sql`, `lakebase` (or a custom backend's `name`).
        stale: True when the value is past its TTL and was served because the backend failed.
        cached: True when the value came from the cache (no round trip for this key in this call).
        missing: True when the store has no row for the key (`value` is then `None` or the defaults).
    """

    value: T | None
    fetched_at: datetime
    source: str
    stale: bool = False
    cached: bool = False
    missing: bool = False


@dataclass(frozen=True)
class LookupStats:
    """Counters of one `FeatureLookup` since it was made.

    Attributes:
        hits: Keys answered from a fresh cache entry.
        misses: Keys not in the cache, or only with an expired entry.
        stale_served: Keys answered with an expired entry because the backend failed (`stale_on_error`).
        errors: Backend round trips that failed.
        round_trips: Backend round trips made (one per chunk of `batch_size` keys).
        cached: Entries now in the cache (fresh or expired).
    """

    hits: int = 0
    misses: int = 0
    stale_served: int = 0
    errors: int = 0
    round_trips: int = 0
    cached: int = 0

    @property
    def hit_rate(self) -> float:
        """`hits / (hits + misses)`, 0.0 before any lookup."""
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


def make_row(schema: type[BaseModel] | None, key: Hashable, data: Mapping[str, Any], *, source: str) -> Any:
    """A row as `get` returns it: `schema` validated, or a read-only mapping.

    Raises:
        APIResponseError: The data does not fit `schema`; the message names the key and each field.
    """
    if schema is None:
        return MappingProxyType(dict(data))
    try:
        return schema.model_validate(dict(data))
    except ValidationError as err:
        problems = "; ".join(_describe(e) for e in err.errors()[:5])
        raise APIResponseError(
            f"Features of key {key!r} from {source} do not fit {schema.__name__}: {problems}. "
            f"Fix the schema (make the field optional or change its type) or the feature table."
        ) from None


def _describe(error: Any) -> str:
    field = ".".join(str(p) for p in error["loc"]) or "<row>"
    if error["type"] == "missing":
        return f"field '{field}' is missing"
    return f"field '{field}': {error['msg']} (got {error.get('input')!r})"
