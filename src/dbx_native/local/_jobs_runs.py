"""Runs of the local Lakeflow Jobs backend: what a run does (scripted task outcomes) and how it reads on the wire.

A local run executes nothing. Each task ends with a `TaskOutcome`: by default a success with no output; a test
scripts others through `ws.jobs.script(name, outcome)`, by task key or by job (or one-off run) name. Runs go
QUEUED -> PENDING -> RUNNING -> TERMINATED through the workspace state machines (kind `"job-run"`, reached at
once unless a test scripts the lifecycle with `ws.states.set("job-run", [...])`); the outcomes are settled when a
run reaches TERMINATED. Field names follow the SDK's `service.jobs` (`Run`, `RunTask`, `RunStatus`,
`TerminationDetails`, `QueueDetails`, `RepairHistoryItem`, `RunOutput`): the 2026 `status` block and the deprecated
`state` block are both filled. A repaired run keeps every task attempt in `tasks` (as the service lists them); its
state is that of the latest attempt of each task.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "LIFECYCLE",
    "QUEUE_CODE",
    "RUN_KIND",
    "SKIP_CODE",
    "TERMINATED",
    "LocalAttempt",
    "LocalRun",
    "LocalTaskRun",
    "OutcomeLike",
    "OutcomeScript",
    "ScriptLike",
    "TaskOutcome",
    "as_outcome_script",
    "latest",
    "output_json",
    "run_json",
    "settle",
    "skip",
]

RUN_KIND = "job-run"
LIFECYCLE = ("QUEUED", "PENDING", "RUNNING", "TERMINATED")
TERMINATED = "TERMINATED"
QUEUE_CODE = "MAX_CONCURRENT_RUNS_REACHED"  # `status.queue_details.code` of a run waiting for a free slot
SKIP_CODE = "MAX_CONCURRENT_RUNS_EXCEEDED"  # `status.termination_details.code` of a run skipped for concurrency
_SKIP_RESULT = "MAXIMUM_CONCURRENT_RUNS_REACHED"  # its deprecated `state.result_state`
# The 2026 `status.state` -> the deprecated `state.life_cycle_state` of an active run.
_LEGACY_LIFECYCLE = {"WAITING": "WAITING_FOR_RETRY"}


@dataclass(frozen=True)
class TaskOutcome:
    """How one local task run ends: success (with a notebook result and logs) or failure (with a message).

    Attributes:
        result: What the notebook passed to `dbutils.notebook.exit()` (`runs/get-output` `notebook_output.result`).
        logs: Text logs (`runs/get-output` `logs`), as a Python or JAR task prints them.
        error: The failure message; `None` for a success.
        error_trace: The failure's stack trace, if any.
        code: The termination code (`SUCCESS`, `RUN_EXECUTION_ERROR`, `DRIVER_ERROR`, `CLUSTER_ERROR`, ...).
        type: The termination type (`SUCCESS`, `CLIENT_ERROR`, `INTERNAL_ERROR`, `CLOUD_FAILURE`).

    Example:
        >>> from dbx_native.local import TaskOutcome
        >>> TaskOutcome.failure("Table main.x.y not found", code="RESOURCE_NOT_FOUND").result_state
        'FAILED'
    """

    result: str | None = None
    logs: str | None = None
    error: str | None = None
    error_trace: str | None = None
    code: str = "SUCCESS"
    type: str = "SUCCESS"

    @classmethod
    def success(cls, result: str | None = None, *, logs: str | None = None) -> TaskOutcome:
        """A successful task run, with an optional notebook result and logs."""
        return cls(result=result, logs=logs)

    @classmethod
    def failure(
        cls,
        message: str,
        *,
        code: str = "RUN_EXECUTION_ERROR",
        type: str = "CLIENT_ERROR",
        error_trace: str | None = None,
        logs: str | None = None,
    ) -> TaskOutcome:
        """A failed task run: `message` becomes the run output's `error` and the task's state message."""
        return cls(logs=logs, error=message, error_trace=error_trace, code=code, type=type)

    @property
    def succeeded(self) -> bool:
        """Whether the task run succeeded."""
        return self.error is None and self.code == "SUCCESS"

    @property
    def result_state(self) -> str:
        """The deprecated `state.result_state` word for this outcome."""
        return "SUCCESS" if self.succeeded else "FAILED"


OutcomeLike = TaskOutcome | str | None
"""A scripted outcome: a `TaskOutcome`, a string (success with that notebook result) or `None` (plain success)."""

ScriptLike = OutcomeLike | Sequence[OutcomeLike] | Callable[[str, Mapping[str, str]], OutcomeLike]
OutcomeScript = Callable[[str, Mapping[str, str]], TaskOutcome]


def _outcome(value: OutcomeLike) -> TaskOutcome:
    if value is None:
        return TaskOutcome()
    if isinstance(value, TaskOutcome):
        return value
    if isinstance(value, str):
        return TaskOutcome.success(value)
    raise TypeError(f"a job outcome must be a TaskOutcome, a string or None, not {type(value).__name__}")


def as_outcome_script(script: ScriptLike) -> OutcomeScript:
    """Normalise what `ws.jobs.script()` takes into `(task_key, parameters) -> TaskOutcome`.

    A list is used in turn, one element per task run, cycling; a callable gets the task key and the run's
    parameters (job parameters, or the task's `base_parameters` / notebook parameters).
    """
    if callable(script) and not isinstance(script, TaskOutcome):
        fn = script
        return lambda key, params: _outcome(fn(key, params))
    if isinstance(script, (list, tuple)):
        if not script:
            raise ValueError("a scripted list of job outcomes needs at least one outcome")
        turns = itertools.cycle([_outcome(v) for v in script])
        return lambda key, params: next(turns)
    fixed = _outcome(script)  # type: ignore[arg-type]
    return lambda key, params: fixed


@dataclass
class LocalTaskRun:
    """One attempt of one task of a run (a repair adds a new attempt, with a new task run id)."""

    run_id: int
    task_key: str
    spec: dict[str, Any]
    outcome: TaskOutcome | None = None
    skipped: str | None = None  # UPSTREAM_FAILED / CANCELED / MAXIMUM_CONCURRENT_RUNS_REACHED when it never ran
    end_time: int = 0
    attempt: int = 0
    start_time: int = 0

    @property
    def done(self) -> bool:
        return self.outcome is not None or self.skipped is not None

    @property
    def succeeded(self) -> bool:
        return self.outcome is not None and self.outcome.succeeded


@dataclass
class LocalAttempt:
    """One item of a run's `repair_history`: the original attempt, then one per repair."""

    repair_id: int | None  # None for the original attempt
    start_time: int
    task_run_ids: list[int]
    end_time: int = 0
    blocks: dict[str, Any] | None = None  # its `status` / `state` blocks, frozen when a repair supersedes it


@dataclass
class LocalRun:
    """One run (of a job, or a one-off `runs/submit`) and its task runs."""

    run_id: int
    job_id: int | None
    run_name: str
    run_type: str  # JOB_RUN or SUBMIT_RUN
    number_in_job: int
    start_time: int
    parameters: list[dict[str, Any]]
    tasks: list[LocalTaskRun]
    run_page_url: str
    idempotency_token: str | None = None
    settled: bool = False
    cancel: str | None = None  # "requested" while TERMINATING, "done" once canceled
    end_time: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    queue: str | None = None  # the queue message while the run waits for a free slot of its job
    queue_duration: int = 0
    skipped: str | None = None  # the message, when the run was skipped for concurrency
    attempts: list[LocalAttempt] = field(default_factory=list)

    @property
    def parameter_values(self) -> dict[str, str]:
        return {p["name"]: str(p.get("value", p.get("default", ""))) for p in self.parameters}

    def task(self, run_id: int) -> LocalTaskRun | None:
        return next((t for t in self.tasks if t.run_id == run_id), None)


def latest(run: LocalRun) -> list[LocalTaskRun]:
    """The latest attempt of each task, in the tasks' order."""
    by_key: dict[str, LocalTaskRun] = {}
    for task in run.tasks:
        by_key[task.task_key] = task
    return list(by_key.values())


def settle(run: LocalRun, outcome_for: Callable[[LocalTaskRun], TaskOutcome], now_ms: int) -> None:
    """Finish a run that reached TERMINATED: each pending task attempt, in dependency order, gets its outcome.

    A task whose upstream task's latest attempt did not succeed is skipped (`UPSTREAM_FAILED`).
    """
    failed = {t.task_key for t in latest(run) if t.done and not t.succeeded}
    for task in _in_order([t for t in run.tasks if not t.done]):
        upstream = [d["task_key"] for d in task.spec.get("depends_on") or [] if "task_key" in d]
        if run.cancel is not None:
            task.skipped = "CANCELED"
        elif any(key in failed for key in upstream):
            task.skipped = "UPSTREAM_FAILED"
            failed.add(task.task_key)
        else:
            task.outcome = outcome_for(task)
            if not task.outcome.succeeded:
                failed.add(task.task_key)
        task.end_time = now_ms
    run.settled = True
    run.end_time = now_ms
    if run.attempts:
        run.attempts[-1].end_time = now_ms
    if run.cancel is not None:
        run.cancel = "done"


def skip(run: LocalRun, limit: int, now_ms: int) -> None:
    """End a run at once without running it: its job already has `limit` active runs and queueing is off."""
    run.skipped = f"Skipping this run because the limit of {limit} maximum concurrent runs has been reached."
    for task in run.tasks:
        task.skipped = _SKIP_RESULT
        task.end_time = now_ms
    run.settled = True
    run.end_time = now_ms
    if run.attempts:
        run.attempts[-1].end_time = now_ms


def _in_order(tasks: list[LocalTaskRun]) -> list[LocalTaskRun]:
    """Tasks sorted so that each comes after the tasks it depends on (validated acyclic at create time)."""
    done: list[LocalTaskRun] = []
    seen: set[str] = set()
    pending = list(tasks)
    while pending:
        for task in pending:
            deps = {d.get("task_key") for d in task.spec.get("depends_on") or []}
            if deps <= seen or not (deps & {t.task_key for t in pending}):
                done.append(task)
                seen.add(task.task_key)
                pending.remove(task)
                break
        else:  # a cycle slipped through: keep the declared order
            done.extend(pending)
            break
    return done


# --- wire shapes ------------------------------------------------------------------------------------------


def termination(run: LocalRun) -> tuple[str, str, str]:
    """`(code, type, message)` of a settled run, from the latest attempt of each task."""
    if run.skipped is not None:
        return SKIP_CODE, "CLIENT_ERROR", run.skipped
    if run.cancel is not None:
        return "USER_CANCELED", "SUCCESS", "Run was canceled by the user."
    tasks = latest(run)
    failed = [t for t in tasks if t.outcome is not None and not t.outcome.succeeded]
    if not failed:
        if any(t.skipped == "CANCELED" for t in tasks):  # canceled before, and not re-run by a repair
            return "USER_CANCELED", "SUCCESS", "Run was canceled by the user."
        blocked = [t for t in tasks if t.skipped == "UPSTREAM_FAILED"]  # a repair fixed upstream but not these
        if blocked:
            return "RUN_EXECUTION_ERROR", "CLIENT_ERROR", f"Task {blocked[0].task_key} did not run: upstream failed."
        return "SUCCESS", "SUCCESS", ""
    first = failed[0]
    assert first.outcome is not None
    message = f"Task {first.task_key} failed with message: {first.outcome.error}"
    if len(failed) > 1:
        message = f"{len(failed)} of {len(tasks)} tasks failed. " + message
    return first.outcome.code, first.outcome.type, message


def run_result(code: str) -> str:
    """The deprecated `state.result_state` of a settled run with termination code `code`."""
    results = {"USER_CANCELED": "CANCELED", "SUCCESS": "SUCCESS", SKIP_CODE: _SKIP_RESULT}
    return results.get(code, "FAILED")


def task_termination(task: LocalTaskRun) -> tuple[str, str, str, str]:
    """`(code, type, message, result_state)` of a settled task run."""
    if task.skipped == "CANCELED":
        return "USER_CANCELED", "SUCCESS", "Run was canceled by the user.", "CANCELED"
    if task.skipped == _SKIP_RESULT:
        return "SKIPPED", "CLIENT_ERROR", "The run was skipped: its job reached max_concurrent_runs.", _SKIP_RESULT
    if task.skipped is not None:
        return "SKIPPED", "CLIENT_ERROR", "Upstream task(s) failed.", task.skipped
    outcome = task.outcome or TaskOutcome()
    return outcome.code, outcome.type, outcome.error or "", outcome.result_state


def status_blocks(state: str, settled: tuple[str, str, str, str] | None, *, queue: str | None = None) -> dict[str, Any]:
    """The `status` (2026) and deprecated `state` blocks for a state, with termination details once settled."""
    if settled is None or state != TERMINATED:
        lifecycle = _LEGACY_LIFECYCLE.get(state, state)
        status: dict[str, Any] = {"state": state}
        if queue is not None and state == "QUEUED":
            status["queue_details"] = {"code": QUEUE_CODE, "message": queue}
        return {
            "status": status,
            "state": {"life_cycle_state": lifecycle, "state_message": queue or "", "user_cancelled_or_timedout": False},
        }
    code, kind, message, result = settled
    # An INTERNAL_ERROR run ends in the deprecated lifecycle state INTERNAL_ERROR, and a run skipped for
    # concurrency in SKIPPED (the SDK's waiters stop on either), not TERMINATED.
    lifecycle = "INTERNAL_ERROR" if kind == "INTERNAL_ERROR" else "SKIPPED" if code == SKIP_CODE else TERMINATED
    return {
        "status": {"state": TERMINATED, "termination_details": {"code": code, "type": kind, "message": message}},
        "state": {
            "life_cycle_state": lifecycle,
            "result_state": result,
            "state_message": message,
            "user_cancelled_or_timedout": code == "USER_CANCELED",
        },
    }


def run_blocks(run: LocalRun, state: str) -> dict[str, Any]:
    """The `status` / `state` blocks of a run in `state`."""
    settled = None
    if run.settled:
        code, kind, message = termination(run)
        settled = (code, kind, message, run_result(code))
    return status_blocks(state, settled, queue=run.queue)


def run_json(run: LocalRun, state: str, *, with_tasks: bool = True, history: bool = False) -> dict[str, Any]:
    """The `Run` JSON of `runs/get` (and, without tasks, of `runs/list`); `history` adds `repair_history`."""
    out: dict[str, Any] = {
        "run_id": run.run_id,
        "number_in_job": run.number_in_job,
        "original_attempt_run_id": run.run_id,
        "run_name": run.run_name,
        "run_type": run.run_type,
        "trigger": "ONE_TIME",
        "format": "MULTI_TASK",
        "creator_user_name": "local-user@dbx-native.invalid",
        "start_time": run.start_time,
        "end_time": run.end_time,
        "setup_duration": 0,
        "cleanup_duration": 0,
        "execution_duration": max(run.end_time - run.start_time, 0) if run.end_time else 0,
        "queue_duration": run.queue_duration,
        "run_page_url": run.run_page_url,
        **run_blocks(run, state),
    }
    if run.job_id is not None:
        out["job_id"] = run.job_id
    if run.parameters:
        out["job_parameters"] = [dict(p) for p in run.parameters]
    if run.idempotency_token:
        out["idempotency_token"] = run.idempotency_token
    if with_tasks:
        out["tasks"] = [task_json(run, t, state) for t in run.tasks]
    if history:
        out["repair_history"] = [_history_item(run, a, state) for a in run.attempts]
    return out


def _history_item(run: LocalRun, attempt: LocalAttempt, state: str) -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": "ORIGINAL" if attempt.repair_id is None else "REPAIR",
        "start_time": attempt.start_time,
        "end_time": attempt.end_time,
        "task_run_ids": list(attempt.task_run_ids),
        **(attempt.blocks if attempt.blocks is not None else run_blocks(run, state)),
    }
    if attempt.repair_id is not None:  # the service gives ids to repairs only
        item["id"] = attempt.repair_id
    return item


