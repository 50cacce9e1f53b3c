"""`ExportingSpanProcessor.on_end` only appends: no lock, no waiting for the export thread, nothing lost meanwhile."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.trace import TracerProvider

from dbx_native.telemetry import ExportingSpanProcessor


class _GatedSender:
    """Holds each send until the test opens the gate; records the span names it was given."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.sending = threading.Event()
        self.batches: list[list[str]] = []

    def send(self, spans: Sequence[Any]) -> None:
        self.sending.set()
        assert self.gate.wait(10), "the test never opened the gate"
        self.batches.append([s.name for s in spans])

    def shutdown(self) -> None:
        self.gate.set()


def _processor(sender: _GatedSender, **options: Any) -> tuple[ExportingSpanProcessor, Any]:
    processor = ExportingSpanProcessor(sender, schedule_delay=0.005, **options)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    return processor, provider.get_tracer("test")


def test_ending_a_span_does_not_wait_for_the_processor_lock() -> None:
    sender = _GatedSender()
    processor, tracer = _processor(sender)
    spans = [tracer.start_span(f"s{i}") for i in range(3)]
    ended = threading.Event()

    def end_all() -> None:
        for span in spans:
            span.end()
        ended.set()

    with processor._lock:  # what the export thread and the counters hold
        worker = threading.Thread(target=end_all)
        worker.start()
        assert ended.wait(5), "on_end blocked on the processor's lock"
    worker.join()
    sender.gate.set()
    assert processor.force_flush(5000)
    assert [name for batch in sender.batches for name in batch] == ["s0", "s1", "s2"]
    processor.shutdown()


def test_spans_ended_while_a_batch_is_being_sent_are_kept_in_order_and_exported() -> None:
    sender = _GatedSender()
    processor, tracer = _processor(sender, max_batch_size=2, max_queue_size=10)
    for i in range(2):
        tracer.start_span(f"first{i}").end()
    assert sender.sending.wait(5)  # the export thread is inside send() with the first batch
    for i in range(5):
        tracer.start_span(f"later{i}").end()
    assert processor.counters.queued == 7  # the batch in flight still counts against the bound
    sender.gate.set()
    assert processor.force_flush(5000)
    names = [name for batch in sender.batches for name in batch]
    assert names == ["first0", "first1"] + [f"later{i}" for i in range(5)]
    assert processor.counters.exported == 7 and processor.counters.dropped == 0
    processor.shutdown()


def test_the_bound_includes_the_batch_in_flight() -> None:
    sender = _GatedSender()
    processor, tracer = _processor(sender, max_batch_size=2, max_queue_size=4)
    for i in range(2):
        tracer.start_span(f"first{i}").end()
    assert sender.sending.wait(5)
    for i in range(5):
        tracer.start_span(f"later{i}").end()
    counters = processor.counters
    assert (counters.queued, counters.dropped) == (4, 3)
    sender.gate.set()
    assert processor.force_flush(5000)
    assert processor.counters.exported == 4
    processor.shutdown()
