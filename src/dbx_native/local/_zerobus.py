"""Zerobus Ingest's REST insert route in the local workspace (`ws.zerobus`).

`POST /zerobus/v1/tables/{catalog.schema.table}/insert`, body a JSON array of row objects, bearer token; a 200
with an empty object means the whole batch is committed (all rows or none). As on Databricks, Zerobus never
creates or alters a table: an unknown table is a 404 `TABLE_DOES_NOT_EXIST`, a row that does not fit the table's
columns a 400. Values use Zerobus's JSON record encoding: TIMESTAMP = integer microseconds since the Unix epoch,
DATE = integer days since the epoch, BINARY = base64 text, MAP and STRUCT = JSON objects.

Real Zerobus has its own host (`<workspace-id>.zerobus.<region>.cloud.databricks.com`); the local workspace
answers the route on its own host, so point a client's Zerobus host at `ws.host` (or the `serve()`d URL).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import logging
import threading
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from dbx_native.errors import DbxNativeError
from dbx_native.local._router import Route
from dbx_native.local._wire import LocalApiError, LocalRequest, LocalResponse

if TYPE_CHECKING:
    from dbx_native.local._catalog import LocalCatalog
    from dbx_native.local._catalog_types import ColumnType

__all__ = ["ZEROBUS_INSERT_ROUTE", "ZerobusBackend"]

_log = logging.getLogger("dbx_native.local.zerobus")

ZEROBUS_INSERT_ROUTE = "/zerobus/v1/tables/{table}/insert"

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_INT_BOUNDS = {"tinyint": 7, "smallint": 15, "int": 31, "bigint": 63}


class _RowError(Exception):
    """A value that does not fit its column (becomes a 400)."""


class ZerobusBackend:
    """Receives Zerobus Ingest REST inserts and appends the rows to existing tables of the local catalog.

    Args:
        catalog: The workspace's catalog.

    Attributes:
        requests_received: Insert requests committed.
        rows_written: Rows written, over all tables.
    """

    def __init__(self, catalog: LocalCatalog) -> None:
        self.catalog = catalog
        self.requests_received = 0
        self.rows_written = 0
        self._lock = threading.Lock()

    def routes(self) -> Iterable[Route]:
        """The REST insert route."""
        return [Route("POST", ZEROBUS_INSERT_ROUTE, self._insert)]

    def reset(self) -> None:
        """Zero the counters (the tables belong to the catalog)."""
        with self._lock:
            self.requests_received = 0
            self.rows_written = 0

    def rows(self, table: str) -> list[dict[str, Any]]:
        """The rows of a table (timestamps as UTC datetimes)."""
        return self.catalog.read_table(table)

    def _insert(self, request: LocalRequest) -> LocalResponse:
        table = request.path_params["table"]
        if len(table.split(".")) != 3 or not all(table.split(".")):
            raise LocalApiError(400, f"'{table}' is not a three-part table name catalog.schema.table.")
        if not self.catalog.table_exists(table):
            raise LocalApiError(
                404,
                f"Table '{table}' does not exist. Zerobus Ingest never creates tables: create it first "
                "(locally: ws.create_table(name, [], schema={...})).",
                error_code="TABLE_DOES_NOT_EXIST",
            )
        self.write(table, request.json())
        return LocalResponse.json({})

    def write(self, table: str, body: Any) -> int:
        """Append one batch of JSON rows to an existing table, all or none (the REST route and the gRPC stream).

        Args:
            table: An existing table, `catalog.schema.table`.
            body: The decoded JSON batch: a list of row objects in Zerobus's JSON record encoding.

        Returns:
            The number of rows written.

        Raises:
            LocalApiError: 400 when the batch is not a list of rows that fit the table's columns.
        """
        if not isinstance(body, list):
            raise LocalApiError(400, "The body must be a JSON array of row objects.")
        columns = {name: ctype for name, ctype, _ in self.catalog.columns(table)}
        try:
            rows = [_row(row, columns, table, index) for index, row in enumerate(body)]
        except _RowError as err:
            raise LocalApiError(400, str(err)) from err
        try:
            with self._lock:
                written = self.catalog.insert_rows(table, rows) if rows else 0
                self.requests_received += 1
                self.rows_written += written
        except DbxNativeError as err:
            raise LocalApiError(400, f"Cannot write the rows to '{table}': {err}") from err
        _log.debug("zerobus: wrote %d rows to %s", len(rows), table)
        return written


def _row(row: Any, columns: Mapping[str, ColumnType], table: str, index: int) -> dict[str, Any]:
    if not isinstance(row, Mapping):
        raise _RowError(f"Row {index} is a {type(row).__name__}, not a JSON object of column name to value.")
    unknown = sorted(set(row) - set(columns))
    if unknown:
        raise _RowError(
            f"Row {index} has column(s) {unknown} that table '{table}' does not have (its columns: "
            f"{list(columns)}); Zerobus never alters tables."
        )
    out: dict[str, Any] = {}
    for name, value in row.items():
        try:
            out[name] = _value(value, columns[name])
        except _RowError as err:
            raise _RowError(f"Row {index}, column '{name}' ({columns[name].type_text}): {err}") from None
    return out


def _value(value: Any, ctype: ColumnType) -> Any:
    """A JSON value as the column holds it, following Zerobus's JSON record encoding."""
    if value is None:
        return None
    kind = ctype.kind
    if kind == "string":
        return _expect(value, str, "a string")
    if kind == "boolean":
        return _expect(value, bool, "true or false")
    if kind in _INT_BOUNDS:
        number = _integer(value, "an integer")
        if not -(2 ** _INT_BOUNDS[kind]) <= number < 2 ** _INT_BOUNDS[kind]:
            raise _RowError(f"{number} is out of range")
        return number
    if kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _RowError(f"expected a number, got {_show(value)}")
        return float(value)
    if kind == "decimal":
        return _decimal(value)
    if kind in ("timestamp", "timestamp_ntz"):
        instant = _EPOCH + dt.timedelta(microseconds=_integer(value, "microseconds since the epoch (an integer)"))
        return instant if kind == "timestamp" else instant.replace(tzinfo=None)
    if kind == "date":
        return _EPOCH.date() + dt.timedelta(days=_integer(value, "days since the epoch (an integer)"))
    if kind == "binary":
        try:
            return base64.b64decode(_expect(value, str, "base64 text"), validate=True)
        except binascii.Error as err:
            raise _RowError(f"expected base64 text: {err}") from None
    return _nested(value, ctype)