def task_json(run: LocalRun, task: LocalTaskRun, run_state: str) -> dict[str, Any]:
    """One `RunTask` of a run (one attempt of one task)."""
    settled = task_termination(task) if task.done else None
    out = {k: v for k, v in task.spec.items() if k not in ("run_if",)}
    out.update(
        run_id=task.run_id,
        task_key=task.task_key,
        attempt_number=task.attempt,
        start_time=task.start_time or run.start_time,
        end_time=task.end_time,
        run_page_url=f"{run.run_page_url.rsplit('/runs/', 1)[0]}/runs/{task.run_id}",
        **status_blocks(TERMINATED if task.done else run_state, settled, queue=run.queue),
    )
    return out


def output_json(run: LocalRun, task: LocalTaskRun, state: str) -> dict[str, Any]:
    """The `RunOutput` JSON of `runs/get-output` for one task run (metadata: the task's `Run`)."""
    metadata = run_json(run, state, with_tasks=False)
    metadata.update(task_json(run, task, state))
    out: dict[str, Any] = {"metadata": metadata}
    outcome = task.outcome
    if outcome is None:
        return out
    if outcome.result is not None:
        out["notebook_output"] = {"result": outcome.result, "truncated": False}
    if outcome.logs is not None:
        out["logs"] = outcome.logs
        out["logs_truncated"] = False
    if outcome.error is not None:
        out["error"] = outcome.error
    if outcome.error_trace is not None:
        out["error_trace"] = outcome.error_trace
    return out
