"""`JobRunner`: Lakeflow Jobs (API 2.2) as code: ensure a job, run it and wait, read outputs, list runs."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar

from dbx_native._core.client import BaseClient
from dbx_native._core.clock import Clock
from dbx_native._core.logs import get_logger
from dbx_native.config import DbxConfig
from dbx_native.errors import InvalidRequestError, NotFoundError
from dbx_native.jobs._models import JobChange, JobInfo, JobRun, RunOutput, parse_job, parse_output, parse_run
from dbx_native.jobs._spec import body_of, build_settings, check_tasks, diff
from dbx_native.jobs._wait import wait_for_run

__all__ = ["JobRef", "JobRunner"]

_log = get_logger("dbx_native.jobs")
_API = "/api/2.2/jobs"
_CALL_TIMEOUT = 60.0  # each request of a long wait; the wait itself has its own timeout

JobRef = int | str | JobInfo
"""A job: its id, its name, or a `JobInfo` (`ensure_job(...).job`)."""


class JobRunner(BaseClient):
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
            max_concurrent_runs: How many runs may be active at once (default 1).
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
        with self._span("jobs.get", _job_attrs(job)):
            return self._get_job(self._job_id(job, timeout), timeout)

    def delete_job(self, job: JobRef, *, timeout: float | None = None) -> bool:
        """Delete the job (its past runs stay listed); `False` when there was none.

        Raises:
            InvalidRequestError: Two jobs have that name.
        """
        with self._span("jobs.delete", _job_attrs(job)):
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
            server's reason in `.message`, unless `check=True`).

        Raises:
            NotFoundError: No such job.
            OperationTimeoutError: It did not end in `timeout`; `.last_state` is the last `JobRun` seen.
            JobRunFailedError: With `check=True`, the run ended without success.
        """
        token = _token(idempotency_token)
        params = _parameters(parameters)
        _wait_args(timeout, poll_interval)
        with self._span("jobs.run", _job_attrs(job)) as span:
            job_id = self._job_id(job, min(timeout, _CALL_TIMEOUT))
            body: dict[str, Any] = {"job_id": job_id, "idempotency_token": token}
            if params:
                body["job_parameters"] = params
            if only:
                body["only"] = list(only)
            started = self._post("run-now", body, min(timeout, _CALL_TIMEOUT), idempotent=True)
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
            "idempotency_token": _token(idempotency_token),
        }
        if run_name is not None:
            body["run_name"] = run_name
        _wait_args(timeout, poll_interval)
        with self._span("jobs.submit", {"dbx_native.job.name": run_name}) as span:
            started = self._post("runs/submit", body, min(timeout, _CALL_TIMEOUT), idempotent=True)
            _log.info("submitted one-off run %s (%s)", started["run_id"], run_name)
            return self._follow(int(started["run_id"]), span, wait, timeout, poll_interval, progress, check)

    def status(self, run_id: int, *, timeout: float | None = None) -> JobRun:
        """The run now, with its task runs.

        Raises:
            NotFoundError: No such run.
        """
        run_id = _run_id(run_id)
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
        run_id = _run_id(run_id)
        _wait_args(timeout, poll_interval)
        with self._span("jobs.cancel", {"dbx_native.job.run_id": run_id}) as span:
            self._post("runs/cancel", {"run_id": run_id}, min(timeout, _CALL_TIMEOUT), idempotent=True)
            _log.info("asked to cancel run %s", run_id)
            return self._follow(run_id, span, wait, timeout, poll_interval, progress, False)

    def output(self, run_id: int, *, task_key: str | None = None, timeout: float | None = None) -> RunOutput:
        """The output of a run's task: notebook result, logs, error and its trace.

        Databricks gives outputs per task run: for a run of several tasks, name the task (`task_key=`) or pass
        the task run's id (`run.task("train").run_id`).

        Raises:
            NotFoundError: No such run, or no task `task_key` in it.
            InvalidRequestError: The run has several tasks and no `task_key` was given.
        """
        run_id = _run_id(run_id)
        with self._span("jobs.output", {"dbx_native.job.run_id": run_id}):
            run = self._get_run(run_id, timeout)
            target = run_id
            if task_key is not None or len(run.tasks) > 1:
                if task_key is None:
                    keys = [t.task_key for t in run.tasks]
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
                target = run.tasks[0].run_id
            raw = self._http.request(
                "GET", f"{_API}/runs/get-output", params={"run_id": target}, timeout=timeout, traced=False
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

    # --- internals -------------------------------------------------------------------------------------------------

    def _iter_runs(
        self, job: JobRef | None, active: bool, completed: bool, limit: int | None, timeout: float | None
    ) -> Iterator[JobRun]:
        params: dict[str, Any] = {"limit": 25}
        if job is not None:
            params["job_id"] = self._job_id(job, timeout)
        if active:
            params["active_only"] = "true"
        if completed:
            params["completed_only"] = "true"
        seen = 0
        while limit is None or seen < limit:
            page = self._http.request(
                "GET", f"{_API}/runs/list", params=params, timeout=timeout, operation="jobs.runs"
            ).json()
            for raw in page.get("runs") or []:
                if limit is not None and seen >= limit:
                    return
                seen += 1
                yield parse_run(raw)
            token = page.get("next_page_token")
            if not token or not page.get("has_more", True):
                return
            params["page_token"] = token

    def _follow(
        self,
        run_id: int,
        span: Any,
        wait: bool,
        timeout: float,
        poll_interval: float,
        progress: Callable[[JobRun], None] | None,
        check: bool,
    ) -> JobRun:
        first = self._get_run(run_id, min(timeout, _CALL_TIMEOUT))
        if span.is_recording():
            span.set_attribute("dbx_native.job.run_id", run_id)
        if wait and not first.done:
            run = wait_for_run(
                lambda: self._get_run(run_id, min(timeout, _CALL_TIMEOUT)),
                first=first,
                clock=self._http.clock,
                timeout=timeout,
                poll_interval=poll_interval,
                progress=progress,
            )
        else:
            run = first
            if progress is not None:
                progress(run)
        if span.is_recording():
            span.set_attributes({"dbx_native.job.state": run.state, "dbx_native.job.result": run.termination_code})
        return run.raise_for_failure() if check else run

    def _span(self, name: str, attrs: Mapping[str, Any]) -> Any:
        return self._http.telemetry.span(name, {"dbx_native.client": self._client_name, **attrs})

    def _post(self, route: str, body: Mapping[str, Any], timeout: float | None, *, idempotent: bool = False) -> Any:
        return self._http.request(
            "POST", f"{_API}/{route}", json_body=body, timeout=timeout, idempotent=idempotent, traced=False
        ).json()

    def _get_job(self, job_id: int, timeout: float | None) -> JobInfo:
        raw = self._http.request("GET", f"{_API}/get", params={"job_id": job_id}, timeout=timeout, traced=False)
        return parse_job(raw.json())

    def _get_run(self, run_id: int, timeout: float | None) -> JobRun:
        raw = self._http.request("GET", f"{_API}/runs/get", params={"run_id": run_id}, timeout=timeout, traced=False)
        return parse_run(raw.json())

    def _find(self, name: str, timeout: float | None) -> int | None:
        """The id of the job named exactly `name`; None when there is none."""
        params: dict[str, Any] = {"name": name, "limit": 100}
        ids: list[int] = []
        while True:
            page = self._http.request("GET", f"{_API}/list", params=params, timeout=timeout, traced=False).json()
            # The service filters case-insensitively; a job's name is its identity here, so match it exactly.
            ids += [int(j["job_id"]) for j in page.get("jobs") or [] if (j.get("settings") or {}).get("name") == name]
            if not page.get("next_page_token"):
                break
            params["page_token"] = page["next_page_token"]
        if len(ids) > 1:
            raise InvalidRequestError(
                f"{len(ids)} jobs are named {name!r} (ids {sorted(ids)}): refer to one by id, or delete the extra "
                f"ones with delete_job(<id>) so that the name is unique."
            )
        return ids[0] if ids else None

    def _job_id(self, job: JobRef, timeout: float | None) -> int:
        if isinstance(job, JobInfo):
            return job.job_id
        if isinstance(job, bool) or not isinstance(job, (int, str)):
            raise InvalidRequestError(f"job must be a job id, a job name or a JobInfo, not {type(job).__name__}")
        if isinstance(job, int):
            if job <= 0:
                raise InvalidRequestError(f"job ids are positive integers, not {job}")
            return job
        found = self._find(job, timeout)
        if found is None:
            raise NotFoundError(
                f"No job is named {job!r}: create it with ensure_job({job!r}, tasks=[...]) or check the name.",
                status_code=404,
                error_code="RESOURCE_DOES_NOT_EXIST",
            )
        return found


def _job_attrs(job: JobRef | None) -> dict[str, Any]:
    if isinstance(job, JobInfo):
        return {"dbx_native.job.id": job.job_id, "dbx_native.job.name": job.name}
    if isinstance(job, int) and not isinstance(job, bool):
        return {"dbx_native.job.id": job}
    return {"dbx_native.job.name": job if isinstance(job, str) else None}


def _token(token: str | None) -> str:
    if token is None:
        return uuid.uuid4().hex
    if not isinstance(token, str) or not token or len(token) > 64:
        raise InvalidRequestError(f"idempotency_token must be a string of 1 to 64 characters, not {token!r}")
    return token


def _parameters(parameters: Mapping[str, Any] | None) -> dict[str, str]:
    if parameters is None:
        return {}
    if not isinstance(parameters, Mapping):
        raise InvalidRequestError(f"parameters must be a dict of job parameter names to values, not {parameters!r}")
    out = {}
    for key, value in parameters.items():
        if isinstance(value, (dict, list, tuple, set)):
            raise InvalidRequestError(f"job parameter {key!r} must be a string or a number, not {type(value).__name__}")
        out[str(key)] = "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
    return out


def _run_id(run_id: Any) -> int:
    if isinstance(run_id, bool) or not isinstance(run_id, int) or run_id <= 0:
        raise InvalidRequestError(f"run_id must be a positive integer (JobRun.run_id), not {run_id!r}")
    return run_id


def _wait_args(timeout: float, poll_interval: float) -> None:
    if timeout <= 0:
        raise InvalidRequestError(f"timeout must be positive seconds, not {timeout!r}")
    if poll_interval <= 0:
        raise InvalidRequestError(f"poll_interval must be positive seconds, not {poll_interval!r}")
