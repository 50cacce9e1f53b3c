"""Trace export to Unity Catalog (extra `telemetry`): `export_to_unity_catalog` and its parts.

Not to be confused with `dbx_native._core.telemetry`, which opens the spans; this package ships them.
Importing it is cheap: OpenTelemetry's SDK is imported when an export starts.
"""

from __future__ import annotations

from dbx_native.telemetry._exporter import OTLP_TRACES_PATH, UnityCatalogSpanExporter
from dbx_native.telemetry._install import TraceExport, export_to_unity_catalog
from dbx_native.telemetry._processor import ExportCounters, ExportingSpanProcessor

__all__ = [
    "OTLP_TRACES_PATH",
    "ExportCounters",
    "ExportingSpanProcessor",
    "TraceExport",
    "UnityCatalogSpanExporter",
    "export_to_unity_catalog",
]
