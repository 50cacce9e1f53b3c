"""The SQL Statement Execution API of the local workspace (`/api/2.0/sql/statements`), over `LocalCatalog`.

```python
catalog = LocalCatalog()
sql = SqlStatementsBackend(catalog)
router = Router()
for route in [*catalog.routes(), *sql.routes()]:
    router.add(route)
```

Statements run when they arrive, so every response is final (`SUCCEEDED` or `FAILED`) whatever `wait_timeout`
says; polling `GET /api/2.0/sql/statements/{id}` returns the same answer. A statement that fails (bad SQL,
unknown table, bad cast) is a 200 with `status.state = "FAILED"` and `status.error = {"error_code":
"BAD_REQUEST", "message": "[ERROR_CLASS] ... SQLSTATE: xxxxx"}`, as on Databricks; a malformed request
(no `warehouse_id`, an unsupported `disposition`) is an HTTP 400.
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from dbx_native.errors import InvalidRequestError
from dbx_native.local._catalog import LocalCatalog
from dbx_native.local._catalog_types import parse_type_text
from dbx_native.local._router import Route
from dbx_native.local._sql_format import Chunk, make_chunks, manifest_columns
from dbx_native.local._sql_translate import SqlError
from dbx_native.local._wire import LocalApiError, LocalRequest

__all__ = ["SqlStatementsBackend"]

_log = logging.getLogger("dbx_native.local.sql")

_BASE = "/api/2.0/sql/statements"
_INLINE_BYTE_LIMIT = 25 * 1024 * 1024  # the real INLINE disposition caps results at 25 MiB
_WAIT = re.compile(r"^(\d+)s$")
_PARAMETER_KINDS = frozenset(
    {"boolean", "tinyint", "smallint", "int", "bigint", "float", "double", "string", "date", "timestamp"}
    | {"timestamp_ntz", "decimal", "binary"}
)


class _Statement:
    def __init__(self, statement_id: str) -> None:
        self.id = statement_id
        self.state = "PENDING"
        self.error: dict[str, str] | None = None
        self.sql_state: str | None = None
        self.columns: list[dict[str, Any]] = []
        self.chunks: list[Chunk] = []
        self.truncated = False


class SqlStatementsBackend:
    """SQL statement execution over the tables of a `LocalCatalog`.

    Args:
        catalog: The local catalog whose tables the statements see.
        chunk_rows: Rows per result chunk (10,000 by default; tests use small values to see chunking).
        chunk_bytes: About how many bytes of JSON a chunk holds before the next one starts.
        default_catalog: Catalog for unqualified names when the request names none (if it exists).
        max_statements: How many finished statements are kept for `GET`; older ones are forgotten.
    """

    def __init__(
        self,
        catalog: LocalCatalog,
        *,
        chunk_rows: int = 10_000,
        chunk_bytes: int = 4 * 1024 * 1024,
        default_catalog: str = "main",
        max_statements: int = 1000,
    ) -> None:
        if chunk_rows < 1 or chunk_bytes < 1:
            raise InvalidRequestError("chunk_rows and chunk_bytes must be at least 1.")
        self.catalog = catalog
        self.chunk_rows = chunk_rows
        self.chunk_bytes = chunk_bytes
        self.default_catalog = default_catalog
        self.max_statements = max_statements
        self._statements: OrderedDict[str, _Statement] = OrderedDict()
        self._lock = threading.Lock()

    # ------------------------------------------------------------------------------------------ Backend

    def routes(self) -> Iterable[Route]:
        """The statement execution routes."""
        return [
            Route("POST", _BASE, self._execute),
            Route("GET", f"{_BASE}/{{statement_id}}", self._get),
            Route("GET", f"{_BASE}/{{statement_id}}/result/chunks/{{chunk_index}}", self._chunk),
            Route("POST", f"{_BASE}/{{statement_id}}/cancel", self._cancel),
        ]

    def reset(self) -> None:
        """Forget every statement (the tables belong to the catalog)."""
        with self._lock:
            self._statements.clear()

    # ------------------------------------------------------------------------------------------ handlers

    def _execute(self, req: LocalRequest) -> dict[str, Any]:
        body = req.json()
        if not isinstance(body, dict):
            raise LocalApiError(400, "The request body must be a JSON object.")
        sql, options = _validate(body)
        statement = _Statement(str(uuid.uuid4()))
        catalog, schema = self._defaults(body)
        try:
            values, types = _parameters(body.get("parameters"))
            columns, rows = self.catalog.run_statement(sql, values, catalog=catalog, schema=schema, param_types=types)
        except SqlError as err:
            statement.state = "FAILED"
            statement.error = {"error_code": "BAD_REQUEST", "message": str(err)}
            statement.sql_state = err.sql_state
            _log.debug("statement %s failed: %s", statement.id, err)
        else:
            row_limit = options["row_limit"]
            limited = rows[:row_limit] if row_limit is not None else rows
            statement.chunks, cut = make_chunks(
                columns,
                limited,
                chunk_rows=self.chunk_rows,
                chunk_bytes=self.chunk_bytes,
                byte_limit=options["byte_limit"],
            )
            statement.truncated = cut or len(limited) < len(rows)
            statement.columns = manifest_columns(columns)
            statement.state = "SUCCEEDED"
        with self._lock:
            self._statements[statement.id] = statement
            while len(self._statements) > self.max_statements:
                self._statements.popitem(last=False)
        return self._response(statement)

    def _get(self, req: LocalRequest) -> dict[str, Any]:
        return self._response(self._find(req.path_params["statement_id"]))

    def _chunk(self, req: LocalRequest) -> dict[str, Any]:
        statement = self._find(req.path_params["statement_id"])
        raw = req.path_params["chunk_index"]
        if statement.state != "SUCCEEDED":
            raise LocalApiError(
                400, f"Statement {statement.id} is {statement.state} and has no result.", error_code="BAD_REQUEST"
            )
        if not raw.isdigit() or int(raw) >= len(statement.chunks):
            raise LocalApiError(
                400,
                f"Chunk index {raw!r} is out of range: the result has {len(statement.chunks)} chunk(s), "
                "see manifest.total_chunk_count.",
            )
        return self._result(statement, int(raw))

    def _cancel(self, req: LocalRequest) -> dict[str, Any]:
        # Statements finish before their POST returns: cancelling a finished one is a no-op, as on Databricks.
        self._find(req.path_params["statement_id"])
        return {}

    # ------------------------------------------------------------------------------------------ responses

    def _find(self, statement_id: str) -> _Statement:
        with self._lock:
            statement = self._statements.get(statement_id)
        if statement is None:
            raise LocalApiError(
                404, f"Statement '{statement_id}' does not exist or has expired.", error_code="RESOURCE_DOES_NOT_EXIST"
            )
        return statement

    def _defaults(self, body: dict[str, Any]) -> tuple[str | None, str | None]:
        catalog = body.get("catalog") or None
        schema = body.get("schema") or None
        for name, value in (("catalog", catalog), ("schema", schema)):
            if value is not None and not isinstance(value, str):
                raise LocalApiError(400, f"'{name}' must be a string.")
        if catalog is None and self.default_catalog in self.catalog.catalog_names():
            catalog = self.default_catalog
            if (schema or "default").lower() not in self.catalog.schema_names(catalog):
                catalog = None
        return catalog, schema

    def _response(self, statement: _Statement) -> dict[str, Any]:
        status: dict[str, Any] = {"state": statement.state}
        out: dict[str, Any] = {"statement_id": statement.id, "status": status}
        if statement.state == "FAILED":
            status["error"] = statement.error
            if statement.sql_state:
                status["sql_state"] = statement.sql_state
            return out
        chunks = statement.chunks
        out["manifest"] = {
            "format": "JSON_ARRAY",
            "schema": {"column_count": len(statement.columns), "columns": statement.columns},
            "total_row_count": sum(len(c.rows) for c in chunks),
            "total_chunk_count": len(chunks),
            "total_byte_count": sum(c.byte_count for c in chunks),
            "truncated": statement.truncated,
            "chunks": [c.info() for c in chunks],
        }
        out["result"] = self._result(statement, 0) if chunks else {"chunk_index": 0, "row_offset": 0, "row_count": 0}
        return out

    def _result(self, statement: _Statement, index: int) -> dict[str, Any]:
        chunk = statement.chunks[index]
        result: dict[str, Any] = {**chunk.info(), "data_array": chunk.rows}
        if index + 1 < len(statement.chunks):
            result["next_chunk_index"] = index + 1
            result["next_chunk_internal_link"] = f"{_BASE}/{statement.id}/result/chunks/{index + 1}"
        return result


def _validate(body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Check the request fields like the real API; return the statement and the limits."""
    sql = body.get("statement")
    if not isinstance(sql, str) or not sql.strip():
        raise LocalApiError(400, "'statement' is required: the SQL text to run.")
    if not body.get("warehouse_id"):
        raise LocalApiError(400, "'warehouse_id' is required: pass the id of the SQL warehouse to run on.")
    disposition = str(body.get("disposition") or "INLINE").upper()
    if disposition == "EXTERNAL_LINKS":
        raise LocalApiError(
            400,
            "disposition EXTERNAL_LINKS is not supported by the local workspace: use INLINE (the default) "
            "with row_limit/byte_limit, or read the table with LocalCatalog.read_table().",
            error_code="NOT_IMPLEMENTED",
        )
    if disposition != "INLINE":
        raise LocalApiError(400, f"Unknown disposition {disposition!r}: use INLINE or EXTERNAL_LINKS.")
    fmt = str(body.get("format") or "JSON_ARRAY").upper()
    if fmt != "JSON_ARRAY":
        raise LocalApiError(
            400,
            f"format {fmt} is not supported by the local workspace: use JSON_ARRAY (the default).",
            error_code="NOT_IMPLEMENTED",
        )
    wait = str(body.get("wait_timeout") or "10s")
    m = _WAIT.match(wait)
    if m is None or not (int(m.group(1)) == 0 or 5 <= int(m.group(1)) <= 50):
        raise LocalApiError(400, f"wait_timeout {wait!r} is invalid: use '0s' or a value from '5s' to '50s'.")
    on_wait = str(body.get("on_wait_timeout") or "CONTINUE").upper()
    if on_wait not in ("CONTINUE", "CANCEL"):
        raise LocalApiError(400, f"on_wait_timeout {on_wait!r} is invalid: use CONTINUE or CANCEL.")
    row_limit = _limit(body, "row_limit", minimum=0)
    byte_limit = _limit(body, "byte_limit", minimum=1)
    return sql, {
        "row_limit": row_limit,
        "byte_limit": min(byte_limit, _INLINE_BYTE_LIMIT) if byte_limit is not None else _INLINE_BYTE_LIMIT,
    }


