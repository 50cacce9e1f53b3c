"""What a local monitor refresh computes: profile and drift metrics tables, written to the local catalog.

The tables follow the layout of Databricks' `<table>_profile_metrics` / `<table>_drift_metrics`: one row per
window, granularity, model id (inference logs), slice and column; `column_name = ':table'` holds the row
count of the window; `slice_key IS NULL` is the whole table. Inference-log monitors get one row per model id
plus a roll-up with `model_id = '*'` (all models). Drift is `CONSECUTIVE` (a window against the window just
before it) and, with a baseline table, `BASELINE` (a window against the whole baseline). Statistics are
defined in `_monitors_stats`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dbx_native.local._monitors_stats import js_distance, ks_test, mean_stddev, population_stability_index, quantiles

if TYPE_CHECKING:
    from dbx_native.local._catalog import LocalCatalog

__all__ = ["DRIFT_SCHEMA", "GRANULARITIES", "PROFILE_SCHEMA", "MetricsJob", "compute_and_write", "window_of"]

_WINDOW = "struct<start:timestamp,end:timestamp>"
PROFILE_SCHEMA: dict[str, str] = {
    "window": _WINDOW,
    "granularity": "string",
    "model_id": "string",
    "slice_key": "string",
    "slice_value": "string",
    "column_name": "string",
    "data_type": "string",
    "log_type": "string",
    "count": "bigint",
    "num_nulls": "bigint",
    "percent_null": "double",
    "avg": "double",
    "stddev": "double",
    "min": "double",
    "max": "double",
    "median": "double",
    "quantiles": "array<double>",
    "distinct_count": "bigint",
    "frequent_items": "array<struct<item:string,count:bigint>>",
}
DRIFT_SCHEMA: dict[str, str] = {
    "window": _WINDOW,
    "window_cmp": _WINDOW,
    "drift_type": "string",
    "granularity": "string",
    "model_id": "string",
    "slice_key": "string",
    "slice_value": "string",
    "column_name": "string",
    "data_type": "string",
    "count_delta": "double",
    "avg_delta": "double",
    "percent_null_delta": "double",
    "ks_test": "struct<statistic:double,pvalue:double>",
    "js_distance": "double",
    "population_stability_index": "double",
}

_DAY = dt.timedelta(days=1)
# Granularity enum -> fixed length (None: calendar month / year). Fixed windows are aligned on the epoch, as
# Spark's `window()` aligns them.
GRANULARITIES: dict[str, dt.timedelta | None] = {
    "AGGREGATION_GRANULARITY_5_MINUTES": dt.timedelta(minutes=5),
    "AGGREGATION_GRANULARITY_30_MINUTES": dt.timedelta(minutes=30),
    "AGGREGATION_GRANULARITY_1_HOUR": dt.timedelta(hours=1),
    "AGGREGATION_GRANULARITY_1_DAY": _DAY,
    "AGGREGATION_GRANULARITY_1_WEEK": 7 * _DAY,
    "AGGREGATION_GRANULARITY_2_WEEKS": 14 * _DAY,
    "AGGREGATION_GRANULARITY_3_WEEKS": 21 * _DAY,
    "AGGREGATION_GRANULARITY_4_WEEKS": 28 * _DAY,
    "AGGREGATION_GRANULARITY_1_MONTH": None,
    "AGGREGATION_GRANULARITY_1_YEAR": None,
}
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_NUMERIC = frozenset({"tinyint", "smallint", "int", "bigint", "float", "double", "decimal"})
_CATEGORICAL = frozenset({"string", "boolean"})
_QUANTILES = (0.0, 0.25, 0.5, 0.75, 1.0)
_TOP_ITEMS = 10

Window = tuple[dt.datetime, dt.datetime]


@dataclass
class MetricsJob:
    """One refresh's inputs: the monitored table, its analysis settings and where the output goes."""

    table: str
    columns: list[tuple[str, str]]  # (name, kind) of the monitored table
    granularities: list[str]
    timestamp_column: str | None  # None: snapshot
    model_id_column: str | None
    excluded: frozenset[str]  # columns not profiled (timestamp, model id)
    baseline_table: str | None
    slicing_exprs: list[str]
    profile_table: str
    drift_table: str
    now: dt.datetime


