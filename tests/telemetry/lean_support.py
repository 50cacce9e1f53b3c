"""What the LeanTracerProvider tests share: a span processor that records every call made to it."""

from __future__ import annotations

from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import SpanProcessor

__all__ = ["Recorder"]


class Recorder(SpanProcessor):
    """Every processor call, in order (`on_end` for sampled and record-only spans alike)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.flushes = self.shutdowns = 0

    def on_start(self, span: Any, parent_context: Context | None = None) -> None:
        self.calls.append(("on_start", (span, parent_context)))

    def _on_ending(self, span: Any) -> None:
        self.calls.append(("_on_ending", span))

    def on_end(self, span: Any) -> None:
        self.calls.append(("on_end", span))

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        self.flushes += 1
        return True

    def shutdown(self) -> None:
        self.shutdowns += 1

    def ended(self) -> list[Any]:
        return [span for call, span in self.calls if call == "on_end"]
