"""`LeanTracerProvider` with the rest of the pipeline: SDK processors and exporters, the OTLP wire, the trace table.

The wire tests compare three encodings of the same span content: ours (`_wire_otlp`) of lean spans, the reference
encoder's of lean spans, and the reference encoder's of SDK spans (ids mapped to span names, since they are random).
"""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lean_support import Recorder
from opentelemetry import trace as trace_api
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as reference_encode
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
)

from canary import CANARY
from dbx_native import DbxConfig
from dbx_native._core.telemetry import Telemetry
from dbx_native.errors import InvalidRequestError
from dbx_native.local import LocalWorkspace
from dbx_native.telemetry import export_to_unity_catalog
from dbx_native.telemetry._lean import LeanSpan, LeanTracerProvider
from dbx_native.telemetry._wire_otlp import encode_spans

TABLE = "main.agent.traces"
RESOURCE = Resource.create({"service.name": "fraud-agent", "deployment.environment": "prod"})
T0 = 1_700_000_000_000_000_000  # start times are set explicitly so both providers' spans encode alike


def make(kind: str, resource: Resource = RESOURCE) -> Any:
    if kind == "sdk":
        return TracerProvider(resource=resource, shutdown_on_exit=False)
    return LeanTracerProvider(resource, shutdown_on_exit=False)


def remote_parent() -> Context:
    parent = SpanContext(0xABC, 0xDEF, is_remote=True, trace_flags=TraceFlags(1), trace_state=TraceState([("v", "1")]))
    return trace_api.set_span_in_context(NonRecordingSpan(parent))


# --- 4. processors and exporters ---------------------------------------------------------------------------------


def test_sdk_simple_and_batch_processors_export_lean_spans() -> None:
    provider = make("lean")
    simple, batched = InMemorySpanExporter(), InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(simple))
    provider.add_span_processor(BatchSpanProcessor(batched, schedule_delay_millis=5))
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("parent"):
        for i in range(20):
            tracer.start_span(f"child-{i}").end()
    assert provider.force_flush(5_000)
    provider.shutdown()
    for exporter in (simple, batched):
        spans = exporter.get_finished_spans()
        assert len(spans) == 21 and all(isinstance(s, LeanSpan) for s in spans)
        assert {s.name for s in spans if s.parent is not None} == {f"child-{i}" for i in range(20)}


def test_processors_get_on_start_on_ending_and_on_end_in_order_as_from_the_sdk() -> None:
    context = remote_parent()
    for kind in ("sdk", "lean"):
        provider = make(kind)
        recorder = Recorder()
        provider.add_span_processor(recorder)
        span = provider.get_tracer("t").start_span("s", context=context)
        assert [call for call, _ in recorder.calls] == ["on_start"]
        started, parent_context = recorder.calls[0][1]
        assert started is span and parent_context is context and started.is_recording()
        span.end()
        assert [call for call, _ in recorder.calls] == ["on_start", "_on_ending", "on_end"]
        assert recorder.calls[1][1] is span and recorder.calls[2][1].name == "s"


