"""`LeanTracerProvider` behaves as the OpenTelemetry SDK's provider: each scenario runs on both and is compared.

Where the two differ on purpose (attribute values the SDK keeps as "extended" attributes, which span is dropped at
a limit), the lean provider's own behaviour is asserted and the difference is said in a comment.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from lean_support import Recorder
from opentelemetry import trace as trace_api
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, Decision, Sampler, SamplingResult, TraceIdRatioBased
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

from dbx_native.telemetry import _lean
from dbx_native.telemetry._lean import LeanSpan, LeanTracerProvider

Scenario = Callable[[trace_api.Tracer], None]
RESOURCE = Resource.create({"service.name": "conformance"})


def make(kind: str, **options: Any) -> Any:
    if kind == "sdk":
        return TracerProvider(resource=RESOURCE, shutdown_on_exit=False, **options)
    return LeanTracerProvider(RESOURCE, shutdown_on_exit=False, **options)


def run(kind: str, scenario: Scenario, **options: Any) -> list[Any]:
    """The spans one provider ended for the scenario (every one its processors saw)."""
    provider = make(kind, **options)
    recorder = Recorder()
    provider.add_span_processor(recorder)
    scenario(provider.get_tracer("conformance", "1.0"))
    return recorder.ended()


def content(span: Any) -> dict[str, Any]:
    """What must agree between the two providers (ids and clock readings aside)."""

    def attributes(values: Any) -> dict[str, Any]:
        out = dict(values or {})
        if "exception.stacktrace" in out:  # frames differ (each provider's own lines): keep the exception's line
            out["exception.stacktrace"] = out["exception.stacktrace"].rstrip().splitlines()[-1]
        return out

    return {
        "name": span.name,
        "kind": span.kind,
        "attributes": attributes(span.attributes),
        "dropped_attributes": span.dropped_attributes,
        "events": [(e.name, attributes(e.attributes), e.dropped_attributes) for e in span.events],
        "dropped_events": span.dropped_events,
        "links": [(link.context, attributes(link.attributes), link.dropped_attributes) for link in span.links],
        "dropped_links": span.dropped_links,
        "status": (span.status.status_code, span.status.description),
        "trace_flags": int(span.context.trace_flags),
        "trace_state": span.context.trace_state,
        "scope": (span.instrumentation_scope.name, span.instrumentation_scope.version),
    }


def compare(scenario: Scenario, **options: Any) -> list[dict[str, Any]]:
    """Run the scenario on both providers; assert they ended the same spans; return the lean spans' content."""
    sdk, lean = run("sdk", scenario, **options), run("lean", scenario, **options)
    assert all(isinstance(span, LeanSpan) for span in lean)
    assert [content(s) for s in lean] == [content(s) for s in sdk]
    return [content(s) for s in lean]


def tree(spans: Sequence[Any]) -> dict[str, str | None]:
    """Span name -> its parent's name (or `None` for a root), within one run."""
    names = {span.context.span_id: span.name for span in spans}
    return {span.name: names.get(span.parent.span_id, "?") if span.parent else None for span in spans}


def remote_parent(flags: int = TraceFlags.SAMPLED) -> Context:
    parent = SpanContext(
        0xABC, 0xDEF, is_remote=True, trace_flags=TraceFlags(flags), trace_state=TraceState([("v", "1")])
    )
    return trace_api.set_span_in_context(NonRecordingSpan(parent))


# --- 1. API conformance ----------------------------------------------------------------------------------------


def nested(tracer: trace_api.Tracer) -> None:
    with tracer.start_as_current_span("root") as root, tracer.start_as_current_span("child"):
        tracer.start_span("grandchild").end()
    tracer.start_span("explicit", context=trace_api.set_span_in_context(root)).end()
    tracer.start_span("detached", context=Context()).end()


def test_parents_come_from_the_current_span_or_an_explicit_context_as_with_the_sdk() -> None:
    compare(nested)
    expected = {"grandchild": "child", "child": "root", "root": None, "explicit": "root", "detached": None}
    for kind in ("sdk", "lean"):
        spans = {span.name: span for span in run(kind, nested)}
        assert tree(list(spans.values())) == expected
        assert len({spans[n].context.trace_id for n in ("root", "child", "grandchild", "explicit")}) == 1
        assert spans["detached"].context.trace_id != spans["root"].context.trace_id


