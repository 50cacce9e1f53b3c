"""Trace export to Unity Catalog through the local workspace's OTLP route: delivery, faults, drops, no blocking."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

from canary import CANARY
from dbx_native import DbxConfig
from dbx_native.errors import InvalidRequestError
from dbx_native.local import LocalWorkspace
from dbx_native.telemetry import TraceExport, export_to_unity_catalog

TABLE = "main.agent.traces"


@pytest.fixture
def ws() -> Iterator[LocalWorkspace]:
    workspace = LocalWorkspace(token=CANARY)
    with workspace.intercept():
        yield workspace


def config(ws: LocalWorkspace) -> DbxConfig:
    return DbxConfig(host=ws.host, token=CANARY)


def start(ws: LocalWorkspace, **options: Any) -> tuple[TraceExport, Any]:
    provider = TracerProvider(resource=Resource.create({"service.name": "fraud-agent"}))
    options.setdefault("schedule_delay", 0.005)
    options.setdefault("initial_backoff", 0.001)
    options.setdefault("max_backoff", 0.004)
    export = export_to_unity_catalog(TABLE, config=config(ws), tracer_provider=provider, **options)
    return export, provider.get_tracer("test")


def otlp_posts(ws: LocalWorkspace) -> list[Any]:
    return [r for r in ws.requests if r.path == "/api/2.0/otel/v1/traces"]


def test_spans_land_in_the_table_with_attributes_and_the_uc_header(ws: LocalWorkspace) -> None:
    export, tracer = start(ws)
    with (
        tracer.start_as_current_span("chat fraud-llm", attributes={"gen_ai.usage.input_tokens": 12}) as parent,
        tracer.start_as_current_span("lookup", attributes={"dbx_native.route": "features"}),
    ):
        pass
    assert export.flush(timeout=5)
    rows = {r["name"]: r for r in ws.traces.spans(TABLE)}
    assert set(rows) == {"chat fraud-llm", "lookup"}
    chat = rows["chat fraud-llm"]
    assert chat["attributes"]["gen_ai.usage.input_tokens"] == "12"
    assert chat["service_name"] == "fraud-agent" and chat["status_code"] == "UNSET"
    assert chat["span_id"] == format(parent.get_span_context().span_id, "016x")
    assert rows["lookup"]["parent_span_id"] == chat["span_id"]
    assert chat["duration_ms"] >= 0 and chat["end_time"] >= chat["start_time"]
    post = otlp_posts(ws)[-1]
    assert post.headers["x-databricks-uc-table-name"] == TABLE
    assert post.headers["content-type"] == "application/x-protobuf"
    assert post.token == CANARY  # fresh auth headers on the export request itself
    assert export.counters.exported == 2 and export.counters.dropped == 0
    export.shutdown()


def test_transient_503s_lose_no_span_within_the_queue_bound(ws: LocalWorkspace) -> None:
    fault = ws.faults.add(status=503, times=6, path="/otel/")
    export, tracer = start(ws, max_queue_size=100, max_batch_size=10)
    for i in range(80):
        tracer.start_span(f"call-{i}").end()
    assert export.flush(timeout=10)
    assert fault.hits == 6
    counters = export.counters
    assert counters.retries == 6
    assert (counters.exported, counters.dropped, counters.failed) == (80, 0, 0)
    assert len(ws.traces.spans(TABLE)) == 80
    export.shutdown()


def test_spans_beyond_the_queue_bound_are_dropped_and_counted(ws: LocalWorkspace) -> None:
    fault = ws.faults.add(status=503, times=None, path="/otel/")
    export, tracer = start(ws, max_queue_size=50, max_batch_size=10)
    for i in range(120):
        tracer.start_span(f"call-{i}").end()
    assert export.counters.dropped == 70 and export.counters.queued == 50
    fault.cancel()  # the endpoint recovers
    assert export.flush(timeout=10)
    assert export.counters.exported == 50
    assert len(ws.traces.spans(TABLE)) == 50
    export.shutdown()


def test_permanent_errors_drop_the_batch_and_count_it_failed(ws: LocalWorkspace) -> None:
    ws.faults.add(status=403, times=1, path="/otel/")
    export, tracer = start(ws, max_batch_size=5)
    for i in range(5):
        tracer.start_span(f"call-{i}").end()
    assert export.flush(timeout=5)
    assert export.counters.failed == 5 and export.counters.exported == 0
    tracer.start_span("after").end()
    assert export.flush(timeout=5) and export.counters.exported == 1
    export.shutdown()


def test_ending_a_span_never_blocks_on_export(ws: LocalWorkspace) -> None:
    ws.faults.add(status=503, times=None, path="/otel/")
    export, tracer = start(ws, max_queue_size=200, max_batch_size=20)
    spans = [tracer.start_span(f"call-{i}") for i in range(400)]
    durations = []
    for span in spans:
        before = time.perf_counter()
        span.end()
        durations.append(time.perf_counter() - before)
    durations.sort()
    assert durations[len(durations) * 99 // 100] < 0.001  # p99 under a millisecond while export keeps failing
    assert export.counters.dropped == 200
    export.shutdown(timeout=0.05)
    assert export.counters.queued == 0 and export.counters.dropped == 400


def test_gateway_spans_reach_the_table_with_genai_attributes(ws: LocalWorkspace) -> None:
    from dbx_native.gateway import GatewayClient

    provider = trace.get_tracer_provider()  # the suite's SDK provider: clients trace through the global one
    ws.serving.create_endpoint("chat", model=["It is risky."])
    export = export_to_unity_catalog(TABLE, config=config(ws), schedule_delay=0.005)
    assert export.tracer_provider is provider
    GatewayClient("chat", config=config(ws)).chat([{"role": "user", "content": "m_1?"}], max_tokens=16)
    assert export.flush(timeout=5)
    export.shutdown()
    rows = [r for r in ws.traces.spans(TABLE) if r["name"] == "chat chat"]
    assert len(rows) == 1
    attributes = rows[0]["attributes"]
    assert attributes["gen_ai.request.model"] == "chat"
    assert int(attributes["gen_ai.usage.input_tokens"]) > 0 and int(attributes["gen_ai.usage.output_tokens"]) > 0
    assert not [r for r in ws.traces.spans(TABLE) if "otel" in str(r["attributes"].get("url.path"))]


def test_bad_table_name_is_refused() -> None:
    with pytest.raises(InvalidRequestError, match="three-part"):
        export_to_unity_catalog("traces", config=DbxConfig(host="http://127.0.0.1:9", token=CANARY))
