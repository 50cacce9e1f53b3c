"""The two monitor APIs behind `MonitorManager`: data quality monitoring, and the deprecated `quality_monitors`.

Both speak in data-quality terms to the manager (a `data_profiling_config` dict, `RefreshInfo`): the legacy one
translates field names (`timestamp_col` <-> `timestamp_column`, `"1 day"` <-> `AGGREGATION_GRANULARITY_1_DAY`).
"""

from __future__ import annotations

from typing import Any, Protocol
from urllib.parse import quote

from dbx_native._core.http import HttpClient
from dbx_native.errors import APIStatusError, NotFoundError
from dbx_native.monitoring._models import Api, RefreshInfo
from dbx_native.monitoring._spec import GRANULARITIES

__all__ = ["DataQualityApi", "LegacyApi", "MonitorApi", "TableRef", "is_unavailable"]

_DQ = "/api/data-quality/v1/monitors"
_TEXT = {v: k for k, v in GRANULARITIES.items()}
_COLUMNS = {
    "timestamp_column": "timestamp_col",
    "prediction_column": "prediction_col",
    "model_id_column": "model_id_col",
    "label_column": "label_col",
}
_COPIED = ("baseline_table_name", "slicing_exprs", "warehouse_id", "skip_builtin_dashboard", "assets_dir", "schedule")
_OUTPUTS = ("profile_metrics_table_name", "drift_metrics_table_name", "dashboard_id", "monitor_version")


class TableRef:
    """A table by name and id, and its output schema's name and id (resolved once per call)."""

    def __init__(self, name: str, table_id: str, output_schema: str | None = None, schema_id: str | None = None):
        self.name = name
        self.table_id = table_id
        self.output_schema = output_schema
        self.schema_id = schema_id
        self.columns: dict[str, str] = {}


def is_unavailable(err: APIStatusError) -> bool:
    """Whether an error says the API itself is missing on this workspace (not that a monitor is)."""
    code = err.error_code or ""
    return (
        (err.status_code == 404 and code == "ENDPOINT_NOT_FOUND")
        or err.status_code == 501
        or code
        in (
            "FEATURE_DISABLED",
            "NOT_IMPLEMENTED",
        )
    )


class MonitorApi(Protocol):
    name: Api

    def get(self, ref: TableRef, timeout: float | None) -> dict[str, Any] | None: ...

    def create(self, ref: TableRef, config: dict[str, Any], timeout: float | None) -> dict[str, Any]: ...

    def update(
        self, ref: TableRef, config: dict[str, Any], paths: list[str], timeout: float | None
    ) -> dict[str, Any]: ...

    def delete(self, ref: TableRef, timeout: float | None) -> None: ...

    def start_refresh(self, ref: TableRef, timeout: float | None) -> RefreshInfo: ...

    def get_refresh(self, ref: TableRef, refresh_id: int, timeout: float | None) -> RefreshInfo: ...

    def list_refreshes(self, ref: TableRef, timeout: float | None) -> list[RefreshInfo]: ...


def _refresh(raw: dict[str, Any]) -> RefreshInfo:
    state = str(raw.get("state") or "UNKNOWN").replace("MONITOR_REFRESH_STATE_", "")
    trigger = raw.get("trigger")
    return RefreshInfo(
        refresh_id=int(raw["refresh_id"]),
        state=state,
        start_time_ms=raw.get("start_time_ms"),
        end_time_ms=raw.get("end_time_ms"),
        message=raw.get("message"),
        trigger=str(trigger).replace("MONITOR_REFRESH_TRIGGER_", "") if trigger else None,
    )


class DataQualityApi:
    """`/api/data-quality/v1/monitors/table/{table_id}`."""

    name: Api = "data-quality"

    def __init__(self, http: HttpClient) -> None:
        self._http = http

    def _path(self, ref: TableRef, suffix: str = "") -> str:
        return f"{_DQ}/table/{ref.table_id}{suffix}"

    def get(self, ref: TableRef, timeout: float | None) -> dict[str, Any] | None:
        try:
            body = self._http.request("GET", self._path(ref), timeout=timeout, operation="monitoring.get").json()
        except NotFoundError as err:
            if is_unavailable(err):
                raise
            return None
        return dict(body.get("data_profiling_config") or {})

    def create(self, ref: TableRef, config: dict[str, Any], timeout: float | None) -> dict[str, Any]:
        body = {"object_type": "table", "object_id": ref.table_id, "data_profiling_config": config}
        answer = self._http.request("POST", _DQ, json_body=body, timeout=timeout, operation="monitoring.create")
        return dict(answer.json().get("data_profiling_config") or {})

    def update(self, ref: TableRef, config: dict[str, Any], paths: list[str], timeout: float | None) -> dict[str, Any]:
        body = {"object_type": "table", "object_id": ref.table_id, "data_profiling_config": config}
        mask = ",".join(f"data_profiling_config.{p}" for p in paths)
        answer = self._http.request(
            "PATCH",
            self._path(ref),
            params={"update_mask": mask},
            json_body=body,
            idempotent=True,  # setting fields to given values: repeating it is harmless
            timeout=timeout,
            operation="monitoring.update",
        )
        return dict(answer.json().get("data_profiling_config") or {})

    def delete(self, ref: TableRef, timeout: float | None) -> None:
        self._http.request("DELETE", self._path(ref), timeout=timeout, operation="monitoring.delete")

    def start_refresh(self, ref: TableRef, timeout: float | None) -> RefreshInfo:
        body = {"object_type": "table", "object_id": ref.table_id}
        answer = self._http.request(
            "POST", self._path(ref, "/refreshes"), json_body=body, timeout=timeout, operation="monitoring.refresh"
        )
        return _refresh(answer.json())

    def get_refresh(self, ref: TableRef, refresh_id: int, timeout: float | None) -> RefreshInfo:
        path = self._path(ref, f"/refreshes/{refresh_id}")
        return _refresh(self._http.request("GET", path, timeout=timeout, traced=False).json())

    def list_refreshes(self, ref: TableRef, timeout: float | None) -> list[RefreshInfo]:
        body = self._http.request("GET", self._path(ref, "/refreshes"), timeout=timeout, traced=False).json()
        return [_refresh(r) for r in body.get("refreshes") or []]


