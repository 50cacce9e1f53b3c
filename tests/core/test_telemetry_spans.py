"""`Telemetry.span`: the span is current during the call, attributes land as the SDK would store them, and the
no-provider path builds nothing."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult

from canary import CANARY
from dbx_native import DbxConfig, GatewayClient, RestClient
from dbx_native._core.telemetry import Telemetry
from dbx_native.local import LocalWorkspace

START = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "m", "gen_ai.request.max_tokens": None}
RESULT = {"gen_ai.usage.input_tokens": 12, "dbx_native.fallback_used": False, "dbx_native.cost": 0.25}


def _provider(**options: Any) -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(**options)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def _by_name(exporter: InMemorySpanExporter) -> dict[str, Any]:
    return {span.name: span for span in exporter.get_finished_spans()}


def test_the_operation_span_is_current_so_user_and_nested_spans_parent_to_it() -> None:
    provider, exporter = _provider()
    telemetry = Telemetry(tracer_provider=provider)
    user = provider.get_tracer("the-agent")
    with user.start_as_current_span("agent step"):
        with telemetry.span("chat m", START) as outer:
            assert trace.get_current_span() is outer.span
            with telemetry.span("inner"), user.start_as_current_span("user tool"):
                pass
            assert trace.get_current_span() is outer.span
        assert trace.get_current_span().name == "agent step"  # type: ignore[attr-defined]
    spans = _by_name(exporter)
    assert spans["chat m"].parent.span_id == spans["agent step"].context.span_id
    assert spans["inner"].parent.span_id == spans["chat m"].context.span_id
    assert spans["user tool"].parent.span_id == spans["inner"].context.span_id
    assert len({s.context.trace_id for s in spans.values()}) == 1


def test_a_span_from_start_is_not_made_current() -> None:
    provider, exporter = _provider()
    telemetry = Telemetry(tracer_provider=provider)
    before = trace.get_current_span()
    span = telemetry.start("stream m", START)
    assert trace.get_current_span() is before
    span.set_attributes(RESULT)
    telemetry.end(span)
    (finished,) = exporter.get_finished_spans()
    assert dict(finished.attributes) == {"gen_ai.operation.name": "chat", "gen_ai.request.model": "m", **RESULT}


def test_attributes_are_stored_as_the_sdk_public_api_stores_them() -> None:
    provider, exporter = _provider()
    with Telemetry(tracer_provider=provider).span("ours", START) as span:
        assert span.is_recording()
        span.set_attributes(RESULT)
        span.set_attribute("gen_ai.usage.input_tokens", 13)  # set again: the last value wins
    sdk_span = provider.get_tracer("t").start_span("sdk", attributes={k: v for k, v in START.items() if v is not None})
    sdk_span.set_attributes(RESULT)
    sdk_span.set_attribute("gen_ai.usage.input_tokens", 13)
    sdk_span.end()
    spans = _by_name(exporter)
    assert dict(spans["ours"].attributes) == dict(spans["sdk"].attributes)
    assert type(spans["ours"].attributes) is type(spans["sdk"].attributes)
    assert spans["ours"].dropped_attributes == spans["sdk"].dropped_attributes == 0


def test_values_that_are_not_plain_get_the_sdk_normalisation() -> None:
    provider, exporter = _provider()
    with Telemetry(tracer_provider=provider).span("s") as span:
        span.set_attributes({"tags": ["a", "b"], "n": 1})  # type: ignore[dict-item]
    (finished,) = exporter.get_finished_spans()
    assert finished.attributes["tags"] == ("a", "b") and finished.attributes["n"] == 1


@pytest.mark.parametrize(
    ("limits", "expected", "dropped"),
    [
        (SpanLimits(max_span_attribute_length=3), {"model": "lon", "tokens": 5}, 0),
        (SpanLimits(max_span_attributes=1), {"tokens": 5}, 1),
    ],
)
def test_span_limits_that_could_truncate_or_evict_are_applied_by_the_sdk(
    limits: SpanLimits, expected: dict[str, Any], dropped: int
) -> None:
    provider, exporter = _provider(span_limits=limits)
    with Telemetry(tracer_provider=provider).span("s", {"model": "long-name"}) as span:
        span.set_attributes({"tokens": 5})
    (finished,) = exporter.get_finished_spans()
    assert dict(finished.attributes) == expected
    assert finished.dropped_attributes == dropped


def test_a_failure_marks_the_span_restores_the_context_and_propagates() -> None:
    provider, exporter = _provider()
    before = trace.get_current_span()
    with pytest.raises(KeyError), Telemetry(tracer_provider=provider).span("s", START):
        raise KeyError("missing")
    assert trace.get_current_span() is before
    (finished,) = exporter.get_finished_spans()
    assert finished.attributes["error.type"] == "KeyError"
    assert finished.status.status_code.name == "ERROR" and finished.status.description == "KeyError"
    assert not finished.events  # no exception event: its message could hold user data


class _AttributeSampler(Sampler):
    """Drops spans whose operation is `embeddings`: a sampler that reads start attributes."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    def should_sample(
        self,
        parent_context: Any,
        trace_id: int,
        name: str,
        kind: Any = None,
        attributes: Any = None,
        links: Sequence[Any] | None = None,
        trace_state: Any = None,
    ) -> SamplingResult:
        self.seen.append(dict(attributes or {}))
        drop = (attributes or {}).get("gen_ai.operation.name") == "embeddings"
        return SamplingResult(Decision.DROP if drop else Decision.RECORD_AND_SAMPLE, attributes)

    def get_description(self) -> str:
        return "drops embeddings"


