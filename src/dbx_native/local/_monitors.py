"""Data quality monitors of the local workspace (`ws.monitors`): `/api/data-quality/v1/monitors` and refreshes.

Monitors are addressed by object id (`table` + the table's `table_id`), as on Databricks; field names follow the
SDK's `service.dataquality` (`Monitor`, `DataProfilingConfig`, `Refresh`). A refresh goes PENDING -> RUNNING ->
SUCCESS through the workspace state machines (`ws.states.set("monitor-refresh", [...])` scripts it); when it
reaches SUCCESS it computes real profile and drift metrics over the local table (`_monitors_metrics`) into
`<output schema>.<table>_profile_metrics` / `_drift_metrics`, readable through statement execution.
The deprecated `quality_monitors` routes (`/api/2.1/unity-catalog/tables/{name}/monitor`) are in
`_monitors_legacy` and share the same monitors.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dbx_native.errors import APIStatusError, DbxNativeError, InvalidRequestError
from dbx_native.local._monitors_metrics import GRANULARITIES, MetricsJob, compute_and_write
from dbx_native.local._router import Route
from dbx_native.local._wire import LocalApiError, LocalRequest

if TYPE_CHECKING:
    from dbx_native.local._catalog import LocalCatalog
    from dbx_native.local._clock import Clock
    from dbx_native.local._states import StateMachine

__all__ = ["MONITOR_KIND", "REFRESH_KIND", "MonitorsBackend", "as_api_errors"]

_log = logging.getLogger("dbx_native.local.monitors")

MONITOR_KIND = "data-quality-monitor"
REFRESH_KIND = "monitor-refresh"
_API = "/api/data-quality/v1/monitors"
_PENDING, _RUNNING, _SUCCESS = (f"MONITOR_REFRESH_STATE_{s}" for s in ("PENDING", "RUNNING", "SUCCESS"))
_FAILED, _CANCELED = "MONITOR_REFRESH_STATE_FAILED", "MONITOR_REFRESH_STATE_CANCELED"
_TERMINAL = frozenset({_SUCCESS, _FAILED, _CANCELED})
_PROFILES = ("snapshot", "time_series", "inference_log")
_PROBLEM_TYPES = ("INFERENCE_PROBLEM_TYPE_CLASSIFICATION", "INFERENCE_PROBLEM_TYPE_REGRESSION")
_TIME_KINDS = frozenset({"timestamp", "timestamp_ntz", "date"})
# Config fields a client may set (the rest of DataProfilingConfig is output only).
_SETTABLE = frozenset(
    {
        "output_schema_id",
        "assets_dir",
        "baseline_table_name",
        "custom_metrics",
        "notification_settings",
        "schedule",
        "skip_builtin_dashboard",
        "slicing_exprs",
        "warehouse_id",
        *_PROFILES,
    }
)


def as_api_errors(handler: Any, request: LocalRequest) -> Any:
    """Run a handler, answering our own errors (bad names, missing tables) as the service would."""
    try:
        return handler(request)
    except InvalidRequestError as err:
        raise LocalApiError(400, str(err)) from err
    except APIStatusError as err:
        raise LocalApiError(err.status_code, err.message, error_code=err.error_code) from err


@dataclass
class LocalRefresh:
    """One refresh of a monitor."""

    refresh_id: int
    table_id: str
    trigger: str
    start_time_ms: int
    end_time_ms: int | None = None
    message: str | None = None
    settled: str | None = None  # the terminal state once reached (metrics computed or failed)


@dataclass
class LocalMonitor:
    """One table monitor: its `data_profiling_config` as the API shows it, and its refreshes."""

    table_id: str
    config: dict[str, Any]
    refreshes: list[LocalRefresh] = field(default_factory=list)


class MonitorsBackend:
    """Data quality monitors over the local Unity Catalog (`ws.monitors`).

    Args:
        catalog: The workspace's catalog: monitored tables, baselines and metrics tables live there.
        states: The workspace's state machines (monitor status and refresh states follow them).
        clock: The workspace clock (refresh timestamps).

    Attributes:
        data_quality_available: When false, the `/api/data-quality/v1` routes answer 404 `ENDPOINT_NOT_FOUND`,
            like a workspace without the API (clients then fall back to the legacy routes).
        legacy_available: When false, the legacy `quality_monitors` routes answer 404 `ENDPOINT_NOT_FOUND`.
    """

    def __init__(self, catalog: LocalCatalog, states: StateMachine, clock: Clock) -> None:
        self.catalog = catalog
        self.states = states
        self.clock = clock
        self.data_quality_available = True
        self.legacy_available = True
        self._monitors: dict[str, LocalMonitor] = {}
        self._next_refresh = 1
        self._lock = threading.RLock()
        states.define(MONITOR_KIND, ["DATA_PROFILING_STATUS_PENDING", "DATA_PROFILING_STATUS_ACTIVE"])
        states.define(REFRESH_KIND, [_PENDING, _RUNNING, _SUCCESS])

    # --- Backend protocol -------------------------------------------------------------------------

    def routes(self) -> Iterable[Route]:
        """The data-quality routes, then the legacy `quality_monitors` routes."""
        from dbx_native.local._monitors_legacy import legacy_routes

        base = _API + "/{object_type}/{object_id}"
        return [
            Route("POST", _API, self._guard(self._create)),
            Route("GET", _API, self._guard(self._list)),
            Route("GET", base, self._guard(lambda r: self.monitor_json(self._find(r).table_id))),
            Route("PATCH", base, self._guard(self._patch)),
            Route("DELETE", base, self._guard(self._delete)),
            Route("POST", base + "/refreshes", self._guard(self._create_refresh)),
            Route("GET", base + "/refreshes", self._guard(self._list_refreshes)),
            Route("GET", base + "/refreshes/{refresh_id}", self._guard(self._get_refresh)),
            Route("POST", base + "/refreshes/{refresh_id}/cancel", self._guard(self._cancel_refresh)),
            *legacy_routes(self),
        ]

    def reset(self) -> None:
        """Forget every monitor and refresh (metrics tables belong to the catalog)."""
        with self._lock:
            for table_id in self._monitors:
                self.states.forget(MONITOR_KIND, table_id)
            self._monitors.clear()
            self._next_refresh = 1
            self.data_quality_available = True
            self.legacy_available = True

    # --- Python API -------------------------------------------------------------------------------

    def monitored_tables(self) -> list[str]:
        """Full names of the monitored tables, sorted."""
        with self._lock:
            return sorted(m.config["monitored_table_name"] for m in self._monitors.values())

    def has_monitor(self, table_id: str) -> bool:
        """Whether the table with this id has a monitor."""
        with self._lock:
            return table_id in self._monitors

    # --- shared by both APIs ----------------------------------------------------------------------

    def create(self, table_id: str, config: dict[str, Any]) -> LocalMonitor:
        """Validate and store a new monitor of table `table_id` (raises `LocalApiError` like the service)."""
        table = self._table_name(table_id)
        with self._lock:
            if table_id in self._monitors:
                raise LocalApiError(
                    409, f"Monitor for table '{table}' already exists.", error_code="RESOURCE_ALREADY_EXISTS"
                )
            clean = self.validate(table, {k: v for k, v in config.items() if k in _SETTABLE})
            monitor = LocalMonitor(table_id, clean)
            self._fill_outputs(monitor, table, version=1)
            self._monitors[table_id] = monitor
            self.states.start(MONITOR_KIND, table_id)
        _log.debug("created monitor on %s", table)
        return monitor

    def update(self, table_id: str, config: dict[str, Any], paths: list[str]) -> LocalMonitor:
        """Apply the fields named by `paths` (update-mask paths under `data_profiling_config`)."""
        monitor = self.get(table_id)
        with self._lock:
            merged = {k: v for k, v in monitor.config.items() if k in _SETTABLE}
            for path in paths:
                top = path.split(".", 1)[0]
                if top == "*":
                    merged = {k: v for k, v in config.items() if k in _SETTABLE}
                    break
                if top not in _SETTABLE:
                    raise LocalApiError(400, f"Field '{path}' in update_mask cannot be updated.")
                if top in config:
                    merged[top] = config[top]
                else:
                    merged.pop(top, None)
            if not any(merged.get(p) is not None for p in _PROFILES if p in merged):
                raise LocalApiError(400, "The update would leave the monitor without an analysis configuration.")
            table = self._table_name(table_id)
            old_profile = next(p for p in _PROFILES if monitor.config.get(p) is not None)
            new_profile = next(p for p in _PROFILES if merged.get(p) is not None)
            if old_profile != new_profile:
                raise LocalApiError(
                    400,
                    f"Cannot change the analysis type of the monitor on '{table}' from {old_profile} to {new_profile}: "
                    "delete the monitor and create it again.",
                )
            monitor.config = self.validate(table, merged)
            self._fill_outputs(monitor, table, version=int(monitor.config.get("monitor_version") or 1) + 1)
        return monitor

    def delete(self, table_id: str) -> None:
        """Delete a monitor (its metrics tables stay, as on Databricks)."""
        with self._lock:
            self.get(table_id)
            del self._monitors[table_id]
            self.states.forget(MONITOR_KIND, table_id)

    def get(self, table_id: str) -> LocalMonitor:
        """The monitor of table `table_id` (404 `RESOURCE_DOES_NOT_EXIST` when there is none)."""
        with self._lock:
            monitor = self._monitors.get(table_id)
        if monitor is None:
            name = self._table_name(table_id, missing_ok=True) or table_id
            raise LocalApiError(
                404, f"Monitor for table '{name}' does not exist.", error_code="RESOURCE_DOES_NOT_EXIST"
            )
        return monitor

    def monitor_json(self, table_id: str) -> dict[str, Any]:
        """The `Monitor` JSON of the data-quality API."""
        monitor = self.get(table_id)
        config = dict(monitor.config)
        config["status"] = self.states.read(MONITOR_KIND, table_id)
        return {"object_type": "table", "object_id": table_id, "data_profiling_config": config}

    def start_refresh(self, table_id: str, trigger: str = "MONITOR_REFRESH_TRIGGER_MANUAL") -> LocalRefresh:
        """Queue a refresh (409 when one is already pending or running)."""
        monitor = self.get(table_id)
        with self._lock:
            for running in monitor.refreshes:
                if self._state(running) not in _TERMINAL:
                    raise LocalApiError(
                        409,
                        f"Refresh {running.refresh_id} of this monitor is still in progress: wait for it or cancel it.",
                        error_code="RESOURCE_CONFLICT",
                    )
            refresh = LocalRefresh(self._next_refresh, table_id, trigger, self._now_ms())
            self._next_refresh += 1
            monitor.refreshes.append(refresh)
            self.states.start(REFRESH_KIND, str(refresh.refresh_id))
        self.refresh_state(refresh, count=False)  # a refresh that succeeds at once (the default) computes now
        return refresh

    def find_refresh(self, table_id: str, raw_id: str) -> LocalRefresh:
        monitor = self.get(table_id)
        for refresh in monitor.refreshes:
            if str(refresh.refresh_id) == raw_id:
                return refresh
        raise LocalApiError(404, f"Refresh '{raw_id}' does not exist.", error_code="RESOURCE_DOES_NOT_EXIST")

    def refresh_state(self, refresh: LocalRefresh, *, count: bool = True) -> str:
        """The refresh's state (a read steps its state machine); reaching SUCCESS computes the metrics."""
        with self._lock:
            if refresh.settled is not None:
                return refresh.settled
            key = str(refresh.refresh_id)
            state = self.states.read(REFRESH_KIND, key) if count else self.states.peek(REFRESH_KIND, key)
            if state == _SUCCESS:
                state = self._compute(refresh)
            if state in _TERMINAL:
                refresh.settled = state
                refresh.end_time_ms = self._now_ms()
            return state

    def cancel(self, refresh: LocalRefresh) -> None:
        with self._lock:
            if self.refresh_state(refresh, count=False) not in _TERMINAL:
                self.states.force(REFRESH_KIND, str(refresh.refresh_id), _CANCELED)
                refresh.settled = _CANCELED
                refresh.end_time_ms = self._now_ms()
                refresh.message = "Canceled by the user."

    def refresh_json(self, refresh: LocalRefresh, *, count: bool = True) -> dict[str, Any]:
        """The `Refresh` JSON of the data-quality API."""
        state = self.refresh_state(refresh, count=count)
        out: dict[str, Any] = {
            "object_type": "table",
            "object_id": refresh.table_id,
            "refresh_id": refresh.refresh_id,
            "state": state,
            "trigger": refresh.trigger,
            "start_time_ms": refresh.start_time_ms,
        }
        if refresh.end_time_ms is not None:
            out["end_time_ms"] = refresh.end_time_ms
        if refresh.message:
            out["message"] = refresh.message
        return out

    # --- validation -------------------------------------------------------------------------------

    def validate(self, table: str, config: dict[str, Any]) -> dict[str, Any]:
        """Check a `data_profiling_config` against the table, as the service does; return it normalised."""
        profiles = [p for p in _PROFILES if config.get(p) is not None]
        if len(profiles) != 1:
            raise LocalApiError(
                400, "data_profiling_config needs exactly one of snapshot, time_series or inference_log."
            )
        if not config.get("output_schema_id"):
            raise LocalApiError(400, "data_profiling_config.output_schema_id is required.")
        self.schema_name(str(config["output_schema_id"]))
        kinds = {name: ctype.kind for name, ctype, _ in self.catalog.columns(table)}
        profile = profiles[0]
        settings = config[profile]
        if not isinstance(settings, dict):
            raise LocalApiError(400, f"data_profiling_config.{profile} must be an object.")
        if profile != "snapshot":
            self._check_time_settings(table, profile, settings, kinds)
        if profile == "inference_log":
            self._check_inference(table, settings, kinds)
        baseline = config.get("baseline_table_name")
        if baseline and not self.catalog.table_exists(str(baseline)):
            raise LocalApiError(404, f"Baseline table '{baseline}' does not exist.", error_code="TABLE_DOES_NOT_EXIST")
        for expr in config.get("slicing_exprs") or []:
            try:
                self.catalog.execute(f"SELECT ({expr}) FROM {table} LIMIT 0")
            except DbxNativeError as err:
                raise LocalApiError(400, f"Slicing expression {expr!r} is invalid on '{table}': {err}") from err
        return dict(config)

    def _check_time_settings(self, table: str, profile: str, settings: dict[str, Any], kinds: dict[str, str]) -> None:
        column = settings.get("timestamp_column")
        if not column:
            raise LocalApiError(400, f"data_profiling_config.{profile}.timestamp_column is required.")
        if column not in kinds:
            raise LocalApiError(400, f"Timestamp column '{column}' is not a column of '{table}': {sorted(kinds)}.")
        if kinds[column] not in _TIME_KINDS:
            raise LocalApiError(
                400,
                f"Timestamp column '{column}' of '{table}' has type {kinds[column]}: it must be a timestamp or date.",
            )
        granularities = settings.get("granularities") or []
        if not granularities:
            raise LocalApiError(400, f"data_profiling_config.{profile}.granularities needs at least one granularity.")
        for granularity in granularities:
            if granularity not in GRANULARITIES:
                raise LocalApiError(
                    400, f"Granularity {granularity!r} is not supported: use one of {sorted(GRANULARITIES)}."
                )

    def _check_inference(self, table: str, settings: dict[str, Any], kinds: dict[str, str]) -> None:
        if settings.get("problem_type") not in _PROBLEM_TYPES:
            raise LocalApiError(
                400,
                f"inference_log.problem_type {settings.get('problem_type')!r} is invalid: use {list(_PROBLEM_TYPES)}.",
            )
        for key in ("prediction_column", "model_id_column", "label_column"):
            column = settings.get(key)
            if key != "label_column" and not column:
                raise LocalApiError(400, f"inference_log.{key} is required.")
            if column and column not in kinds:
                raise LocalApiError(400, f"Column '{column}' ({key}) is not a column of '{table}': {sorted(kinds)}.")

    # --- names and ids ----------------------------------------------------------------------------

    def table_id(self, table: str) -> str:
        """The `table_id` of a table name (404 `TABLE_DOES_NOT_EXIST` when it does not exist)."""
        if not self.catalog.table_exists(table):
            raise LocalApiError(404, f"Table '{table}' does not exist.", error_code="TABLE_DOES_NOT_EXIST")
        return str(self.catalog.table_info(table)["table_id"])

    def schema_name(self, schema_id: str) -> str:
        for catalog in self.catalog.catalog_names():
            for schema in self.catalog.schema_names(catalog):
                if self.catalog.entry("schemas", f"{catalog}.{schema}")["id"] == schema_id:
                    return f"{catalog}.{schema}"
        raise LocalApiError(404, f"Schema with id '{schema_id}' does not exist.", error_code="SCHEMA_DOES_NOT_EXIST")

    def schema_id(self, full_name: str) -> str:
        catalog, _, schema = full_name.partition(".")
        if schema not in self.catalog.schema_names(catalog):
            raise LocalApiError(404, f"Schema '{full_name}' does not exist.", error_code="SCHEMA_DOES_NOT_EXIST")
        return str(self.catalog.schema_info(full_name)["schema_id"])

    def _table_name(self, table_id: str, *, missing_ok: bool = False) -> str:
        try:
            return self.catalog.table_by_id(table_id)
        except DbxNativeError:
            if missing_ok:
                return ""
            raise LocalApiError(
                404, f"Table with id '{table_id}' does not exist.", error_code="TABLE_DOES_NOT_EXIST"
            ) from None

    # --- internals --------------------------------------------------------------------------------

    def _fill_outputs(self, monitor: LocalMonitor, table: str, *, version: int) -> None:
        config = monitor.config
        output = self.schema_name(str(config["output_schema_id"]))
        short = table.rsplit(".", 1)[1]
        config["monitored_table_name"] = table
        config["profile_metrics_table_name"] = f"{output}.{short}_profile_metrics"
        config["drift_metrics_table_name"] = f"{output}.{short}_drift_metrics"
        config["monitor_version"] = version
        config["effective_warehouse_id"] = config.get("warehouse_id") or "local-warehouse"
        config.setdefault("assets_dir", f"/Workspace/Users/local-user/databricks_lakehouse_monitoring/{table}")
        if not config.get("skip_builtin_dashboard"):
            config.setdefault("dashboard_id", uuid.uuid5(uuid.NAMESPACE_URL, table).hex)

    def _compute(self, refresh: LocalRefresh) -> str:
        """Compute the metrics for a refresh that reached SUCCESS; a failure makes it FAILED with a message."""
        monitor = self._monitors.get(refresh.table_id)
        if monitor is None:
            refresh.message = "The monitor was deleted during the refresh."
            return _FAILED
        try:
            job = self._job(monitor)
            profile_rows, drift_rows = compute_and_write(self.catalog, job)
        except (DbxNativeError, LocalApiError, ValueError) as err:
            refresh.message = f"Refresh failed: {err}"
            _log.debug("refresh %s failed: %s", refresh.refresh_id, err)
            return _FAILED
        refresh.message = f"Wrote {profile_rows} profile and {drift_rows} drift metric rows."
        return _SUCCESS

    def _job(self, monitor: LocalMonitor) -> MetricsJob:
        config = monitor.config
        table = self._table_name(monitor.table_id)
        settings = config.get("inference_log") or config.get("time_series") or {}
        ts_col = settings.get("timestamp_column")
        model_col = settings.get("model_id_column")
        columns = [(name, ctype.kind) for name, ctype, _ in self.catalog.columns(table)]
        return MetricsJob(
            table=table,
            columns=columns,
            granularities=list(settings.get("granularities") or []),
            timestamp_column=ts_col,
            model_id_column=model_col,
            excluded=frozenset(c for c in (ts_col, model_col) if c),
            baseline_table=config.get("baseline_table_name") or None,
            slicing_exprs=list(config.get("slicing_exprs") or []),
            profile_table=config["profile_metrics_table_name"],
            drift_table=config["drift_metrics_table_name"],
            now=dt.datetime.fromtimestamp(self.clock.time(), tz=dt.timezone.utc),
        )

    def _state(self, refresh: LocalRefresh) -> str:
        return self.refresh_state(refresh, count=False)

    def _now_ms(self) -> int:
        return int(self.clock.time() * 1000)

    # --- data-quality handlers --------------------------------------------------------------------

    def _guard(self, handler: Any) -> Any:
        def guarded(request: LocalRequest) -> Any:
            if not self.data_quality_available:
                raise LocalApiError(
                    404, f"No API found for '{request.method} {request.path}'", error_code="ENDPOINT_NOT_FOUND"
                )
            return as_api_errors(handler, request)

        return guarded

    def _find(self, request: LocalRequest) -> LocalMonitor:
        object_type = request.path_params["object_type"]
        if object_type != "table":
            raise LocalApiError(
                400 if object_type != "schema" else 404,
                f"No {object_type} monitor '{request.path_params['object_id']}': the local workspace keeps table "
                "monitors only.",
                error_code="RESOURCE_DOES_NOT_EXIST" if object_type == "schema" else "INVALID_PARAMETER_VALUE",
            )
        return self.get(request.path_params["object_id"])

    def _create(self, request: LocalRequest) -> dict[str, Any]:
        body = request.json()
        if body.get("object_type") != "table":
            raise LocalApiError(
                400,
                f"object_type {body.get('object_type')!r} is not supported by the local workspace: use 'table' "
                "(schema-level anomaly detection needs serverless compute on Databricks).",
            )
        config = body.get("data_profiling_config")
        if not isinstance(config, dict):
            raise LocalApiError(400, "A table monitor needs a data_profiling_config.")
        table_id = str(body.get("object_id") or "")
        monitor = self.create(table_id, config)
        return self.monitor_json(monitor.table_id)

    def _list(self, request: LocalRequest) -> dict[str, Any]:
        with self._lock:
            ids = list(self._monitors)
        return {"monitors": [self.monitor_json(i) for i in ids]}

    def _patch(self, request: LocalRequest) -> dict[str, Any]:
        monitor = self._find(request)
        mask = request.arg("update_mask")
        if not mask:
            raise LocalApiError(400, "update_mask is required: name the fields to update.")
        config = request.json().get("data_profiling_config") or {}
        paths = []
        for path in mask.split(","):
            path = path.strip()
            if path == "*":
                paths.append("*")
            elif path.startswith("data_profiling_config."):
                paths.append(path.split(".", 1)[1])
            elif path != "data_profiling_config":
                raise LocalApiError(400, f"Field '{path}' in update_mask cannot be updated.")
            else:
                paths.append("*")
        self.update(monitor.table_id, config, paths)
        return self.monitor_json(monitor.table_id)

    def _delete(self, request: LocalRequest) -> dict[str, Any]:
        self.delete(self._find(request).table_id)
        return {}

    def _create_refresh(self, request: LocalRequest) -> dict[str, Any]:
        monitor = self._find(request)
        return self.refresh_json(self.start_refresh(monitor.table_id), count=False)

    def _list_refreshes(self, request: LocalRequest) -> dict[str, Any]:
        monitor = self._find(request)
        newest_first = sorted(monitor.refreshes, key=lambda r: -r.refresh_id)
        return {"refreshes": [self.refresh_json(r, count=False) for r in newest_first]}

    def _get_refresh(self, request: LocalRequest) -> dict[str, Any]:
        monitor = self._find(request)
        return self.refresh_json(self.find_refresh(monitor.table_id, request.path_params["refresh_id"]))

    def _cancel_refresh(self, request: LocalRequest) -> dict[str, Any]:
        monitor = self._find(request)
        self.cancel(self.find_refresh(monitor.table_id, request.path_params["refresh_id"]))
        return {}
