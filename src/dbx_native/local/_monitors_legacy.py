"""The deprecated `quality_monitors` routes (`/api/2.1/unity-catalog/tables/{table_name}/monitor...`).

They address monitors by table name and use the legacy field names (`timestamp_col`, `"1 day"`,
`PROBLEM_TYPE_CLASSIFICATION`, refresh states `SUCCESS`, ...); this module translates to and from the
data-quality shape `MonitorsBackend` keeps, so both APIs see the same monitors (field names follow the
SDK's `catalog.MonitorInfo` and `catalog.MonitorRefreshInfo`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dbx_native.local._router import Route
from dbx_native.local._wire import LocalApiError, LocalRequest

if TYPE_CHECKING:
    from dbx_native.local._monitors import MonitorsBackend

__all__ = ["legacy_routes"]

_BASE = "/api/2.1/unity-catalog/tables/{table_name}/monitor"
_GRANULARITIES = {
    "5 minutes": "AGGREGATION_GRANULARITY_5_MINUTES",
    "30 minutes": "AGGREGATION_GRANULARITY_30_MINUTES",
    "1 hour": "AGGREGATION_GRANULARITY_1_HOUR",
    "1 day": "AGGREGATION_GRANULARITY_1_DAY",
    "1 week": "AGGREGATION_GRANULARITY_1_WEEK",
    "2 weeks": "AGGREGATION_GRANULARITY_2_WEEKS",
    "3 weeks": "AGGREGATION_GRANULARITY_3_WEEKS",
    "4 weeks": "AGGREGATION_GRANULARITY_4_WEEKS",
    "1 month": "AGGREGATION_GRANULARITY_1_MONTH",
    "1 year": "AGGREGATION_GRANULARITY_1_YEAR",
}
_TEXT = {v: k for k, v in _GRANULARITIES.items()}
_STATUS = {
    "DATA_PROFILING_STATUS_PENDING": "MONITOR_STATUS_PENDING",
    "DATA_PROFILING_STATUS_ACTIVE": "MONITOR_STATUS_ACTIVE",
}
# legacy key -> data-quality key, inside inference_log / time_series
_COLUMNS = {
    "timestamp_col": "timestamp_column",
    "prediction_col": "prediction_column",
    "model_id_col": "model_id_column",
    "label_col": "label_column",
}
_COPIED = ("baseline_table_name", "slicing_exprs", "warehouse_id", "skip_builtin_dashboard", "assets_dir")


def legacy_routes(backend: MonitorsBackend) -> list[Route]:
    """The legacy routes, answering from `backend`."""

    def guard(handler: Callable[[LocalRequest], Any]) -> Callable[[LocalRequest], Any]:
        from dbx_native.local._monitors import as_api_errors

        def guarded(request: LocalRequest) -> Any:
            if not backend.legacy_available:
                raise LocalApiError(
                    404, f"No API found for '{request.method} {request.path}'", error_code="ENDPOINT_NOT_FOUND"
                )
            return as_api_errors(handler, request)

        return guarded

    def table_id(request: LocalRequest) -> str:
        return backend.table_id(request.path_params["table_name"])

    def create(request: LocalRequest) -> dict[str, Any]:
        tid = table_id(request)
        backend.create(tid, to_data_quality(backend, request.json()))
        return monitor_info(backend, tid)

    def update(request: LocalRequest) -> dict[str, Any]:
        tid = table_id(request)
        backend.update(tid, to_data_quality(backend, request.json()), ["*"])
        return monitor_info(backend, tid)

    def delete(request: LocalRequest) -> dict[str, Any]:
        backend.delete(table_id(request))
        return {}

    def run_refresh(request: LocalRequest) -> dict[str, Any]:
        return refresh_info(backend.refresh_json(backend.start_refresh(table_id(request)), count=False))

    def list_refreshes(request: LocalRequest) -> dict[str, Any]:
        monitor = backend.get(table_id(request))
        newest = sorted(monitor.refreshes, key=lambda r: -r.refresh_id)
        return {"refreshes": [refresh_info(backend.refresh_json(r, count=False)) for r in newest]}

    def get_refresh(request: LocalRequest) -> dict[str, Any]:
        refresh = backend.find_refresh(table_id(request), request.path_params["refresh_id"])
        return refresh_info(backend.refresh_json(refresh))

    def cancel(request: LocalRequest) -> dict[str, Any]:
        backend.cancel(backend.find_refresh(table_id(request), request.path_params["refresh_id"]))
        return {}

    return [
        Route("POST", _BASE, guard(create)),
        Route("GET", _BASE, guard(lambda r: monitor_info(backend, table_id(r)))),
        Route("PUT", _BASE, guard(update)),
        Route("DELETE", _BASE, guard(delete)),
        Route("POST", _BASE + "/refreshes", guard(run_refresh)),
        Route("GET", _BASE + "/refreshes", guard(list_refreshes)),
        Route("GET", _BASE + "/refreshes/{refresh_id}", guard(get_refresh)),
        Route("POST", _BASE + "/refreshes/{refresh_id}/cancel", guard(cancel)),
    ]


def to_data_quality(backend: MonitorsBackend, body: dict[str, Any]) -> dict[str, Any]:
    """A legacy create/update body as a `data_profiling_config`."""
    schema = body.get("output_schema_name")
    if not schema:
        raise LocalApiError(400, "output_schema_name is required (catalog.schema).")
    config: dict[str, Any] = {"output_schema_id": backend.schema_id(str(schema).lower())}
    for key in _COPIED:
        if body.get(key) is not None:
            config[key] = body[key]
    if body.get("schedule"):
        config["schedule"] = {k: body["schedule"][k] for k in ("quartz_cron_expression", "timezone_id")}
    if body.get("snapshot") is not None:
        config["snapshot"] = {}
    for key in ("time_series", "inference_log"):
        legacy = body.get(key)
        if legacy is None:
            continue
        settings = {_COLUMNS.get(k, k): v for k, v in legacy.items() if k != "granularities"}
        settings["granularities"] = [_granularity(g) for g in legacy.get("granularities") or []]
        if key == "inference_log":
            settings["problem_type"] = str(legacy.get("problem_type", "")).replace(
                "PROBLEM_TYPE_", "INFERENCE_PROBLEM_TYPE_"
            )
        config[key] = settings
    return config


def monitor_info(backend: MonitorsBackend, table_id: str) -> dict[str, Any]:
    """The legacy `MonitorInfo` JSON of a monitor."""
    config = backend.monitor_json(table_id)["data_profiling_config"]
    info: dict[str, Any] = {
        "table_name": config["monitored_table_name"],
        "output_schema_name": config["profile_metrics_table_name"].rsplit(".", 1)[0],
        "status": _STATUS.get(config["status"], "MONITOR_STATUS_ERROR"),
        "profile_metrics_table_name": config["profile_metrics_table_name"],
        "drift_metrics_table_name": config["drift_metrics_table_name"],
        "monitor_version": config["monitor_version"],
    }
    for key in (*_COPIED, "dashboard_id"):
        if config.get(key) is not None:
            info[key] = config[key]
    if config.get("schedule"):
        info["schedule"] = config["schedule"]
    if config.get("snapshot") is not None:
        info["snapshot"] = {}
    back = {v: k for k, v in _COLUMNS.items()}
    for key in ("time_series", "inference_log"):
        settings = config.get(key)
        if settings is None:
            continue
        legacy = {back.get(k, k): v for k, v in settings.items() if k != "granularities"}
        legacy["granularities"] = [_TEXT.get(g, g) for g in settings.get("granularities") or []]
        if key == "inference_log":
            legacy["problem_type"] = str(settings["problem_type"]).replace("INFERENCE_PROBLEM_TYPE_", "PROBLEM_TYPE_")
        info[key] = legacy
    return info


def refresh_info(refresh: dict[str, Any]) -> dict[str, Any]:
    """A data-quality `Refresh` JSON as a legacy `MonitorRefreshInfo`."""
    out = {
        "refresh_id": refresh["refresh_id"],
        "state": refresh["state"].replace("MONITOR_REFRESH_STATE_", ""),
        "start_time_ms": refresh["start_time_ms"],
        "trigger": refresh["trigger"].replace("MONITOR_REFRESH_TRIGGER_", ""),
    }
    for key in ("end_time_ms", "message"):
        if key in refresh:
            out[key] = refresh[key]
    return out


def _granularity(text: str) -> str:
    if text in _GRANULARITIES.values():
        return text
    mapped = _GRANULARITIES.get(" ".join(str(text).lower().split()))
    if mapped is None:
        raise LocalApiError(400, f"Granularity {text!r} is not supported: use one of {sorted(_GRANULARITIES)}.")
    return mapped