def test_a_sampler_that_may_read_attributes_gets_them_at_start() -> None:
    sampler = _AttributeSampler()
    provider, exporter = _provider(sampler=sampler)
    telemetry = Telemetry(tracer_provider=provider)
    with telemetry.span("chat m", START), telemetry.span("embeddings m", {"gen_ai.operation.name": "embeddings"}):
        pass
    assert sampler.seen[0] == {"gen_ai.operation.name": "chat", "gen_ai.request.model": "m"}
    assert [s.name for s in exporter.get_finished_spans()] == ["chat m"]


def test_a_no_op_provider_builds_no_span_no_attributes_and_leaves_the_context_alone() -> None:
    telemetry = Telemetry(tracer_provider=trace.NoOpTracerProvider())
    built = []
    before = trace.get_current_span()

    def attributes() -> dict[str, Any]:
        built.append(1)
        return dict(START)

    with telemetry.span("s", attributes) as span:
        assert trace.get_current_span() is before
        assert not span.is_recording()
        span.set_attributes(RESULT)
    assert built == []


def test_a_provider_set_after_the_client_was_made_is_used() -> None:
    # A fresh process: this suite sets a global provider once, and OpenTelemetry allows setting it only once.
    script = """
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from dbx_native._core.telemetry import Telemetry

telemetry = Telemetry()
with telemetry.span("before", lambda: {"a": 1}) as span:
    assert not span.is_recording()
exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)
with telemetry.span("after", lambda: {"a": 1}):
    pass
print([(s.name, dict(s.attributes)) for s in exporter.get_finished_spans()])
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[('after', {'a': 1})]"


def test_gateway_chat_span_parents_under_the_agent_span_with_its_attributes(span_exporter: Any) -> None:
    ws = LocalWorkspace(token=CANARY)
    with ws.intercept():
        ws.serving.create_endpoint("chat", model=["It is risky."])
        client = GatewayClient("chat", config=DbxConfig(host=ws.host, token=CANARY))
        with trace.get_tracer("the-agent").start_as_current_span("decide"):
            client.chat([{"role": "user", "content": "m_1?"}], max_tokens=16)
        RestClient(config=DbxConfig(host=ws.host, token=CANARY)).get("/.well-known/databricks-config")
    spans = {s.name: s for s in span_exporter.get_finished_spans()}
    chat = spans["chat chat"]
    assert chat.parent.span_id == spans["decide"].context.span_id
    attributes = dict(chat.attributes)
    assert attributes["gen_ai.request.max_tokens"] == 16 and "gen_ai.request.temperature" not in attributes
    assert attributes["gen_ai.usage.output_tokens"] > 0 and attributes["dbx_native.fallback_used"] is False
    assert spans["rest.get"].parent is None  # the agent span ended: the context was restored
    assert spans["rest.get"].attributes["http.response.status_code"] == 200
