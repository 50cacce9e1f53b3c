"""`export_to_unity_catalog`: one call that sends every dbx-native span (and the app's) to a Unity Catalog table."""

from __future__ import annotations

from typing import Any, Literal

from dbx_native._core.logs import get_logger
from dbx_native.config import DbxConfig
from dbx_native.errors import ConfigurationError, InvalidRequestError
from dbx_native.telemetry._exporter import SpanExporterBase, UnityCatalogSpanExporter
from dbx_native.telemetry._processor import ExportCounters, ExportingSpanProcessor
from dbx_native.telemetry._zerobus import ZerobusSpanExporter

__all__ = ["TraceExport", "export_to_unity_catalog"]

_log = get_logger("dbx_native.telemetry")


class TraceExport:
    """A running export to Unity Catalog: its counters, flush and shutdown.

    Attributes:
        table: The target table.
        processor: The span processor added to the tracer provider.
        tracer_provider: The provider it was added to.
        transport: `"otlp"` (workspace OTLP endpoint), `"zerobus"` (Zerobus Ingest REST) or `"zerobus-grpc"`
            (Zerobus Ingest's gRPC stream, through the official SDK).
    """

    def __init__(
        self, table: str, processor: ExportingSpanProcessor, tracer_provider: Any, transport: str = "otlp"
    ) -> None:
        self.table = table
        self.processor = processor
        self.tracer_provider = tracer_provider
        self.transport = transport

    @property
    def counters(self) -> ExportCounters:
        """Spans exported, dropped (queue full), failed (refused), retries, and queued now."""
        return self.processor.counters

    def flush(self, timeout: float = 30.0) -> bool:
        """Export what is queued now; `False` if it did not all go within `timeout` seconds."""
        return self.processor.force_flush(int(timeout * 1000))

    def shutdown(self, timeout: float = 5.0) -> None:
        """Flush, then stop exporting (spans ended later are counted as dropped)."""
        self.processor.shutdown(int(timeout * 1000))

    def __enter__(self) -> TraceExport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    def __repr__(self) -> str:
        c = self.counters
        return (
            f"TraceExport(table={self.table!r}, transport={self.transport!r}, exported={c.exported}, "
            f"dropped={c.dropped}, queued={c.queued})"
        )