@dataclass
class _Group:
    granularity: str | None
    window: Window
    model_id: str | None
    slice_key: str | None
    slice_value: str | None
    rows: Sequence[Mapping[str, Any]]


def compute_and_write(catalog: LocalCatalog, job: MetricsJob) -> tuple[int, int]:
    """Compute the metrics of `job` and (re)write both output tables; return their row counts."""
    rows = _read(catalog, job.table, job.slicing_exprs)
    baseline = _read(catalog, job.baseline_table, []) if job.baseline_table else None
    groups = list(_groups(job, rows))
    profile: list[dict[str, Any]] = []
    drift: list[dict[str, Any]] = []
    for group in groups:
        profile.extend(_profile_rows(job, group))
    for group, previous in _consecutive(groups, job):
        drift.extend(_drift_rows(job, group, previous.rows, previous.window, "CONSECUTIVE"))
    if baseline is not None:
        for group in groups:
            base = [r for r in baseline if group.model_id in (None, "*") or _model(job, r) == group.model_id]
            drift.extend(_drift_rows(job, group, base, None, "BASELINE"))
    catalog.create_table(job.profile_table, profile, schema=PROFILE_SCHEMA, mode="overwrite")
    catalog.create_table(job.drift_table, drift, schema=DRIFT_SCHEMA, mode="overwrite")
    return len(profile), len(drift)


def _read(catalog: LocalCatalog, table: str | None, slicing_exprs: Sequence[str]) -> list[dict[str, Any]]:
    if table is None:
        return []
    if not slicing_exprs:
        return catalog.read_table(table)
    extra = ", ".join(f"CAST(({expr}) AS STRING) AS `__slice_{i}`" for i, expr in enumerate(slicing_exprs))
    info, values = catalog.execute(f"SELECT *, {extra} FROM {table}")
    names = [c["name"] for c in info]
    return [dict(zip(names, row, strict=True)) for row in values]


