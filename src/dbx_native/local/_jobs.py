"""Lakeflow Jobs of the local workspace (`ws.jobs`): `/api/2.2/jobs/...` (also answered under `/api/2.1`).

Jobs are stored as their `JobSettings` JSON (field names of the SDK's `service.jobs`), checked as the service checks
them: task keys, one task type per task, `depends_on` pointing at known tasks without cycles, unique parameter
names, limits. What a run does is scripted (`_jobs_runs`): `ws.jobs.script("nightly", TaskOutcome.failure(...))`.
Lists are paged with opaque `page_token`s, newest first, like the service.

`max_concurrent_runs` is enforced when a job run starts: over the limit, a run waits `QUEUED` when the job's
`queue.enabled` (or the run's `queue`) is true and starts, oldest first, once an active run of its job ends; with
queueing off it is skipped at once. Local runs move only when read, so each read of a waiting run also counts as a
read of the active runs of its job (time passes for the runs ahead of it). The rules live in `_jobs_queue`,
repairs in `_jobs_repair`.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dbx_native.local._jobs_queue import active, admit, dequeue
from dbx_native.local._jobs_repair import plan_repair, start_repair
from dbx_native.local._jobs_runs import (
    LIFECYCLE,
    RUN_KIND,
    TERMINATED,
    LocalAttempt,
    LocalRun,
    LocalTaskRun,
    OutcomeScript,
    ScriptLike,
    TaskOutcome,
    as_outcome_script,
    latest,
    output_json,
    run_json,
    settle,
)
from dbx_native.local._jobs_settings import check_settings, check_tasks, int_arg, int_field, limit_arg, page
from dbx_native.local._router import Route
from dbx_native.local._wire import LocalApiError, LocalRequest

if TYPE_CHECKING:
    from dbx_native.local._clock import Clock
    from dbx_native.local._states import StateMachine

__all__ = ["JobsBackend"]

_CREATOR = "local-user@dbx-native.invalid"


@dataclass
class LocalJob:
    job_id: int
    settings: dict[str, Any]
    created_time: int
    runs: int = 0


class JobsBackend:
    """Lakeflow Jobs and their runs (`ws.jobs`).

    Args:
        states: The workspace's state machines (runs follow kind `"job-run"`: QUEUED -> PENDING -> RUNNING ->
            TERMINATED, at once unless scripted with `ws.states.set("job-run", [...], after_reads=n)`).
        clock: The workspace clock (creation, start and end times).
        host: The URL used for `run_page_url` when the transport does not tell which one the client used.
    """

    def __init__(self, states: StateMachine, clock: Clock, *, host: str) -> None:
        self.states = states
        self.clock = clock
        self.host = host
        self._jobs: dict[int, LocalJob] = {}
        self._runs: dict[int, LocalRun] = {}
        self._task_runs: dict[int, int] = {}  # task run id -> its run's id
        self._tokens: dict[str, int] = {}  # idempotency token -> run id
        self._scripts: dict[str, OutcomeScript] = {}
        self._ids = itertools.count(1001)
        self._lock = threading.RLock()
        states.define(RUN_KIND, LIFECYCLE)

    # --- Backend protocol ---------------------------------------------------------------------------------

    def routes(self) -> Iterable[Route]:
        """The Jobs 2.2 routes, each also under `/api/2.1/jobs`."""
        table = [
            ("POST", "create", self._create),
            ("GET", "get", self._get),
            ("GET", "list", self._list),
            ("POST", "reset", self._reset),
            ("POST", "update", self._update),
            ("POST", "delete", self._delete),
            ("POST", "run-now", self._run_now),
            ("POST", "runs/submit", self._submit),
            ("GET", "runs/get", self._get_run),
            ("GET", "runs/list", self._list_runs),
            ("POST", "runs/cancel", self._cancel),
            ("POST", "runs/cancel-all", self._cancel_all),
            ("POST", "runs/repair", self._repair),
            ("GET", "runs/get-output", self._get_output),
        ]
        return [Route(m, f"/api/{v}/jobs/{p}", h) for v in ("2.2", "2.1") for m, p, h in table]

    def reset(self) -> None:
        """Forget every job, run and script."""
        with self._lock:
            for run_id in self._runs:
                self.states.forget(RUN_KIND, str(run_id))
            self._jobs.clear()
            self._runs.clear()
            self._task_runs.clear()
            self._tokens.clear()
            self._scripts.clear()
            self._ids = itertools.count(1001)

    # --- Python API for tests -----------------------------------------------------------------------------

    def script(self, name: str, outcome: ScriptLike) -> None:
        """Script how tasks end: `name` is a task key, or a job (or one-off run) name for all its tasks.

        A task key wins over a job name. Without a script, every task succeeds with no output.

        Args:
            name: A task key (`"train"`) or a job / run name (`"nightly-scoring"`).
            outcome: A `TaskOutcome`; a string (success whose notebook result is that string); `None` (plain
                success); a list used in turn, one per task run (cycling); or `fn(task_key, parameters)`
                returning one of those (`parameters`: the run's job parameters and notebook parameters).

        Example:
            >>> from dbx_native.local import LocalWorkspace, TaskOutcome
            >>> ws = LocalWorkspace()
            >>> ws.jobs.script("train", TaskOutcome.failure("CUDA out of memory", code="DRIVER_ERROR"))
            >>> ws.jobs.script("nightly", lambda key, params: f"scored {params.get('day', 'today')}")
        """
        with self._lock:
            self._scripts[name] = as_outcome_script(outcome)

    def clear_scripts(self) -> None:
        """Drop every script: tasks succeed with no output again."""
        with self._lock:
            self._scripts.clear()

    def job_id(self, name: str) -> int:
        """The id of the (first) job named `name`.

        Raises:
            KeyError: No job has that name.
        """
        with self._lock:
            for job in self._jobs.values():
                if job.settings.get("name") == name:
                    return job.job_id
        raise KeyError(f"no job named {name!r} in the local workspace")

    def settings(self, job_id: int) -> dict[str, Any]:
        """A copy of the settings of job `job_id` (raises `LocalApiError` 404 when there is none)."""
        return dict(self._job(job_id).settings)

    def run_ids(self, job_id: int | None = None) -> list[int]:
        """Ids of the runs (of one job, or all), oldest first."""
        with self._lock:
            return [r.run_id for r in self._runs.values() if job_id is None or r.job_id == job_id]

    def run(self, run_id: int) -> dict[str, Any]:
        """The `runs/get` JSON of a run, without counting a read."""
        run = self._run(run_id)
        return run_json(run, self.state(run, count=False))

    # --- runs: state ----------------------------------------------------------------------------------------

    def state(self, run: LocalRun, *, count: bool = True) -> str:
        """The run's `status.state`; counted reads step its state machine; reaching TERMINATED settles it."""
        with self._lock:
            if run.settled:
                return TERMINATED
            if run.cancel is not None:
                if count:  # one read shows TERMINATING, the next one TERMINATED
                    settle(run, self._outcome_for(run), self._now_ms())
                return "TERMINATING"
            if run.queue is not None:
                self._dequeue(run.job_id)
                if run.queue is not None:
                    if count:  # time passes for the runs ahead of this one too
                        for ahead in active(self._runs.values(), run.job_id, self.states):
                            self.state(ahead)
                    return "QUEUED"
            key = str(run.run_id)
            state = self.states.read(RUN_KIND, key) if count else self.states.peek(RUN_KIND, key)
            if state == TERMINATED:
                settle(run, self._outcome_for(run), self._now_ms())
            return state

    def _outcome_for(self, run: LocalRun) -> Any:
        def outcome(task: LocalTaskRun) -> TaskOutcome:
            script = self._scripts.get(task.task_key) or self._scripts.get(run.run_name)
            if script is None:
                return TaskOutcome()
            params = dict(run.parameter_values)
            params.update(run.extra.get("notebook_params") or {})
            return script(task.task_key, params)

        return outcome

    # --- jobs handlers ----------------------------------------------------------------------------------------

    def _create(self, request: LocalRequest) -> dict[str, Any]:
        settings = check_settings(request.json())
        with self._lock:
            job = LocalJob(next(self._ids), settings, self._now_ms())
            self._jobs[job.job_id] = job
        return {"job_id": job.job_id}

    def _get(self, request: LocalRequest) -> dict[str, Any]:
        return self._job_json(self._job(int_arg(request, "job_id")), expand=True)

    def _list(self, request: LocalRequest) -> dict[str, Any]:
        limit = limit_arg(request, default=20, maximum=100)
        name = request.arg("name")
        expand = (request.arg("expand_tasks") or "").lower() == "true"
        with self._lock:
            jobs = sorted(self._jobs.values(), key=lambda j: -j.job_id)
        if name is not None:
            jobs = [j for j in jobs if str(j.settings.get("name", "")).lower() == name.lower()]
        shown, tokens = page(jobs, request, limit)
        return {"jobs": [self._job_json(j, expand=expand) for j in shown], **tokens}

    def _reset(self, request: LocalRequest) -> dict[str, Any]:
        body = request.json()
        job = self._job(int_field(body, "job_id"))
        if not isinstance(body.get("new_settings"), dict):
            raise LocalApiError(400, "Missing required field: new_settings")
        job.settings = check_settings(body["new_settings"])
        return {}

    def _update(self, request: LocalRequest) -> dict[str, Any]:
        body = request.json()
        job = self._job(int_field(body, "job_id"))
        merged = {k: v for k, v in job.settings.items()}
        new = body.get("new_settings") or {}
        tasks = {t["task_key"]: t for t in merged.get("tasks") or []}
        for key, value in new.items():
            if key == "tasks":  # tasks are merged by task_key, as on Databricks
                tasks.update({t.get("task_key"): t for t in value or []})
            else:
                merged[key] = value
        for path in body.get("fields_to_remove") or []:
            if path.startswith("tasks/"):
                tasks.pop(path.split("/", 1)[1], None)
            else:
                merged.pop(path, None)
        merged["tasks"] = list(tasks.values())
        job.settings = check_settings(merged)
        return {}

    def _delete(self, request: LocalRequest) -> dict[str, Any]:
        job_id = int_field(request.json(), "job_id")
        with self._lock:
            self._job(job_id)
            del self._jobs[job_id]
        return {}

    def _job_json(self, job: LocalJob, *, expand: bool) -> dict[str, Any]:
        settings = dict(job.settings)
        if not expand:
            settings.pop("tasks", None)
            settings.pop("job_clusters", None)
        return {
            "job_id": job.job_id,
            "creator_user_name": _CREATOR,
            "run_as_user_name": _CREATOR,
            "created_time": job.created_time,
            "settings": settings,
            "has_more": False,
        }

    # --- runs handlers ------------------------------------------------------------------------------------------

    def _run_now(self, request: LocalRequest) -> dict[str, Any]:
        body = request.json()
        job = self._job(int_field(body, "job_id"))
        given = body.get("job_parameters") or {}
        if not isinstance(given, dict):
            raise LocalApiError(400, "job_parameters must be an object of parameter names to values.")
        params = [
            {"name": p["name"], "default": p.get("default", ""), "value": str(given.get(p["name"], p.get("default")))}
            for p in job.settings.get("parameters") or []
        ]
        known = {p["name"] for p in params}
        params += [{"name": k, "value": str(v)} for k, v in given.items() if k not in known]
        tasks = list(job.settings.get("tasks") or [])
        only = body.get("only")
        if only:
            missing = sorted(set(only) - {t["task_key"] for t in tasks})
            if missing:
                raise LocalApiError(400, f"Tasks {missing} in 'only' are not tasks of job {job.job_id}.")
            tasks = [t for t in tasks if t["task_key"] in only]
        with self._lock:
            existing = self._by_token(body.get("idempotency_token"))
            if existing is not None:
                return {"run_id": existing.run_id, "number_in_job": existing.number_in_job}
            job.runs += 1
            run = self._start(request, job.job_id, str(job.settings.get("name")), "JOB_RUN", job.runs, params, tasks)
            run.extra["notebook_params"] = {k: str(v) for k, v in (body.get("notebook_params") or {}).items()}
            self._remember(run, body.get("idempotency_token"))
            admit(run, job.settings, body.get("queue"), self._runs.values(), self.states, self._now_ms())
        return {"run_id": run.run_id, "number_in_job": run.number_in_job}

    def _submit(self, request: LocalRequest) -> dict[str, Any]:
        body = request.json()
        tasks = check_tasks(body.get("tasks"), required=True)
        with self._lock:
            existing = self._by_token(body.get("idempotency_token"))
            if existing is not None:
                return {"run_id": existing.run_id}
            run_name = str(body.get("run_name") or "Untitled")
            run = self._start(request, None, run_name, "SUBMIT_RUN", 1, [], tasks)
            self._remember(run, body.get("idempotency_token"))
            self.states.start(RUN_KIND, str(run.run_id))
        return {"run_id": run.run_id}

    def _get_run(self, request: LocalRequest) -> dict[str, Any]:
        raw_id = int_arg(request, "run_id")
        with self._lock:
            parent = self._task_runs.get(raw_id)
        if parent is None:
            run = self._run(raw_id)
            history = (request.arg("include_history") or "").lower() == "true"
            return run_json(run, self.state(run), history=history)
        run = self._run(parent)  # a task run reads as a run of its own (no tasks), as on Databricks
        metadata = output_json(run, run.task(raw_id) or run.tasks[0], self.state(run))["metadata"]
        return dict(metadata)

    def _list_runs(self, request: LocalRequest) -> dict[str, Any]:
        limit = limit_arg(request, default=20, maximum=25, zero_is_max=True)
        active = (request.arg("active_only") or "").lower() == "true"
        completed = (request.arg("completed_only") or "").lower() == "true"
        if active and completed:
            raise LocalApiError(400, "active_only and completed_only cannot both be true.")
        job_id = int_arg(request, "job_id") if request.arg("job_id") else None
        if job_id is not None:
            self._job(job_id)
        run_type = request.arg("run_type")
        expand = (request.arg("expand_tasks") or "").lower() == "true"
        with self._lock:
            runs = [r for r in self._runs.values() if job_id is None or r.job_id == job_id]
            runs = [r for r in runs if run_type is None or r.run_type == run_type]
            states = {r.run_id: self.state(r, count=False) for r in runs}
        if active or completed:
            runs = [r for r in runs if (states[r.run_id] == TERMINATED) == completed]
        runs.sort(key=lambda r: (-r.start_time, -r.run_id))
        shown, tokens = page(runs, request, limit)
        return {"runs": [run_json(r, states[r.run_id], with_tasks=expand) for r in shown], **tokens}

    def _cancel(self, request: LocalRequest) -> dict[str, Any]:
        self._cancel_run(self._run(int_field(request.json(), "run_id")))
        return {}

    def _cancel_all(self, request: LocalRequest) -> dict[str, Any]:
        body = request.json()
        queued_only = bool(body.get("all_queued_runs")) if isinstance(body, dict) else False
        job_id = int_field(body, "job_id") if isinstance(body, dict) and body.get("job_id") is not None else None
        if job_id is None and not queued_only:
            raise LocalApiError(400, "Either job_id or all_queued_runs must be provided.")
        if job_id is not None:
            self._job(job_id)
        with self._lock:
            runs = [r for r in self._runs.values() if job_id is None or r.job_id == job_id]
            # Waiting runs first, so that none starts in the slot of an active run canceled here.
            for run in sorted(runs, key=lambda r: r.queue is None):
                if run.queue is not None or not queued_only:
                    self._cancel_run(run)
        return {}

    def _cancel_run(self, run: LocalRun) -> None:
        with self._lock:
            if run.queue is not None:  # a waiting run never started: it ends at once
                run.queue, run.cancel = None, "requested"
                settle(run, self._outcome_for(run), self._now_ms())
            elif not run.settled and self.state(run, count=False) != TERMINATED and run.cancel is None:
                run.cancel = "requested"

    def _repair(self, request: LocalRequest) -> dict[str, Any]:
        body = request.json()
        run = self._run(int_field(body, "run_id"))
        given = body.get("job_parameters") or {}
        if not isinstance(given, dict):
            raise LocalApiError(400, "job_parameters must be an object of parameter names to values.")
        with self._lock:
            keys = plan_repair(run, body, self.state(run, count=False))
            repair_id = next(self._ids)
            added = start_repair(
                run,
                keys,
                repair_id=repair_id,
                new_id=lambda: next(self._ids),
                spec_of=self._current_spec(run),
                parameters=given,
                now_ms=self._now_ms(),
            )
            for task in added:
                self._task_runs[task.run_id] = run.run_id
            self.states.start(RUN_KIND, str(run.run_id))
        return {"repair_id": repair_id}

    def _get_output(self, request: LocalRequest) -> dict[str, Any]:
        raw_id = int_arg(request, "run_id")
        with self._lock:
            parent = self._task_runs.get(raw_id)
        if parent is not None:
            run = self._run(parent)
            task = run.task(raw_id)
        else:
            run = self._run(raw_id)
            if len(latest(run)) != 1:
                raise LocalApiError(
                    400,
                    "Retrieving the output of a run with multiple tasks is not supported. Please retrieve the "
                    "output of each individual task run instead.",
                )
            task = latest(run)[0]
        assert task is not None
        return output_json(run, task, self.state(run, count=False))

    # --- internals ----------------------------------------------------------------------------------------------

    def _start(
        self,
        request: LocalRequest,
        job_id: int | None,
        name: str,
        run_type: str,
        number: int,
        params: list[dict[str, Any]],
        tasks: list[dict[str, Any]],
    ) -> LocalRun:
        run_id = next(self._ids)
        base = (request.base_url or self.host).rstrip("/")
        url = f"{base}/jobs/{job_id}/runs/{run_id}" if job_id is not None else f"{base}/jobs/runs/{run_id}"
        now = self._now_ms()
        task_runs = [LocalTaskRun(next(self._ids), t["task_key"], dict(t), start_time=now) for t in tasks]
        run = LocalRun(run_id, job_id, name, run_type, number, now, params, task_runs, url)
        run.attempts.append(LocalAttempt(None, now, [t.run_id for t in task_runs]))
        self._runs[run_id] = run
        for task in task_runs:
            self._task_runs[task.run_id] = run_id
        return run

    def _dequeue(self, job_id: int | None) -> None:
        job = self._jobs.get(job_id) if job_id is not None else None
        dequeue(job.settings if job is not None else None, job_id, self._runs.values(), self.states, self._now_ms())

    def _current_spec(self, run: LocalRun) -> Any:
        """A repaired task runs with its job's current settings, as on Databricks (its old spec if it is gone)."""
        job = self._jobs.get(run.job_id) if run.job_id is not None else None
        current = {t["task_key"]: t for t in (job.settings.get("tasks") or [])} if job is not None else {}
        return lambda task: dict(current.get(task.task_key, task.spec))

    def _by_token(self, token: Any) -> LocalRun | None:
        if token is None:
            return None
        if not isinstance(token, str) or len(token) > 64:
            raise LocalApiError(400, "idempotency_token must be a string of at most 64 characters.")
        run_id = self._tokens.get(token)
        return self._runs.get(run_id) if run_id is not None else None

    def _remember(self, run: LocalRun, token: str | None) -> None:
        if token:
            self._tokens[token] = run.run_id
            run.idempotency_token = token

    def _job(self, job_id: int) -> LocalJob:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise LocalApiError(404, f"Job {job_id} does not exist.", error_code="RESOURCE_DOES_NOT_EXIST")
        return job

    def _run(self, run_id: int) -> LocalRun:
        with self._lock:
            run = self._runs.get(run_id)
        if run is None:
            raise LocalApiError(404, f"Run {run_id} does not exist.", error_code="RESOURCE_DOES_NOT_EXIST")
        return run

    def _now_ms(self) -> int:
        return int(self.clock.time() * 1000)