def export_to_unity_catalog(
    table: str,
    *,
    config: DbxConfig | None = None,
    tracer_provider: Any = None,
    service_name: str = "dbx-native-agent",
    max_queue_size: int = 2048,
    max_batch_size: int = 512,
    schedule_delay: float = 1.0,
    timeout: float = 10.0,
    initial_backoff: float = 0.5,
    max_backoff: float = 30.0,
    transport: Literal["otlp", "zerobus", "zerobus-grpc"] = "otlp",
    zerobus_host: str | None = None,
    tracer: Literal["lean", "sdk"] = "lean",
) -> TraceExport:
    """Export spans to a Unity Catalog table, batched, in the background.

    Every dbx-native client opens spans with GenAI attributes (model, tokens, cost, route, fallbacks, guardrail
    verdicts); after this call they (and the application's own spans) land in `table`, one row per span.
    Three transports share the same queue, retries, counters and row shape: the workspace OTLP endpoint (default;
    the table is created on first export), Zerobus Ingest's REST insert route (`transport="zerobus"`, for high
    volume; the table must exist: `trace_table_ddl(table)`) and Zerobus Ingest's gRPC stream through the official
    SDK (`transport="zerobus-grpc"`, extra `zerobus`: one long-lived stream with durability acks).

    Args:
        table: The trace table, `catalog.schema.table`.
        config: Connection settings (`DbxConfig()` from the environment when omitted).
        tracer_provider: The tracer provider to add the exporter to (an OpenTelemetry SDK `TracerProvider` or a
            `LeanTracerProvider`). By default the global one; when none is set, a new one (with `service.name`,
            of the kind `tracer` says) is made and set as global.
        service_name: `service.name` of a tracer provider made here.
        max_queue_size: Spans kept waiting at most; beyond, spans are dropped and counted.
        max_batch_size: Spans per request.
        schedule_delay: Seconds between exports of a partial batch.
        timeout: Seconds per export request.
        initial_backoff: First pause after a transient failure (doubles up to `max_backoff`).
        max_backoff: Longest pause between retries.
        transport: `"otlp"` (workspace OTLP endpoint), `"zerobus"` (Zerobus Ingest REST insert) or
            `"zerobus-grpc"` (Zerobus Ingest gRPC stream, official SDK).
        zerobus_host: The Zerobus Ingest endpoint (`https://<workspace-id>.zerobus.<region>.cloud.databricks.com`),
            required with the Zerobus transports; the config's credentials are sent to it.
        tracer: The kind of provider made when none is set: `"lean"` (default), a `LeanTracerProvider`, which costs
            the agent's thread ~4-5x less per span than the SDK's (see `benchmarks/bench_monitoring.py`), or
            `"sdk"`, the OpenTelemetry SDK's `TracerProvider` (for its span processors and configurators). Either
            implements the OpenTelemetry API, so the application's own instrumentation traces through it.

    Returns:
        The running export (`.counters`, `.flush()`, `.shutdown()`; a context manager).

    Raises:
        ConfigurationError: opentelemetry-sdk or the OTLP encoder is missing (extra `telemetry`), the Zerobus SDK
            is missing with `transport="zerobus-grpc"` (extra `zerobus`), or the global tracer provider is not an
            SDK one.
        InvalidRequestError: `table` is not `catalog.schema.table`, an unknown `transport` or `tracer`, or a
            Zerobus transport without a usable `zerobus_host`.
    """
    if tracer not in ("lean", "sdk"):
        raise InvalidRequestError(f"tracer must be 'lean' or 'sdk', not {tracer!r}")
    provider = tracer_provider if tracer_provider is not None else _global_provider(service_name, tracer)
    if not hasattr(provider, "add_span_processor"):
        raise ConfigurationError(
            f"The tracer provider {type(provider).__name__} cannot take span processors: pass an OpenTelemetry SDK "
            "TracerProvider as tracer_provider=."
        )
    exporter = _exporter(table, config, timeout, transport, zerobus_host)
    processor = ExportingSpanProcessor(
        exporter,
        max_queue_size=max_queue_size,
        max_batch_size=max_batch_size,
        schedule_delay=schedule_delay,
        initial_backoff=initial_backoff,
        max_backoff=max_backoff,
    )
    provider.add_span_processor(processor)
    _log.info("exporting spans to Unity Catalog table %s through %s", table, transport)
    return TraceExport(table, processor, provider, transport)


def _exporter(
    table: str, config: DbxConfig | None, timeout: float, transport: str, zerobus_host: str | None
) -> SpanExporterBase:
    if transport == "otlp":
        if zerobus_host is not None:
            raise InvalidRequestError("zerobus_host is only used with transport='zerobus' or 'zerobus-grpc'.")
        return UnityCatalogSpanExporter(table, config=config, timeout=timeout)
    if transport == "zerobus":
        return ZerobusSpanExporter(table, zerobus_host=zerobus_host or "", config=config, timeout=timeout)
    if transport == "zerobus-grpc":
        from dbx_native.telemetry._zerobus_grpc import ZerobusGrpcSpanExporter  # the SDK is imported only here

        return ZerobusGrpcSpanExporter(table, zerobus_host=zerobus_host or "", config=config, timeout=timeout)
    raise InvalidRequestError(f"transport must be 'otlp' or 'zerobus' (REST) or 'zerobus-grpc', not {transport!r}")


def _global_provider(service_name: str, kind: str) -> Any:
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider

        from dbx_native.telemetry._lean import LeanTracerProvider
    except ImportError as err:
        raise ConfigurationError("Trace export needs opentelemetry-sdk: pip install 'dbx-native[telemetry]'.") from err
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider | LeanTracerProvider):
        return current
    resource = Resource.create({"service.name": service_name})
    provider = LeanTracerProvider(resource) if kind == "lean" else TracerProvider(resource=resource)
    trace.set_tracer_provider(provider)
    return trace.get_tracer_provider()  # ours, or the one another thread set first (OpenTelemetry keeps that)
