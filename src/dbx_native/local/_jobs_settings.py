"""Checks and paging of the local Lakeflow Jobs backend: `JobSettings` validated as the service validates them."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Any

from dbx_native.local._wire import LocalApiError, LocalRequest

__all__ = ["check_settings", "check_tasks", "int_arg", "int_field", "limit_arg", "page"]

_TASK_TYPES = frozenset(
    {
        *("notebook_task", "spark_python_task", "python_wheel_task", "spark_jar_task", "spark_submit_task"),
        *("sql_task", "dbt_task", "dbt_platform_task", "pipeline_task", "run_job_task", "for_each_task"),
        *("condition_task", "dashboard_task", "alert_task", "power_bi_task", "clean_rooms_notebook_task"),
        *("gen_ai_compute_task", "python_operator_task", "ai_function_task", "ai_runtime_task"),
    }
)
_TASK_KEY = re.compile(r"^[\w\-]{1,100}$")
_PARAM_NAME = re.compile(r"^[\w\-.]{1,255}$")
_SETTINGS_DEFAULTS: dict[str, Any] = {
    "email_notifications": {},
    "webhook_notifications": {},
    "format": "MULTI_TASK",
    "max_concurrent_runs": 1,
    "timeout_seconds": 0,
}


def check_settings(raw: Any) -> dict[str, Any]:
    """A `JobSettings` checked as the service checks it, with the service's defaults filled in."""
    if not isinstance(raw, dict):
        raise LocalApiError(400, "Job settings must be a JSON object.")
    settings = {**_SETTINGS_DEFAULTS, **{k: v for k, v in raw.items() if k not in ("job_id", "new_settings")}}
    settings["name"] = str(settings.get("name") or "Untitled")
    if len(settings["name"]) > 4096:
        raise LocalApiError(400, "name must be at most 4096 characters.")
    settings["tasks"] = check_tasks(settings.get("tasks"), required=False)
    if not settings["tasks"]:
        del settings["tasks"]
    runs = settings["max_concurrent_runs"]
    if not isinstance(runs, int) or isinstance(runs, bool) or not 0 <= runs <= 1000:
        raise LocalApiError(400, f"max_concurrent_runs must be an integer from 0 to 1000, not {runs!r}.")
    _check_parameters(settings.get("parameters"))
    tags = settings.get("tags")
    if tags is not None and (not isinstance(tags, dict) or len(tags) > 25):
        raise LocalApiError(400, "tags must be an object of at most 25 string keys and values.")
    schedule = settings.get("schedule")
    if schedule is not None:
        if not isinstance(schedule, dict) or not schedule.get("quartz_cron_expression"):
            raise LocalApiError(400, "schedule.quartz_cron_expression is required.")
        if not schedule.get("timezone_id"):
            raise LocalApiError(400, "schedule.timezone_id is required.")
        settings["schedule"] = {"pause_status": "UNPAUSED", **schedule}
    return settings


def check_tasks(raw: Any, *, required: bool) -> list[dict[str, Any]]:
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        raise LocalApiError(400, "tasks must be a list of task objects.")
    if required and not raw:
        raise LocalApiError(400, "At least one task is required.")
    keys: set[str] = set()
    for task in raw:
        if not isinstance(task, dict):
            raise LocalApiError(400, "tasks must be a list of task objects.")
        key = task.get("task_key")
        if not isinstance(key, str) or not _TASK_KEY.match(key):
            raise LocalApiError(400, f"Invalid task_key {key!r}: use 1 to 100 letters, digits, underscores or hyphens.")
        if key in keys:
            raise LocalApiError(400, f"Task key {key!r} is used by more than one task.")
        keys.add(key)
        kinds = sorted(k for k in task if k in _TASK_TYPES)
        if len(kinds) != 1:
            raise LocalApiError(
                400, f"Task {key!r} must set exactly one task type (such as notebook_task), not {kinds or 'none'}."
            )
    for task in raw:
        for dep in task.get("depends_on") or []:
            if not isinstance(dep, dict) or dep.get("task_key") not in keys:
                raise LocalApiError(400, f"Task {task['task_key']!r} depends on an unknown task: {dep!r}.")
    _check_acyclic({t["task_key"]: [d["task_key"] for d in t.get("depends_on") or []] for t in raw})
    return [dict(t) for t in raw]


