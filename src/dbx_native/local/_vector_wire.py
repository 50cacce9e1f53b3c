"""JSON shapes of the AI Search (Vector Search) REST API, as the local workspace reads and writes them."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from dbx_native.local._wire import LocalApiError, LocalRequest

__all__ = [
    "body_of",
    "int_field",
    "parse_inputs",
    "primary_keys_of",
    "query_result",
    "struct_row",
    "type_text",
]

_INDEX_NAME = re.compile(r"^[^.\s/]+\.[^.\s/]+\.[^.\s/]+$")


def body_of(request: LocalRequest) -> dict[str, Any]:
    """The JSON body, for POST and also for GET: the ai-search client sends queries as GET with a JSON body."""
    body = request.json()
    if not isinstance(body, dict):
        raise LocalApiError(400, "The request body must be a JSON object")
    return body


def check_index_name(name: str) -> None:
    """Index names are Unity Catalog table names.

    Raises:
        LocalApiError: 400 when `name` is not `catalog.schema.table`.
    """
    if not _INDEX_NAME.match(name):
        raise LocalApiError(400, f"Index name {name!r} must be a three-level Unity Catalog name catalog.schema.index")


def int_field(body: Mapping[str, Any], name: str, default: int, *, lowest: int = 1, highest: int = 10_000) -> int:
    """An integer field within bounds (the real service caps `num_results` at 10,000)."""
    value = body.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
        raise LocalApiError(400, f"{name} must be an integer, not {value!r}")
    if not lowest <= int(value) <= highest:
        raise LocalApiError(400, f"{name} must be between {lowest} and {highest}, not {value}")
    return int(value)


def parse_inputs(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The rows of an upsert: `inputs_json` is a JSON string holding a list of objects."""
    raw = body.get("inputs_json")
    if not isinstance(raw, str):
        raise LocalApiError(400, "inputs_json is required: a JSON string holding a list of rows")
    try:
        rows = json.loads(raw)
    except ValueError as err:
        raise LocalApiError(400, f"inputs_json is not valid JSON: {err}") from err
    if isinstance(rows, dict):
        rows = [rows]
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise LocalApiError(400, "inputs_json must hold a list of JSON objects")
    return rows


def primary_keys_of(request: LocalRequest) -> list[str]:
    """The keys of a delete: `?primary_keys=a&primary_keys=b` (the SDK) or a JSON body `{"primary_keys": [...]}`."""
    keys = list(request.query.get("primary_keys", []))
    if request.body:
        body = body_of(request)
        extra = body.get("primary_keys") or []
        if not isinstance(extra, list):
            raise LocalApiError(400, "primary_keys must be a list")
        keys.extend(str(k) for k in extra)
    if not keys:
        raise LocalApiError(400, "primary_keys is required")
    return keys


def type_text(schema_type: str | None, value: Any = None) -> str:
    """The manifest `type_text` of a column (upper case, as the service reports it)."""
    if schema_type:
        return schema_type.upper()
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, int):
        return "LONG"
    if isinstance(value, float):
        return "DOUBLE"
    return "STRING"


def query_result(
    columns: Sequence[str], types: Mapping[str, str], rows: Sequence[tuple[Mapping[str, Any], float]]
) -> dict[str, Any]:
    """A query response: the requested columns then `score`, as `manifest` + `result.data_array`."""
    manifest_columns = [{"name": c, "type_text": type_text(types.get(c))} for c in columns]
    manifest_columns.append({"name": "score", "type_text": "DOUBLE"})
    data = [[row.get(c) for c in columns] + [score] for row, score in rows]
    return {
        "manifest": {"column_count": len(manifest_columns), "columns": manifest_columns},
        "result": {"row_count": len(data), "data_array": data},
    }


def struct_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A scanned row in the legacy `Struct` encoding: `{"fields": [{"key", "value": {"string_value": ...}}]}`."""
    return {"fields": [{"key": k, "value": _value(v)} for k, v in row.items()]}


def _value(v: Any) -> dict[str, Any]:
    if v is None:
        return {"null_value": None}
    if isinstance(v, bool):
        return {"bool_value": v}
    if isinstance(v, int | float):
        return {"number_value": v}
    if isinstance(v, list):
        return {"list_value": {"values": [_value(x) for x in v]}}
    if isinstance(v, dict):
        return {"struct_value": struct_row(v)}
    return {"string_value": str(v)}