def window_of(granularity: str, ts: dt.datetime) -> Window:
    """The window of `granularity` holding timestamp `ts` (UTC)."""
    length = GRANULARITIES[granularity]
    if length is not None:
        start = _EPOCH + ((ts - _EPOCH) // length) * length
        return start, start + length
    if granularity == "AGGREGATION_GRANULARITY_1_MONTH":
        start = dt.datetime(ts.year, ts.month, 1, tzinfo=dt.timezone.utc)
        end = dt.datetime(ts.year + ts.month // 12, ts.month % 12 + 1, 1, tzinfo=dt.timezone.utc)
        return start, end
    start = dt.datetime(ts.year, 1, 1, tzinfo=dt.timezone.utc)
    return start, dt.datetime(ts.year + 1, 1, 1, tzinfo=dt.timezone.utc)


def _utc(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc)
    return None


def _model(job: MetricsJob, row: Mapping[str, Any]) -> str | None:
    if job.model_id_column is None:
        return None
    value = row.get(job.model_id_column)
    return None if value is None else str(value)


def _groups(job: MetricsJob, rows: list[dict[str, Any]]) -> Iterable[_Group]:
    """Rows grouped by granularity, window, model id and slice (the whole table first)."""
    windows: dict[tuple[str | None, Window], list[dict[str, Any]]] = {}
    if job.timestamp_column is None:
        windows[(None, (job.now, job.now))] = rows
    else:
        for row in rows:
            ts = _utc(row.get(job.timestamp_column))
            if ts is None:
                continue  # rows without a timestamp belong to no window, as on Databricks
            for name in job.granularities:
                windows.setdefault((name, window_of(name, ts)), []).append(row)
    for (granularity, window), members in sorted(windows.items(), key=lambda kv: (kv[0][0] or "", kv[0][1])):
        models: dict[str | None, list[dict[str, Any]]] = {None: members}
        if job.model_id_column is not None:
            models = {"*": members}
            for row in members:
                models.setdefault(_model(job, row) or "null", []).append(row)
        for model_id, model_rows in models.items():
            yield _Group(granularity, window, model_id, None, None, model_rows)
            for i, expr in enumerate(job.slicing_exprs):
                slices: dict[str, list[dict[str, Any]]] = {}
                for row in model_rows:
                    slices.setdefault(str(row.get(f"__slice_{i}")), []).append(row)
                for value, slice_rows in sorted(slices.items()):
                    yield _Group(granularity, window, model_id, expr, value, slice_rows)


def _consecutive(groups: list[_Group], job: MetricsJob) -> Iterable[tuple[_Group, _Group]]:
    """(group, the same group one window earlier) for every group whose previous window exists."""
    index = {(g.granularity, g.window, g.model_id, g.slice_key, g.slice_value): g for g in groups}
    for group in groups:
        if group.granularity is None:
            continue
        previous_end = group.window[0]
        before = window_of(group.granularity, previous_end - dt.timedelta(microseconds=1))
        found = index.get((group.granularity, before, group.model_id, group.slice_key, group.slice_value))
        if found is not None:
            yield group, found


def _profiled(job: MetricsJob) -> list[tuple[str, str]]:
    return [(n, k) for n, k in job.columns if n not in job.excluded and not n.startswith("__slice_")]


def _base(group: _Group) -> dict[str, Any]:
    return {
        "window": {"start": group.window[0], "end": group.window[1]},
        "granularity": group.granularity,
        "model_id": group.model_id,
        "slice_key": group.slice_key,
        "slice_value": group.slice_value,
    }


def _profile_rows(job: MetricsJob, group: _Group) -> list[dict[str, Any]]:
    base = {**_base(group), "log_type": "INPUT"}
    out = [{**base, "column_name": ":table", "data_type": None, "count": len(group.rows)}]
    for name, kind in _profiled(job):
        values = [r.get(name) for r in group.rows]
        present = [v for v in values if v is not None]
        row: dict[str, Any] = {
            **base,
            "column_name": name,
            "data_type": kind,
            "count": len(values),
            "num_nulls": len(values) - len(present),
            "percent_null": 100.0 * (len(values) - len(present)) / len(values) if values else None,
        }
        if kind in _NUMERIC and present:
            numbers = sorted(float(v) for v in present)
            mean, stddev = mean_stddev(numbers)
            qs = quantiles(numbers, _QUANTILES)
            row.update(avg=mean, stddev=stddev, min=numbers[0], max=numbers[-1], median=qs[2], quantiles=qs)
            row["distinct_count"] = len(set(numbers))
        elif kind in _CATEGORICAL:
            counts: dict[str, int] = {}
            for v in present:
                counts[str(v)] = counts.get(str(v), 0) + 1
            top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:_TOP_ITEMS]
            row["distinct_count"] = len(counts)
            row["frequent_items"] = [{"item": k, "count": c} for k, c in top]
        out.append(row)
    return out


def _drift_rows(
    job: MetricsJob, group: _Group, reference: Sequence[Mapping[str, Any]], window_cmp: Window | None, drift_type: str
) -> list[dict[str, Any]]:
    base = {
        **_base(group),
        "window_cmp": {"start": window_cmp[0], "end": window_cmp[1]} if window_cmp else None,
        "drift_type": drift_type,
    }
    out = [{**base, "column_name": ":table", "count_delta": float(len(group.rows) - len(reference))}]
    for name, kind in _profiled(job):
        now = [r.get(name) for r in group.rows]
        then = [r.get(name) for r in reference]
        now_present, then_present = [v for v in now if v is not None], [v for v in then if v is not None]
        row: dict[str, Any] = {**base, "column_name": name, "data_type": kind}
        row["count_delta"] = float(len(now) - len(then))
        if now and then:
            row["percent_null_delta"] = 100.0 * (
                (len(now) - len(now_present)) / len(now) - (len(then) - len(then_present)) / len(then)
            )
        if now_present and then_present:
            if kind in _NUMERIC:
                a, b = [float(v) for v in now_present], [float(v) for v in then_present]
                statistic, pvalue = ks_test(a, b)
                row["ks_test"] = {"statistic": statistic, "pvalue": pvalue}
                row["avg_delta"] = (mean_stddev(a)[0] or 0.0) - (mean_stddev(b)[0] or 0.0)
            elif kind in _CATEGORICAL:
                a_s, b_s = [str(v) for v in now_present], [str(v) for v in then_present]
                row["js_distance"] = js_distance(a_s, b_s)
                row["population_stability_index"] = population_stability_index(a_s, b_s)
        out.append(row)
    return out