def _nested(value: Any, ctype: ColumnType) -> Any:
    kind = ctype.kind
    if kind == "array":
        return [_value(v, ctype.children[0]) for v in _expect(value, list, "a JSON array")]
    if kind == "map":
        key_type, value_type = ctype.children
        items = _expect(value, dict, "a JSON object")
        return {_map_key(k, key_type): _value(v, value_type) for k, v in items.items()}
    if kind == "struct":
        fields = _expect(value, dict, "a JSON object")
        unknown = sorted(set(fields) - set(ctype.names))
        if unknown:
            raise _RowError(f"unknown struct field(s) {unknown}")
        return {n: _value(fields.get(n), c) for n, c in zip(ctype.names, ctype.children, strict=True)}
    return value  # interval, void: handed to the catalog as is


def _map_key(key: str, key_type: ColumnType) -> Any:
    """JSON object keys are text: a numeric map key comes as its digits."""
    if key_type.kind in _INT_BOUNDS:
        try:
            return int(key)
        except ValueError:
            raise _RowError(f"map key {key!r} is not an integer") from None
    return _value(key, key_type)


def _expect(value: Any, kind: type, what: str) -> Any:
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise _RowError(f"expected {what}, got {_show(value)}")
    return value


def _integer(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _RowError(f"expected {what}, got {_show(value)}")
    return value


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise _RowError(f"expected a number or its text, got {_show(value)}")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise _RowError(f"expected a decimal number, got {_show(value)}") from None


def _show(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:40]}{'...' if len(text) > 40 else ''}"