def test_threads_ending_one_span_at_once_reach_processors_once() -> None:
    provider = make("lean")
    recorder = Recorder()
    provider.add_span_processor(recorder)
    tracer = provider.get_tracer("t")
    spans = [tracer.start_span(f"s{i}") for i in range(300)]
    barrier = threading.Barrier(4)

    def end_all() -> None:
        for span in spans:
            barrier.wait()
            span.end()

    threads = [threading.Thread(target=end_all) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(s.name for s in recorder.ended()) == sorted(s.name for s in spans)
    assert [call for call, _ in recorder.calls].count("_on_ending") == 300


def test_start_as_current_span_decorates_an_async_function_for_its_whole_run() -> None:
    for kind in ("sdk", "lean"):
        provider = make(kind)
        recorder = Recorder()
        provider.add_span_processor(recorder)
        tracer = provider.get_tracer("t")

        @tracer.start_as_current_span("job")
        async def job() -> bool:
            await asyncio.sleep(0)
            return bool(trace_api.get_current_span().is_recording())

        assert asyncio.run(job()) is True, kind
        assert [s.name for s in recorder.ended()] == ["job"]


def test_force_flush_and_shutdown_reach_every_processor_once() -> None:
    provider = make("lean")
    recorders = [Recorder(), Recorder()]
    for recorder in recorders:
        provider.add_span_processor(recorder)
    assert provider.force_flush(100) is True
    provider.shutdown()
    provider.shutdown()
    assert [(r.flushes, r.shutdowns) for r in recorders] == [(1, 1), (1, 1)]


def test_console_exporter_prints_the_same_json_as_for_an_sdk_span() -> None:
    printed = {}
    for kind in ("sdk", "lean"):
        provider = make(kind)
        out = io.StringIO()
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(out=out)))
        tracer = provider.get_tracer("t")
        parent = tracer.start_span("parent", start_time=T0)
        with trace_api.use_span(parent, end_on_exit=False):
            span = tracer.start_span("chat", kind=SpanKind.CLIENT, attributes={"n": 1, "tags": ["a"]}, start_time=T0)
            span.add_event("retry", {"attempt": 2}, timestamp=T0 + 5 * 10**8)
            span.add_link(SpanContext(1, 2, False), {"why": "x"})
            span.set_status(StatusCode.ERROR, "bad")
            span.end(end_time=T0 + 10**9)
            ids = (span.get_span_context(), span.parent)
        parent.end(end_time=T0 + 2 * 10**9)
        records = [json.loads(chunk) for chunk in out.getvalue().replace("}\n{", "}\0{").split("\0")]
        chat = records[0]
        assert chat["context"]["span_id"] == f"0x{ids[0].span_id:016x}"
        assert chat["context"]["trace_id"] == f"0x{ids[0].trace_id:032x}"
        assert chat["parent_id"] == f"0x{ids[1].span_id:016x}" and records[1]["parent_id"] is None
        for record in records:
            record["context"] = record["parent_id"] = None
        printed[kind] = records
    assert printed["lean"] == printed["sdk"]
    assert printed["lean"][0]["name"] == "chat" and printed["lean"][0]["end_time"] == "2023-11-14T22:13:21.000000Z"


# --- 5. the OTLP wire ----------------------------------------------------------------------------------------------


def rich(provider: Any) -> None:
    """Every kind of span content: kinds, scopes, events, links (local, remote, to a span of the run), statuses."""
    tracer = provider.get_tracer("dbx_native", "0.1.0")
    other = provider.get_tracer("agent.lib", "2.0", "https://opentelemetry.io/schemas/1.26.0", {"lib.tier": "gold"})
    root = tracer.start_span("agent step", kind=SpanKind.SERVER, context=remote_parent(), start_time=T0)
    inside = trace_api.set_span_in_context(root)
    chat = tracer.start_span(
        "chat fraud-llm",
        context=inside,
        kind=SpanKind.CLIENT,
        attributes={"gen_ai.usage.input_tokens": 1234, "cost": 0.00042, "fallback": False, "tags": ["a", "b"]},
        links=[Link(root.get_span_context(), {"why": "caused by"})],
        start_time=T0 + 10,
    )
    chat.add_event("retry", {"attempt": 2, "delay_s": 0.5}, timestamp=T0 + 20)
    chat.add_link(SpanContext(0x1234, 0x5678, is_remote=True), {"batch": "b-7"})
    chat.set_status(Status(StatusCode.ERROR, "rate limited"))
    chat.end(end_time=T0 + 30)
    for offset, kind in enumerate((SpanKind.PRODUCER, SpanKind.CONSUMER, SpanKind.INTERNAL)):
        span = other.start_span(f"queue {kind.name}", context=inside, kind=kind, start_time=T0 + 40 + offset)
        span.set_status(StatusCode.OK)
        span.end(end_time=T0 + 50 + offset)
    root.set_attribute("unicode", "héllo ✓")
    root.end(end_time=T0 + 100)


def finished(kind: str, scenario: Callable[[Any], None], resource: Resource = RESOURCE) -> list[Any]:
    provider = make(kind, resource)
    recorder = Recorder()
    provider.add_span_processor(recorder)
    scenario(provider)
    return recorder.ended()


