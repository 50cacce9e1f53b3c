"""A direct encoder of finished spans into an OTLP `ExportTraceServiceRequest` (protobuf wire format).

The reference encoder (`opentelemetry-exporter-otlp-proto-common`) builds a Python protobuf message object
per span, attribute and value before serialising, about 90 us of CPU per span on our machines; in an agent
process that work competes with the agent for the GIL. This writes the same bytes directly (~10x less CPU).
Field numbers follow `opentelemetry/proto/trace/v1/trace.proto` and `common/v1/common.proto`; the tests
parse the output with the official protobuf classes and compare it with the reference encoder's.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["encode_spans"]

_SPAN_FLAGS_HAS_IS_REMOTE = 0x100
_SPAN_FLAGS_IS_REMOTE = 0x200
_pack_double = struct.Struct("<d").pack
_pack_fixed64 = struct.Struct("<Q").pack
_pack_fixed32 = struct.Struct("<I").pack


def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64  # int64 two's complement, ten bytes on the wire
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _len_field(field: int, payload: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(payload)) + payload


def _str_field(field: int, text: str) -> bytes:
    return _len_field(field, text.encode("utf-8")) if text else b""


def _uint_field(field: int, value: int) -> bytes:
    return _varint(field << 3) + _varint(value) if value else b""


def _fixed64_field(field: int, value: int) -> bytes:
    return _varint(field << 3 | 1) + _pack_fixed64(value) if value else b""


def _fixed32_field(field: int, value: int) -> bytes:
    return _varint(field << 3 | 5) + _pack_fixed32(value) if value else b""


def _any_value(value: Any) -> bytes:
    """An `AnyValue` message body."""
    if value is None:
        return b""
    if isinstance(value, bool):
        return b"\x10" + (b"\x01" if value else b"\x00")
    if isinstance(value, str):
        return _len_field(1, value.encode("utf-8"))
    if isinstance(value, int):
        return b"\x18" + _varint(value)
    if isinstance(value, float):
        return b"\x21" + _pack_double(value)
    if isinstance(value, bytes):
        return _len_field(7, value)
    if isinstance(value, Sequence):
        return _len_field(5, b"".join(_len_field(1, _any_value(v)) for v in value))
    if isinstance(value, Mapping):
        return _len_field(6, b"".join(_len_field(1, _key_value(str(k), v)) for k, v in value.items()))
    raise TypeError(f"cannot encode a {type(value).__name__} attribute value")


def _key_value(key: str, value: Any) -> bytes:
    return _str_field(1, key) + _len_field(2, _any_value(value))


def _attributes(field: int, attributes: Mapping[str, Any] | None) -> bytes:
    if not attributes:
        return b""
    return b"".join(_len_field(field, _key_value(k, v)) for k, v in attributes.items())


def _flags(parent: Any) -> int:
    flags = _SPAN_FLAGS_HAS_IS_REMOTE
    if parent is not None and parent.is_remote:
        flags |= _SPAN_FLAGS_IS_REMOTE
    return flags


def _span(span: Any) -> bytes:
    ctx = span.get_span_context()
    parent = span.parent
    trace_state = ",".join(f"{k}={v}" for k, v in ctx.trace_state.items()) if ctx.trace_state is not None else ""
    parts = [
        _len_field(1, ctx.trace_id.to_bytes(16, "big")),
        _len_field(2, ctx.span_id.to_bytes(8, "big")),
        _str_field(3, trace_state),
        _len_field(4, parent.span_id.to_bytes(8, "big")) if parent is not None else b"",
        _str_field(5, span.name),
        _uint_field(6, span.kind.value + 1),  # the SDK's SpanKind starts at 0 (INTERNAL); OTLP's at 1
        _fixed64_field(7, span.start_time or 0),
        _fixed64_field(8, span.end_time or 0),
        _attributes(9, span.attributes),
        _uint_field(10, span.dropped_attributes),
    ]
    for event in span.events:
        body = (
            _fixed64_field(1, event.timestamp)
            + _str_field(2, event.name)
            + _attributes(3, event.attributes)
            + _uint_field(4, event.dropped_attributes)
        )
        parts.append(_len_field(11, body))
    parts.append(_uint_field(12, span.dropped_events))
    for link in span.links:
        body = (
            _len_field(1, link.context.trace_id.to_bytes(16, "big"))
            + _len_field(2, link.context.span_id.to_bytes(8, "big"))
            + _attributes(4, link.attributes)
            + _uint_field(5, link.dropped_attributes)
            + _fixed32_field(6, _flags(link.context))
        )
        parts.append(_len_field(13, body))
    parts.append(_uint_field(14, span.dropped_links))
    status = span.status
    if status is not None:
        parts.append(_len_field(15, _str_field(2, status.description or "") + _uint_field(3, status.status_code.value)))
    parts.append(_fixed32_field(16, _flags(parent)))
    return b"".join(parts)


def encode_spans(spans: Sequence[Any]) -> bytes:
    """The serialised `ExportTraceServiceRequest` for finished SDK spans (grouped by resource and scope)."""
    grouped: dict[Any, dict[Any, list[bytes]]] = {}
    for span in spans:
        by_scope = grouped.setdefault(span.resource, {})
        by_scope.setdefault(span.instrumentation_scope or None, []).append(_span(span))
    out = []
    for resource, scopes in grouped.items():
        scope_spans = []
        for scope, encoded in scopes.items():
            body = b""
            if scope is not None:
                body = _str_field(1, scope.name) + _str_field(2, scope.version or "") + _attributes(3, scope.attributes)
            scope_msg = _len_field(1, body) + b"".join(_len_field(2, s) for s in encoded)
            if scope is not None and scope.schema_url:
                scope_msg += _str_field(3, scope.schema_url)
            scope_spans.append(_len_field(2, scope_msg))
        resource_msg = _len_field(1, _attributes(1, resource.attributes)) + b"".join(scope_spans)
        resource_msg += _str_field(3, resource.schema_url or "")
        out.append(_len_field(1, resource_msg))
    return b"".join(out)
