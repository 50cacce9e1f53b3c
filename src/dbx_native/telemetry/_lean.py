"""`LeanTracerProvider`: an OpenTelemetry tracer provider built for the cost of one span on the agent's thread.

Why it exists (issue #7, `benchmarks/bench_monitoring.py`): with the OpenTelemetry SDK's provider, one span around
a `GatewayClient.chat` call costs ~150-170 us of the agent thread's CPU in place, 12-14% of a ~1.2 ms loopback call,
although the same span costs ~20-35 us in a tight loop. Between two spans the thread waits on the network and
other work runs, so every span starts with cold caches, and the SDK's path (sampler objects, trace-flag and
span-context objects, a lock and a validated attribute container per span, a `ReadableSpan` copy at the end) is
long. This provider does the same job on a much shorter path:

- one object per span, which is also what processors and exporters read when it ends (no copy);
- ids from `random.getrandbits` (as the SDK's default id generator), parent-based sampling, always on for roots,
  unless an SDK `Sampler` is given;
- attributes in a plain dict, checked with the OpenTelemetry rules (str, bool, int, float or homogeneous
  sequences of them; others dropped with a warning), within `SpanLimits` (read from the environment like the SDK:
  `OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`, ...);
- processors called as the SDK calls them (`on_start`, `_on_ending`, `on_end`), so SDK processors and exporters
  (`BatchSpanProcessor`, the OTLP exporter, `ConsoleSpanExporter`) work with it too.

It implements the OpenTelemetry API (`opentelemetry.trace.TracerProvider`), so instrumentation written against the
API works unchanged; what it does not have: the SDK's span-processor plug-ins beyond the three calls above, tracer
configurators and the tracer metrics. `export_to_unity_catalog` sets one as the global provider when no SDK provider
is set (`tracer="lean"`, the default); an SDK provider, global or passed, is always used as it is.
"""

from __future__ import annotations

import random
import threading
import traceback
from collections.abc import Iterator, Mapping, Sequence
from time import time_ns
from types import MappingProxyType
from typing import Any

from opentelemetry import trace as trace_api
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, SpanLimits
from opentelemetry.sdk.trace.sampling import Decision, Sampler
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.util import types

from dbx_native._core.logs import get_logger
from dbx_native.telemetry._lean_values import clean_value, span_json

try:  # what the SDK's tracer uses, so a decorated async function keeps its span until it finishes
    from opentelemetry.util._decorator import _agnosticcontextmanager as _span_context_manager
except ImportError:  # a private helper of the API: if it moves, spans still work (async decorators end early)
    from contextlib import contextmanager as _span_context_manager  # type: ignore[assignment]

__all__ = ["LeanSpan", "LeanTracer", "LeanTracerProvider"]

_log = get_logger("dbx_native.telemetry")

_SCALARS = (str, bool, int, float)  # kept as they are; anything else goes through clean_value
_UNSET = Status(StatusCode.UNSET)
# W3C Trace Context level 2 "random trace id" flag: set on roots (our ids are random) and inherited, as the SDK does
# from the API version that has it.
_RANDOM: int = getattr(TraceFlags, "RANDOM_TRACE_ID", 0)
_FLAGS = tuple(TraceFlags(bits) for bits in range(4))  # indexed by sampled | random
_getrandbits = random.getrandbits
_END_LOCK = threading.Lock()


def _new_span_id() -> int:
    span_id = _getrandbits(64)
    while not span_id:  # 0 is the invalid id
        span_id = _getrandbits(64)
    return span_id


def _new_trace_id() -> int:
    trace_id = _getrandbits(128)
    while not trace_id:
        trace_id = _getrandbits(128)
    return trace_id


