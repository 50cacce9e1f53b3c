"""The direct OTLP encoder writes what the reference encoder writes, for every kind of span content."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as reference_encode
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from dbx_native.telemetry._wire_otlp import encode_spans


def _spans() -> list[Any]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "agent", "deployment": "prod"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("dbx_native", "0.1.0")
    other = provider.get_tracer("other.lib")
    with tracer.start_as_current_span("chat fraud-llm", kind=SpanKind.CLIENT) as parent:
        parent.set_attributes(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.usage.input_tokens": 1234,
                "negative": -7,
                "dbx_native.cost": 0.00042,
                "dbx_native.fallback_used": False,
                "tags": ["a", "b"],
                "ids": [1, 2, 3],
                "unicode": "héllo ✓",
            }
        )
        parent.add_event("retry", {"attempt": 2, "delay_s": 0.5})
        with other.start_as_current_span("lookup", links=[Link(parent.get_span_context(), {"why": "x"})]) as child:
            child.set_status(Status(StatusCode.ERROR, "boom"))
        with tracer.start_as_current_span("empty"):
            pass
    return list(exporter.get_finished_spans())


def test_bytes_parse_to_the_same_message_as_the_reference_encoder() -> None:
    spans = _spans()
    ours = ExportTraceServiceRequest.FromString(encode_spans(spans))
    reference = reference_encode(spans)
    assert ours == reference
    assert len(ours.resource_spans[0].scope_spans) == 2


def test_large_and_negative_integers_round_trip() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("t").start_as_current_span("s") as span:
        span.set_attributes({"big": 2**62, "min": -(2**63), "zero": 0})
    spans = list(exporter.get_finished_spans())
    assert ExportTraceServiceRequest.FromString(encode_spans(spans)) == reference_encode(spans)


def test_empty_batch_is_an_empty_request() -> None:
    assert encode_spans([]) == b""
    assert ExportTraceServiceRequest.FromString(b"") == ExportTraceServiceRequest()


def test_unsupported_attribute_value_is_a_type_error() -> None:
    from dbx_native.telemetry._wire_otlp import _any_value

    with pytest.raises(TypeError):
        _any_value(object())