def test_a_remote_parent_gives_its_trace_id_parent_and_trace_state() -> None:
    compare(lambda tracer: tracer.start_span("served", context=remote_parent()).end())
    (span,) = run("lean", lambda tracer: tracer.start_span("served", context=remote_parent()).end())
    assert span.context.trace_id == 0xABC and span.parent.span_id == 0xDEF and span.parent.is_remote
    assert span.context.trace_state == TraceState([("v", "1")]) and span.context.trace_flags.sampled


def test_a_parent_not_sampled_gives_a_non_recording_child_in_the_same_trace() -> None:
    for kind in ("sdk", "lean"):
        tracer = make(kind).get_tracer("t")
        span = tracer.start_span("skipped", context=remote_parent(flags=TraceFlags.DEFAULT))
        assert isinstance(span, NonRecordingSpan) and not span.is_recording()
        ctx = span.get_span_context()
        assert ctx.trace_id == 0xABC and not ctx.trace_flags.sampled and ctx.span_id not in (0, 0xDEF)
        assert ctx.trace_state == TraceState([("v", "1")])
    assert run("lean", lambda tracer: tracer.start_span("x", context=remote_parent(TraceFlags.DEFAULT)).end()) == []


def test_root_trace_flags_match_the_sdk_and_children_inherit_them() -> None:
    def scenario(tracer: trace_api.Tracer) -> None:
        with tracer.start_as_current_span("root"):
            tracer.start_span("child").end()
        tracer.start_span("remote child", context=remote_parent(TraceFlags.SAMPLED)).end()
        tracer.start_span("random remote child", context=remote_parent(sdk_root)).end()

    sdk_root = make("sdk").get_tracer("t").start_span("r").get_span_context().trace_flags
    spans = compare(scenario)
    assert spans[1]["trace_flags"] == spans[0]["trace_flags"] == sdk_root  # SAMPLED, and RANDOM_TRACE_ID if known
    assert spans[2]["trace_flags"] == TraceFlags.SAMPLED  # the remote parent did not say its id is random
    assert spans[3]["trace_flags"] == sdk_root  # this one did


def test_ids_are_non_zero_and_unique_over_many_spans() -> None:
    tracer = make("lean").get_tracer("t")
    contexts = [tracer.start_span(f"s{i}").get_span_context() for i in range(5000)]
    assert len({c.span_id for c in contexts}) == len({c.trace_id for c in contexts}) == 5000
    assert all(c.span_id and c.trace_id and c.is_valid for c in contexts)


def test_a_zero_draw_is_never_used_as_an_id(monkeypatch: pytest.MonkeyPatch) -> None:
    draws = iter([0, 7, 0, 0, 9])
    monkeypatch.setattr(_lean, "_getrandbits", lambda bits: next(draws))
    context = make("lean").get_tracer("t").start_span("s").get_span_context()
    assert (context.trace_id, context.span_id) == (7, 9)