def masked(request: ExportTraceServiceRequest, spans: list[Any]) -> ExportTraceServiceRequest:
    """The request with each id of a span of the run replaced by the span's name (and its trace's by the root's)."""
    names = {span.context.span_id.to_bytes(8, "big"): span.name.encode() for span in spans}
    traces = {span.context.trace_id.to_bytes(16, "big"): b"trace of the run" for span in spans}
    out = ExportTraceServiceRequest()
    out.CopyFrom(request)
    for resource_spans in out.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                for item in (span, *span.links):
                    item.trace_id = traces.get(item.trace_id, item.trace_id)
                    item.span_id = names.get(item.span_id, item.span_id)
                span.parent_span_id = names.get(span.parent_span_id, span.parent_span_id)
    return out


def test_our_encoder_writes_for_lean_spans_what_the_reference_encoder_does() -> None:
    spans = finished("lean", rich)
    assert all(isinstance(span, LeanSpan) for span in spans) and len(spans) == 5
    ours = ExportTraceServiceRequest.FromString(encode_spans(spans))
    assert ours == reference_encode(spans)
    scopes = ours.resource_spans[0].scope_spans
    assert [s.scope.name for s in scopes] == ["dbx_native", "agent.lib"]
    assert scopes[1].schema_url.endswith("1.26.0") and scopes[1].scope.attributes[0].key == "lib.tier"


def test_lean_spans_encode_as_sdk_spans_of_the_same_content() -> None:
    sdk, lean = finished("sdk", rich), finished("lean", rich)
    expected = masked(reference_encode(sdk), sdk)
    assert masked(ExportTraceServiceRequest.FromString(encode_spans(lean)), lean) == expected
    spans = {s.name: s for s in expected.resource_spans[0].scope_spans[0].spans}
    assert {span.context.trace_id for span in lean} == {0xABC}  # the remote parent's trace
    assert spans["agent step"].flags & 0x300 == 0x300  # its parent was remote
    assert spans["chat fraud-llm"].parent_span_id == b"agent step"
    assert [link.span_id for link in spans["chat fraud-llm"].links] == [b"agent step", (0x5678).to_bytes(8, "big")]


scalar = st.one_of(
    st.text(max_size=20),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
)
sequence = st.one_of(
    st.lists(st.one_of(st.none(), st.text(max_size=8)), max_size=4),
    st.lists(st.booleans(), max_size=4),
    st.lists(st.one_of(st.integers(min_value=-(2**63), max_value=2**63 - 1), st.floats(allow_nan=False)), max_size=4),
)
attribute_maps = st.dictionaries(st.text(min_size=1, max_size=12), st.one_of(scalar, sequence), max_size=8)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(attributes=attribute_maps)
def test_any_allowed_attributes_are_kept_and_encoded_as_by_the_sdk(attributes: dict[str, Any]) -> None:
    def scenario(provider: Any) -> None:
        span = provider.get_tracer("t").start_span("s", start_time=T0)
        span.set_attributes(attributes)
        span.add_event("e", attributes, timestamp=T0 + 1)
        span.end(end_time=T0 + 2)

    sdk, lean = finished("sdk", scenario), finished("lean", scenario)
    assert dict(lean[0].attributes) == dict(sdk[0].attributes)
    assert masked(ExportTraceServiceRequest.FromString(encode_spans(lean)), lean) == masked(reference_encode(sdk), sdk)


# --- 6. through the local workspace into the trace table -----------------------------------------------------------


@pytest.fixture
def ws() -> Iterator[LocalWorkspace]:
    workspace = LocalWorkspace(token=CANARY)
    with workspace.intercept():
        yield workspace


def lean_export(ws: LocalWorkspace, **options: Any) -> tuple[Any, LeanTracerProvider]:
    provider = LeanTracerProvider(RESOURCE, shutdown_on_exit=False)
    config = DbxConfig(host=ws.host, token=CANARY)
    export = export_to_unity_catalog(TABLE, config=config, tracer_provider=provider, schedule_delay=0.005, **options)
    return export, provider