class LegacyApi:
    """The deprecated `/api/2.1/unity-catalog/tables/{table_name}/monitor` (`w.quality_monitors`)."""

    name: Api = "legacy"

    def __init__(self, http: HttpClient) -> None:
        self._http = http

    def _path(self, ref: TableRef, suffix: str = "") -> str:
        return f"/api/2.1/unity-catalog/tables/{quote(ref.name, safe='.')}/monitor{suffix}"

    def get(self, ref: TableRef, timeout: float | None) -> dict[str, Any] | None:
        try:
            body = self._http.request("GET", self._path(ref), timeout=timeout, operation="monitoring.get").json()
        except NotFoundError as err:
            if is_unavailable(err):
                raise
            return None
        return self._from_legacy(body, ref)

    def create(self, ref: TableRef, config: dict[str, Any], timeout: float | None) -> dict[str, Any]:
        answer = self._http.request(
            "POST",
            self._path(ref),
            json_body=self._to_legacy(config, ref),
            timeout=timeout,
            operation="monitoring.create",
        )
        return self._from_legacy(answer.json(), ref)

    def update(self, ref: TableRef, config: dict[str, Any], paths: list[str], timeout: float | None) -> dict[str, Any]:
        # The legacy update is a PUT of the whole configuration: the mask does not apply.
        answer = self._http.request(
            "PUT",
            self._path(ref),
            json_body=self._to_legacy(config, ref),
            timeout=timeout,
            operation="monitoring.update",
        )
        return self._from_legacy(answer.json(), ref)

    def delete(self, ref: TableRef, timeout: float | None) -> None:
        self._http.request("DELETE", self._path(ref), timeout=timeout, operation="monitoring.delete")

    def start_refresh(self, ref: TableRef, timeout: float | None) -> RefreshInfo:
        answer = self._http.request(
            "POST", self._path(ref, "/refreshes"), timeout=timeout, operation="monitoring.refresh"
        )
        return _refresh(answer.json())

    def get_refresh(self, ref: TableRef, refresh_id: int, timeout: float | None) -> RefreshInfo:
        path = self._path(ref, f"/refreshes/{refresh_id}")
        return _refresh(self._http.request("GET", path, timeout=timeout, traced=False).json())

    def list_refreshes(self, ref: TableRef, timeout: float | None) -> list[RefreshInfo]:
        body = self._http.request("GET", self._path(ref, "/refreshes"), timeout=timeout, traced=False).json()
        return [_refresh(r) for r in body.get("refreshes") or []]

    @staticmethod
    def _to_legacy(config: dict[str, Any], ref: TableRef) -> dict[str, Any]:
        body: dict[str, Any] = {"output_schema_name": ref.output_schema}
        body.update({k: config[k] for k in _COPIED if config.get(k) is not None})
        if config.get("snapshot") is not None:
            body["snapshot"] = {}
        for key in ("time_series", "inference_log"):
            settings = config.get(key)
            if settings is None:
                continue
            legacy = {_COLUMNS.get(k, k): v for k, v in settings.items() if v is not None}
            legacy["granularities"] = [_TEXT.get(g, g) for g in settings.get("granularities") or []]
            if key == "inference_log":
                legacy["problem_type"] = str(settings["problem_type"]).replace(
                    "INFERENCE_PROBLEM_TYPE_", "PROBLEM_TYPE_"
                )
            body[key] = legacy
        return body

    @staticmethod
    def _from_legacy(body: dict[str, Any], ref: TableRef) -> dict[str, Any]:
        config: dict[str, Any] = {k: body[k] for k in (*_COPIED, *_OUTPUTS) if body.get(k) is not None}
        config["monitored_table_name"] = body.get("table_name", ref.name)
        # The legacy API names the output schema; report it as the id the data-quality API would use.
        config["output_schema_id"] = ref.schema_id if ref.schema_id else body.get("output_schema_name")
        status = body.get("status")
        if status:
            config["status"] = str(status).replace("MONITOR_STATUS_", "DATA_PROFILING_STATUS_")
        if body.get("snapshot") is not None:
            config["snapshot"] = {}
        back = {v: k for k, v in _COLUMNS.items()}
        for key in ("time_series", "inference_log"):
            legacy = body.get(key)
            if legacy is None:
                continue
            settings = {back.get(k, k): v for k, v in legacy.items() if k != "granularities"}
            settings["granularities"] = [GRANULARITIES.get(g, g) for g in legacy.get("granularities") or []]
            if key == "inference_log":
                settings["problem_type"] = str(legacy["problem_type"]).replace(
                    "PROBLEM_TYPE_", "INFERENCE_PROBLEM_TYPE_"
                )
            config[key] = settings
        return config
