"""The wanted monitor configuration: building it from arguments, checking it, diffing it against the live one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dbx_native.errors import InvalidRequestError
from dbx_native.monitoring._models import FieldChange

__all__ = ["GRANULARITIES", "TIME_TYPES", "check_columns", "diff", "granularity", "problem_type", "schedule"]

GRANULARITIES = {
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
"""Granularity text (as the legacy API and the UI spell it) -> the data-quality enum."""

TIME_TYPES = frozenset({"TIMESTAMP", "TIMESTAMP_NTZ", "DATE"})

# Fields `ensure_*` manages; others (custom metrics, notifications) set in the UI are left alone.
MANAGED = ("output_schema_id", "inference_log", "time_series", "snapshot", "baseline_table_name", "slicing_exprs")


def granularity(value: str) -> str:
    """The data-quality enum for `"1 day"`, `"1 DAY"` or `"AGGREGATION_GRANULARITY_1_DAY"`.

    Raises:
        InvalidRequestError: Not a granularity Databricks supports.
    """
    text = " ".join(str(value).lower().split())
    if str(value).upper() in GRANULARITIES.values():
        return str(value).upper()
    if text.endswith(("minute", "hour", "day", "week", "month", "year")) and text + "s" in GRANULARITIES:
        text += "s"
    if text not in GRANULARITIES:
        raise InvalidRequestError(
            f"Granularity {value!r} is not supported by data quality monitoring: use one of {list(GRANULARITIES)}."
        )
    return GRANULARITIES[text]


def problem_type(value: str) -> str:
    """`INFERENCE_PROBLEM_TYPE_CLASSIFICATION` / `_REGRESSION` for `"classification"` / `"regression"`.

    Raises:
        InvalidRequestError: Another value.
    """
    text = str(value).lower().replace("inference_problem_type_", "").replace("problem_type_", "")
    if text not in ("classification", "regression"):
        raise InvalidRequestError(f"problem_type must be 'classification' or 'regression', not {value!r}.")
    return f"INFERENCE_PROBLEM_TYPE_{text.upper()}"


def schedule(value: str | Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A cron schedule: a Quartz expression (UTC) or `{"quartz_cron_expression", "timezone_id"}`.

    Raises:
        InvalidRequestError: Neither.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return {"quartz_cron_expression": value, "timezone_id": "UTC"}
    if isinstance(value, Mapping) and value.get("quartz_cron_expression"):
        return {
            "quartz_cron_expression": value["quartz_cron_expression"],
            "timezone_id": value.get("timezone_id", "UTC"),
        }
    raise InvalidRequestError(
        "schedule must be a Quartz cron expression ('0 0 * * * ?') or {'quartz_cron_expression', 'timezone_id'}."
    )


def check_columns(
    table: str, columns: Mapping[str, str], wanted: Mapping[str, str | None], timestamp: str | None
) -> None:
    """Check that the named columns exist and the timestamp column has a time type.

    Args:
        table: The table (for messages).
        columns: Column name -> `type_name` of the table.
        wanted: Role (`prediction_col`, ...) -> column name (None: not used).
        timestamp: The timestamp column, if any.

    Raises:
        InvalidRequestError: A column is missing, or the timestamp column is not a timestamp or date.
    """
    for role, column in wanted.items():
        if column is not None and column not in columns:
            raise InvalidRequestError(
                f"{role}={column!r} is not a column of {table}: its columns are {sorted(columns)}."
            )
    if timestamp is not None and columns[timestamp].upper() not in TIME_TYPES:
        raise InvalidRequestError(
            f"timestamp_col={timestamp!r} of {table} has type {columns[timestamp]}: it must be a TIMESTAMP or DATE "
            f"column. Cast it in a view, or pick another column ({_time_columns(columns)})."
        )


def _time_columns(columns: Mapping[str, str]) -> str:
    found = [name for name, kind in columns.items() if kind.upper() in TIME_TYPES]
    return f"time columns: {found}" if found else "the table has no time column"


def _normal(value: Any) -> Any:
    """A form where equal settings compare equal: no empty values, lists of granularities sorted."""
    if isinstance(value, Mapping):
        out = {k: _normal(v) for k, v in value.items() if v not in (None, [], {}) or k == "snapshot"}
        if "granularities" in out:
            out["granularities"] = sorted(out["granularities"])
        if "schedule" in out or "pause_status" in out:
            out.pop("pause_status", None)
        return out
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return value


def diff(live: Mapping[str, Any] | None, wanted: Mapping[str, Any], fields: Sequence[str]) -> list[FieldChange]:
    """The managed fields that differ between a live `data_profiling_config` and the wanted one."""
    changes: list[FieldChange] = []
    for name in fields:
        have = _normal(live.get(name)) if live is not None else None
        want = _normal(wanted.get(name))
        if have in ([], {}) and name != "snapshot":
            have = None
        if want in ([], {}) and name != "snapshot":
            want = None
        if name == "schedule" and isinstance(have, dict):
            have = {k: have[k] for k in ("quartz_cron_expression", "timezone_id") if k in have}
        if have != want:
            changes.append(FieldChange(path=f"data_profiling_config.{name}", live=have, wanted=want))
    return changes
