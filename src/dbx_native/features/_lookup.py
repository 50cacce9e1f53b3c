"""`FeatureLookup`: typed online feature lookups with batching, a TTL cache and an explicit missing-key policy."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, ClassVar, Generic, Literal, TypeVar, overload

from pydantic import BaseModel

from dbx_native._core.client import BaseClient
from dbx_native._core.clock import Clock
from dbx_native._core.logs import get_logger
from dbx_native.config import DbxConfig
from dbx_native.errors import (
    APIConnectionError,
    APIError,
    APIResponseError,
    InvalidRequestError,
    NotFoundError,
    RateLimitError,
    ServerError,
)
from dbx_native.features._admin import FeatureEndpoint, ensure_feature_serving_endpoint
from dbx_native.features._backends import FeatureBackend, ServingEndpointBackend
from dbx_native.features._cache import CacheEntry, FeatureCache
from dbx_native.features._keys import KeySpec
from dbx_native.features._models import FeatureRecord, LookupStats, make_row

__all__ = ["FeatureLookup"]

_log = get_logger("dbx_native.features")

RowT = TypeVar("RowT")
Missing = Literal["none", "default", "raise"]
_MAX_BATCH = 10_000
# Failures that say nothing about the data, so an older value is still the best answer (stale_on_error).
_TRANSIENT: tuple[type[APIError], ...] = (APIConnectionError, RateLimitError, ServerError, APIResponseError)


class FeatureLookup(BaseClient, Generic[RowT]):
    """Online feature lookups by key from a Feature Serving endpoint, a Lakebase table or a SQL warehouse.

    Rows are cached for `cache_ttl` seconds (LRU, at most `cache_size` keys); a cache hit is a dict
    look-up, no parsing. `get_many` removes duplicates, answers what it can from the cache and fetches the
    rest in chunks of `batch_size` keys, one round trip per chunk.

    Args:
        endpoint: The Feature Serving endpoint to query (when `backend` is not given).
        key: The key column, or the columns of a composite key (`["merchant_id", "region"]`).
        schema: A Pydantic model each row is validated into; rows are read-only mappings without it.
        backend: Another store: `LakebaseBackend(...)`, `SqlWarehouseBackend(...)` or your own `FeatureBackend`.
        cache_ttl: Seconds a fetched row stays fresh (0: always fetch, but keep the last value for
            `stale_on_error`).
        cache_size: Most keys cached (0: no cache at all).
        missing: What a key without a row gives: `"none"` (None), `"default"` (a row made of `defaults`
            and the key) or `"raise"` (`NotFoundError`).
        defaults: Feature values for `missing="default"`.
        batch_size: Keys per round trip.
        stale_on_error: When the store fails (connection, 429, 5xx, malformed answer), serve the last
            cached value of each key, flagged `stale=True`, instead of raising (if every key has one).
        config: Connection settings (`DbxConfig()` from the environment when omitted).
        clock: Time source (tests pass a `FakeClock`).

    Raises:
        InvalidRequestError: Conflicting or out-of-range options.

    Example:
        >>> from dbx_native.local import LocalWorkspace
        >>> ws = LocalWorkspace()
        >>> _ = ws.create_table("main.fraud.merchants", [{"merchant_id": "m_1", "risk": 0.2}])
        >>> _ = ws.features.create_spec("main.fraud.spec", table="main.fraud.merchants", lookup_keys="merchant_id")
        >>> _ = ws.serving.create_endpoint("merchant-features", served_entities=[{"entity_name": "main.fraud.spec"}])
        >>> with ws.intercept():
        ...     fl = FeatureLookup("merchant-features", key="merchant_id", config=ws.config)
        ...     fl.get("m_1")["risk"], fl.get("m_404")
        (0.2, None)
    """

    _client_name: ClassVar[str] = "features"

    @overload
    def __init__(
        self: FeatureLookup[Mapping[str, Any]],
        endpoint: str | None = None,
        *,
        key: str | Sequence[str],
        schema: None = None,
        backend: FeatureBackend | None = None,
        cache_ttl: float = 30.0,
        cache_size: int = 100_000,
        missing: Missing = "none",
        defaults: Mapping[str, Any] | None = None,
        batch_size: int = 100,
        stale_on_error: bool = False,
        config: DbxConfig | None = None,
        clock: Clock | None = None,
        _credentials: Any = None,
    ) -> None: ...

    @overload
    def __init__(
        self: FeatureLookup[RowT],
        endpoint: str | None = None,
        *,
        key: str | Sequence[str],
        schema: type[RowT],
        backend: FeatureBackend | None = None,
        cache_ttl: float = 30.0,
        cache_size: int = 100_000,
        missing: Missing = "none",
        defaults: Mapping[str, Any] | None = None,
        batch_size: int = 100,
        stale_on_error: bool = False,
        config: DbxConfig | None = None,
        clock: Clock | None = None,
        _credentials: Any = None,
    ) -> None: ...

    def __init__(
        self,
        endpoint: str | None = None,
        *,
        key: str | Sequence[str],
        schema: type[Any] | None = None,
        backend: FeatureBackend | None = None,
        cache_ttl: float = 30.0,
        cache_size: int = 100_000,
        missing: Missing = "none",
        defaults: Mapping[str, Any] | None = None,
        batch_size: int = 100,
        stale_on_error: bool = False,
        config: DbxConfig | None = None,
        clock: Clock | None = None,
        _credentials: Any = None,
    ) -> None:
        _check_options(endpoint, backend, schema, cache_ttl, cache_size, missing, defaults, batch_size)
        self.endpoint = endpoint
        self.backend: FeatureBackend = backend if backend is not None else ServingEndpointBackend(str(endpoint))
        self.keys = KeySpec(key)
        self.schema: type[BaseModel] | None = schema
        self.cache_ttl = float(cache_ttl)
        self.missing: Missing = missing
        self.defaults = dict(defaults or {})
        self.batch_size = batch_size
        self.stale_on_error = stale_on_error
        super().__init__(config, clock=clock, _credentials=_credentials)
        self._cache = FeatureCache(maxsize=cache_size, now=self._http.clock.monotonic)
        self._counts = {"stale_served": 0, "errors": 0, "round_trips": 0}
        self._counts_lock = threading.Lock()

    # --- lookups -----------------------------------------------------------------------------------

    def get(self, key: Any, *, timeout: float | None = None) -> RowT | None:
        """The features of one key.

        Args:
            key: The key value (`"m_1"`), or for a composite key a tuple in column order or a mapping.
            timeout: Seconds for the whole call when the store is asked, retries included.

        Returns:
            The row (a `schema` instance, or a read-only mapping), the defaults row, or `None` (see `missing`).

        Raises:
            InvalidRequestError: The key has the wrong type or shape (nothing sent).
            NotFoundError: No row for the key and `missing="raise"`.
            APIResponseError: The row does not fit `schema` (the message names the key and the field).
            APIError: The store failed (and no stale value could be served).
        """
        k = self.keys.normalize(key)
        entry = self._cache.get(k)
        if entry is None:
            entry = self._resolve([k], timeout=timeout, force=False)[k][0]
        if entry.missing and self.missing == "raise":
            raise self._not_found([k])
        value: RowT | None = entry.value
        return value

    @overload
    def get_many(
        self, keys: Iterable[Any], *, with_meta: Literal[False] = False, timeout: float | None = None
    ) -> dict[Any, RowT | None]: ...

    @overload
    def get_many(
        self, keys: Iterable[Any], *, with_meta: Literal[True], timeout: float | None = None
    ) -> dict[Any, FeatureRecord[RowT]]: ...

    def get_many(
        self, keys: Iterable[Any], *, with_meta: bool = False, timeout: float | None = None
    ) -> dict[Any, RowT | None] | dict[Any, FeatureRecord[RowT]]:
        """The features of many keys: duplicates removed, the cache first, the rest in chunks of `batch_size`.

        Args:
            keys: Key values (see `get`).
            with_meta: Return a `FeatureRecord` (value, fetched_at, source, stale, ...) per key instead of rows.
            timeout: Seconds for each round trip to the store, retries included.

        Returns:
            `{key: row or None}` (or `{key: FeatureRecord}`) in the order the keys were first given;
            composite keys are tuples.

        Raises:
            InvalidRequestError: A key has the wrong type or shape (nothing sent).
            NotFoundError: Some keys have no row and `missing="raise"` (the message lists them).
            APIResponseError: A row does not fit `schema`.
            APIError: The store failed (and no stale value could be served for every key of a chunk).
        """
        result: dict[Any, Any] = self._many(keys, with_meta=with_meta, timeout=timeout, force=False)
        return result

    def refresh(self, keys: Iterable[Any], *, timeout: float | None = None) -> dict[Any, RowT | None]:
        """Fetch `keys` from the store now, whatever the cache holds, and cache the new values.

        Args:
            keys: Key values (see `get`).
            timeout: Seconds for each round trip, retries included.

        Returns:
            `{key: row or None}` as `get_many` returns it.

        Raises:
            InvalidRequestError: A key has the wrong type or shape.
            NotFoundError: Some keys have no row and `missing="raise"`.
            APIError: The store failed (and `stale_on_error` could not cover it).
        """
        result: dict[Any, RowT | None] = self._many(keys, with_meta=False, timeout=timeout, force=True)
        return result

    def invalidate(self, keys: Iterable[Any] | None = None) -> int:
        """Forget cached values: of `keys`, or all of them (also the ones kept for `stale_on_error`).

        Returns:
            How many cache entries were dropped.

        Raises:
            InvalidRequestError: A key has the wrong type or shape.
        """
        if keys is None:
            return self._cache.invalidate()
        return self._cache.invalidate([self.keys.normalize(k) for k in _key_list(keys)])

    @property
    def stats(self) -> LookupStats:
        """Counters since the lookup was made: hits, misses, stale_served, errors, round_trips, cached."""
        with self._counts_lock:
            counts = dict(self._counts)
        return LookupStats(hits=self._cache.hits, misses=self._cache.misses, cached=len(self._cache), **counts)

    def ensure_endpoint(
        self,
        *,
        feature_spec: str,
        workload_size: str = "Small",
        scale_to_zero: bool = True,
        wait: bool = True,
        timeout: float = 1200.0,
        progress: Callable[[Mapping[str, Any]], None] | None = None,
    ) -> FeatureEndpoint:
        """Make this lookup's endpoint serve `feature_spec` (see `ensure_feature_serving_endpoint`).

        Raises:
            InvalidRequestError: The lookup has no `endpoint`, or a bad name.
            OperationTimeoutError: Not ready within `timeout`.
            APIError: A call failed.
        """
        if self.endpoint is None:
            raise InvalidRequestError("ensure_endpoint() needs a lookup made with endpoint=.")
        return ensure_feature_serving_endpoint(
            self.endpoint,
            feature_spec=feature_spec,
            workload_size=workload_size,
            scale_to_zero=scale_to_zero,
            wait=wait,
            timeout=timeout,
            progress=progress,
            client=self,
        )

    def close(self) -> None:
        """Close the backend's connections and the HTTP pool."""
        self.backend.close()
        super().close()

    def __repr__(self) -> str:
        where = f"endpoint={self.endpoint!r}" if self.endpoint else f"backend={self.backend!r}"
        return f"FeatureLookup({where}, key={list(self.keys.columns)!r}, host={self._config.host!r})"

    # --- internals ---------------------------------------------------------------------------------

    def _many(self, keys: Iterable[Any], *, with_meta: bool, timeout: float | None, force: bool) -> Any:
        wanted = list(dict.fromkeys(self.keys.normalize(k) for k in _key_list(keys)))
        resolved = self._resolve(wanted, timeout=timeout, force=force)
        if self.missing == "raise":
            absent = [k for k in wanted if resolved[k][0].missing]
            if absent:
                raise self._not_found(absent)
        if not with_meta:
            return {k: resolved[k][0].value for k in wanted}
        out: dict[Any, FeatureRecord[Any]] = {}
        for k in wanted:
            entry, cached, stale = resolved[k]
            out[k] = FeatureRecord(
                value=entry.value,
                fetched_at=datetime.fromtimestamp(entry.fetched_at, tz=timezone.utc),
                source=entry.source,
                stale=stale,
                cached=cached,
                missing=entry.missing,
            )
        return out

    def _resolve(
        self, keys: list[Hashable], *, timeout: float | None, force: bool
    ) -> dict[Hashable, tuple[CacheEntry, bool, bool]]:
        """`{key: (entry, cached, stale)}` for every key: cache first (unless `force`), then the store."""
        out: dict[Hashable, tuple[CacheEntry, bool, bool]] = {}
        todo: list[Hashable] = []
        for k in keys:
            entry = None if force else self._cache.get(k)
            if entry is None:
                todo.append(k)
            else:
                out[k] = (entry, True, False)
        for start in range(0, len(todo), self.batch_size):
            chunk = todo[start : start + self.batch_size]
            try:
                rows = self._fetch(chunk, timeout)
            except APIError as err:
                out.update(self._stale_or_raise(chunk, err))
                continue
            out.update((k, (e, False, False)) for k, e in self._store(chunk, rows).items())
        return out

    def _fetch(self, chunk: list[Hashable], timeout: float | None) -> list[Mapping[str, Any] | None]:
        """One round trip to the store for one chunk of keys."""
        with self._counts_lock:
            self._counts["round_trips"] += 1
        try:
            rows = self.backend.fetch(
                [self.keys.values(k) for k in chunk], columns=self.keys.columns, http=self._http, timeout=timeout
            )
            if len(rows) != len(chunk):
                raise APIResponseError(
                    f"The {self.backend.name} backend answered {len(rows)} rows for {len(chunk)} keys."
                )
        except Exception:
            with self._counts_lock:
                self._counts["errors"] += 1
            raise
        return rows

    def _store(self, chunk: list[Hashable], rows: list[Mapping[str, Any] | None]) -> dict[Hashable, CacheEntry]:
        """Rows made into final values (validated once, here) and cached."""
        clock = self._http.clock
        fetched_at, expires, source = clock.time(), clock.monotonic() + self.cache_ttl, self.backend.name
        entries: dict[Hashable, CacheEntry] = {}
        for k, row in zip(chunk, rows, strict=True):  # validate the whole chunk before caching any of it
            absent = row is None or self._all_null(row)
            value = self._default_row(k) if absent else make_row(self.schema, k, row or {}, source=source)
            entries[k] = CacheEntry(value, missing=absent, fetched_at=fetched_at, expires=expires, source=source)
        for k, entry in entries.items():
            self._cache.put(k, entry)
        return entries

    def _stale_or_raise(self, chunk: list[Hashable], err: APIError) -> dict[Hashable, tuple[CacheEntry, bool, bool]]:
        if not self.stale_on_error or not isinstance(err, _TRANSIENT):
            raise err
        stale = {k: self._cache.peek(k) for k in chunk}
        if any(entry is None for entry in stale.values()):
            raise err
        with self._counts_lock:
            self._counts["stale_served"] += len(chunk)
        _log.warning(
            "feature store (%s) failed (%s); serving %d stale value(s)",
            self.backend.name,
            type(err).__name__,
            len(chunk),
        )
        return {k: (entry, True, True) for k, entry in stale.items() if entry is not None}

    def _all_null(self, row: Mapping[str, Any]) -> bool:
        # Feature Serving answers a key without a row with that key's features all null.
        columns = self.keys.columns
        return all(v is None for c, v in row.items() if c not in columns)

    def _default_row(self, key: Hashable) -> Any:
        if self.missing != "default":
            return None
        data = {**self.defaults, **self.keys.record(key)}
        try:
            return make_row(self.schema, key, data, source="defaults")
        except APIResponseError as err:
            raise InvalidRequestError(f"defaults= do not fit the schema: {err.message}") from None

    def _not_found(self, keys: list[Hashable]) -> NotFoundError:
        shown = ", ".join(repr(k) for k in keys[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")
        return NotFoundError(
            f"No features for key(s) {shown} in the {self.backend.name} store. Pass missing='none' or "
            "missing='default' (with defaults=) to get None or default values instead.",
            status_code=404,
            error_code="RESOURCE_DOES_NOT_EXIST",
        )


def _key_list(keys: Iterable[Any]) -> Iterable[Any]:
    if isinstance(keys, (str, bytes)):
        raise InvalidRequestError(
            f"keys must be a list of keys, not a single string ({keys!r}); use get() for one key."
        )
    return keys


def _check_options(
    endpoint: str | None,
    backend: FeatureBackend | None,
    schema: Any,
    cache_ttl: float,
    cache_size: int,
    missing: str,
    defaults: Mapping[str, Any] | None,
    batch_size: int,
) -> None:
    if (endpoint is None) == (backend is None):
        raise InvalidRequestError(
            "Pass either endpoint= (a Feature Serving endpoint) or backend= (LakebaseBackend, SqlWarehouseBackend, "
            "...), not both and not neither."
        )
    if schema is not None and not (isinstance(schema, type) and issubclass(schema, BaseModel)):
        raise InvalidRequestError(f"schema must be a pydantic BaseModel subclass, not {schema!r}.")
    if cache_ttl < 0:
        raise InvalidRequestError(f"cache_ttl must be >= 0 seconds, not {cache_ttl!r}.")
    if cache_size < 0:
        raise InvalidRequestError(f"cache_size must be >= 0, not {cache_size!r}.")
    if missing not in ("none", "default", "raise"):
        raise InvalidRequestError(f"missing must be 'none', 'default' or 'raise', not {missing!r}.")
    if missing == "default" and not defaults:
        raise InvalidRequestError("missing='default' needs defaults={feature: value, ...}.")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not 1 <= batch_size <= _MAX_BATCH:
        raise InvalidRequestError(f"batch_size must be an integer from 1 to {_MAX_BATCH}, not {batch_size!r}.")