class RecordOnly(Sampler):
    """Records without sampling, adds an attribute and a trace state; remembers what it was asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[Any, ...]] = []

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Any = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        self.asked.append(
            (name, kind, dict(attributes or {}), [(k.context, dict(k.attributes or {})) for k in links or ()])
        )
        return SamplingResult(
            Decision.RECORD_ONLY, {**(attributes or {}), "sampler.rule": "r1"}, TraceState([("s", "1")])
        )

    def get_description(self) -> str:
        return "RecordOnly"


def sampled_scenario(tracer: trace_api.Tracer) -> None:
    link = Link(SpanContext(5, 6, False), {"why": "retry"})
    with tracer.start_as_current_span("root", kind=SpanKind.SERVER, attributes={"a": 1}, links=[link]):
        tracer.start_span("child", attributes={"sampler.rule": "mine"}).end()


@pytest.mark.parametrize(
    ("sampler", "recording"),
    [(ALWAYS_OFF, False), (TraceIdRatioBased(0.0), False), (TraceIdRatioBased(1.0), True)],
    ids=["always-off", "ratio-0", "ratio-1"],
)
def test_an_sdk_sampler_decides_as_it_does_in_the_sdk_provider(sampler: Sampler, recording: bool) -> None:
    spans = compare(sampled_scenario, sampler=sampler)
    assert len(spans) == (2 if recording else 0)
    for kind in ("sdk", "lean"):
        span = make(kind, sampler=sampler).get_tracer("t").start_span("s")
        assert span.is_recording() is recording and span.get_span_context().trace_flags.sampled is recording


def test_a_custom_sampler_records_without_sampling_as_in_the_sdk_provider() -> None:
    sampler = RecordOnly()
    spans = compare(sampled_scenario, sampler=sampler)
    assert [s["trace_state"] for s in spans] == [TraceState([("s", "1")])] * 2
    assert not any(s["trace_flags"] & TraceFlags.SAMPLED for s in spans)
    assert {s["name"]: s["attributes"] for s in spans} == {
        "child": {"sampler.rule": "r1"},  # the sampler's result wins over the start attributes, as in the SDK
        "root": {"a": 1, "sampler.rule": "r1"},
    }
    sdk_asked, lean_asked = sampler.asked[:2], sampler.asked[2:]
    assert sdk_asked == lean_asked and lean_asked[0][:3] == ("root", SpanKind.SERVER, {"a": 1})


def test_record_only_spans_reach_processors_but_not_the_sdk_exporters() -> None:
    provider = make("lean", sampler=RecordOnly())
    exporter, recorder = InMemorySpanExporter(), Recorder()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    provider.add_span_processor(recorder)
    provider.get_tracer("t").start_span("s").end()
    assert len(recorder.ended()) == 1 and exporter.get_finished_spans() == ()


# --- 2. attributes -----------------------------------------------------------------------------------------------

ALLOWED = {
    "s": "text",
    "b": True,
    "i": -(2**63),
    "f": 0.25,
    "strs": ["a", "b"],
    "bools": (True, False),
    "ints": [1, 2],
    "floats": [0.5],
    "with_none": ["a", None],
    "empty": [],
    "ints_and_floats": [1, 2.5],  # not homogeneous in the spec's terms; the SDK keeps it, and so do we
}


def test_allowed_values_are_kept_and_lists_become_tuples_as_in_the_sdk() -> None:
    (span,) = compare(lambda tracer: tracer.start_span("s", attributes=ALLOWED).end())
    assert span["attributes"] == {k: tuple(v) if isinstance(v, list) else v for k, v in ALLOWED.items()}
    assert all(isinstance(v, str | bool | int | float | tuple) for v in span["attributes"].values())


@pytest.mark.parametrize(
    "value",
    [[1, "a"], [True, 1], ["a", b"b"], {"k": 1}, b"raw", object(), None],
    ids=["str-and-int", "bool-and-int", "bytes-in-list", "dict", "bytes", "object", "none"],
)
def test_invalid_values_are_dropped_with_a_warning(value: Any, caplog: pytest.LogCaptureFixture) -> None:
    # The SDK (1.45) keeps these as "extended" attributes (AnyValue: maps, bytes, mixed lists; None for an object);
    # the lean provider keeps to the standard attribute types, which every OTLP consumer and the trace table take.
    span = make("lean").get_tracer("t").start_span("s", attributes={"kept": 1})
    with caplog.at_level(logging.WARNING, logger="dbx_native.telemetry"):
        span.set_attribute("bad", value)
        span.set_attributes({"bad2": value, "also": "ok"})
    assert dict(span.attributes) == {"kept": 1, "also": "ok"} and span.dropped_attributes == 0
    warnings = [r for r in caplog.records if r.name == "dbx_native.telemetry" and r.levelno == logging.WARNING]
    assert len(warnings) == 2 and "'bad'" in warnings[0].getMessage() and "dropped" in warnings[0].getMessage()


def test_empty_keys_are_dropped_and_counted_as_in_the_sdk() -> None:
    (span,) = compare(lambda tracer: tracer.start_span("s", attributes={"": 1, "k": 2}).end())
    assert span["attributes"] == {"k": 2} and span["dropped_attributes"] == 1


def test_attribute_count_limit_drops_new_keys_and_counts_them() -> None:
    def scenario(tracer: trace_api.Tracer) -> None:
        span = tracer.start_span("s", attributes={"a": 1, "b": 2})
        span.set_attributes({"c": 3, "d": 4})
        span.end()

    limits = SpanLimits(max_span_attributes=2)
    lean, sdk = run("lean", scenario, span_limits=limits), run("sdk", scenario, span_limits=limits)
    assert lean[0].dropped_attributes == sdk[0].dropped_attributes == 2
    # The spec: an attribute that would exceed the limit is discarded; the SDK evicts the oldest ({c, d}) instead.
    assert dict(lean[0].attributes) == {"a": 1, "b": 2}
    span = make("lean", span_limits=limits).get_tracer("t").start_span("s", attributes={"a": 1, "b": 2})
    span.set_attribute("a", 10)  # a key already there is updated, not counted
    assert dict(span.attributes) == {"a": 10, "b": 2} and span.dropped_attributes == 0


def test_attribute_length_limit_truncates_strings_also_inside_sequences() -> None:
    attributes = {"s": "abcdef", "seq": ["abcdef", "ab", None], "n": 123456, "flag": True}
    (span,) = compare(
        lambda t: t.start_span("s", attributes=attributes).end(), span_limits=SpanLimits(max_span_attribute_length=3)
    )
    assert span["attributes"] == {"s": "abc", "seq": ("abc", "ab", None), "n": 123456, "flag": True}


def test_trusted_attributes_still_respect_the_limits() -> None:
    limits = SpanLimits(max_span_attributes=2, max_span_attribute_length=4)
    span = make("lean", span_limits=limits).get_tracer("t").start_span("s", attributes={"a": "x"})
    span._trusted_attributes({"b": "long value", "c": 3})
    assert dict(span.attributes) == {"a": "x", "b": "long"} and span.dropped_attributes == 1
    free = make("lean").get_tracer("t").start_span("s")
    free._trusted_attributes({"gen_ai.request.model": "m", "gen_ai.usage.input_tokens": 3})
    free.end()
    free._trusted_attributes({"late": 1})
    assert dict(free.attributes) == {"gen_ai.request.model": "m", "gen_ai.usage.input_tokens": 3}


def test_attributes_set_after_end_are_ignored() -> None:
    def scenario(tracer: trace_api.Tracer) -> None:
        span = tracer.start_span("s", attributes={"a": 1})
        span.end()
        span.set_attribute("late", 1)
        span.set_attributes({"later": 2})

    (span,) = compare(scenario)
    assert span["attributes"] == {"a": 1}


# --- 3. events, links, exceptions, status, name, end -----------------------------------------------------------


def test_events_keep_name_attributes_and_timestamp_as_in_the_sdk() -> None:
    def scenario(tracer: trace_api.Tracer) -> None:
        span = tracer.start_span("s")
        span.add_event("retry", {"attempt": 2, "delays": [0.5, 1.0]}, timestamp=1_000)
        span.add_event("bare", timestamp=2_000)
        span.end()

    (span,) = compare(scenario)
    assert span["events"] == [("retry", {"attempt": 2, "delays": (0.5, 1.0)}, 0), ("bare", {}, 0)]
    (lean,) = run("lean", scenario)
    assert [e.timestamp for e in lean.events] == [1_000, 2_000]


def test_event_and_link_limits_count_what_they_drop() -> None:
    limits = SpanLimits(
        max_events=2, max_links=2, max_event_attributes=1, max_link_attributes=1, max_attribute_length=2
    )

    def scenario(tracer: trace_api.Tracer) -> None:
        span = tracer.start_span("s")
        for i in range(4):
            span.add_event(f"e{i}", {"a": "long", "b": 2})
            span.add_link(SpanContext(1, i + 1, False), {"a": "long", "b": 2})
        span.end()

    (sdk,), (lean,) = run("sdk", scenario, span_limits=limits), run("lean", scenario, span_limits=limits)
    counts = ("dropped_events", "dropped_links")
    assert [getattr(lean, c) for c in counts] == [getattr(sdk, c) for c in counts] == [2, 2]
    # Per event and link, the SDK's container applies the limits: the same outcome.
    assert [dict(e.attributes) for e in lean.events] == [dict(e.attributes) for e in sdk.events] == [{"b": 2}] * 2
    assert [e.dropped_attributes for e in lean.events] == [1, 1]
    # The SDK keeps the newest events and links (e2, e3); the lean span keeps the first ones, as for attributes.
    assert [e.name for e in lean.events] == ["e0", "e1"] and [k.context.span_id for k in lean.links] == [1, 2]


def test_links_at_start_and_added_later_match_the_sdk_and_bare_invalid_ones_are_ignored() -> None:
    valid, invalid = SpanContext(1, 2, False), SpanContext(0, 0, False)

    def scenario(tracer: trace_api.Tracer) -> None:
        span = tracer.start_span("s", links=[Link(valid, {"at": "start"}), Link(invalid)])
        span.add_link(valid, {"at": "later"})
        span.add_link(invalid)
        span.add_link(invalid, {"kept": "it has attributes"})  # the spec: kept when it carries attributes
        span.add_link(SpanContext(0, 0, False, trace_state=TraceState([("k", "v")])))  # ... or a trace state
        span.end()

    (span,) = compare(scenario)
    assert [(link[0].span_id, link[1]) for link in span["links"]] == [
        (2, {"at": "start"}),
        (2, {"at": "later"}),
        (0, {"kept": "it has attributes"}),
        (0, {}),
    ]


def test_record_exception_writes_the_sdk_event_attributes() -> None:
    try:
        raise ValueError("no route")
    except ValueError as err:
        error = err

    def scenario(tracer: trace_api.Tracer) -> None:
        span = tracer.start_span("s")
        span.record_exception(error, {"retry": True}, timestamp=5)
        span.record_exception(KeyError("k"), escaped=True)
        span.end()

    (sdk,), (lean,) = run("sdk", scenario), run("lean", scenario)
    assert [dict(e.attributes) for e in lean.events] == [dict(e.attributes) for e in sdk.events]
    first = dict(lean.events[0].attributes)
    assert first["exception.type"] == "ValueError" and first["exception.message"] == "no route"
    assert first["exception.escaped"] == "False" and first["retry"] is True and lean.events[0].timestamp == 5
    assert "raise ValueError" in first["exception.stacktrace"]


STATUS_CALLS: list[list[tuple[Any, str | None]]] = [
    [(StatusCode.OK, None), (StatusCode.ERROR, "late")],  # OK is final
    [(StatusCode.ERROR, "first"), (StatusCode.UNSET, None)],  # UNSET never replaces a status
    [(Status(StatusCode.ERROR, "own"), None), (Status(StatusCode.UNSET), None)],
    [(Status(StatusCode.ERROR, "own"), "ignored")],  # a Status carries its own description
    [(StatusCode.OK, "ignored for OK")],
    [(StatusCode.ERROR, "a"), (StatusCode.ERROR, "b")],
]


@pytest.mark.parametrize("calls", STATUS_CALLS, ids=range(len(STATUS_CALLS)))
def test_set_status_follows_the_sdk(calls: list[tuple[Any, str | None]]) -> None:
    def scenario(tracer: trace_api.Tracer) -> None:
        span = tracer.start_span("s")
        for status, description in calls:
            span.set_status(status, description)
        span.end()
        span.set_status(StatusCode.ERROR, "after end")

    (span,) = compare(scenario)
    expected = {0: (StatusCode.OK, None), 1: (StatusCode.ERROR, "first"), 2: (StatusCode.ERROR, "own")}
    expected |= {3: (StatusCode.ERROR, "own"), 4: (StatusCode.OK, None), 5: (StatusCode.ERROR, "b")}
    assert span["status"] == expected[STATUS_CALLS.index(calls)]


def test_update_name_renames_until_the_end() -> None:
    def scenario(tracer: trace_api.Tracer) -> None:
        span = tracer.start_span("draft")
        span.update_name("final")
        span.end()
        span.update_name("too late")

    assert [s["name"] for s in compare(scenario)] == ["final"]


def test_ending_twice_reaches_processors_once_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    def scenario(tracer: trace_api.Tracer) -> None:
        span = tracer.start_span("s")
        span.end(end_time=10**18)
        span.end(end_time=2 * 10**18)

    with caplog.at_level(logging.WARNING, logger="dbx_native.telemetry"):
        (lean,) = run("lean", scenario)
    assert lean.end_time == 10**18 and "ended span" in caplog.text
    compare(scenario)


def test_an_exception_in_a_with_block_is_recorded_and_sets_error_as_in_the_sdk() -> None:
    def scenario(tracer: trace_api.Tracer) -> None:
        with pytest.raises(ValueError), tracer.start_as_current_span("current"):
            raise ValueError("bad input")
        with pytest.raises(KeyError), tracer.start_span("plain"):
            raise KeyError("k")
        with pytest.raises(RuntimeError), tracer.start_as_current_span("quiet", record_exception=False):
            raise RuntimeError("x")
        with pytest.raises(RuntimeError), tracer.start_as_current_span("no status", set_status_on_exception=False):
            raise RuntimeError("y")

    spans = {s["name"]: s for s in compare(scenario)}
    assert spans["current"]["status"] == (StatusCode.ERROR, "ValueError: bad input")
    assert spans["current"]["events"][0][1]["exception.type"] == "ValueError"
    assert spans["plain"]["status"] == (StatusCode.ERROR, "KeyError: 'k'")
    assert spans["plain"]["events"][0][1]["exception.escaped"] == "True"
    assert spans["quiet"]["events"] == [] and spans["quiet"]["status"][0] is StatusCode.ERROR
    assert spans["no status"]["status"] == (StatusCode.UNSET, None) and len(spans["no status"]["events"]) == 1
