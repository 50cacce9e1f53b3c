"""Reading drift metrics through statement execution and judging them against thresholds."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from dbx_native._core.http import HttpClient
from dbx_native._core.waiters import Poll
from dbx_native.errors import APIResponseError, InvalidRequestError, NotFoundError, OperationTimeoutError
from dbx_native.monitoring._models import ColumnDrift, DriftReport

__all__ = ["DEFAULT_THRESHOLDS", "WindowArg", "build_report", "query_drift", "run_sql"]

DEFAULT_THRESHOLDS: dict[str, float] = {"ks_statistic": 0.2, "js_distance": 0.1, "psi": 0.2}
"""Default drift thresholds: a metric strictly above its threshold counts as drift.

PSI above 0.2 is the usual "significant shift" rule of thumb; a Kolmogorov-Smirnov statistic of 0.2 means the
two distribution functions are 20 points apart somewhere; a Jensen-Shannon distance (base 2) of 0.1 is a clear
change in category shares.
"""

WindowArg = dt.datetime | tuple[dt.datetime, dt.datetime] | None
_METRICS = {"ks_statistic": "ks_statistic", "js_distance": "js_distance", "psi": "population_stability_index"}


def run_sql(
    http: HttpClient,
    warehouse_id: str,
    statement: str,
    params: Mapping[str, str],
    timeout: float | None,
) -> list[dict[str, Any]]:
    """Run one query with the Statement Execution API and return its rows (values as the API sends them: text).

    Raises:
        NotFoundError: A table in the query does not exist.
        APIResponseError: The statement failed or was cancelled.
        OperationTimeoutError: It did not finish within `timeout` (default 120 s).
    """
    body = {
        "statement": statement,
        "warehouse_id": warehouse_id,
        "parameters": [{"name": k, "value": v, "type": "STRING"} for k, v in params.items()],
        "wait_timeout": "30s",
        "on_wait_timeout": "CONTINUE",
    }
    answer = http.request(
        "POST", "/api/2.0/sql/statements", json_body=body, idempotent=True, timeout=timeout, operation="monitoring.sql"
    ).json()
    limit = timeout or 120.0
    poll = Poll(http.clock, timeout=limit, initial=0.25, factor=2.0, maximum=2.0)
    while answer["status"]["state"] in ("PENDING", "RUNNING"):
        if not poll.wait():
            raise OperationTimeoutError(
                f"The drift query did not finish in {limit:g}s: check that warehouse is running.",
                last_state=answer["status"]["state"],
                timeout=limit,
            )
        answer = http.request("GET", f"/api/2.0/sql/statements/{answer['statement_id']}", traced=False).json()
    state = answer["status"]["state"]
    if state != "SUCCEEDED":
        message = (answer["status"].get("error") or {}).get("message", "no message")
        if "TABLE_OR_VIEW_NOT_FOUND" in message:
            raise NotFoundError(message, status_code=404, error_code="TABLE_OR_VIEW_NOT_FOUND")
        raise APIResponseError(f"The drift query ended {state}: {message}")
    names = [c["name"] for c in answer["manifest"]["schema"]["columns"]]
    result = answer.get("result") or {}
    rows = [dict(zip(names, r, strict=True)) for r in result.get("data_array") or []]
    while result.get("next_chunk_index") is not None:
        path = f"/api/2.0/sql/statements/{answer['statement_id']}/result/chunks/{result['next_chunk_index']}"
        result = http.request("GET", path, traced=False).json()
        rows.extend(dict(zip(names, r, strict=True)) for r in result.get("data_array") or [])
    return rows


def query_drift(drift_table: str, *, inference: bool, model_id: str | None) -> tuple[str, dict[str, str]]:
    """The SQL reading the whole-table drift rows of every column (slices and the `:table` row left out)."""
    model = "model_id" if inference else "CAST(NULL AS STRING) AS model_id"
    sql = (
        "SELECT `window`.start AS window_start, `window`.`end` AS window_end, drift_type, column_name, "
        f"{model}, ks_test.statistic AS ks_statistic, ks_test.pvalue AS ks_pvalue, js_distance, "
        f"population_stability_index FROM {drift_table} "
        "WHERE slice_key IS NULL AND column_name <> ':table'"
    )
    params: dict[str, str] = {}
    if model_id is not None and inference:
        sql += " AND model_id = :model_id"
        params["model_id"] = model_id
    return sql, params


def _time(text: Any) -> dt.datetime | None:
    if text is None:
        return None
    value = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def _float(text: Any) -> float | None:
    return None if text is None else float(text)


def thresholds_for(thresholds: Mapping[str, float] | None) -> dict[str, float]:
    """The default thresholds updated with the caller's.

    Raises:
        InvalidRequestError: An unknown metric name.
    """
    merged = dict(DEFAULT_THRESHOLDS)
    for name, value in (thresholds or {}).items():
        if name not in DEFAULT_THRESHOLDS:
            raise InvalidRequestError(f"Unknown drift metric {name!r} in thresholds: use {list(DEFAULT_THRESHOLDS)}.")
        merged[name] = float(value)
    return merged


def build_report(
    table: str,
    rows: list[dict[str, Any]],
    *,
    window: WindowArg,
    thresholds: Mapping[str, float],
    drift_type: str | None,
) -> DriftReport:
    """A report from drift rows: pick the drift type and window(s), keep the worst value per column and metric."""
    types = {r["drift_type"] for r in rows}
    chosen = drift_type or ("BASELINE" if "BASELINE" in types else "CONSECUTIVE")
    rows = [r for r in rows if r["drift_type"] == chosen]
    for r in rows:
        r["window_start"], r["window_end"] = _time(r["window_start"]), _time(r["window_end"])
    if window is None and rows:
        latest = max(r["window_start"] for r in rows)
        rows = [r for r in rows if r["window_start"] == latest]
    elif isinstance(window, tuple):
        rows = [r for r in rows if window[0] <= r["window_start"] < window[1]]
    elif isinstance(window, dt.datetime):
        rows = [r for r in rows if r["window_start"] == window]
    if not rows:
        return DriftReport(table=table, drift_type=chosen if types else None)
    worst: dict[tuple[str, str], ColumnDrift] = {}
    for r in rows:
        for metric, field in _METRICS.items():
            value = _float(r.get(field))
            if value is None:
                continue
            key = (r["column_name"], metric)
            if key in worst and worst[key].value >= value:
                continue
            limit = thresholds[metric]
            worst[key] = ColumnDrift(
                column=r["column_name"],
                metric=metric,
                value=value,
                threshold=limit,
                drifted=value > limit,
                model_id=r.get("model_id"),
                pvalue=_float(r.get("ks_pvalue")) if metric == "ks_statistic" else None,
            )
    columns = [worst[k] for k in sorted(worst)]
    return DriftReport(
        table=table,
        drift_type=chosen,
        window_start=min(r["window_start"] for r in rows),
        window_end=max(r["window_end"] for r in rows),
        columns=columns,
        drifted=any(c.drifted for c in columns),
    )
