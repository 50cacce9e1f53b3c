"""OpenTelemetry spans for client operations (API only; a no-op until the app sets a tracer provider).

Attribute names follow the GenAI semantic conventions where they apply (`gen_ai.operation.name`,
`gen_ai.request.model`, `gen_ai.usage.input_tokens`, ...). Headers are never recorded; prompt and
response content only when `DbxConfig.capture_content` is on.

This is on every call's path, so it is built for cost (benchmarks/bench_monitoring.py, issue #7):
- no tracer provider: no span object, no context change, no attribute dict (callers may pass a function);
- otherwise `start_span` + `context.attach` in a plain class instead of three nested generator context
  managers (`start_as_current_span` -> `use_span`), so the span is current for the whole call;
- attributes set during the call wait in a plain dict and reach the span in one public `set_attributes` call
  just before it ends (one lock and one pass of the SDK's checks instead of one per call site). Writing into
  the SDK span's private attribute dict would save ~11 us more per span; we do not, so an SDK update cannot
  break tracing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

from dbx_native._version import __version__

__all__ = ["SpanHandle", "Telemetry"]

AttributeValue = str | bool | int | float
Attributes = Mapping[str, AttributeValue | None] | Callable[[], Mapping[str, AttributeValue | None]] | None

# Filled on the first span (importing opentelemetry costs ~15 ms; `import dbx_native` must stay cheap).
_otel: dict[str, Any] = {}


def _api() -> dict[str, Any]:
    if not _otel:
        from opentelemetry import context, trace

        _otel.update(
            attach=context.attach,
            detach=context.detach,
            set_span_in_context=trace.set_span_in_context,
            get_tracer_provider=trace.get_tracer_provider,
            noop_types=(trace.NoOpTracer, trace.NoOpTracerProvider, trace.ProxyTracerProvider),
        )
    return _otel


class _NoSpan:
    """Stands in for a span (and its scope) when nothing records: every method is a no-op."""

    __slots__ = ()

    def __enter__(self) -> _NoSpan:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def end(self) -> None:
        pass

    def set_attribute(self, key: str, value: Any) -> None:
        pass

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        pass

    def is_recording(self) -> bool:
        return False


_NO_SPAN = _NoSpan()


def _sampler_ignores_attributes(tracer: Any) -> bool:
    """Whether the tracer's sampler is built only from the SDK's own samplers (none of which reads attributes)."""
    if getattr(tracer, "dbx_native_attributes_after_start", False):  # LeanTracer without a sampler
        return True
    if tracer is None or not type(tracer).__module__.startswith("opentelemetry.sdk."):
        return False
    from opentelemetry.sdk.trace import sampling

    def only_sdk(sampler: Any) -> bool:
        return type(sampler).__module__ == sampling.__name__ and all(
            only_sdk(part) for part in vars(sampler).values() if isinstance(part, sampling.Sampler)
        )

    return only_sdk(getattr(tracer, "sampler", None))


class SpanHandle:
    """One operation's span: a context manager that makes it current, and the attribute setters callers use.

    On a recording span, attributes wait in a plain dict and are set in one call just before the span ends, so
    processors' `on_end` and exporters see them all.

    Attributes:
        span: The OpenTelemetry span.
    """

    __slots__ = ("_pending", "_token", "span")

    def __init__(self, span: Any, attributes: dict[str, Any] | None = None) -> None:
        self.span = span
        self._token: object = None
        self._pending: dict[str, Any] | None = None
        if span.is_recording():
            self._pending = attributes if attributes is not None else {}

    def is_recording(self) -> bool:
        """Whether attributes set now are kept."""
        return bool(self.span.is_recording())

    def set_attribute(self, key: str, value: AttributeValue | None) -> None:
        """Set one attribute (`None` leaves it out)."""
        self.set_attributes({key: value})

    def set_attributes(self, attributes: Mapping[str, AttributeValue | None]) -> None:
        """Set attributes (`None` values are left out)."""
        if self._pending is not None:
            self._pending.update(attributes)

    def end(self, error: BaseException | None = None) -> None:
        """Mark the span failed when `error` is given (its type only: our messages hold no secrets), then end it."""
        span = self.span
        if error is not None and span.is_recording():
            from opentelemetry.trace import Status, StatusCode

            self.set_attribute("error.type", type(error).__name__)
            span.set_status(Status(StatusCode.ERROR, type(error).__name__))
        if self._pending:
            attributes = {k: v for k, v in self._pending.items() if v is not None}
            # A LeanSpan takes our attributes (valid types by construction) without checking each value again.
            getattr(span, "_trusted_attributes", span.set_attributes)(attributes)
        span.end()

    def __enter__(self) -> SpanHandle:
        api = _otel
        self._token = api["attach"](api["set_span_in_context"](self.span))
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        _otel["detach"](self._token)
        self.end(error)


class Telemetry:
    """Opens one span per client operation.

    Args:
        enabled: `False` opens no span at all (`DbxConfig(telemetry=False)`).
        capture_content: Whether callers may record prompt and response text.
        tracer_provider: The provider to trace through; by default the global one, looked up on each span so a
            provider set after the client was made is used.
    """

    def __init__(self, *, enabled: bool = True, capture_content: bool = False, tracer_provider: Any = None) -> None:
        self.enabled = enabled
        self.capture_content = capture_content
        self._provider = tracer_provider
        # (provider, its tracer or None when it cannot record, whether start attributes may be written after start)
        self._resolved: tuple[Any, Any, bool] = (None, None, False)

    def _tracer(self) -> tuple[Any, bool]:
        """The tracer to use now (`None` when no span can record: no provider, a no-op one, SDK disabled)."""
        provider = self._provider
        if provider is None:
            get_provider: Callable[[], Any] = (_otel or _api())["get_tracer_provider"]
            provider = get_provider()
        resolved = self._resolved
        if provider is not resolved[0]:
            noop_types = _api()["noop_types"]
            tracer = None if isinstance(provider, noop_types) else provider.get_tracer("dbx_native", __version__)
            if isinstance(tracer, noop_types):
                tracer = None
            resolved = self._resolved = (provider, tracer, _sampler_ignores_attributes(tracer))
        return resolved[1], resolved[2]

    def start(self, name: str, attributes: Attributes = None) -> Any:
        """A span that is not made current (for work that spans a generator's lifetime); end it with `end`.

        Args:
            name: The span name.
            attributes: Known at the start; `None` values are left out. A function returning them is called only
                when a span can record, so nothing is built for a no-op tracer. Samplers that may look at them get
                them; with the SDK's own samplers (which never do) they are set with the others when the span ends.

        Returns:
            A `SpanHandle`, or a no-op stand-in when nothing records.
        """
        tracer, after_start = self._tracer() if self.enabled else (None, False)
        if tracer is None:
            return _NO_SPAN
        if callable(attributes):
            attributes = attributes()
            if type(attributes) is not dict:
                attributes = dict(attributes)
        elif attributes is not None:
            attributes = dict(attributes)  # ours from here on: the caller may reuse its mapping
        if after_start:
            return SpanHandle(tracer.start_span(name, record_exception=False), attributes)
        clean = {k: v for k, v in attributes.items() if v is not None} if attributes else None
        return SpanHandle(tracer.start_span(name, attributes=clean, record_exception=False))

    @staticmethod
    def end(span: Any, error: BaseException | None = None) -> None:
        """End a span from `start`, marked failed when `error` is given."""
        if isinstance(span, SpanHandle):
            span.end(error)

    def span(self, name: str, attributes: Attributes = None) -> Any:
        """A span around one operation, current while the `with` block runs; records the exception type on failure.

        Args:
            name: The span name.
            attributes: As for `start`.

        Returns:
            A context manager giving the span handle (`is_recording`, `set_attribute`, `set_attributes`).
        """
        return self.start(name, attributes)