def _limit(body: dict[str, Any], name: str, *, minimum: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise LocalApiError(400, f"'{name}' must be an integer of at least {minimum}, got {value!r}.")
    return value


def _parameters(raw: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """Values (strings, cast in SQL like the real API does) and DuckDB types of the named parameters."""
    if raw is None:
        return {}, {}
    if not isinstance(raw, list):
        raise LocalApiError(400, "'parameters' must be a list of {name, value, type} objects.")
    values: dict[str, Any] = {}
    types: dict[str, str] = {}
    for item in raw:
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise LocalApiError(
                400,
                f"Each parameter needs a 'name' usable as a :name marker, got {item!r}. "
                "Positional parameters are not supported.",
            )
        value = item.get("value")
        if value is not None and not isinstance(value, str):
            raise LocalApiError(400, f"Parameter '{name}': 'value' must be a string (or null), got {value!r}.")
        type_text = item.get("type") or "STRING"
        try:
            ctype = parse_type_text(str(type_text))
        except InvalidRequestError:
            ctype = None
        if ctype is None or ctype.kind not in _PARAMETER_KINDS:
            raise LocalApiError(
                400,
                f"Parameter '{name}': type {type_text!r} is not supported: use STRING, INT, BIGINT, DOUBLE, "
                "BOOLEAN, DATE, TIMESTAMP, DECIMAL(p,s), ...",
            )
        values[name] = value
        types[name] = ctype.duckdb
    return values, types
