"""What `LeanSpan` needs beside its hot path: checking attribute values, and its JSON form."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from opentelemetry import trace as trace_api
from opentelemetry.trace import SpanContext

from dbx_native._core.logs import get_logger

__all__ = ["clean_value", "span_json"]

_log = get_logger("dbx_native.telemetry")
_SCALARS = (str, bool, int, float)


def clean_value(key: str, value: Any, max_length: int | None) -> Any:
    """The value to keep for an attribute (the OpenTelemetry rules), or `None` to drop it (with a warning)."""
    if isinstance(value, _SCALARS):
        if max_length is not None and isinstance(value, str):
            return value[:max_length]
        return value
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        kind: type | None = None
        items: list[Any] = []
        for item in value:
            if item is None:
                items.append(None)
                continue
            item_kind = bool if isinstance(item, bool) else type(item) if isinstance(item, _SCALARS) else None
            if item_kind is None or (kind is not None and item_kind is not kind and {kind, item_kind} != {int, float}):
                _log.warning(
                    "attribute %r dropped: a sequence must hold values of one type (str, bool, int, float)", key
                )
                return None
            kind = kind or item_kind
            items.append(item[:max_length] if max_length is not None and isinstance(item, str) else item)
        return tuple(items)
    _log.warning(
        "attribute %r dropped: invalid type %s (str, bool, int, float or a sequence of them)", key, type(value).__name__
    )
    return None


def span_json(span: Any, indent: int | None = 4) -> str:
    """A finished span as JSON, in the shape of the SDK's `ReadableSpan.to_json` (what `ConsoleSpanExporter` prints)."""

    def iso(ns: int | None) -> str | None:
        if not ns:
            return None
        # The SDK's format (`ns_to_iso_str`): always six fractional digits.
        return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def ctx(c: SpanContext) -> dict[str, Any]:
        return {
            "trace_id": f"0x{trace_api.format_trace_id(c.trace_id)}",
            "span_id": f"0x{trace_api.format_span_id(c.span_id)}",
            "trace_state": repr(c.trace_state),
        }

    status: dict[str, Any] = {"status_code": span.status.status_code.name}
    if span.status.description:
        status["description"] = span.status.description
    record = {
        "name": span.name,
        "context": ctx(span.context),
        "kind": str(span.kind),
        "parent_id": f"0x{trace_api.format_span_id(span.parent.span_id)}" if span.parent is not None else None,
        "start_time": iso(span.start_time),
        "end_time": iso(span.end_time),
        "status": status,
        "attributes": dict(span.attributes),
        "events": [
            {"name": e.name, "timestamp": iso(e.timestamp), "attributes": dict(e.attributes or {})} for e in span.events
        ],
        "links": [{"context": ctx(link.context), "attributes": dict(link.attributes or {})} for link in span.links],
        "resource": json.loads(span.resource.to_json()),
    }
    return json.dumps(record, indent=indent)
