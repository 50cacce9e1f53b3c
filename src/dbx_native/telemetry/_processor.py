"""`ExportingSpanProcessor`: a bounded queue and one background thread between the agent and the exporter.

Why not OpenTelemetry's `BatchSpanProcessor`: it drops a batch when its export fails and does not count what it
loses. Here a batch stays at the head of the queue until it is delivered: transient failures (429, 5xx, no
connection) are retried with backoff, so no span is lost while the queue has room; beyond `max_queue_size` new
spans are dropped and counted.

`on_end` runs on the agent's thread at the end of every span, so it only appends to a deque, without a lock
(`deque.append` is atomic): the agent is never blocked by export, and never waits for the export thread. The
export thread is the only consumer: it reads a batch from the left by index (appends on the right do not move
those) and removes it once delivered, so a batch being retried still counts against the queue bound. Encoding
happens there, in the exporter, never on the agent's thread.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from dbx_native._core.logs import get_logger
from dbx_native.errors import APIError
from dbx_native.telemetry._exporter import is_transient

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import ReadableSpan, Span

__all__ = ["ExportCounters", "ExportingSpanProcessor", "SpanSender"]

_log = get_logger("dbx_native.telemetry")


class SpanSender(Protocol):
    def send(self, spans: Sequence[ReadableSpan]) -> None: ...

    def shutdown(self) -> None: ...


@dataclass(frozen=True)
class ExportCounters:
    """What the exporter has done so far.

    Attributes:
        exported: Spans delivered.
        dropped: Spans dropped because the queue was full (or still queued at shutdown).
        failed: Spans given up after a permanent error (400, 401, 403, 404: a retry would not help).
        retries: Export attempts that failed transiently and were retried.
        queued: Spans waiting now.
    """

    exported: int
    dropped: int
    failed: int
    retries: int
    queued: int


class ExportingSpanProcessor:
    """An OpenTelemetry span processor that exports ended spans in batches from a background thread.

    Args:
        sender: Sends one batch or raises an `APIError` (`UnityCatalogSpanExporter`, `ZerobusSpanExporter`).
        max_queue_size: Spans kept waiting at most; more are dropped (and counted). Threads ending spans at the
            same instant may each add one more: the bound is checked without a lock.
        max_batch_size: Spans per export request.
        schedule_delay: Seconds between exports when fewer than `max_batch_size` spans wait.
        initial_backoff: First pause after a transient failure (doubles up to `max_backoff`).
        max_backoff: Longest pause between retries.
    """

    def __init__(
        self,
        sender: SpanSender,
        *,
        max_queue_size: int = 2048,
        max_batch_size: int = 512,
        schedule_delay: float = 1.0,
        initial_backoff: float = 0.5,
        max_backoff: float = 30.0,
    ) -> None:
        if max_queue_size < 1 or max_batch_size < 1:
            raise ValueError("max_queue_size and max_batch_size must be at least 1")
        self.sender = sender
        self.max_queue_size = max_queue_size
        self.max_batch_size = min(max_batch_size, max_queue_size)
        self.schedule_delay = schedule_delay
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self._queue: deque[ReadableSpan] = deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._idle = threading.Condition(self._lock)
        self._stopping = False
        self._stop = threading.Event()
        self._exported = self._dropped = self._failed = self._retries = 0
        self._thread = threading.Thread(target=self._run, name="dbx-native-span-export", daemon=True)
        self._thread.start()

    # --- SpanProcessor interface -------------------------------------------------------------------

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        """Nothing to do when a span starts."""

    def _on_ending(self, span: Span) -> None:
        """Called by the SDK as a span is about to end (SDK >= 1.33); nothing to do."""

    def on_end(self, span: ReadableSpan) -> None:
        """Queue an ended span (constant time, no lock; drops and counts it when the queue is full)."""
        if not span.context.trace_flags.sampled:
            return
        queue = self._queue
        size = len(queue)
        if size >= self.max_queue_size or self._stopping:
            with self._lock:  # the rare path: counters are only ever changed under the lock
                self._dropped += 1
            return
        queue.append(span)
        if size + 1 >= self.max_batch_size and not self._wake.is_set():
            self._wake.set()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Export everything queued now; `False` if the queue is not empty after `timeout_millis`."""
        self._wake.set()
        with self._idle:
            return self._idle.wait_for(lambda: not self._queue, timeout=timeout_millis / 1000)

    def shutdown(self, timeout_millis: int = 5_000) -> None:
        """Flush (up to `timeout_millis`), stop the thread, count what is left as dropped, close the sender."""
        if self._stopping:
            return
        self.force_flush(timeout_millis)
        with self._lock:
            self._stopping = True
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=timeout_millis / 1000)
        with self._lock:  # after the thread: it reads the queue without the lock
            self._dropped += len(self._queue)
            self._queue.clear()
        self.sender.shutdown()

    # --- counters ------------------------------------------------------------------------------------

    @property
    def counters(self) -> ExportCounters:
        """The counters now."""
        with self._lock:
            return ExportCounters(self._exported, self._dropped, self._failed, self._retries, len(self._queue))

    # --- the export thread -----------------------------------------------------------------------------

    def _run(self) -> None:
        backoff = self.initial_backoff
        while True:
            self._wake.wait(self.schedule_delay)
            self._wake.clear()
            while True:
                batch = self._next_batch()
                if batch is None:
                    return
                if not batch:
                    with self._idle:
                        self._idle.notify_all()
                    break
                outcome = self._send(batch)
                with self._lock:
                    if self._stopping:
                        return  # shutdown counts what is still queued (this batch included) as dropped
                    if outcome != "retry":
                        for _ in batch:
                            self._queue.popleft()
                    if outcome == "ok":
                        self._exported += len(batch)
                    elif outcome == "failed":
                        self._failed += len(batch)
                    else:
                        self._retries += 1
                if outcome == "retry":
                    if self._sleep(backoff):
                        return
                    backoff = min(backoff * 2, self.max_backoff)
                else:
                    backoff = self.initial_backoff

    def _next_batch(self) -> list[ReadableSpan] | None:
        """The spans at the head of the queue (left in it until delivered); `None` when stopping."""
        if self._stopping:
            return None
        queue = self._queue
        # Only this thread removes spans, and from the left, so indexes below len() stay valid while agents append
        # (shutdown empties the queue only after this thread stopped, or gave up waiting for it).
        try:
            return [queue[i] for i in range(min(self.max_batch_size, len(queue)))]
        except IndexError:
            return None

    def _send(self, batch: list[ReadableSpan]) -> str:
        try:
            self.sender.send(batch)
        except APIError as err:
            if is_transient(err):
                _log.debug("span export failed (%s), will retry %d spans", type(err).__name__, len(batch))
                return "retry"
            _log.warning("span export refused (%s): %d spans dropped: %s", type(err).__name__, len(batch), err)
            return "failed"
        except Exception as err:  # an encoder or exporter bug must not kill the thread
            _log.warning("span export failed unexpectedly (%s): %d spans dropped", type(err).__name__, len(batch))
            return "failed"
        return "ok"

    def _sleep(self, seconds: float) -> bool:
        """Wait `seconds` before a retry; True when shutting down."""
        return self._stop.wait(seconds)

    def __repr__(self) -> str:
        c = self.counters
        return f"ExportingSpanProcessor(exported={c.exported}, dropped={c.dropped}, queued={c.queued})"
