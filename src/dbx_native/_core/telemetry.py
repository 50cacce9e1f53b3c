"""OpenTelemetry spans for client operations (API only; a no-op until the app sets a tracer provider).

Attribute names follow the GenAI semantic conventions where they apply (`gen_ai.operation.name`,
`gen_ai.request.model`, `gen_ai.usage.input_tokens`, ...). Headers are never recorded; prompt and
response content only when `DbxConfig.capture_content` is on.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from dbx_native._version import __version__

__all__ = ["Telemetry"]

AttributeValue = str | bool | int | float


class _NoSpan:
    """Stands in for a span when telemetry is off: every method is a no-op."""

    def end(self) -> None:
        pass

    def set_attribute(self, key: str, value: Any) -> None:
        pass

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        pass

    def is_recording(self) -> bool:
        return False


_NO_SPAN = _NoSpan()


class Telemetry:
    """Opens one span per client operation."""

    def __init__(self, *, enabled: bool = True, capture_content: bool = False) -> None:
        self.enabled = enabled
        self.capture_content = capture_content
        self._tracer: Any = None

    def _get_tracer(self) -> Any:
        if self._tracer is None:
            from opentelemetry import trace  # cheap (~15 ms) and only on the first span

            self._tracer = trace.get_tracer("dbx_native", __version__)
        return self._tracer

    def start(self, name: str, attributes: Mapping[str, AttributeValue | None] | None = None) -> Any:
        """A span that is not made current (for work that spans a generator's lifetime); end it with `end`."""
        if not self.enabled:
            return _NO_SPAN
        clean = {k: v for k, v in (attributes or {}).items() if v is not None}
        return self._get_tracer().start_span(name, attributes=clean, record_exception=False)

    @staticmethod
    def end(span: Any, error: BaseException | None = None) -> None:
        if span is _NO_SPAN:
            return
        if error is not None and span.is_recording():
            from opentelemetry.trace import Status, StatusCode

            span.set_attribute("error.type", type(error).__name__)
            span.set_status(Status(StatusCode.ERROR, type(error).__name__))
        span.end()

    @contextlib.contextmanager
    def span(self, name: str, attributes: Mapping[str, AttributeValue | None] | None = None) -> Iterator[Any]:
        """A span around one operation; records the exception type (our messages hold no secrets) on failure."""
        if not self.enabled:
            yield _NO_SPAN
            return
        clean = {k: v for k, v in (attributes or {}).items() if v is not None}
        with self._get_tracer().start_as_current_span(name, attributes=clean, record_exception=False) as span:
            try:
                yield span
            except BaseException as err:
                if span.is_recording():
                    from opentelemetry.trace import Status, StatusCode

                    span.set_attribute("error.type", type(err).__name__)
                    span.set_status(Status(StatusCode.ERROR, type(err).__name__))
                raise
