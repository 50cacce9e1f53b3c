"""`MonitorManager`: data quality monitors on Unity Catalog tables as code, refreshes and drift reports."""

from __future__ import annotations

from dbx_native.monitoring._drift import DEFAULT_THRESHOLDS
from dbx_native.monitoring._manager import MonitorManager
from dbx_native.monitoring._models import (
    ColumnDrift,
    DriftReport,
    FieldChange,
    MonitorChange,
    MonitorInfo,
    RefreshInfo,
)
from dbx_native.monitoring._spec import GRANULARITIES

__all__ = [
    "DEFAULT_THRESHOLDS",
    "GRANULARITIES",
    "ColumnDrift",
    "DriftReport",
    "FieldChange",
    "MonitorChange",
    "MonitorInfo",
    "MonitorManager",
    "RefreshInfo",
]
