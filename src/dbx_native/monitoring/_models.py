"""Typed results of `MonitorManager`: monitors, refreshes, planned changes and drift reports."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ColumnDrift",
    "DriftReport",
    "FieldChange",
    "MonitorChange",
    "MonitorInfo",
    "RefreshInfo",
]

Api = Literal["data-quality", "legacy"]
ProfileType = Literal["inference_log", "time_series", "snapshot"]


class _Result(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class RefreshInfo(_Result):
    """One refresh of a monitor.

    Attributes:
        refresh_id: The refresh's id.
        state: `PENDING`, `RUNNING`, `SUCCESS`, `FAILED`, `CANCELED` or `UNKNOWN` (the same words for both APIs).
        start_time_ms: When it started (ms since the epoch).
        end_time_ms: When it ended, once it has.
        message: What the service said about it (failure reasons).
        trigger: `MANUAL`, `SCHEDULE` or `DATA_CHANGE`.
    """

    refresh_id: int
    state: str
    start_time_ms: int | None = None
    end_time_ms: int | None = None
    message: str | None = None
    trigger: str | None = None

    @property
    def done(self) -> bool:
        """Whether the refresh has finished (successfully or not)."""
        return self.state in ("SUCCESS", "FAILED", "CANCELED")

    @property
    def succeeded(self) -> bool:
        """Whether the refresh finished successfully."""
        return self.state == "SUCCESS"


class MonitorInfo(_Result):
    """A table monitor as the workspace reports it.

    Attributes:
        table: The monitored table (`catalog.schema.table`).
        table_id: Its Unity Catalog `table_id` (the data-quality API addresses monitors by it).
        profile_type: `inference_log`, `time_series` or `snapshot`.
        status: `ACTIVE`, `PENDING`, `ERROR`, `FAILED` or `DELETE_PENDING`.
        monitor_version: Bumped by every configuration change.
        profile_metrics_table: Where profile metrics are written.
        drift_metrics_table: Where drift metrics are written.
        dashboard_id: The generated dashboard, if any.
        api: Which API answered: `data-quality` or the deprecated `legacy` `quality_monitors`.
        config: The raw `data_profiling_config` (data-quality field names, also for the legacy API).
        latest_refresh: The most recent refresh (filled by `status()`).
    """

    table: str
    table_id: str | None = None
    profile_type: ProfileType
    status: str | None = None
    monitor_version: int | None = None
    profile_metrics_table: str | None = None
    drift_metrics_table: str | None = None
    dashboard_id: str | None = None
    api: Api = "data-quality"
    config: dict[str, Any] = Field(default_factory=dict)
    latest_refresh: RefreshInfo | None = None


class FieldChange(_Result):
    """One field that differs between the live monitor and the wanted one."""

    path: str
    live: Any
    wanted: Any

    def __str__(self) -> str:
        return f"{self.path}: {self.live!r} -> {self.wanted!r}"


class MonitorChange(_Result):
    """What an `ensure_*` call did.

    Attributes:
        action: `created`, `updated` or `unchanged`.
        table: The monitored table.
        changes: The fields that changed (every wanted field when created; empty when unchanged).
        monitor: The monitor after the call.
    """

    action: Literal["created", "updated", "unchanged"]
    table: str
    changes: list[FieldChange] = Field(default_factory=list)
    monitor: MonitorInfo

    @property
    def changed(self) -> bool:
        """Whether the call created or updated the monitor."""
        return self.action != "unchanged"

    def __str__(self) -> str:
        lines = [f"monitor on {self.table}: {self.action}"]
        lines.extend(f"  {change}" for change in self.changes)
        return "\n".join(lines)


class ColumnDrift(_Result):
    """One drift metric of one column.

    Attributes:
        column: The column.
        metric: `ks_statistic` (numbers), `js_distance` or `psi` (categories).
        value: The metric's value (the largest over the rows read: models and windows).
        threshold: The threshold it was compared to.
        drifted: `value > threshold`.
        model_id: The model whose row gave the value (inference logs), if any.
        pvalue: The Kolmogorov-Smirnov p-value, for `ks_statistic`.
    """

    column: str
    metric: str
    value: float
    threshold: float
    drifted: bool
    model_id: str | None = None
    pvalue: float | None = None


class DriftReport(_Result):
    """Drift of a monitored table, read from its drift metrics table.

    Attributes:
        table: The monitored table.
        drift_type: `BASELINE` (against the baseline table) or `CONSECUTIVE` (against the previous window).
        window_start: Start of the (first) window read.
        window_end: End of the (last) window read.
        columns: One entry per column and metric.
        drifted: Whether any column drifted.
    """

    table: str
    drift_type: str | None = None
    window_start: dt.datetime | None = None
    window_end: dt.datetime | None = None
    columns: list[ColumnDrift] = Field(default_factory=list)
    drifted: bool = False

    @property
    def drifted_columns(self) -> list[str]:
        """Names of the columns with at least one metric past its threshold."""
        return sorted({c.column for c in self.columns if c.drifted})

    def __str__(self) -> str:
        head = f"drift of {self.table} ({self.drift_type or 'no drift rows'}"
        if self.window_start is not None:
            head += f", window {self.window_start:%Y-%m-%d %H:%M}"
        lines = [head + f"): {'DRIFTED' if self.drifted else 'ok'}"]
        for c in self.columns:
            flag = "DRIFT" if c.drifted else "ok"
            lines.append(f"  {c.column:<24} {c.metric:<13} {c.value:8.4f} (> {c.threshold:g}? {flag})")
        return "\n".join(lines)
