"""Wanted job settings: built from `ensure_job` arguments, checked before sending, diffed against the live job.

A field the service fills in on its own (task defaults such as `run_if`, `timeout_seconds`, `email_notifications`)
is not a change: wanted objects are compared as a subset of the live ones. Lists of tasks are matched by
`task_key`; parameters and tags must be equal.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from dbx_native.errors import InvalidRequestError
from dbx_native.jobs._models import SettingChange

__all__ = ["build_settings", "check_tasks", "diff", "parameters_list"]

_TASK_KEY = re.compile(r"^[\w\-]{1,100}$")
_DEFAULTS: dict[str, Any] = {"max_concurrent_runs": 1, "tags": {}, "parameters": [], "tasks": []}


def check_tasks(tasks: Any, *, required: bool) -> list[dict[str, Any]]:
    """Check task specs as the service would (keys, one task type each, known dependencies), before sending."""
    if isinstance(tasks, (Mapping, str)) or not isinstance(tasks, Sequence):
        raise InvalidRequestError("tasks must be a list of task dicts, e.g. [{'task_key': 'main', 'notebook_task': …}]")
    if required and not tasks:
        raise InvalidRequestError("tasks needs at least one task, e.g. [{'task_key': 'main', 'notebook_task': …}]")
    keys: set[str] = set()
    out = []
    for task in tasks:
        if not isinstance(task, Mapping):
            raise InvalidRequestError(f"each task must be a dict (JobSettings task JSON), not {type(task).__name__}")
        key = task.get("task_key")
        if not isinstance(key, str) or not _TASK_KEY.match(key):
            raise InvalidRequestError(f"task_key {key!r} is invalid: use 1 to 100 letters, digits, _ or -")
        if key in keys:
            raise InvalidRequestError(f"task_key {key!r} is used twice: task keys must be unique within a job")
        keys.add(key)
        kinds = [k for k in task if k.endswith("_task")]
        if len(kinds) != 1:
            raise InvalidRequestError(
                f"task {key!r} must have exactly one task type (notebook_task, spark_python_task, sql_task, "
                f"pipeline_task, ...), not {kinds or 'none'}"
            )
        out.append(dict(task))
    for task in out:
        for dep in task.get("depends_on") or []:
            if not isinstance(dep, Mapping) or dep.get("task_key") not in keys:
                raise InvalidRequestError(
                    f"task {task['task_key']!r} depends on {dep!r}, which is not a task of this job: "
                    "write depends_on=[{'task_key': '<another task>'}]"
                )
    return out


def parameters_list(parameters: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    """Job parameters as the API wants them: `[{name, default}]`, from a dict `{name: default}` or that list."""
    if parameters is None:
        return []
    if isinstance(parameters, Mapping):
        return [{"name": str(k), "default": "" if v is None else str(v)} for k, v in parameters.items()]
    out = []
    for param in parameters:
        if not isinstance(param, Mapping) or "name" not in param or "default" not in param:
            raise InvalidRequestError(f"each job parameter needs a name and a default: {param!r}")
        out.append({"name": str(param["name"]), "default": str(param["default"])})
    names = [p["name"] for p in out]
    if len(set(names)) != len(names):
        raise InvalidRequestError(f"job parameter names must be unique: {names}")
    return out


def _schedule(schedule: str | Mapping[str, Any] | None) -> dict[str, Any] | None:
    if schedule is None:
        return None
    if isinstance(schedule, str):
        if len(schedule.split()) not in (6, 7):
            raise InvalidRequestError(
                f"schedule {schedule!r} is not a Quartz cron expression (6 or 7 fields: sec min hour day month weekday "
                "[year]), e.g. '0 0 6 * * ?' for 06:00 every day"
            )
        return {"quartz_cron_expression": schedule, "timezone_id": "UTC", "pause_status": "UNPAUSED"}
    if not schedule.get("quartz_cron_expression"):
        raise InvalidRequestError("schedule needs a quartz_cron_expression (and a timezone_id, default UTC)")
    return {"timezone_id": "UTC", "pause_status": "UNPAUSED", **schedule}


def build_settings(
    name: str,
    *,
    tasks: Sequence[Mapping[str, Any]],
    parameters: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None,
    tags: Mapping[str, str] | None,
    schedule: str | Mapping[str, Any] | None,
    max_concurrent_runs: int | None,
    settings: Mapping[str, Any] | None,
    queue: bool | None = None,
) -> dict[str, Any]:
    """The wanted `JobSettings` (only the fields the caller manages)."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidRequestError("a job needs a non-empty name")
    if max_concurrent_runs is not None and (isinstance(max_concurrent_runs, bool) or max_concurrent_runs < 0):
        raise InvalidRequestError(f"max_concurrent_runs must be 0 or more, not {max_concurrent_runs!r}")
    wanted: dict[str, Any] = dict(settings or {})
    wanted.update(name=name, tasks=check_tasks(tasks, required=True), parameters=parameters_list(parameters))
    wanted["tags"] = {str(k): str(v) for k, v in (tags or {}).items()}
    wanted["schedule"] = _schedule(schedule)
    wanted["max_concurrent_runs"] = max_concurrent_runs
    if queue is not None:
        if not isinstance(queue, bool):
            raise InvalidRequestError(f"queue must be True or False (queue.enabled), not {queue!r}")
        wanted["queue"] = {"enabled": queue}
    return wanted


def body_of(wanted: Mapping[str, Any]) -> dict[str, Any]:
    """What to send for `wanted`: unset and empty fields left out, so the service's defaults apply."""
    return {k: v for k, v in wanted.items() if v is not None and v != [] and v != {}}


def diff(live: Mapping[str, Any] | None, wanted: Mapping[str, Any]) -> list[SettingChange]:
    """The top-level settings whose live value does not match the wanted one (every set one when `live` is None)."""
    changes = []
    for field, want in wanted.items():
        have = None if live is None else live.get(field)
        if live is None:
            if want is not None and want != [] and want != {}:
                changes.append(SettingChange(field=field, live=None, wanted=want))
            continue
        if not _matches(field, have, want):
            changes.append(SettingChange(field=field, live=have, wanted=want))
    return changes


def _matches(field: str, have: Any, want: Any) -> bool:
    if want is None or want == [] or want == {}:
        default = _DEFAULTS.get(field)
        return have is None or have == default or have == [] or have == {}
    if field == "tasks":
        live_by_key = {t.get("task_key"): t for t in have or []}
        return set(live_by_key) == {t["task_key"] for t in want} and all(
            _subset(t, live_by_key[t["task_key"]]) for t in want
        )
    if field in ("parameters", "tags"):
        return bool(have == want)
    return _subset(want, have)


def _subset(want: Any, have: Any) -> bool:
    """Whether every field of `want` is in `have` with the same value (extra fields in `have` are defaults)."""
    if isinstance(want, Mapping):
        return isinstance(have, Mapping) and all(_subset(v, have.get(k)) for k, v in want.items())
    if isinstance(want, (list, tuple)):
        return (
            isinstance(have, (list, tuple))
            and len(want) == len(have)
            and all(_subset(w, h) for w, h in zip(want, have, strict=True))
        )
    return bool(want == have)