class LeanSpan(trace_api.Span):
    """A span of a `LeanTracerProvider`: live until `end`, then the read-only record processors get.

    It has the read side of the SDK's `ReadableSpan` (`name`, `context`, `parent`, `start_time`, `end_time`,
    `attributes`, `events`, `links`, `status`, `kind`, `resource`, `instrumentation_scope`, the `dropped_*` counts,
    `to_json`), so exporters written for the SDK read it as they read SDK spans.
    """

    __slots__ = (
        "_attributes",
        "_dropped_attributes",
        "_dropped_events",
        "_dropped_links",
        "_ending",
        "_events",
        "_links",
        "_status",
        "_tracer",
        "context",
        "end_time",
        "kind",
        "name",
        "parent",
        "record_exception_on_exit",
        "set_status_on_exception",
        "start_time",
    )

    def __init__(
        self,
        tracer: LeanTracer,
        name: str,
        context: SpanContext,
        parent: SpanContext | None,
        kind: SpanKind,
        start_time: int,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> None:
        self._tracer = tracer
        self.name = name
        self.context = context
        self.parent = parent
        self.kind = kind
        self.start_time: int | None = start_time
        self.end_time: int | None = None
        self._attributes: dict[str, Any] = {}
        self._dropped_attributes = self._dropped_events = self._dropped_links = 0
        self._events: list[Event] | None = None
        self._links: list[Link] | None = None
        self._status = _UNSET
        self._ending = False
        self.record_exception_on_exit = record_exception
        self.set_status_on_exception = set_status_on_exception

    # --- the API: writing ---------------------------------------------------------------------------

    def get_span_context(self) -> SpanContext:
        return self.context

    def is_recording(self) -> bool:
        return self.end_time is None

    def set_attributes(self, attributes: Mapping[str, types.AttributeValue]) -> None:
        if self.end_time is not None:
            _log.warning("setting attributes on an ended span: ignored")
            return
        target = self._attributes
        limits = self._tracer.limits
        max_length = limits.max_span_attribute_length
        room = limits.max_span_attributes
        for key, value in attributes.items():
            if type(key) is not str or not key:  # as the SDK: the key must be a non-empty string
                _log.warning("attribute key %r dropped: it must be a non-empty string", key)
                self._dropped_attributes += 1
                continue
            if type(value) not in _SCALARS or max_length is not None:
                value = clean_value(key, value, max_length)
                if value is None:
                    continue
            if room is not None and key not in target and len(target) >= room:
                self._dropped_attributes += 1
                continue
            target[key] = value

    def set_attribute(self, key: str, value: types.AttributeValue) -> None:
        self.set_attributes({key: value})

    def add_event(self, name: str, attributes: types.Attributes = None, timestamp: int | None = None) -> None:
        if self.end_time is not None:
            _log.warning("adding an event to an ended span: ignored")
            return
        limits = self._tracer.limits
        if self._events is None:
            self._events = []
        if limits.max_events is not None and len(self._events) >= limits.max_events:
            self._dropped_events += 1
            return
        bounded = BoundedAttributes(
            limits.max_event_attributes, attributes, immutable=True, max_value_len=limits.max_attribute_length
        )
        self._events.append(Event(name, bounded, timestamp if timestamp is not None else time_ns()))

    def add_link(self, context: SpanContext, attributes: types.Attributes = None) -> None:
        if self.end_time is not None:
            _log.warning("adding a link to an ended span: ignored")
            return
        if context is None or not (context.is_valid or attributes or context.trace_state):
            return  # as the SDK: a link to an invalid context is kept only when it carries attributes or a trace state
        limits = self._tracer.limits
        if self._links is None:
            self._links = []
        if limits.max_links is not None and len(self._links) >= limits.max_links:
            self._dropped_links += 1
            return
        bounded = BoundedAttributes(
            limits.max_link_attributes, attributes, immutable=True, max_value_len=limits.max_attribute_length
        )
        self._links.append(Link(context, bounded))

    def update_name(self, name: str) -> None:
        if self.end_time is None:
            self.name = name

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        if self.end_time is not None or self._status.status_code is StatusCode.OK:  # OK is final, as in the SDK
            return
        if isinstance(status, Status):
            if status.status_code is StatusCode.UNSET:  # as the SDK: UNSET never replaces a status
                return
            if description is not None:
                _log.warning("description ignored: set_status was given a Status, which carries its own")
            self._status = status
        elif status is not StatusCode.UNSET:
            self._status = Status(status, description)

    def record_exception(
        self,
        exception: BaseException,
        attributes: types.Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        module = type(exception).__module__
        qualname = type(exception).__qualname__
        event_attributes: dict[str, Any] = {
            "exception.type": f"{module}.{qualname}" if module and module != "builtins" else qualname,
            "exception.message": str(exception),
            "exception.stacktrace": "".join(traceback.format_exception(exception)),
            "exception.escaped": str(escaped),
        }
        if attributes:
            event_attributes.update(attributes)
        self.add_event("exception", event_attributes, timestamp)

    def end(self, end_time: int | None = None) -> None:
        with _END_LOCK:  # two threads ending one span: processors still see it once (one lock for all: held briefly)
            if self._ending:
                _log.warning("calling end() on an ended span: ignored")
                return
            self._ending = True
        self.end_time = end_time if end_time is not None else time_ns()  # read-only from here, as in the SDK
        provider = self._tracer.provider
        for on_ending in provider._on_ending:
            on_ending(self)
        for on_end in provider._on_end:
            on_end(self)

    def __exit__(self, exc_type: Any, exc_val: BaseException | None, exc_tb: Any) -> None:
        if exc_val is not None and self.is_recording():
            if self.record_exception_on_exit:
                self.record_exception(exc_val, escaped=True)
            if self.set_status_on_exception:
                self.set_status(Status(StatusCode.ERROR, f"{type(exc_val).__name__}: {exc_val}"))
        super().__exit__(exc_type, exc_val, exc_tb)

    # --- the ReadableSpan side: what processors and exporters read ---------------------------------

    def _trusted_attributes(self, attributes: Mapping[str, Any]) -> None:
        """Attributes from dbx-native's own span helper, already of valid types (only limits are applied)."""
        if self.end_time is not None:
            return
        target = self._attributes
        limits = self._tracer.limits
        if limits.max_span_attribute_length is not None or (
            limits.max_span_attributes is not None and len(target) + len(attributes) > limits.max_span_attributes
        ):
            self.set_attributes(attributes)
        else:
            target.update(attributes)

    @property
    def attributes(self) -> Mapping[str, Any]:
        return MappingProxyType(self._attributes)

    @property
    def events(self) -> tuple[Event, ...]:
        return tuple(self._events) if self._events else ()

    @property
    def links(self) -> tuple[Link, ...]:
        return tuple(self._links) if self._links else ()

    @property
    def status(self) -> Status:
        return self._status

    @property
    def resource(self) -> Resource:
        return self._tracer.provider.resource

    @property
    def instrumentation_scope(self) -> InstrumentationScope:
        return self._tracer.scope

    @property
    def instrumentation_info(self) -> InstrumentationScope:
        return self._tracer.scope

    @property
    def dropped_attributes(self) -> int:
        return self._dropped_attributes

    @property
    def dropped_events(self) -> int:
        return self._dropped_events

    @property
    def dropped_links(self) -> int:
        return self._dropped_links

    def to_json(self, indent: int | None = 4) -> str:
        """The span as JSON, in the shape of the SDK's `ReadableSpan.to_json` (what `ConsoleSpanExporter` prints)."""
        return span_json(self, indent)

    def __repr__(self) -> str:
        return (
            f"LeanSpan(name={self.name!r}, trace_id=0x{trace_api.format_trace_id(self.context.trace_id)}, "
            f"span_id=0x{trace_api.format_span_id(self.context.span_id)})"
        )


class LeanTracer(trace_api.Tracer):
    """Makes `LeanSpan`s for one instrumentation scope (get it from `LeanTracerProvider.get_tracer`)."""

    def __init__(self, provider: LeanTracerProvider, scope: InstrumentationScope) -> None:
        self.provider = provider
        self.scope = scope
        self.limits = provider.span_limits
        self.sampler = provider.sampler

    @property
    def dbx_native_attributes_after_start(self) -> bool:
        """Whether attributes known at the start may be set later (no sampler that reads them)."""
        return self.sampler is None

    def start_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: types.Attributes = None,
        links: Sequence[Link] | None = (),
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> trace_api.Span:
        parent: SpanContext | None = trace_api.get_current_span(context).get_span_context()
        if parent is None or not parent.is_valid:
            parent = None
            trace_id = _new_trace_id()
            random_bit = _RANDOM
        else:
            trace_id = parent.trace_id
            random_bit = parent.trace_flags & _RANDOM
        sampler = self.sampler
        if sampler is None:  # parent-based, always on for roots (the SDK's default)
            if parent is None:
                recording, trace_state = True, None
            else:
                recording, trace_state = parent.trace_flags.sampled, parent.trace_state
            sampled = recording
        else:
            result = sampler.should_sample(context, trace_id, name, kind, attributes, links)
            recording, sampled = result.decision is not Decision.DROP, result.decision is Decision.RECORD_AND_SAMPLE
            # As the SDK: the span starts with the sampler's attributes (the SDK's samplers pass the given ones on).
            trace_state, attributes = result.trace_state, result.attributes
        span_context = SpanContext(trace_id, _new_span_id(), False, _FLAGS[sampled | random_bit], trace_state)
        if not recording:
            return trace_api.NonRecordingSpan(span_context)
        span = LeanSpan(
            self,
            name,
            span_context,
            parent,
            kind,
            start_time if start_time is not None else time_ns(),
            record_exception,
            set_status_on_exception,
        )
        if attributes:
            span.set_attributes(attributes)
        for link in links or ():
            span.add_link(link.context, link.attributes)
        for on_start in self.provider._on_start:
            on_start(span, parent_context=context)
        return span

    # As the SDK's: as a decorator of an async function, the span lasts until the coroutine finishes.
    @_span_context_manager
    def start_as_current_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: types.Attributes = None,
        links: Sequence[Link] | None = (),
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> Iterator[trace_api.Span]:
        span = self.start_span(
            name, context, kind, attributes, links, start_time, record_exception, set_status_on_exception
        )
        with trace_api.use_span(
            span,
            end_on_exit=end_on_exit,
            record_exception=record_exception,
            set_status_on_exception=set_status_on_exception,
        ) as current:
            yield current


class LeanTracerProvider(trace_api.TracerProvider):
    """An OpenTelemetry tracer provider with a short path per span (see the module's docstring for what it omits).

    Args:
        resource: The resource every span carries; by default `Resource.create()` (which reads
            `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES`).
        sampler: An OpenTelemetry SDK sampler; by default parent-based, always on for root spans.
        span_limits: Attribute, event and link limits; by default the SDK's `SpanLimits()` (from `OTEL_*_LIMIT`).
        shutdown_on_exit: Shut the span processors down (flushing them) when the interpreter exits.
    """

    def __init__(
        self,
        resource: Resource | None = None,
        *,
        sampler: Sampler | None = None,
        span_limits: SpanLimits | None = None,
        shutdown_on_exit: bool = True,
    ) -> None:
        self.resource = resource if resource is not None else Resource.create()
        self.sampler = sampler
        self.span_limits = span_limits if span_limits is not None else SpanLimits()
        self._processors: tuple[Any, ...] = ()
        self._on_start: tuple[Any, ...] = ()
        self._on_ending: tuple[Any, ...] = ()
        self._on_end: tuple[Any, ...] = ()
        self._tracers: dict[tuple[str, str | None, str | None], LeanTracer] = {}
        self._lock = threading.Lock()
        self._shut = False
        if shutdown_on_exit:
            import atexit

            atexit.register(self.shutdown)

    def get_tracer(
        self,
        instrumenting_module_name: str,
        instrumenting_library_version: str | None = None,
        schema_url: str | None = None,
        attributes: types.Attributes = None,
    ) -> LeanTracer:
        key = (instrumenting_module_name, instrumenting_library_version, schema_url)
        tracer = self._tracers.get(key)
        if tracer is None:
            with self._lock:
                tracer = self._tracers.get(key)
                if tracer is None:
                    scope = InstrumentationScope(
                        instrumenting_module_name or "", instrumenting_library_version, schema_url, attributes
                    )
                    tracer = self._tracers[key] = LeanTracer(self, scope)
        return tracer

    def add_span_processor(self, processor: Any) -> None:
        """Add a span processor (ours or any SDK one); spans ended from now on reach it."""
        from opentelemetry.sdk.trace import SpanProcessor

        from dbx_native.telemetry._processor import ExportingSpanProcessor

        with self._lock:
            self._processors += (processor,)
            # Calls that do nothing are not made per span.
            cls = type(processor)
            if getattr(cls, "on_start", None) not in (None, SpanProcessor.on_start, ExportingSpanProcessor.on_start):
                self._on_start += (processor.on_start,)
            if getattr(cls, "_on_ending", None) not in (
                None,
                getattr(SpanProcessor, "_on_ending", None),
                ExportingSpanProcessor._on_ending,
            ):
                self._on_ending += (processor._on_ending,)
            self._on_end += (processor.on_end,)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Flush every processor; `False` if one did not finish within `timeout_millis`."""
        return all([bool(p.force_flush(timeout_millis)) for p in self._processors])

    def shutdown(self) -> None:
        """Shut every processor down (once)."""
        with self._lock:
            if self._shut:
                return
            self._shut = True
            processors = self._processors
        for processor in processors:
            processor.shutdown()

    def __repr__(self) -> str:
        return f"LeanTracerProvider(processors={len(self._processors)}, sampler={self.sampler!r})"
