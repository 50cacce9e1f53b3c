"""Where features come from: a Feature Serving endpoint, or a SQL warehouse (the slow fallback).

Every backend answers one chunk of keys in one round trip and returns one entry per key, in order: the
row as a mapping, or `None` when the store has none. `FeatureLookup` does the rest (missing-key policy,
schema validation, cache) the same way for every backend. Lakebase (direct Postgres) is in `_lakebase`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable
from urllib.parse import quote

from dbx_native._core.waiters import Poll
from dbx_native.errors import APIResponseError, BadRequestError, InvalidRequestError, OperationTimeoutError
from dbx_native.features._keys import canonical

if TYPE_CHECKING:
    from dbx_native._core.http import HttpClient

__all__ = ["FeatureBackend", "ServingEndpointBackend", "SqlWarehouseBackend", "quote_identifier"]

_ENDPOINT_NAME = re.compile(r"^[A-Za-z0-9_-]{1,63}$")
_IDENT_PART = re.compile(r"^[A-Za-z0-9_-]+$")
_DEFAULT_POLL_LIMIT = 60.0  # seconds a lookup statement may keep running when the call has no timeout


@runtime_checkable
class FeatureBackend(Protocol):
    """A feature store `FeatureLookup` can read from.

    Attributes:
        name: Short name shown as `FeatureRecord.source` (`serving`, `sql`, `lakebase`).
    """

    name: str

    def fetch(
        self,
        keys: Sequence[tuple[Any, ...]],
        *,
        columns: Sequence[str],
        http: HttpClient,
        timeout: float | None,
    ) -> list[Mapping[str, Any] | None]:
        """Look up one chunk of keys in one round trip.

        Args:
            keys: Key values, each a tuple in the order of `columns`.
            columns: The key column names.
            http: The lookup's HTTP client (auth, retries, spans), for backends that speak HTTP.
            timeout: Seconds for the whole call.

        Returns:
            One entry per key, in order: the row's columns, or `None` when there is no row.
        """
        ...

    def close(self) -> None:
        """Release connections (called by `FeatureLookup.close()`)."""
        ...


class ServingEndpointBackend:
    """A Feature Serving endpoint: `POST /serving-endpoints/{name}/invocations` with `dataframe_records`.

    The endpoint answers `{"outputs": [...]}`, one object per record, in order; a key without a row comes
    back with its features all null (`FeatureLookup` treats that as missing).

    Args:
        endpoint: The serving endpoint's name.

    Raises:
        InvalidRequestError: The name is not a valid endpoint name.
    """

    name = "serving"

    def __init__(self, endpoint: str) -> None:
        if not isinstance(endpoint, str) or not _ENDPOINT_NAME.match(endpoint):
            raise InvalidRequestError(
                f"Invalid serving endpoint name {endpoint!r}: use 1 to 63 letters, digits, dashes and underscores."
            )
        self.endpoint = endpoint

    def fetch(
        self,
        keys: Sequence[tuple[Any, ...]],
        *,
        columns: Sequence[str],
        http: HttpClient,
        timeout: float | None,
    ) -> list[Mapping[str, Any] | None]:
        records = [dict(zip(columns, key, strict=True)) for key in keys]
        response = http.request(
            "POST",
            f"/serving-endpoints/{self.endpoint}/invocations",
            json_body={"dataframe_records": records},
            idempotent=True,
            timeout=timeout,
            operation="features.serving",
            span_attributes={"dbx_native.features.endpoint": self.endpoint, "dbx_native.features.keys": len(keys)},
        )
        body = response.json()
        outputs = body.get("outputs") if isinstance(body, Mapping) else None
        if not isinstance(outputs, list) or len(outputs) != len(keys):
            got = f"{len(outputs)} outputs" if isinstance(outputs, list) else f"no 'outputs' list ({_keys_of(body)})"
            raise APIResponseError(
                f"Serving endpoint '{self.endpoint}' answered {got} for {len(keys)} records: is it a Feature "
                "Serving endpoint (its served entity a feature spec)?",
                request_id=response.request_id,
            )
        rows: list[Mapping[str, Any] | None] = []
        for output in outputs:
            if output is not None and not isinstance(output, Mapping):
                raise APIResponseError(
                    f"Serving endpoint '{self.endpoint}' answered an output that is not an object: {output!r:.80}",
                    request_id=response.request_id,
                )
            rows.append(output)
        return rows

    def close(self) -> None:
        """Nothing to release: the lookup owns the HTTP pool."""

    def __repr__(self) -> str:
        return f"ServingEndpointBackend({self.endpoint!r})"


def _keys_of(body: Any) -> str:
    return f"fields {sorted(body)[:6]}" if isinstance(body, Mapping) else type(body).__name__


def quote_identifier(name: str, *, quote_char: str = "`") -> str:
    """A dotted name with each part quoted (`main.fraud.t` -> `` `main`.`fraud`.`t` ``).

    Raises:
        InvalidRequestError: An empty part or a character outside letters, digits, `_` and `-`.
    """
    parts = name.split(".")
    for part in parts:
        if not _IDENT_PART.match(part):
            raise InvalidRequestError(
                f"Invalid name {name!r}: each dot-separated part needs letters, digits, '_' or '-' only."
            )
    return ".".join(f"{quote_char}{p}{quote_char}" for p in parts)


class SqlWarehouseBackend:
    """A Unity Catalog table read through the SQL Statement Execution API (`POST /api/2.0/sql/statements`).

    Keys travel only as named parameters (`WHERE k IN (:p0, :p1, ...)`), never in the SQL text. This is the
    slow path (a warehouse query per chunk, 50-100 ms at best on Databricks), kept as a fallback.

    Args:
        table: The table, `catalog.schema.table`.
        warehouse_id: The SQL warehouse that runs the statements.
        columns: Columns to read (the key columns are always added); all columns when omitted.
        poll_interval: First wait between polls while a statement is still running, in seconds.

    Raises:
        InvalidRequestError: A bad table or column name, or no warehouse id.
    """

    name = "sql"

    def __init__(
        self,
        table: str,
        *,
        warehouse_id: str,
        columns: Sequence[str] | None = None,
        poll_interval: float = 0.05,
    ) -> None:
        if len(table.split(".")) != 3:
            raise InvalidRequestError(f"table must be a three-part name catalog.schema.table, not {table!r}.")
        self.table_sql = quote_identifier(table)
        if not warehouse_id:
            raise InvalidRequestError("warehouse_id is required: the id of the SQL warehouse to run lookups on.")
        self.table = table
        self.warehouse_id = warehouse_id
        self.columns = list(columns) if columns is not None else None
        for column in self.columns or []:
            quote_identifier(column)
        self.poll_interval = poll_interval

    def statement(self, count: int, columns: Sequence[str]) -> str:
        """The SQL text for `count` keys on `columns` (markers only: no key value is ever in it)."""
        wanted = "*" if self.columns is None else ", ".join(quote_identifier(c) for c in _merge(columns, self.columns))
        keys = [quote_identifier(c) for c in columns]
        if len(keys) == 1:
            where = f"{keys[0]} IN ({', '.join(f':p{i}_0' for i in range(count))})"
        else:
            tuples = ", ".join("(" + ", ".join(f":p{i}_{j}" for j in range(len(keys))) + ")" for i in range(count))
            where = f"({', '.join(keys)}) IN ({tuples})"
        return f"SELECT {wanted} FROM {self.table_sql} WHERE {where}"

    def fetch(
        self,
        keys: Sequence[tuple[Any, ...]],
        *,
        columns: Sequence[str],
        http: HttpClient,
        timeout: float | None,
    ) -> list[Mapping[str, Any] | None]:
        parameters = [
            {"name": f"p{i}_{j}", "value": str(value), "type": "BIGINT" if isinstance(value, int) else "STRING"}
            for i, key in enumerate(keys)
            for j, value in enumerate(key)
        ]
        body = {
            "statement": self.statement(len(keys), columns),
            "warehouse_id": self.warehouse_id,
            "parameters": parameters,
            "wait_timeout": "10s",
            "on_wait_timeout": "CONTINUE",
            "disposition": "INLINE",
            "format": "JSON_ARRAY",
        }
        response = http.request(
            "POST",
            "/api/2.0/sql/statements",
            json_body=body,
            idempotent=True,
            timeout=timeout,
            operation="features.sql",
            span_attributes={"dbx_native.features.table": self.table, "dbx_native.features.keys": len(keys)},
        )
        result = self._finished(response.json(), http, timeout)
        by_key: dict[tuple[str, ...], Mapping[str, Any]] = {}
        for row in _rows(result, http, timeout):
            by_key.setdefault(canonical([row.get(c) for c in columns]), row)
        return [by_key.get(canonical(key)) for key in keys]

    def _finished(self, result: Any, http: HttpClient, timeout: float | None) -> Mapping[str, Any]:
        limit = timeout if timeout is not None else _DEFAULT_POLL_LIMIT
        poll = Poll(http.clock, timeout=limit, initial=self.poll_interval, factor=2.0, maximum=1.0)
        while True:
            if not isinstance(result, Mapping) or not isinstance(result.get("status"), Mapping):
                raise APIResponseError(f"The statement API answered without a status: {result!r:.120}")
            state = result["status"].get("state")
            if state == "SUCCEEDED":
                return result
            if state in ("FAILED", "CANCELED", "CLOSED"):
                error = result["status"].get("error") or {}
                raise BadRequestError(
                    f"Feature lookup on {self.table} {state}: {error.get('message') or 'no message'}. "
                    "Check the table, key and column names.",
                    status_code=400,
                    error_code=error.get("error_code"),
                    body=dict(result),
                )
            if not poll.wait():
                raise OperationTimeoutError(
                    f"The lookup statement on {self.table} was still {state} after {limit:g}s: the warehouse "
                    "may be starting; retry, or pass a longer timeout=.",
                    last_state=state,
                    timeout=limit,
                )
            path = f"/api/2.0/sql/statements/{quote(str(result.get('statement_id')))}"
            result = http.request("GET", path, timeout=limit, operation="features.sql.poll").json()

    def close(self) -> None:
        """Nothing to release: the lookup owns the HTTP pool."""

    def __repr__(self) -> str:
        return f"SqlWarehouseBackend({self.table!r}, warehouse_id={self.warehouse_id!r})"


def _merge(first: Sequence[str], then: Sequence[str]) -> list[str]:
    return list(dict.fromkeys([*first, *then]))


def _rows(result: Mapping[str, Any], http: HttpClient, timeout: float | None) -> list[dict[str, Any]]:
    manifest = result.get("manifest") or {}
    columns = (manifest.get("schema") or {}).get("columns") or []
    names = [c.get("name") for c in columns]
    kinds = [str(c.get("type_name") or "STRING").upper() for c in columns]
    rows: list[dict[str, Any]] = []
    chunk: Any = result.get("result") or {}
    statement_id = quote(str(result.get("statement_id")))
    while True:
        for raw in chunk.get("data_array") or []:
            rows.append({n: _convert(v, k) for n, v, k in zip(names, raw, kinds, strict=False)})
        following = chunk.get("next_chunk_index")
        if following is None:
            return rows
        path = f"/api/2.0/sql/statements/{statement_id}/result/chunks/{int(following)}"
        chunk = http.request("GET", path, timeout=timeout).json() or {}


def _convert(value: Any, kind: str) -> Any:
    """A `data_array` value (a string, or null) as a Python value of its column type."""
    if value is None or not isinstance(value, str):
        return value
    if kind in ("LONG", "INT", "SHORT", "BYTE"):
        return int(value)
    if kind in ("DOUBLE", "FLOAT"):
        return float(value)
    if kind == "DECIMAL":
        return Decimal(value)
    if kind == "BOOLEAN":
        return value.lower() == "true"
    return value
