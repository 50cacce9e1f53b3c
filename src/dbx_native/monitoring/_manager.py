"""`MonitorManager`: data quality monitors as code (ensure, refresh, status, delete) and drift reports."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Literal, TypeVar
from urllib.parse import quote

from dbx_native._core.client import BaseClient
from dbx_native._core.clock import Clock
from dbx_native._core.logs import get_logger
from dbx_native.config import DbxConfig
from dbx_native.errors import APIStatusError, ConfigurationError, InvalidRequestError, NotFoundError
from dbx_native.monitoring._api import DataQualityApi, LegacyApi, MonitorApi, TableRef, is_unavailable
from dbx_native.monitoring._drift import WindowArg, build_report, query_drift, run_sql, thresholds_for
from dbx_native.monitoring._models import DriftReport, MonitorChange, MonitorInfo, ProfileType, RefreshInfo
from dbx_native.monitoring._spec import MANAGED, check_columns, diff, granularity
from dbx_native.monitoring._spec import problem_type as _problem_type
from dbx_native.monitoring._spec import schedule as _schedule
from dbx_native.monitoring._wait import wait_for_refresh

__all__ = ["MonitorManager"]

_log = get_logger("dbx_native.monitoring")
_T = TypeVar("_T")


class MonitorManager(BaseClient):
    """Data quality monitors on Unity Catalog tables, as code: create or update to match, refresh, read drift.

    Uses the data quality monitoring API (`/api/data-quality/v1/monitors`, monitors addressed by table id);
    where a workspace lacks it, falls back to the deprecated `quality_monitors` API and logs a warning.

    Args:
        config: Connection settings (`DbxConfig()` from the environment when omitted).
        warehouse_id: SQL warehouse for reading metrics tables (`drift`) and for the monitor's dashboard.
        api: `"auto"` (data quality, falling back to legacy), `"data-quality"` or `"legacy"`.
        clock: Time source and sleeper for waits (tests use `FakeClock`).

    Example:
        >>> import datetime as dt
        >>> from dbx_native.local import LocalWorkspace
        >>> ws = LocalWorkspace()
        >>> t0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
        >>> _ = ws.create_table("main.ml.preds", [{"ts": t0, "pred": "yes", "model": "v1"}])
        >>> _ = ws.catalog.create_schema("main.monitoring")
        >>> with ws.intercept():
        ...     mm = MonitorManager(ws.config, warehouse_id="local")
        ...     mm.ensure_inference_monitor("main.ml.preds", timestamp_col="ts", prediction_col="pred",
        ...                                 model_id_col="model", output_schema="main.monitoring").action
        'created'
    """

    _client_name: ClassVar[str] = "monitoring"

    def __init__(
        self,
        config: DbxConfig | None = None,
        *,
        warehouse_id: str | None = None,
        api: Literal["auto", "data-quality", "legacy"] = "auto",
        clock: Clock | None = None,
        _credentials: Any = None,
    ) -> None:
        if api not in ("auto", "data-quality", "legacy"):
            raise InvalidRequestError(f"api must be 'auto', 'data-quality' or 'legacy', not {api!r}")
        super().__init__(config, clock=clock, _credentials=_credentials)
        self.warehouse_id = warehouse_id
        self._mode = api
        self._api: MonitorApi = LegacyApi(self._http) if api == "legacy" else DataQualityApi(self._http)

    @property
    def api(self) -> str:
        """The monitor API in use: `data-quality` or `legacy` (after a fallback)."""
        return self._api.name

    # --- ensure -----------------------------------------------------------------------------------

    def ensure_inference_monitor(
        self,
        table: str,
        *,
        timestamp_col: str,
        prediction_col: str,
        model_id_col: str,
        output_schema: str,
        label_col: str | None = None,
        problem_type: Literal["classification", "regression"] = "classification",
        granularities: Sequence[str] = ("1 day",),
        baseline_table: str | None = None,
        slicing_exprs: Sequence[str] | None = None,
        schedule: str | Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> MonitorChange:
        """Create or update an inference-log monitor on `table` so that it matches these settings.

        Nothing is sent when the live monitor already matches (`action="unchanged"`); otherwise only the
        differing fields are updated, and `changes` lists them.

        Args:
            table: The table to monitor (`catalog.schema.table`).
            timestamp_col: Its TIMESTAMP (or DATE) column: windows are cut on it.
            prediction_col: The model's prediction.
            model_id_col: The model id or version (metrics are computed per model).
            output_schema: `catalog.schema` for the metrics tables.
            label_col: The ground-truth label, if logged.
            problem_type: `"classification"` or `"regression"`.
            granularities: Window sizes: `"5 minutes"`, `"30 minutes"`, `"1 hour"`, `"1 day"`, `"1 week"`,
                `"2 weeks"`, `"3 weeks"`, `"4 weeks"`, `"1 month"`, `"1 year"`.
            baseline_table: A table with the same schema to measure drift against.
            slicing_exprs: SQL expressions to slice metrics by (`"region"`, `"amount > 100"`).
            schedule: A Quartz cron expression (UTC) or `{"quartz_cron_expression", "timezone_id"}`.
            timeout: Seconds for each call.

        Returns:
            What was done, the changed fields, and the monitor.

        Raises:
            NotFoundError: The table, the output schema or the baseline table does not exist.
            InvalidRequestError: A column is missing, the timestamp column is not a time type, a granularity or
                problem type is not supported, or the monitor exists with another analysis type.
        """
        settings = {
            "problem_type": _problem_type(problem_type),
            "timestamp_column": timestamp_col,
            "granularities": _granularities(granularities),
            "prediction_column": prediction_col,
            "model_id_column": model_id_col,
            "label_column": label_col,
        }
        roles = {"prediction_col": prediction_col, "model_id_col": model_id_col, "label_col": label_col}
        return self._ensure(
            table, "inference_log", settings, roles, output_schema, baseline_table, slicing_exprs, schedule, timeout
        )

    def ensure_time_series_monitor(
        self,
        table: str,
        *,
        timestamp_col: str,
        output_schema: str,
        granularities: Sequence[str] = ("1 day",),
        baseline_table: str | None = None,
        slicing_exprs: Sequence[str] | None = None,
        schedule: str | Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> MonitorChange:
        """Create or update a time-series monitor on `table`; see `ensure_inference_monitor`.

        Raises:
            NotFoundError: The table, the output schema or the baseline table does not exist.
            InvalidRequestError: Bad column, granularity, or another analysis type on the live monitor.
        """
        settings = {"timestamp_column": timestamp_col, "granularities": _granularities(granularities)}
        return self._ensure(
            table, "time_series", settings, {}, output_schema, baseline_table, slicing_exprs, schedule, timeout
        )

    def ensure_snapshot_monitor(
        self,
        table: str,
        *,
        output_schema: str,
        baseline_table: str | None = None,
        slicing_exprs: Sequence[str] | None = None,
        schedule: str | Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> MonitorChange:
        """Create or update a snapshot monitor (the whole table profiled at each refresh).

        See `ensure_inference_monitor` for the arguments.

        Raises:
            NotFoundError: The table, the output schema or the baseline table does not exist.
            InvalidRequestError: Another analysis type on the live monitor.
        """
        return self._ensure(table, "snapshot", {}, {}, output_schema, baseline_table, slicing_exprs, schedule, timeout)

    def monitor_traces(
        self,
        table: str,
        *,
        output_schema: str,
        baseline_table: str | None = None,
        granularities: Sequence[str] = ("1 day",),
        timestamp_col: str = "start_time",
        prediction_col: str = "status_code",
        model_id_col: str = "name",
        slicing_exprs: Sequence[str] | None = None,
        schedule: str | Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> MonitorChange:
        """An inference-log monitor on an agent-trace table (spans written by `export_to_unity_catalog`), in one call.

        Each span is one inference: the window comes from its start time, the "prediction" is its status
        (`OK`/`ERROR`: error-rate drift) and the "model" is the span name (`chat fraud-llm`: one operation and
        route), so latency (`duration_ms`) and error drift are tracked per operation.

        Args:
            table: The trace table (`catalog.schema.table`).
            output_schema: `catalog.schema` for the metrics tables.
            baseline_table: A trace table of known-good traffic to measure drift against.
            granularities: Window sizes (see `ensure_inference_monitor`).
            timestamp_col: The span start column.
            prediction_col: The span status column.
            model_id_col: The span name column.
            slicing_exprs: Extra slices (`"service_name"`).
            schedule: A Quartz cron expression (UTC) or `{"quartz_cron_expression", "timezone_id"}`.
            timeout: Seconds for each call.

        Raises:
            NotFoundError: The trace table or the output schema does not exist.
            InvalidRequestError: The table does not have the trace columns named.
        """
        return self.ensure_inference_monitor(
            table,
            timestamp_col=timestamp_col,
            prediction_col=prediction_col,
            model_id_col=model_id_col,
            output_schema=output_schema,
            problem_type="classification",
            granularities=granularities,
            baseline_table=baseline_table,
            slicing_exprs=slicing_exprs,
            schedule=schedule,
            timeout=timeout,
        )

    # --- refresh, status, delete --------------------------------------------------------------------

    def refresh(
        self,
        table: str,
        *,
        wait: bool = True,
        timeout: float = 1800.0,
        poll_interval: float = 2.0,
        progress: Callable[[RefreshInfo], None] | None = None,
    ) -> RefreshInfo:
        """Start a refresh of the monitor on `table` (metrics recomputed) and, by default, wait for it to end.

        Args:
            table: The monitored table.
            wait: Poll until the refresh ends.
            timeout: Seconds to wait in all.
            poll_interval: First pause between polls (it grows 1.5x up to 30 s).
            progress: Called with each new state while waiting.

        Returns:
            The refresh; when waited for, in a final state (check `.succeeded`: a FAILED refresh is returned,
            with the reason in `.message`, and logged as a warning).

        Raises:
            NotFoundError: The table has no monitor.
            ConflictError: A refresh is already running.
            OperationTimeoutError: It did not end in `timeout`; `.last_state` is the last `RefreshInfo` seen.
        """
        ref = self._ref(table, timeout=min(timeout, 60.0))
        started = self._call(lambda api: api.start_refresh(ref, min(timeout, 60.0)))
        _log.info("monitor refresh %s of %s started (%s)", started.refresh_id, table, started.state)
        if not wait or started.done:
            if progress is not None:
                progress(started)
            return started
        return wait_for_refresh(
            lambda: self._api.get_refresh(ref, started.refresh_id, min(timeout, 60.0)),
            first=started,
            table=table,
            clock=self._http.clock,
            timeout=timeout,
            poll_interval=poll_interval,
            progress=progress,
        )

    def status(self, table: str, *, timeout: float | None = None) -> MonitorInfo:
        """The monitor on `table`, with its latest refresh.

        Raises:
            NotFoundError: The table does not exist or has no monitor.
        """
        ref = self._ref(table, timeout=timeout)
        live = self._call(lambda api: api.get(ref, timeout))
        if live is None:
            raise NotFoundError(
                f"{table} has no monitor: create one with ensure_inference_monitor(), ensure_time_series_monitor() "
                "or ensure_snapshot_monitor().",
                status_code=404,
                error_code="RESOURCE_DOES_NOT_EXIST",
            )
        refreshes = self._api.list_refreshes(ref, timeout)
        latest = max(refreshes, key=lambda r: r.refresh_id) if refreshes else None
        return _info(ref, live, self._api.name).model_copy(update={"latest_refresh": latest})

    def delete(self, table: str, *, timeout: float | None = None) -> bool:
        """Delete the monitor on `table` (its metrics tables stay); `False` when there was none.

        Raises:
            NotFoundError: The table does not exist.
        """
        ref = self._ref(table, timeout=timeout)
        if self._call(lambda api: api.get(ref, timeout)) is None:
            return False
        self._api.delete(ref, timeout)
        _log.info("deleted the monitor on %s", table)
        return True

    # --- drift --------------------------------------------------------------------------------------

    def drift(
        self,
        table: str,
        *,
        window: WindowArg = None,
        thresholds: Mapping[str, float] | None = None,
        drift_type: Literal["BASELINE", "CONSECUTIVE"] | None = None,
        model_id: str | None = None,
        columns: Sequence[str] | None = None,
        timeout: float | None = None,
    ) -> DriftReport:
        """Drift of each column, read from the monitor's drift metrics table through statement execution.

        Args:
            table: The monitored table.
            window: `None` for the latest window; a window start (`datetime`); or `(start, end)` to take the
                worst value over every window starting in that range.
            thresholds: Per metric (`ks_statistic`, `js_distance`, `psi`), the value above which a column has
                drifted; defaults in `DEFAULT_THRESHOLDS`.
            drift_type: `BASELINE` or `CONSECUTIVE`; default BASELINE when the monitor has a baseline.
            model_id: For inference monitors: only this model (`"*"` is all models together); default: the worst
                over all rows.
            columns: Only these columns (ids and free text drift all the time; leave them out).
            timeout: Seconds for each call.

        Returns:
            The report: one `ColumnDrift` per column and metric, and `drifted`.

        Raises:
            ConfigurationError: No `warehouse_id` was given to the manager.
            NotFoundError: The table has no monitor, or the monitor has not been refreshed yet.
            InvalidRequestError: An unknown metric in `thresholds`.
        """
        limits = thresholds_for(thresholds)
        if not self.warehouse_id:
            raise ConfigurationError(
                "drift() reads the metrics tables with a SQL warehouse: pass MonitorManager(warehouse_id=...).",
                field="warehouse_id",
            )
        monitor = self.status(table, timeout=timeout)
        if not monitor.drift_metrics_table:
            raise NotFoundError(
                f"The monitor on {table} has no drift metrics table yet: run refresh() first.",
                status_code=404,
                error_code="RESOURCE_DOES_NOT_EXIST",
            )
        sql, params = query_drift(
            monitor.drift_metrics_table, inference=monitor.profile_type == "inference_log", model_id=model_id
        )
        try:
            rows = run_sql(self._http, self.warehouse_id, sql, params, timeout)
        except NotFoundError as err:
            raise NotFoundError(
                f"{monitor.drift_metrics_table} cannot be read: run refresh({table!r}) first.",
                status_code=404,
                error_code=err.error_code,
            ) from err
        if columns is not None:
            wanted = set(columns)
            rows = [r for r in rows if r["column_name"] in wanted]
        return build_report(table, rows, window=window, thresholds=limits, drift_type=drift_type)

    # --- internals ------------------------------------------------------------------------------------

    def _ensure(
        self,
        table: str,
        profile: ProfileType,
        settings: dict[str, Any],
        roles: Mapping[str, str | None],
        output_schema: str,
        baseline_table: str | None,
        slicing_exprs: Sequence[str] | None,
        cron: str | Mapping[str, Any] | None,
        timeout: float | None,
    ) -> MonitorChange:
        wanted_schedule = _schedule(cron)
        if isinstance(slicing_exprs, str):
            raise InvalidRequestError("slicing_exprs must be a list of expressions, not one string")
        ref = self._ref(table, output_schema=output_schema, timeout=timeout)
        timestamp = settings.get("timestamp_column")
        check_columns(table, ref.columns, dict(roles, timestamp_col=timestamp), timestamp)
        if baseline_table is not None:
            self._table(baseline_table, timeout, what="baseline_table")
        wanted: dict[str, Any] = {
            "output_schema_id": ref.schema_id,
            profile: {k: v for k, v in settings.items() if v is not None},
            "baseline_table_name": baseline_table,
            "slicing_exprs": list(slicing_exprs) if slicing_exprs else None,
            "schedule": wanted_schedule,
        }
        if self.warehouse_id:
            wanted["warehouse_id"] = self.warehouse_id
        fields = [f for f in (*MANAGED, "schedule", "warehouse_id") if f in wanted and f not in _other(profile)]
        live = self._call(lambda api: api.get(ref, timeout))
        body = {k: v for k, v in wanted.items() if v is not None}
        if live is None:
            created = self._api.create(ref, body, timeout)
            changes = diff(None, wanted, fields)
            _log.info("created a %s monitor on %s", profile, table)
            return MonitorChange(action="created", table=table, changes=changes, monitor=_info(ref, created, self.api))
        live_profile = next((p for p in ("inference_log", "time_series", "snapshot") if live.get(p) is not None), None)
        if live_profile != profile:
            raise InvalidRequestError(
                f"{table} already has a {live_profile} monitor, not {profile}: the analysis type cannot be changed; "
                f"call delete({table!r}) first, then ensure it again."
            )
        changes = diff(live, wanted, fields)
        if not changes:
            return MonitorChange(action="unchanged", table=table, monitor=_info(ref, live, self.api))
        paths = [c.path.split(".", 1)[1] for c in changes]
        updated = self._api.update(ref, body, paths, timeout)
        for change in changes:
            _log.info("monitor on %s: %s", table, change)
        return MonitorChange(action="updated", table=table, changes=changes, monitor=_info(ref, updated, self.api))

    def _call(self, fn: Callable[[MonitorApi], _T]) -> _T:
        """Call the current API; in `auto` mode, switch to the legacy one where data quality is unavailable."""
        try:
            return fn(self._api)
        except APIStatusError as err:
            if self._mode != "auto" or self._api.name != "data-quality" or not is_unavailable(err):
                raise
        _log.warning(
            "The data quality monitoring API (/api/data-quality/v1) is not available on %s; using the deprecated "
            "quality_monitors API (/api/2.1/unity-catalog/tables/.../monitor) instead.",
            self._http.host,
        )
        self._api = LegacyApi(self._http)
        return fn(self._api)

    def _table(self, name: str, timeout: float | None, *, what: str = "table") -> dict[str, Any]:
        if not isinstance(name, str) or len(name.split(".")) != 3:
            raise InvalidRequestError(f"{what} must be a three-part name catalog.schema.table, not {name!r}")
        try:
            return dict(
                self._http.request(
                    "GET", f"/api/2.1/unity-catalog/tables/{quote(name, safe='.')}", timeout=timeout, traced=False
                ).json()
            )
        except NotFoundError as err:
            raise NotFoundError(
                f"{what} {name!r} was not found in Unity Catalog: check the catalog.schema.table name and that you "
                "have USE CATALOG, USE SCHEMA and SELECT on it.",
                status_code=404,
                error_code=err.error_code,
                request_id=err.request_id,
            ) from err

    def _ref(self, table: str, *, output_schema: str | None = None, timeout: float | None) -> TableRef:
        info = self._table(table, timeout)
        ref = TableRef(info.get("full_name", table), str(info["table_id"]))
        ref.columns = {c["name"]: str(c.get("type_name") or c.get("type_text", "")) for c in info.get("columns", [])}
        if output_schema is not None:
            if len(output_schema.split(".")) != 2:
                raise InvalidRequestError(f"output_schema must be catalog.schema, not {output_schema!r}")
            try:
                schema = self._http.request(
                    "GET",
                    f"/api/2.1/unity-catalog/schemas/{quote(output_schema, safe='.')}",
                    timeout=timeout,
                    traced=False,
                ).json()
            except NotFoundError as err:
                raise NotFoundError(
                    f"output_schema {output_schema!r} was not found: create it first (CREATE SCHEMA {output_schema}).",
                    status_code=404,
                    error_code=err.error_code,
                ) from err
            ref.output_schema, ref.schema_id = output_schema, str(schema["schema_id"])
        return ref


def _granularities(values: Sequence[str]) -> list[str]:
    if isinstance(values, str):
        values = [values]
    if not values:
        raise InvalidRequestError("granularities needs at least one window size, e.g. ('1 day',)")
    return [granularity(v) for v in values]


def _other(profile: str) -> set[str]:
    return {"inference_log", "time_series", "snapshot"} - {profile}


def _info(ref: TableRef, config: Mapping[str, Any], api: str) -> MonitorInfo:
    profile = next((p for p in ("inference_log", "time_series", "snapshot") if config.get(p) is not None), "snapshot")
    status = config.get("status")
    return MonitorInfo(
        table=config.get("monitored_table_name") or ref.name,
        table_id=ref.table_id,
        profile_type=profile,
        status=str(status).replace("DATA_PROFILING_STATUS_", "") if status else None,
        monitor_version=config.get("monitor_version"),
        profile_metrics_table=config.get("profile_metrics_table_name"),
        drift_metrics_table=config.get("drift_metrics_table_name"),
        dashboard_id=config.get("dashboard_id"),
        api=api,
        config=dict(config),
    )
