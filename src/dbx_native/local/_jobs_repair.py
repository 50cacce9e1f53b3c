"""Repairs of the local Lakeflow Jobs backend (`POST /api/2.2/jobs/runs/repair`).

A repair re-runs some tasks of a finished run as a new attempt of the same run: the chosen tasks (the failed ones,
or those named in `rerun_tasks`, plus, with `rerun_dependent_tasks`, every task downstream of them) get new task
runs with the next `attempt_number`; the other tasks keep their outcome. The run becomes active again and its final
state is recomputed from the latest attempt of each task. `repair_history` lists the original attempt and each
repair; every repair after the first must name the latest one (`latest_repair_id`), as on Databricks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from dbx_native.local._jobs_runs import (
    TERMINATED,
    LocalAttempt,
    LocalRun,
    LocalTaskRun,
    latest,
    run_blocks,
    termination,
)
from dbx_native.local._wire import LocalApiError

__all__ = ["plan_repair", "start_repair"]


def plan_repair(run: LocalRun, body: Mapping[str, Any], state: str) -> list[str]:
    """The task keys a repair request re-runs, checked as the service checks the request.

    Raises:
        LocalApiError: 400 when the run is in progress, was skipped or succeeded, the repair id is missing or stale,
            or the tasks to re-run are not given exactly one way.
    """
    if state != TERMINATED or not run.settled:
        raise LocalApiError(400, f"Run {run.run_id} is still in progress: it can be repaired once it has ended.")
    if run.skipped is not None:
        raise LocalApiError(400, f"Run {run.run_id} was skipped and never ran, so it cannot be repaired.")
    if termination(run)[0] == "SUCCESS":
        raise LocalApiError(400, f"Run {run.run_id} succeeded: only unsuccessful runs can be repaired.")
    _check_repair_id(run, body.get("latest_repair_id"))
    named, all_failed = body.get("rerun_tasks"), bool(body.get("rerun_all_failed_tasks"))
    if named and all_failed:
        raise LocalApiError(400, "Only one of rerun_tasks or rerun_all_failed_tasks can be used.")
    tasks = latest(run)
    if all_failed:
        keys = [t.task_key for t in tasks if not t.succeeded]
    elif named:
        keys = _named(run, named, {t.task_key for t in tasks})
    else:
        raise LocalApiError(400, "Either rerun_tasks or rerun_all_failed_tasks must be set.")
    if body.get("rerun_dependent_tasks"):
        keys = _with_dependents(keys, tasks)
    return [t.task_key for t in tasks if t.task_key in set(keys)]


def start_repair(
    run: LocalRun,
    keys: list[str],
    *,
    repair_id: int,
    new_id: Callable[[], int],
    spec_of: Callable[[LocalTaskRun], dict[str, Any]],
    parameters: Mapping[str, Any],
    now_ms: int,
) -> list[LocalTaskRun]:
    """Add a new attempt of each task in `keys` to `run` and make it active again; returns the new task runs."""
    if run.attempts:  # the attempt being repaired keeps its final state in the history
        run.attempts[-1].blocks = run_blocks(run, TERMINATED)
        run.attempts[-1].end_time = run.end_time
    by_key = {t.task_key: t for t in latest(run)}
    added = [
        LocalTaskRun(new_id(), key, spec_of(by_key[key]), attempt=by_key[key].attempt + 1, start_time=now_ms)
        for key in keys
    ]
    run.tasks.extend(added)
    run.attempts.append(LocalAttempt(repair_id, now_ms, [t.run_id for t in added]))
    known = {p["name"] for p in run.parameters}
    for param in run.parameters:
        if param["name"] in parameters:
            param["value"] = str(parameters[param["name"]])
    run.parameters += [{"name": k, "value": str(v)} for k, v in parameters.items() if k not in known]
    run.settled, run.cancel, run.end_time = False, None, 0
    return added


def _check_repair_id(run: LocalRun, given: Any) -> None:
    repairs = [a.repair_id for a in run.attempts if a.repair_id is not None]
    if repairs and given is None:
        raise LocalApiError(400, "The latest repair ID needs to be provided in order to create a new repair.")
    if given is not None and (not repairs or str(given) != str(repairs[-1])):
        latest_id = repairs[-1] if repairs else "none (the run was never repaired)"
        raise LocalApiError(
            400, f"latest_repair_id {given} is not the latest repair of run {run.run_id}; the latest is {latest_id}."
        )


def _named(run: LocalRun, named: Any, known: set[str]) -> list[str]:
    if not isinstance(named, list) or not all(isinstance(k, str) for k in named):
        raise LocalApiError(400, "rerun_tasks must be a list of task keys.")
    if len(set(named)) != len(named):
        raise LocalApiError(400, "rerun_tasks cannot contain duplicate task keys.")
    unknown = sorted(set(named) - known)
    if unknown:
        raise LocalApiError(400, f"Tasks {unknown} in rerun_tasks are not tasks of run {run.run_id}.")
    return list(named)


def _with_dependents(keys: list[str], tasks: list[LocalTaskRun]) -> list[str]:
    """`keys` and every task downstream of them."""
    chosen = set(keys)
    grew = True
    while grew:
        grew = False
        for task in tasks:
            deps = {d.get("task_key") for d in task.spec.get("depends_on") or []}
            if task.task_key not in chosen and deps & chosen:
                chosen.add(task.task_key)
                grew = True
    return [t.task_key for t in tasks if t.task_key in chosen]
