"""Trace export to Unity Catalog (extra `telemetry`): `export_to_unity_catalog` and its parts.

Not to be confused with `dbx_native._core.telemetry`, which opens the spans; this package ships them, through
the workspace OTLP endpoint or Zerobus Ingest (`transport="zerobus"` over REST,
`"zerobus-grpc"` over the official SDK's gRPC stream).
Importing it is cheap: OpenTelemetry's SDK is imported when an export starts (or `LeanTracerProvider` is first
used).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dbx_native.telemetry._exporter import OTLP_TRACES_PATH, UnityCatalogSpanExporter
from dbx_native.telemetry._install import TraceExport, export_to_unity_catalog
from dbx_native.telemetry._processor import ExportCounters, ExportingSpanProcessor
from dbx_native.telemetry._rows import TRACE_TABLE_SCHEMA, span_to_row, trace_table_ddl
from dbx_native.telemetry._zerobus import ZerobusSpanExporter, zerobus_insert_path
from dbx_native.telemetry._zerobus_grpc import ZerobusGrpcSpanExporter

if TYPE_CHECKING:
    from dbx_native.telemetry._lean import LeanSpan, LeanTracer, LeanTracerProvider

__all__ = [
    "OTLP_TRACES_PATH",
    "TRACE_TABLE_SCHEMA",
    "ExportCounters",
    "ExportingSpanProcessor",
    "LeanSpan",
    "LeanTracer",
    "LeanTracerProvider",
    "TraceExport",
    "UnityCatalogSpanExporter",
    "ZerobusGrpcSpanExporter",
    "ZerobusSpanExporter",
    "export_to_unity_catalog",
    "span_to_row",
    "trace_table_ddl",
    "zerobus_insert_path",
]


def __getattr__(name: str) -> Any:
    if name in ("LeanSpan", "LeanTracer", "LeanTracerProvider"):
        from dbx_native.telemetry import _lean

        return getattr(_lean, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
