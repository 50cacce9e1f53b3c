"""Suite-wide guards: the canary token never reaches a log record or a span attribute, in any test."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from canary import CANARY


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(self.format(record))


_handler = _Collect()
_handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))


def _span_exporter() -> object:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return exporter


@pytest.fixture(scope="session")
def span_exporter() -> object:
    """An in-memory exporter behind the global tracer provider (set once for the whole session)."""
    return _span_exporter()


@pytest.fixture(autouse=True)
def no_canary_in_logs_or_spans(span_exporter: object) -> Iterator[None]:
    logger = logging.getLogger("dbx_native")
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(_handler)
    _handler.texts.clear()
    span_exporter.clear()  # type: ignore[attr-defined]
    try:
        yield
    finally:
        logger.removeHandler(_handler)
        logger.setLevel(old_level)
    leaked = [t for t in _handler.texts if CANARY in t]
    assert not leaked, f"the canary token leaked into logs: {leaked[:1]}"
    for span in span_exporter.get_finished_spans():  # type: ignore[attr-defined]
        assert CANARY not in span.name
        for value in (span.attributes or {}).values():
            assert CANARY not in str(value), f"the canary token leaked into span {span.name}"
