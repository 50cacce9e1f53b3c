"""`JobRunner`: Lakeflow Jobs (API 2.2) as code: ensure a job, run it and wait, read outputs, list runs."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar

from dbx_native._core.clock import Clock
from dbx_native._core.logs import get_logger
from dbx_native.config import DbxConfig
from dbx_native.errors import InvalidRequestError, NotFoundError
from dbx_native.jobs._client import (
    API,
    CALL_TIMEOUT,
    JobRef,
    JobsClient,
    check_parameters,
    job_attrs,
    make_token,
    repair_tasks,
    run_id_arg,
    wait_args,
)
from dbx_native.jobs._models import JobChange, JobInfo, JobRun, RunOutput, parse_output
from dbx_native.jobs._spec import body_of, build_settings, check_tasks, diff

__all__ = ["JobRef", "JobRunner"]

_log = get_logger("dbx_native.jobs")


class JobRunner(JobsClient):
    """Lakeflow Jobs as code: create or reset a job to match, run it and wait, read task outputs, list runs.

    Speaks the Jobs API 2.2 (`/api/2.2/jobs/...`). Runs are started with an idempotency token (one is generated
    when you give none), so a retried start never starts the job twice. A failed run is returned, not raised:
    check `run.succeeded`, call `run.raise_for_failure()`, or pass `check=True`.

    Args:
        config: Connection settings (`DbxConfig()` from the environment when omitted).
        clock: Time source and sleeper for waits (tests use `FakeClock`).

    Example:
        >>> from dbx_native.local import LocalWorkspace
        >>> ws = LocalWorkspace()
        >>> ws.jobs.script("score", "scored 42 rows")
        >>> with ws.intercept():
        ...     runner = JobRunner(ws.config)
        ...     change = runner.ensure_job("nightly", tasks=[{"task_key": "score",
        ...                                "notebook_task": {"notebook_path": "/Jobs/score"}}])
        ...     run = runner.run("nightly", parameters={"day": "2026-03-02"})
        ...     change.action, run.succeeded, runner.output(run.run_id).result
        ('created', True, 'scored 42 rows')
    """

    _client_name: ClassVar[str] = "jobs"

    def __init__(
        self, config: DbxConfig | None = None, *, clock: Clock | None = None, _credentials: Any = None
    ) -> None:
        super().__init__(config, clock=clock, _credentials=_credentials)

    # --- jobs ------------------------------------------------------------------------------------------------

    def ensure_job(
        self,
        name: str,
        *,
        tasks: Sequence[Mapping[str, Any]],
        parameters: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
        tags: Mapping[str, str] | None = None,
        schedule: str | Mapping[str, Any] | None = None,
        max_concurrent_runs: int | None = None,
        queue: bool | None = None,
        settings: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> JobChange:
        """Create the job named `name`, or reset it to these settings when they differ; nothing is sent otherwise.

        The job is found by its exact name. Its settings become exactly these (a reset replaces them all):
        a field left out here takes the service's default.

        Args:
            name: The job's name (its identity for `ensure_job`, `run` and `runs`).
            tasks: `JobSettings` task dicts: `task_key`, one task type (`notebook_task`, `spark_python_task`,
                `sql_task`, `pipeline_task`, ...), optional `depends_on`, compute (`environment_key`, ...).
            parameters: Job parameters with their defaults: `{"day": "today"}` or `[{"name", "default"}]`.
            tags: Job tags.
            schedule: A Quartz cron expression (UTC), or `{"quartz_cron_expression", "timezone_id", "pause_status"}`.
            max_concurrent_runs: How many runs may be active at once (default 1; 0 skips every run).
            queue: Whether runs over `max_concurrent_runs` wait in a queue (`queue.enabled`) instead of being
                skipped. Left out, the service's default applies: off for jobs created through the API.
            settings: Any other `JobSettings` fields (`environments`, `job_clusters`, `queue`, `email_notifications`,
                `timeout_seconds`, ...), sent as given.
            timeout: Seconds for each call.

        Returns:
            What was done (`created`, `updated` or `unchanged`), the settings that changed, and the job.

        Raises:
            InvalidRequestError: A bad task (key, type, dependency), parameter or schedule; or two jobs are
                named `name`.
            BadRequestError: The service refused the settings.
        """
        wanted = build_settings(
            name,
            tasks=tasks,
            parameters=parameters,
            tags=tags,
            schedule=schedule,
            max_concurrent_runs=max_concurrent_runs,
            queue=queue,
            settings=settings,
        )
        with self._span("jobs.ensure", {"dbx_native.job.name": name}) as span:
            found = self._find(name, timeout)
            if found is None:
                job_id = int(self._post("create", body_of(wanted), timeout)["job_id"])
                job = self._get_job(job_id, timeout)
                _log.info("created job %r (%s)", name, job_id)
                change = JobChange(action="created", job=job, changes=diff(None, wanted))
            else:
                live = self._get_job(found, timeout)
                changes = diff(live.settings, wanted)
                if changes:
                    self._post("reset", {"job_id": found, "new_settings": body_of(wanted)}, timeout)
                    for setting in changes:
                        _log.info("job %r (%s): %s", name, found, setting)
                    live = self._get_job(found, timeout)
                change = JobChange(action="updated" if changes else "unchanged", job=live, changes=changes)
            if span.is_recording():
                span.set_attributes({"dbx_native.job.id": change.job.job_id, "dbx_native.job.action": change.action})
            return change

    def get_job(self, job: JobRef, *, timeout: float | None = None) -> JobInfo:
        """The job, by id or name.

        Raises:
            NotFoundError: No such job.
            InvalidRequestError: Two jobs have that name.
        """
        with self._span("jobs.get", job_attrs(job)):
            return self._get_job(self._job_id(job, timeout), timeout)

    def delete_job(self, job: JobRef, *, timeout: float | None = None) -> bool:
        """Delete the job (its past runs stay listed); `False` when there was none.

        Raises:
            InvalidRequestError: Two jobs have that name.
        """
        with self._span("jobs.delete", job_attrs(job)):
            try:
                job_id = self._job_id(job, timeout)
                self._post("delete", {"job_id": job_id}, timeout)
            except NotFoundError:
                return False
            _log.info("deleted job %s", job_id)
            return True

    # --- runs ------------------------------------------------------------------------------------------------

    def run(
        self,
        job: JobRef,
        *,
        parameters: Mapping[str, Any] | None = None,
        wait: bool = True,
        timeout: float = 3600.0,
        poll_interval: float = 2.0,
        progress: Callable[[JobRun], None] | None = None,
        idempotency_token: str | None = None,
        only: Sequence[str] | None = None,
        check: bool = False,
    ) -> JobRun:
        """Start a run of `job` and, by default, wait for it to end.

        Args:
            job: The job: id, name or `JobInfo`.
            parameters: Job parameters for this run (`job_parameters`); the others keep their defaults.
            wait: Poll until the run ends.
            timeout: Seconds to wait in all.
            poll_interval: First pause between polls (it grows 1.5x up to 30 s).
            progress: Called with the run at each new state while waiting.
            idempotency_token: At most 64 characters; starting again with the same token returns the same run
                instead of a new one. One is generated when omitted (so a retried start is safe).
            only: Run only these tasks.
            check: Raise `JobRunFailedError` when the run ends without success.

        Returns:
            The run; when waited for, in its final state (check `.succeeded`: a failed run is returned, with the
            server's reason in `.message`, unless `check=True`). Over the job's `max_concurrent_runs` a run waits
            `QUEUED` (`.queue_reason`) when the job's queue is on, and is otherwise returned at once `.skipped`.

        Raises:
            NotFoundError: No such job.
            OperationTimeoutError: It did not end in `timeout`; `.last_state` is the last `JobRun` seen.
            JobRunFailedError: With `check=True`, the run ended without success (or was skipped).
        """
        token = make_token(idempotency_token)
        params = check_parameters(parameters)
        wait_args(timeout, poll_interval)
        with self._span("jobs.run", job_attrs(job)) as span:
            job_id = self._job_id(job, min(timeout, CALL_TIMEOUT))
            body: dict[str, Any] = {"job_id": job_id, "idempotency_token": token}
            if params:
                body["job_parameters"] = params
            if only:
                body["only"] = list(only)
            started = self._post("run-now", body, min(timeout, CALL_TIMEOUT), idempotent=True)
            _log.info("started run %s of job %s", started["run_id"], job_id)
            return self._follow(int(started["run_id"]), span, wait, timeout, poll_interval, progress, check)

    def submit(
        self,
        tasks: Sequence[Mapping[str, Any]],
        *,
        run_name: str | None = None,
        wait: bool = True,
        timeout: float = 3600.0,
        poll_interval: float = 2.0,
        progress: Callable[[JobRun], None] | None = None,
        idempotency_token: str | None = None,
        check: bool = False,
    ) -> JobRun:
        """Run `tasks` once, without creating a job (`runs/submit`), and by default wait for the run to end.

        Args:
            tasks: Task dicts as for `ensure_job`.
            run_name: The run's name.
            wait: Poll until the run ends.
            timeout: Seconds to wait in all.
            poll_interval: First pause between polls.
            progress: Called with the run at each new state while waiting.
            idempotency_token: As for `run`.
            check: Raise `JobRunFailedError` when the run ends without success.

        Raises:
            InvalidRequestError: A bad task.
            OperationTimeoutError: It did not end in `timeout`; `.last_state` is the last `JobRun` seen.
            JobRunFailedError: With `check=True`, the run ended without success.
        """
        body: dict[str, Any] = {
            "tasks": check_tasks(tasks, required=True),
            "idempotency_token": make_token(idempotency_token),
        }
        if run_name is not None:
            body["run_name"] = run_name
        wait_args(timeout, poll_interval)
        with self._span("jobs.submit", {"dbx_native.job.name": run_name}) as span:
            started = self._post("runs/submit", body, min(timeout, CALL_TIMEOUT), idempotent=True)
            _log.info("submitted one-off run %s (%s)", started["run_id"], run_name)
            return self._follow(int(started["run_id"]), span, wait, timeout, poll_interval, progress, check)

    def status(self, run_id: int, *, timeout: float | None = None) -> JobRun:
        """The run now, with its task runs.

        Raises:
            NotFoundError: No such run.
        """
        run_id = run_id_arg(run_id)
        with self._span("jobs.status", {"dbx_native.job.run_id": run_id}):
            return self._get_run(run_id, timeout)

    def cancel(
        self,
        run_id: int,
        *,
        wait: bool = False,
        timeout: float = 600.0,
        poll_interval: float = 2.0,
        progress: Callable[[JobRun], None] | None = None,
    ) -> JobRun:
        """Cancel a run (it ends `USER_CANCELED`); a run that already ended is left as it is.

        Args:
            run_id: The run.
            wait: Poll until the run has ended.
            timeout: Seconds for the call and, with `wait`, to wait in all.
            poll_interval: First pause between polls.
            progress: Called with the run at each new state while waiting.

        Returns:
            The run after the request (or, with `wait`, once ended).

        Raises:
            NotFoundError: No such run.
            OperationTimeoutError: With `wait`, it did not end in `timeout`.
        """
        run_id = run_id_arg(run_id)
        wait_args(timeout, poll_interval)
        with self._span("jobs.cancel", {"dbx_native.job.run_id": run_id}) as span:
            self._post("runs/cancel", {"run_id": run_id}, min(timeout, CALL_TIMEOUT), idempotent=True)
            _log.info("asked to cancel run %s", run_id)
            return self._follow(run_id, span, wait, timeout, poll_interval, progress, False)

    def repair(
        self,
        run_id: int,
        *,
        tasks: Sequence[str] | None = None,
        rerun_dependents: bool = True,
        parameters: Mapping[str, Any] | None = None,
        wait: bool = True,
        timeout: float = 3600.0,
        poll_interval: float = 2.0,
        progress: Callable[[JobRun], None] | None = None,
        check: bool = False,
    ) -> JobRun:
        """Re-run the failed (or the named) tasks of an ended run, as a new attempt of the same run (`runs/repair`).

        The tasks that succeeded keep their results; the re-run ones get new task runs (`attempt_number` + 1), with
        the job's current settings. The run is active again until they end; its final state is then recomputed.

        Args:
            run_id: The run to repair (it must have ended without success).
            tasks: Task keys to re-run; `None` re-runs every task that did not succeed.
            rerun_dependents: Also re-run every task downstream of those, even the ones that succeeded.
            parameters: Job parameters for the re-run tasks (the others keep the run's values).
            wait: Poll until the repaired run ends.
            timeout: Seconds to wait in all.
            poll_interval: First pause between polls.
            progress: Called with the run at each new state while waiting.
            check: Raise `JobRunFailedError` when the repaired run ends without success.

        Returns:
            The run after the repair (with `wait`, in its final state); `repair_history` lists every attempt.

        Raises:
            InvalidRequestError: A bad run id, task list or parameter.
            NotFoundError: No such run.
            BadRequestError: The service refused: the run is still active, succeeded, or was skipped; or a task is
                not in the run.
            OperationTimeoutError: With `wait`, it did not end in `timeout`.
            JobRunFailedError: With `check=True`, the repaired run ended without success.
        """
        run_id = run_id_arg(run_id)
        body: dict[str, Any] = {"run_id": run_id, "rerun_dependent_tasks": bool(rerun_dependents)}
        if tasks is None:
            body["rerun_all_failed_tasks"] = True
        else:
            body["rerun_tasks"] = repair_tasks(tasks)
        params = check_parameters(parameters)
        if params:
            body["job_parameters"] = params
        wait_args(timeout, poll_interval)
        with self._span("jobs.repair", {"dbx_native.job.run_id": run_id}) as span:
            latest = self._get_run(run_id, min(timeout, CALL_TIMEOUT)).latest_repair_id
            if latest is not None:  # the service refuses a second repair that does not name the latest one
                body["latest_repair_id"] = latest
            # Not retried: after a lost answer, a second identical request is refused as stale, never run twice.
            repaired = self._post("runs/repair", body, min(timeout, CALL_TIMEOUT))
            _log.info("repair %s of run %s started", repaired.get("repair_id"), run_id)
            return self._follow(run_id, span, wait, timeout, poll_interval, progress, check)

    def cancel_all(self, job: JobRef | None, *, queued_only: bool = False, timeout: float | None = None) -> None:
        """Cancel every active run of `job` (`runs/cancel-all`); the runs end asynchronously.

        Args:
            job: The job (id, name or `JobInfo`); `None` with `queued_only=True` for every queued run of the
                workspace.
            queued_only: Cancel only the runs waiting in the queue, not the ones already running.
            timeout: Seconds for each call.

        Raises:
            InvalidRequestError: `job` is `None` without `queued_only=True`.
            NotFoundError: No such job.
        """
        if job is None and not queued_only:
            raise InvalidRequestError(
                "cancel_all needs a job; to cancel every queued run of the workspace pass cancel_all(None, "
                "queued_only=True)"
            )
        with self._span("jobs.cancel_all", job_attrs(job)):
            body: dict[str, Any] = {"all_queued_runs": True} if queued_only else {}
            if job is not None:
                body["job_id"] = self._job_id(job, timeout)
            self._post("runs/cancel-all", body, timeout, idempotent=True)
            where = f"job {body['job_id']}" if "job_id" in body else "the workspace"
            _log.info("asked to cancel all %sruns of %s", "queued " if queued_only else "", where)

    def output(self, run_id: int, *, task_key: str | None = None, timeout: float | None = None) -> RunOutput:
        """The output of a run's task: notebook result, logs, error and its trace.

        Databricks gives outputs per task run: for a run of several tasks, name the task (`task_key=`) or pass
        the task run's id (`run.task("train").run_id`).

        Raises:
            NotFoundError: No such run, or no task `task_key` in it.
            InvalidRequestError: The run has several tasks and no `task_key` was given.
        """
        run_id = run_id_arg(run_id)
        with self._span("jobs.output", {"dbx_native.job.run_id": run_id}):
            run = self._get_run(run_id, timeout)
            target = run_id
            if task_key is not None or len(run.latest_tasks) > 1:
                if task_key is None:
                    keys = [t.task_key for t in run.latest_tasks]
                    raise InvalidRequestError(
                        f"run {run_id} has {len(keys)} tasks {keys}: pass output({run_id}, task_key=...) for one"
                    )
                try:
                    target = run.task(task_key).run_id
                except KeyError as err:
                    raise NotFoundError(
                        str(err.args[0]), status_code=404, error_code="RESOURCE_DOES_NOT_EXIST"
                    ) from err
            elif run.tasks:
                target = run.latest_tasks[0].run_id
            raw = self._http.request(
                "GET", f"{API}/runs/get-output", params={"run_id": target}, timeout=timeout, traced=False
            ).json()
            return parse_output(raw, target)

    def runs(
        self,
        job: JobRef | None = None,
        *,
        active_only: bool = False,
        completed_only: bool = False,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> Iterator[JobRun]:
        """The runs of `job` (or of every job), newest first, read lazily one page at a time.

        Args:
            job: The job (id, name or `JobInfo`); `None` for the runs of all jobs and one-off runs.
            active_only: Only runs that have not ended.
            completed_only: Only runs that have ended.
            limit: Stop after this many runs.
            timeout: Seconds for each page.

        Raises:
            InvalidRequestError: Both `active_only` and `completed_only`, or a negative `limit`.
            NotFoundError: No such job (raised on the first iteration).
        """
        if active_only and completed_only:
            raise InvalidRequestError("active_only and completed_only cannot both be set: pick one, or neither")
        if limit is not None and limit < 0:
            raise InvalidRequestError(f"limit must be 0 or more, not {limit}")
        return self._iter_runs(job, active_only, completed_only, limit, timeout)