def _check_acyclic(graph: Mapping[str, list[str]]) -> None:
    done: set[str] = set()
    for start in graph:
        path: list[str] = []
        stack = [(start, iter(graph[start]))]
        on_path = {start}
        path.append(start)
        while stack:
            node, deps = stack[-1]
            nxt = next(deps, None)
            if nxt is None:
                stack.pop()
                on_path.discard(node)
                path.pop()
                done.add(node)
            elif nxt in on_path:
                cycle = " -> ".join([*path[path.index(nxt) :], nxt])
                raise LocalApiError(400, f"The task dependencies form a cycle: {cycle}.")
            elif nxt not in done:
                stack.append((nxt, iter(graph[nxt])))
                on_path.add(nxt)
                path.append(nxt)


def _check_parameters(raw: Any) -> None:
    if raw is None:
        return
    if not isinstance(raw, list):
        raise LocalApiError(400, "parameters must be a list of {name, default} objects.")
    names: set[str] = set()
    for param in raw:
        name = param.get("name") if isinstance(param, dict) else None
        if not isinstance(name, str) or not _PARAM_NAME.match(name):
            raise LocalApiError(400, f"Invalid job parameter name {name!r}.")
        if "default" not in param:
            raise LocalApiError(400, f"Job parameter {name!r} needs a default value.")
        if name in names:
            raise LocalApiError(400, f"Job parameter {name!r} is defined more than once.")
        names.add(name)


def int_arg(request: LocalRequest, name: str) -> int:
    raw = request.arg(name)
    if raw is None or raw == "":
        raise LocalApiError(400, f"Missing required field: {name}")
    try:
        return int(raw)
    except ValueError:
        raise LocalApiError(400, f"Invalid value for {name}: {raw!r} is not an integer.") from None


def int_field(body: Any, name: str) -> int:
    value = body.get(name) if isinstance(body, dict) else None
    if value is None:
        raise LocalApiError(400, f"Missing required field: {name}")
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).isdigit():
        raise LocalApiError(400, f"Invalid value for {name}: {value!r} is not an integer.")
    return int(value)


def limit_arg(request: LocalRequest, *, default: int, maximum: int, zero_is_max: bool = False) -> int:
    raw = request.arg("limit")
    if raw is None or raw == "":
        return default
    try:
        limit = int(raw)
    except ValueError:
        raise LocalApiError(400, f"Invalid value for limit: {raw!r} is not an integer.") from None
    if limit == 0 and zero_is_max:
        return maximum
    if not 0 < limit <= maximum:
        raise LocalApiError(400, f"limit must be greater than 0 and at most {maximum}, not {limit}.")
    return limit


def page(items: list[Any], request: LocalRequest, limit: int) -> tuple[list[Any], dict[str, Any]]:
    """One page and its tokens (opaque to clients: base64 of the offset)."""
    offset = 0
    token = request.arg("page_token")
    if token:
        try:
            offset = int(base64.urlsafe_b64decode(token.encode()).decode().removeprefix("offset:"))
        except ValueError:
            raise LocalApiError(400, f"Invalid page_token {token!r}.") from None
    elif request.arg("offset"):
        offset = int(request.arg("offset") or 0)  # deprecated since June 2023, still accepted
    page = items[offset : offset + limit]
    tokens: dict[str, Any] = {"has_more": offset + limit < len(items)}
    if tokens["has_more"]:
        tokens["next_page_token"] = _token(offset + limit)
    if offset > 0:
        tokens["prev_page_token"] = _token(max(offset - limit, 0))
    return page, tokens


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()
