"""Typed results of `JobRunner`: jobs, planned changes, runs, task runs and run outputs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from dbx_native.errors import JobRunFailedError

__all__ = ["JobChange", "JobInfo", "JobRun", "RepairAttempt", "RunOutput", "SettingChange", "TaskRun"]

# Deprecated `state.life_cycle_state` -> the 2026 `status.state`, for workspaces that send only the old block.
_FROM_LEGACY = {"SKIPPED": "TERMINATED", "INTERNAL_ERROR": "TERMINATED", "WAITING_FOR_RETRY": "WAITING"}
# How a run that never ran reads: the 2026 termination codes, then the deprecated result words.
_SKIP_CODES = frozenset({"MAX_CONCURRENT_RUNS_EXCEEDED", "MAX_JOB_QUEUE_SIZE_EXCEEDED", "SKIPPED"})
_SKIP_RESULTS = frozenset({"MAXIMUM_CONCURRENT_RUNS_REACHED"})


class _Result(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class JobInfo(_Result):
    """A job as the workspace reports it.

    Attributes:
        job_id: The job's id.
        name: Its name.
        settings: Its `JobSettings` JSON as the service returns it (with the service's defaults filled in).
        created_time: When it was created.
        creator_user_name: Who created it.
    """

    job_id: int
    name: str
    settings: dict[str, Any] = Field(default_factory=dict)
    created_time: dt.datetime | None = None
    creator_user_name: str | None = None

    @property
    def task_keys(self) -> list[str]:
        """The keys of the job's tasks, in order."""
        return [str(t.get("task_key")) for t in self.settings.get("tasks") or []]


class SettingChange(_Result):
    """One top-level job setting that differs between the live job and the wanted one."""

    field: str
    live: Any
    wanted: Any

    def __str__(self) -> str:
        return f"{self.field}: {self.live!r} -> {self.wanted!r}"


class JobChange(_Result):
    """What `ensure_job` did.

    Attributes:
        action: `created`, `updated` (the job was reset to the wanted settings) or `unchanged`.
        job: The job after the call.
        changes: The settings that differed (every wanted setting when created; empty when unchanged).
    """

    action: Literal["created", "updated", "unchanged"]
    job: JobInfo
    changes: list[SettingChange] = Field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Whether the call created or updated the job."""
        return self.action != "unchanged"

    def __str__(self) -> str:
        lines = [f"job {self.job.name!r} ({self.job.job_id}): {self.action}"]
        lines.extend(f"  {change}" for change in self.changes)
        return "\n".join(lines)


class _RunState(_Result):
    run_id: int
    state: str
    result_state: str | None = None
    termination_code: str | None = None
    termination_type: str | None = None
    message: str | None = None
    start_time: dt.datetime | None = None
    end_time: dt.datetime | None = None
    run_page_url: str | None = None

    @property
    def done(self) -> bool:
        """Whether the run has ended (successfully or not)."""
        return self.state == "TERMINATED"

    @property
    def succeeded(self) -> bool:
        """Whether the run ended successfully."""
        if not self.done:
            return False
        if self.termination_code is not None:
            return self.termination_code in ("SUCCESS", "SUCCESS_WITH_FAILURES")
        return self.result_state in ("SUCCESS", "SUCCESS_WITH_FAILURES")


class TaskRun(_RunState):
    """One task of a run.

    Attributes:
        task_key: The task's key.
        run_id: The task run's id (`JobRunner.output(run_id)` reads its output).
        state: `BLOCKED`, `PENDING`, `QUEUED`, `RUNNING`, `TERMINATING`, `TERMINATED` or `WAITING`.
        result_state: The deprecated result word (`SUCCESS`, `FAILED`, `CANCELED`, `UPSTREAM_FAILED`, ...).
        termination_code: Why it ended (`SUCCESS`, `RUN_EXECUTION_ERROR`, `SKIPPED`, ...).
        termination_type: `SUCCESS`, `CLIENT_ERROR`, `INTERNAL_ERROR` or `CLOUD_FAILURE`.
        message: What the service said about it.
        attempt_number: 0 for the first attempt; each repair (or retry) of the task adds one.
    """

    task_key: str
    attempt_number: int = 0


class RepairAttempt(_RunState):
    """One item of a run's repair history: the original attempt, then one per repair.

    Attributes:
        run_id: The run's id.
        repair_id: The repair's id (`None` for the original attempt).
        type: `ORIGINAL` or `REPAIR`.
        state: The attempt's `status.state`; `termination_code` and the rest say how it ended.
        task_run_ids: The task runs of this attempt.
    """

    repair_id: int | None = None
    type: str = "ORIGINAL"
    task_run_ids: list[int] = Field(default_factory=list)


class JobRun(_RunState):
    """One run of a job (or a one-off `submit`), as `runs/get` reports it.

    Attributes:
        run_id: The run's id.
        job_id: Its job (`None` for a one-off run).
        run_name: Its name (the job's name for job runs).
        state: `status.state`: `QUEUED`, `PENDING`, `RUNNING`, `TERMINATING`, `TERMINATED`, `BLOCKED` or `WAITING`.
        result_state: The deprecated `state.result_state` (`SUCCESS`, `FAILED`, `CANCELED`, `TIMEDOUT`, ...).
        termination_code: `status.termination_details.code` (`SUCCESS`, `RUN_EXECUTION_ERROR`, `USER_CANCELED`, ...).
        termination_type: `status.termination_details.type` (`SUCCESS`, `CLIENT_ERROR`, `INTERNAL_ERROR`,
            `CLOUD_FAILURE`).
        message: The server's message about the run (why it failed).
        number_in_job: The run's sequence number within its job.
        start_time: When it started.
        end_time: When it ended, once it has.
        run_page_url: The run's page in the workspace UI.
        tasks: Its task runs; a repaired run lists every attempt of each task (`latest_tasks`: the last ones).
        parameters: The job parameters it ran with (name -> value).
        queue_reason: Why it waits while `QUEUED` (`status.queue_details.code`: `MAX_CONCURRENT_RUNS_REACHED`,
            `ACTIVE_RUNS_LIMIT_REACHED`, ...); `None` when it is not waiting in a queue.
        queue_message: The service's words about the wait.
        repair_history: The original attempt and each repair, oldest first (read by `JobRunner.status`).
    """

    job_id: int | None = None
    run_name: str | None = None
    number_in_job: int | None = None
    tasks: list[TaskRun] = Field(default_factory=list)
    parameters: dict[str, str] = Field(default_factory=dict)
    queue_reason: str | None = None
    queue_message: str | None = None
    repair_history: list[RepairAttempt] = Field(default_factory=list)

    @property
    def queued(self) -> bool:
        """Whether the run is waiting in its job's queue (for a free slot of `max_concurrent_runs`, say)."""
        return self.state == "QUEUED"

    @property
    def skipped(self) -> bool:
        """Whether the run ended without running (its job was at `max_concurrent_runs` with queueing off)."""
        return self.done and (self.termination_code in _SKIP_CODES or self.result_state in _SKIP_RESULTS)

    @property
    def latest_repair_id(self) -> int | None:
        """The id of the run's latest repair (`None` when never repaired, or when the history was not read)."""
        repairs = [r.repair_id for r in self.repair_history if r.repair_id is not None]
        return repairs[-1] if repairs else None

    @property
    def latest_tasks(self) -> list[TaskRun]:
        """The latest attempt of each task, in task order (what a repaired run's state comes from)."""
        by_key: dict[str, TaskRun] = {}
        for task in self.tasks:
            if task.task_key not in by_key or task.attempt_number >= by_key[task.task_key].attempt_number:
                by_key[task.task_key] = task
        return list(by_key.values())

    def task(self, task_key: str) -> TaskRun:
        """The latest attempt of the task with this key.

        Raises:
            KeyError: The run has no such task.
        """
        for task in self.latest_tasks:
            if task.task_key == task_key:
                return task
        keys = [t.task_key for t in self.latest_tasks]
        raise KeyError(f"run {self.run_id} has no task {task_key!r}; its tasks: {keys}")

    def raise_for_failure(self) -> JobRun:
        """Return this run when it succeeded (or has not ended yet); raise when it ended without success.

        Raises:
            JobRunFailedError: The run ended failed, canceled, timed out or skipped.
        """
        if not self.done or self.succeeded:
            return self
        what = self.termination_code or self.result_state or "an unknown result"
        if self.skipped:
            text = (
                f"Run {self.run_id} of {self.run_name or 'a one-off run'} was skipped ({what}): "
                f"{self.message or 'its job already had its maximum of active runs'}. Raise the job's "
                "max_concurrent_runs, or enable its queue (settings={'queue': {'enabled': True}}) so that runs over "
                "the limit wait instead of being skipped."
            )
        else:
            failed = [
                t.task_key for t in self.latest_tasks if t.done and not t.succeeded and t.termination_code != "SKIPPED"
            ]
            where = f" (failed tasks: {', '.join(failed)})" if failed else ""
            text = (
                f"Run {self.run_id} of {self.run_name or 'a one-off run'} ended {what}{where}: "
                f"{self.message or 'no message'}. See output({self.run_id}) or "
                f"{self.run_page_url or 'the run page'} for details; repair({self.run_id}) re-runs the failed tasks."
            )
        raise JobRunFailedError(
            text,
            run_id=self.run_id,
            job_id=self.job_id,
            state=self.state,
            termination_code=self.termination_code,
            termination_type=self.termination_type,
            server_message=self.message,
            run=self,
        )

    def __str__(self) -> str:
        outcome = f" {self.termination_code or self.result_state}" if self.done else ""
        if self.queued and self.queue_reason:
            outcome = f" ({self.queue_reason})"
        return f"run {self.run_id} of {self.run_name!r}: {self.state}{outcome}"


class RunOutput(_Result):
    """The output of one task run (`runs/get-output`).

    Attributes:
        run_id: The task run's id.
        task_key: The task's key.
        result: What a notebook passed to `dbutils.notebook.exit()`.
        truncated: Whether `result` was cut (Databricks keeps the first 5 MB).
        logs: Text logs of Python, wheel and JAR tasks.
        error: The error message, when the task failed.
        error_trace: The error's stack trace.
        state: The task run's state when read.
    """

    run_id: int
    task_key: str | None = None
    result: str | None = None
    truncated: bool = False
    logs: str | None = None
    error: str | None = None
    error_trace: str | None = None
    state: str | None = None


# --- parsing (the wire -> these models) ---------------------------------------------------------------------------


def _time(ms: Any) -> dt.datetime | None:
    if not ms:
        return None
    return dt.datetime.fromtimestamp(int(ms) / 1000, tz=dt.timezone.utc)


def _state_fields(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The state words of a `Run` / `RunTask`, from the 2026 `status` block or, failing that, the deprecated one."""
    legacy = raw.get("state") or {}
    status = raw.get("status") or {}
    details = status.get("termination_details") or {}
    lifecycle = legacy.get("life_cycle_state")
    state = status.get("state") or _FROM_LEGACY.get(str(lifecycle), lifecycle) or "UNKNOWN"
    return {
        "run_id": int(raw["run_id"]),
        "state": state,
        "result_state": legacy.get("result_state"),
        "termination_code": details.get("code"),
        "termination_type": details.get("type"),
        "message": details.get("message") or legacy.get("state_message") or None,
        "start_time": _time(raw.get("start_time")),
        "end_time": _time(raw.get("end_time")),
        "run_page_url": raw.get("run_page_url"),
    }


def parse_run(raw: Mapping[str, Any]) -> JobRun:
    """A `JobRun` from `runs/get` (or a `runs/list` entry)."""
    params = {str(p.get("name")): str(p.get("value", p.get("default", ""))) for p in raw.get("job_parameters") or []}
    queue = (raw.get("status") or {}).get("queue_details") or {}
    run_id = int(raw["run_id"])
    return JobRun(
        **_state_fields(raw),
        job_id=raw.get("job_id"),
        run_name=raw.get("run_name"),
        number_in_job=raw.get("number_in_job"),
        tasks=[
            TaskRun(
                **_state_fields(t), task_key=str(t.get("task_key")), attempt_number=int(t.get("attempt_number") or 0)
            )
            for t in raw.get("tasks") or []
        ],
        parameters=params,
        queue_reason=queue.get("code"),
        queue_message=queue.get("message"),
        repair_history=[
            RepairAttempt(
                **_state_fields({**item, "run_id": run_id}),
                repair_id=item.get("id"),
                type=str(item.get("type") or "ORIGINAL"),
                task_run_ids=[int(i) for i in item.get("task_run_ids") or []],
            )
            for item in raw.get("repair_history") or []
        ],
    )


def parse_job(raw: Mapping[str, Any]) -> JobInfo:
    """A `JobInfo` from `jobs/get` (or a `jobs/list` entry)."""
    settings = dict(raw.get("settings") or {})
    return JobInfo(
        job_id=int(raw["job_id"]),
        name=str(settings.get("name", "")),
        settings=settings,
        created_time=_time(raw.get("created_time")),
        creator_user_name=raw.get("creator_user_name"),
    )


def parse_output(raw: Mapping[str, Any], run_id: int) -> RunOutput:
    """A `RunOutput` from `runs/get-output`."""
    notebook = raw.get("notebook_output") or {}
    metadata = raw.get("metadata") or {}
    state = _state_fields({**metadata, "run_id": metadata.get("run_id", run_id)})["state"] if metadata else None
    return RunOutput(
        run_id=run_id,
        task_key=metadata.get("task_key"),
        result=notebook.get("result"),
        truncated=bool(notebook.get("truncated") or raw.get("logs_truncated")),
        logs=raw.get("logs"),
        error=raw.get("error"),
        error_trace=raw.get("error_trace"),
        state=state,
    )
