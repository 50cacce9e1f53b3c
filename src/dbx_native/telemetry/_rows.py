"""The trace table's row shape: one row per span, the same columns whichever path carries the spans.

The workspace OTLP endpoint flattens OTLP spans into rows on the server; Zerobus Ingest takes rows, so the
Zerobus path flattens them here, to the same columns and the same value text (`gen_ai.usage.input_tokens` ->
`"12"`). Values follow Zerobus Ingest's JSON record encoding: a TIMESTAMP is an integer count of microseconds
since the Unix epoch, a MAP a JSON object.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan

__all__ = ["TRACE_TABLE_SCHEMA", "span_to_row", "trace_table_ddl"]

TRACE_TABLE_SCHEMA: dict[str, str] = {
    "trace_id": "string",
    "span_id": "string",
    "parent_span_id": "string",
    "name": "string",
    "kind": "string",
    "start_time": "timestamp",
    "end_time": "timestamp",
    "duration_ms": "double",
    "status_code": "string",
    "status_message": "string",
    "service_name": "string",
    "scope_name": "string",
    "attributes": "map<string,string>",
    "resource_attributes": "map<string,string>",
}
"""Columns of a trace table (Databricks type text), in order: the same for the OTLP and the Zerobus paths."""


def trace_table_ddl(table: str) -> str:
    """The `CREATE TABLE IF NOT EXISTS` statement for a trace table (Zerobus never creates tables).

    Args:
        table: `catalog.schema.table`.

    Returns:
        One Databricks SQL statement; run it once (SQL editor, statement execution) before exporting.

    Example:
        >>> print(trace_table_ddl("main.agent.traces").splitlines()[0])
        CREATE TABLE IF NOT EXISTS main.agent.traces (
    """
    columns = ",\n".join(f"  {name} {kind.upper()}" for name, kind in TRACE_TABLE_SCHEMA.items())
    return f"CREATE TABLE IF NOT EXISTS {table} (\n{columns}\n)"


def span_to_row(span: ReadableSpan) -> dict[str, Any]:
    """One row of the trace table for an ended span, encoded as a Zerobus JSON record.

    Args:
        span: An ended OpenTelemetry SDK span.

    Returns:
        Column name -> JSON value (timestamps as integer microseconds since the epoch).
    """
    context = span.context
    start = span.start_time or 0
    end = span.end_time or start
    status = span.status
    scope = span.instrumentation_scope
    resource = _text_map(span.resource.attributes) if span.resource is not None else {}
    return {
        "trace_id": format(context.trace_id, "032x") if context is not None else None,
        "span_id": format(context.span_id, "016x") if context is not None else None,
        "parent_span_id": format(span.parent.span_id, "016x") if span.parent is not None else None,
        "name": span.name,
        "kind": span.kind.name,
        "start_time": start // 1000,
        "end_time": end // 1000,
        "duration_ms": (end - start) / 1e6,
        "status_code": status.status_code.name,
        "status_message": status.description or None,
        "service_name": resource.get("service.name"),
        "scope_name": scope.name if scope is not None else None,
        "attributes": _text_map(span.attributes or {}),
        "resource_attributes": resource,
    }


def _text_map(attributes: Mapping[str, Any]) -> dict[str, str]:
    return {str(key): _text(value) for key, value in attributes.items()}


def _text(value: Any) -> str:
    """An attribute value as the trace table holds it (the OTLP route writes the same text)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return json.dumps([_text(v) for v in value])
    return str(value)