def test_gateway_spans_through_a_lean_provider_land_with_genai_attributes_under_the_app_span(
    ws: LocalWorkspace, span_exporter: InMemorySpanExporter
) -> None:
    from dbx_native.gateway import GatewayClient

    ws.serving.create_endpoint("chat", model=["It is risky."])
    export, provider = lean_export(ws)
    client = GatewayClient("chat", config=DbxConfig(host=ws.host, token=CANARY))
    client._http.telemetry = Telemetry(tracer_provider=provider)
    with provider.get_tracer("fraud-agent").start_as_current_span("score transaction") as app:
        client.chat([{"role": "user", "content": "m_1?"}], max_tokens=16)
    assert export.flush(timeout=5)
    export.shutdown()
    rows = {row["name"]: row for row in ws.traces.spans(TABLE)}
    app_row, chat_row = rows["score transaction"], rows["chat chat"]
    assert app_row["span_id"] == format(app.get_span_context().span_id, "016x") and app_row["parent_span_id"] is None
    assert chat_row["parent_span_id"] == app_row["span_id"] and chat_row["trace_id"] == app_row["trace_id"]
    attributes = chat_row["attributes"]
    assert attributes["gen_ai.operation.name"] == "chat" and attributes["gen_ai.request.model"] == "chat"
    assert int(attributes["gen_ai.usage.input_tokens"]) > 0 and int(attributes["gen_ai.usage.output_tokens"]) > 0
    assert chat_row["service_name"] == "fraud-agent" and chat_row["scope_name"] == "dbx_native"
    assert chat_row["status_code"] == "UNSET" and chat_row["end_time"] <= app_row["end_time"]
    assert export.counters.exported == len(rows) and export.counters.dropped == 0
    assert not [s for s in span_exporter.get_finished_spans() if s.name == "chat chat"]  # not the global provider


def test_eight_threads_of_500_spans_are_all_exported(ws: LocalWorkspace) -> None:
    export, provider = lean_export(ws, max_queue_size=8192, max_batch_size=512)
    tracer = provider.get_tracer("load")

    def work(thread: int) -> None:
        for i in range(500):
            with tracer.start_as_current_span(f"t{thread}-{i}", attributes={"thread": thread}) as span:
                span.set_attribute("i", i)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert export.flush(timeout=30)
    export.shutdown()
    rows = ws.traces.spans(TABLE)
    assert (export.counters.exported, export.counters.dropped, export.counters.failed) == (4000, 0, 0)
    assert len(rows) == len({row["span_id"] for row in rows}) == 4000
    assert {row["name"] for row in rows} == {f"t{n}-{i}" for n in range(8) for i in range(500)}


GLOBAL_SCRIPT = """
import json, sys
from opentelemetry import trace
from dbx_native import DbxConfig
from dbx_native.local import LocalWorkspace
from dbx_native.telemetry import export_to_unity_catalog

ws = LocalWorkspace(token="local-token")
with ws.intercept():
    config = DbxConfig(host=ws.host, token="local-token")
    export = export_to_unity_catalog("main.agent.traces", config=config, schedule_delay=0.005, tracer=sys.argv[1])
    again = export_to_unity_catalog("main.agent.other", config=config, schedule_delay=0.005, tracer="sdk")
    with trace.get_tracer("app").start_as_current_span("step"):
        trace.get_tracer("app").start_span("inner").end()
    export.flush(5)
    export.shutdown()
    again.shutdown()
    provider = trace.get_tracer_provider()
    rows = ws.traces.spans("main.agent.traces")
    print(json.dumps({
        "provider": type(provider).__name__,
        "same": export.tracer_provider is provider and again.tracer_provider is provider,
        "rows": sorted((row["name"], row["service_name"], row["parent_span_id"] is None) for row in rows),
    }))
"""


@pytest.mark.parametrize(("tracer", "provider"), [("lean", "LeanTracerProvider"), ("sdk", "TracerProvider")])
def test_with_no_global_provider_the_export_installs_the_kind_asked_for(tracer: str, provider: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", GLOBAL_SCRIPT, tracer], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["provider"] == provider and result["same"] is True  # the second call reuses the first provider
    assert result["rows"] == [["inner", "dbx-native-agent", False], ["step", "dbx-native-agent", True]]


def test_an_unknown_tracer_kind_is_refused() -> None:
    config = DbxConfig(host="http://127.0.0.1:9", token=CANARY)
    with pytest.raises(InvalidRequestError, match="tracer must be 'lean' or 'sdk'"):
        export_to_unity_catalog(TABLE, config=config, tracer="other")  # type: ignore[arg-type]
