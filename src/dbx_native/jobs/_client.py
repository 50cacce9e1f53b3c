"""The plumbing of `JobRunner`: requests, run polling, job lookup by name, and the checks of its arguments."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from dbx_native._core.client import BaseClient
from dbx_native._core.logs import get_logger
from dbx_native.errors import InvalidRequestError, NotFoundError
from dbx_native.jobs._models import JobInfo, JobRun, parse_job, parse_run
from dbx_native.jobs._wait import wait_for_run

__all__ = [
    "API",
    "CALL_TIMEOUT",
    "JobRef",
    "JobsClient",
    "check_parameters",
    "job_attrs",
    "make_token",
    "repair_tasks",
    "run_id_arg",
    "wait_args",
]

_log = get_logger("dbx_native.jobs")
API = "/api/2.2/jobs"
CALL_TIMEOUT = 60.0  # each request of a long wait; the wait itself has its own timeout

JobRef = int | str | JobInfo
"""A job: its id, its name, or a `JobInfo` (`ensure_job(...).job`)."""


class JobsClient(BaseClient):
    """Requests and polling shared by the `JobRunner` operations."""

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
                "GET", f"{API}/runs/list", params=params, timeout=timeout, operation="jobs.runs"
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
        first = self._get_run(run_id, min(timeout, CALL_TIMEOUT))
        if span.is_recording():
            span.set_attribute("dbx_native.job.run_id", run_id)
        if wait and not first.done:
            run = wait_for_run(
                lambda: self._get_run(run_id, min(timeout, CALL_TIMEOUT)),
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
            "POST", f"{API}/{route}", json_body=body, timeout=timeout, idempotent=idempotent, traced=False
        ).json()

    def _get_job(self, job_id: int, timeout: float | None) -> JobInfo:
        raw = self._http.request("GET", f"{API}/get", params={"job_id": job_id}, timeout=timeout, traced=False)
        return parse_job(raw.json())

    def _get_run(self, run_id: int, timeout: float | None) -> JobRun:
        params = {"run_id": run_id, "include_history": "true"}  # the repair history comes only when asked for
        raw = self._http.request("GET", f"{API}/runs/get", params=params, timeout=timeout, traced=False)
        return parse_run(raw.json())

    def _find(self, name: str, timeout: float | None) -> int | None:
        """The id of the job named exactly `name`; None when there is none."""
        params: dict[str, Any] = {"name": name, "limit": 100}
        ids: list[int] = []
        while True:
            page = self._http.request("GET", f"{API}/list", params=params, timeout=timeout, traced=False).json()
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


def job_attrs(job: JobRef | None) -> dict[str, Any]:
    if isinstance(job, JobInfo):
        return {"dbx_native.job.id": job.job_id, "dbx_native.job.name": job.name}
    if isinstance(job, int) and not isinstance(job, bool):
        return {"dbx_native.job.id": job}
    return {"dbx_native.job.name": job if isinstance(job, str) else None}


def make_token(token: str | None) -> str:
    if token is None:
        return uuid.uuid4().hex
    if not isinstance(token, str) or not token or len(token) > 64:
        raise InvalidRequestError(f"idempotency_token must be a string of 1 to 64 characters, not {token!r}")
    return token


def check_parameters(parameters: Mapping[str, Any] | None) -> dict[str, str]:
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


def run_id_arg(run_id: Any) -> int:
    if isinstance(run_id, bool) or not isinstance(run_id, int) or run_id <= 0:
        raise InvalidRequestError(f"run_id must be a positive integer (JobRun.run_id), not {run_id!r}")
    return run_id


def repair_tasks(tasks: Any) -> list[str]:
    """Task keys to re-run: a non-empty list of distinct strings."""
    if isinstance(tasks, str) or not isinstance(tasks, (list, tuple)) or not tasks:
        raise InvalidRequestError(
            f"tasks must be a non-empty list of task keys (or None for the failed ones), not {tasks!r}"
        )
    if not all(isinstance(key, str) and key for key in tasks):
        raise InvalidRequestError(f"tasks must be task keys (strings), not {list(tasks)!r}")
    if len(set(tasks)) != len(tasks):
        raise InvalidRequestError(f"tasks lists a task twice: {list(tasks)!r}; name each task once")
    return list(tasks)


def wait_args(timeout: float, poll_interval: float) -> None:
    if timeout <= 0:
        raise InvalidRequestError(f"timeout must be positive seconds, not {timeout!r}")
    if poll_interval <= 0:
        raise InvalidRequestError(f"poll_interval must be positive seconds, not {poll_interval!r}")
