"""JobRunner end to end against the local workspace: ensure, run and wait, failures, cancel, outputs, paging."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from jobs_support import LIFECYCLE, notebook

from canary import CANARY
from dbx_native import DbxConfig
from dbx_native._core.clock import FakeClock
from dbx_native.errors import InvalidRequestError, JobRunFailedError, NotFoundError, OperationTimeoutError
from dbx_native.jobs import JobRun, JobRunner
from dbx_native.local import LocalWorkspace, TaskOutcome


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def runner(ws: LocalWorkspace, clock: FakeClock) -> JobRunner:
    return JobRunner(DbxConfig(host=ws.host, token=CANARY, retry={"jitter": 0.0}), clock=clock)


def writes(ws: LocalWorkspace) -> list[str]:
    return [r.path.rsplit("/jobs/", 1)[1] for r in ws.requests if r.method == "POST"]


# --- ensure_job -------------------------------------------------------------------------------------------------


def test_ensure_creates_then_sends_nothing_when_the_settings_are_the_same(
    ws: LocalWorkspace, runner: JobRunner
) -> None:
    args: dict[str, Any] = dict(tasks=[notebook("score")], parameters={"day": "today"}, tags={"team": "fraud"})
    first = runner.ensure_job("nightly", **args)
    assert first.action == "created" and first.changed
    assert {c.field for c in first.changes} == {"name", "tasks", "parameters", "tags"}
    assert first.job.job_id == ws.jobs.job_id("nightly")
    assert first.job.task_keys == ["score"]
    before = writes(ws)
    second = runner.ensure_job("nightly", **args)
    assert second.action == "unchanged" and second.changes == [] and not second.changed
    assert writes(ws) == before  # nothing sent
    assert second.job.job_id == first.job.job_id


def test_ensure_resets_the_job_and_reports_only_the_changed_settings(ws: LocalWorkspace, runner: JobRunner) -> None:
    runner.ensure_job("nightly", tasks=[notebook("score")], max_concurrent_runs=1)
    changed = runner.ensure_job(
        "nightly", tasks=[notebook("score"), notebook("report", after="score")], schedule="0 0 6 * * ?"
    )
    assert changed.action == "updated"
    assert sorted(c.field for c in changed.changes) == ["schedule", "tasks"]
    assert writes(ws)[-1] == "reset"
    settings = ws.jobs.settings(changed.job.job_id)
    assert [t["task_key"] for t in settings["tasks"]] == ["score", "report"]
    assert settings["schedule"]["quartz_cron_expression"] == "0 0 6 * * ?"
    assert "schedule: None ->" in str(changed)


def test_ensure_refuses_a_name_that_two_jobs_share(ws: LocalWorkspace, runner: JobRunner) -> None:
    import requests

    for _ in range(2):  # two jobs with one name can only come from outside ensure_job
        requests.post(
            f"{ws.host}/api/2.2/jobs/create",
            json={"name": "dup", "tasks": [notebook("a")]},
            headers={"Authorization": f"Bearer {CANARY}"},
            timeout=5,
        ).raise_for_status()
    with pytest.raises(InvalidRequestError, match=r"2 jobs are named 'dup'.*delete_job"):
        runner.ensure_job("dup", tasks=[notebook("a")])


# --- run and wait ------------------------------------------------------------------------------------------------


def test_run_waits_through_every_state_and_reports_each_change(
    ws: LocalWorkspace, runner: JobRunner, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    runner.ensure_job("nightly", tasks=[notebook("score")])
    ws.states.set("job-run", LIFECYCLE, after_reads=1)
    seen: list[str] = []
    with caplog.at_level(logging.INFO, logger="dbx_native.jobs"):
        run = runner.run("nightly", progress=lambda r: seen.append(r.state), poll_interval=1.0)
    assert seen == LIFECYCLE
    assert run.done and run.succeeded and run.termination_code == "SUCCESS" and run.result_state == "SUCCESS"
    assert run.tasks[0].task_key == "score" and run.tasks[0].succeeded
    assert run.end_time is not None and run.start_time is not None
    assert clock.sleeps[:2] == [1.0, 1.5]  # backoff on the injected clock
    assert "PENDING -> RUNNING" in caplog.text
    assert run.run_page_url and run.run_page_url.endswith(f"/jobs/{run.job_id}/runs/{run.run_id}")


def test_run_timeout_raises_with_the_last_state_seen(ws: LocalWorkspace, runner: JobRunner) -> None:
    runner.ensure_job("slow", tasks=[notebook("score")])
    ws.states.set("job-run", LIFECYCLE, after_reads=2)
    with pytest.raises(OperationTimeoutError, match="still PENDING") as caught:
        runner.run("slow", timeout=3.0, poll_interval=1.0)
    last = caught.value.last_state
    assert isinstance(last, JobRun) and last.state == "PENDING" and not last.done
    assert caught.value.timeout == 3.0


def test_a_scripted_failure_returns_a_failed_run_and_raise_for_failure_says_why(
    ws: LocalWorkspace, runner: JobRunner
) -> None:
    runner.ensure_job("train", tasks=[notebook("prep"), notebook("fit", after="prep"), notebook("eval", after="fit")])
    ws.jobs.script("fit", TaskOutcome.failure("CUDA out of memory", code="DRIVER_ERROR", error_trace="Traceback ..."))
    run = runner.run("train")
    assert run.done and not run.succeeded
    assert run.result_state == "FAILED" and run.termination_code == "DRIVER_ERROR"
    assert run.termination_type == "CLIENT_ERROR" and "CUDA out of memory" in (run.message or "")
    assert [(t.task_key, t.result_state) for t in run.tasks] == [
        ("prep", "SUCCESS"),
        ("fit", "FAILED"),
        ("eval", "UPSTREAM_FAILED"),
    ]
    with pytest.raises(JobRunFailedError, match=r"ended DRIVER_ERROR \(failed tasks: fit\)") as caught:
        run.raise_for_failure()
    err = caught.value
    assert err.run_id == run.run_id and err.job_id == run.job_id and err.state == "TERMINATED"
    assert err.termination_code == "DRIVER_ERROR" and "CUDA out of memory" in (err.server_message or "")
    with pytest.raises(JobRunFailedError):
        runner.run("train", check=True)
    out = runner.output(run.run_id, task_key="fit")
    assert out.error == "CUDA out of memory" and out.error_trace == "Traceback ..." and out.result is None


def test_output_reads_the_scripted_notebook_result_from_the_run_parameters(
    ws: LocalWorkspace, runner: JobRunner
) -> None:
    runner.ensure_job("nightly", tasks=[notebook("score")], parameters={"day": "today"})
    ws.jobs.script("nightly", lambda key, params: TaskOutcome.success(f"{key} {params['day']}", logs="42 rows"))
    run = runner.run("nightly", parameters={"day": "2026-03-02"})
    assert run.parameters == {"day": "2026-03-02"}
    out = runner.output(run.run_id)
    assert (out.result, out.logs, out.task_key, out.error) == ("score 2026-03-02", "42 rows", "score", None)
    default = runner.output(runner.run("nightly").run_id)
    assert default.result == "score today"


def test_output_of_a_run_with_several_tasks_needs_the_task(ws: LocalWorkspace, runner: JobRunner) -> None:
    runner.ensure_job("two", tasks=[notebook("a"), notebook("b")])
    ws.jobs.script("b", "from b")
    run = runner.run("two")
    with pytest.raises(InvalidRequestError, match=r"task_key="):
        runner.output(run.run_id)
    assert runner.output(run.run_id, task_key="b").result == "from b"
    assert runner.output(run.task("b").run_id).result == "from b"  # by task run id
    with pytest.raises(NotFoundError, match="no task 'c'"):
        runner.output(run.run_id, task_key="c")


def test_submit_runs_tasks_once_without_a_job(ws: LocalWorkspace, runner: JobRunner) -> None:
    ws.jobs.script("adhoc", "done")
    run = runner.submit([notebook("adhoc")], run_name="backfill")
    assert run.succeeded and run.job_id is None and run.run_name == "backfill"
    assert runner.output(run.run_id).result == "done"
    with pytest.raises(KeyError):  # no job was created
        ws.jobs.job_id("backfill")


def test_cancel_ends_a_run_user_canceled(ws: LocalWorkspace, runner: JobRunner) -> None:
    runner.ensure_job("long", tasks=[notebook("score")])
    ws.states.set("job-run", LIFECYCLE, after_reads=100)
    started = runner.run("long", wait=False)
    assert started.state == "QUEUED" and not started.done
    seen: list[str] = []
    canceled = runner.cancel(started.run_id, wait=True, progress=lambda r: seen.append(r.state))
    assert seen == ["TERMINATING", "TERMINATED"]
    assert canceled.termination_code == "USER_CANCELED" and canceled.result_state == "CANCELED"
    assert not canceled.succeeded
    with pytest.raises(JobRunFailedError, match="USER_CANCELED"):
        canceled.raise_for_failure()
    assert runner.cancel(started.run_id).termination_code == "USER_CANCELED"  # canceling again changes nothing


def test_the_same_idempotency_token_returns_the_same_run(ws: LocalWorkspace, runner: JobRunner) -> None:
    job = runner.ensure_job("nightly", tasks=[notebook("score")]).job
    first = runner.run(job, idempotency_token="nightly-2026-03-02")
    again = runner.run(job, idempotency_token="nightly-2026-03-02")
    other = runner.run(job)
    assert first.run_id == again.run_id != other.run_id
    assert ws.jobs.run_ids(job.job_id) == [first.run_id, other.run_id]


def test_a_run_start_whose_answer_is_lost_is_retried_without_a_second_run(
    ws: LocalWorkspace, runner: JobRunner
) -> None:
    job_id = runner.ensure_job("nightly", tasks=[notebook("score")]).job.job_id
    ws.faults.add(read_timeout=True, path=r"/jobs/run-now$")  # processed, then the answer never arrives
    run = runner.run(job_id)
    assert run.succeeded
    assert ws.jobs.run_ids(job_id) == [run.run_id]
    assert len([r for r in ws.requests if r.path.endswith("/run-now")]) == 2


def test_503_then_recovery_is_retried(ws: LocalWorkspace, runner: JobRunner, clock: FakeClock) -> None:
    ws.faults.add(status=503, path=r"/jobs/create$")
    ws.faults.add(status=503, path=r"/jobs/runs/get$", times=2)
    run = runner.run(runner.ensure_job("nightly", tasks=[notebook("score")]).job)
    assert run.succeeded
    assert len(clock.sleeps) >= 3  # one backoff per 503, on the fake clock


# --- lists, lookups, errors -------------------------------------------------------------------------------------


def test_runs_are_read_lazily_page_by_page_newest_first(ws: LocalWorkspace, runner: JobRunner) -> None:
    job = runner.ensure_job("many", tasks=[notebook("score")]).job
    ids = [runner.run(job, wait=False).run_id for _ in range(30)]
    pages = lambda: [r for r in ws.requests if r.path.endswith("/runs/list")]  # noqa: E731
    listed = runner.runs("many")
    assert pages() == []  # lazy: nothing sent yet
    assert [r.run_id for r in listed] == ids[::-1]
    assert len(pages()) == 2  # 25 + 5
    assert [r.run_id for r in runner.runs(job, limit=3)] == ids[:-4:-1]
    assert list(runner.runs(job, active_only=True)) == []
    assert len(list(runner.runs(job, completed_only=True))) == 30


def test_runs_active_only_lists_the_runs_not_yet_ended(ws: LocalWorkspace, runner: JobRunner) -> None:
    job = runner.ensure_job("mixed", tasks=[notebook("score")]).job
    done = runner.run(job)
    ws.states.set("job-run", LIFECYCLE, after_reads=100)
    active = runner.run(job, wait=False)
    assert [r.run_id for r in runner.runs(job, active_only=True)] == [active.run_id]
    assert [r.run_id for r in runner.runs(job, completed_only=True)] == [done.run_id]


def test_unknown_job_and_run_ids_are_404_with_the_service_message(runner: JobRunner) -> None:
    with pytest.raises(NotFoundError, match=r"Job 999999 does not exist\.") as caught:
        runner.run(999999)
    assert caught.value.status_code == 404 and caught.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(NotFoundError, match=r"Run 424242 does not exist\."):
        runner.status(424242)
    with pytest.raises(NotFoundError, match=r"No job is named 'ghost'.*ensure_job"):
        runner.run("ghost")


def test_delete_job_says_whether_there_was_one(ws: LocalWorkspace, runner: JobRunner) -> None:
    runner.ensure_job("old", tasks=[notebook("score")])
    assert runner.delete_job("old") is True
    assert runner.delete_job("old") is False
    with pytest.raises(KeyError):
        ws.jobs.job_id("old")


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda r: r.ensure_job("j", tasks=[{"task_key": "a"}]), "exactly one task type"),
        (lambda r: r.ensure_job("j", tasks=[notebook("a"), notebook("a")]), "used twice"),
        (lambda r: r.ensure_job("j", tasks=[notebook("a", after="b")]), "not a task of this job"),
        (lambda r: r.ensure_job("j", tasks=[{"task_key": "a b", "notebook_task": {}}]), "task_key 'a b'"),
        (lambda r: r.ensure_job("j", tasks=[]), "at least one task"),
        (lambda r: r.ensure_job("j", tasks=[notebook("a")], schedule="every day"), "Quartz cron"),
        (lambda r: r.ensure_job("", tasks=[notebook("a")]), "non-empty name"),
        (lambda r: r.run(1, parameters={"x": [1]}), "string or a number"),
        (lambda r: r.run(1, idempotency_token="t" * 65), "1 to 64 characters"),
        (lambda r: r.run(1, timeout=0), "timeout must be positive"),
        (lambda r: r.run(True), "job id, a job name or a JobInfo"),
        (lambda r: r.status(-1), "positive integer"),
        (lambda r: r.runs(1, active_only=True, completed_only=True), "cannot both"),
        (lambda r: r.submit({"task_key": "a"}), "list of task dicts"),
    ],
)
def test_bad_input_is_refused_before_anything_is_sent(
    ws: LocalWorkspace, runner: JobRunner, call: Any, match: str
) -> None:
    with pytest.raises(InvalidRequestError, match=match):
        call(runner)
    assert len(ws.requests) == 0


def test_each_operation_is_one_span(runner: JobRunner, span_exporter: Any) -> None:
    job = runner.ensure_job("traced", tasks=[notebook("score")]).job
    span_exporter.clear()
    run = runner.run(job)
    spans = span_exporter.get_finished_spans()
    assert [s.name for s in spans] == ["jobs.run"]
    attrs = dict(spans[0].attributes)
    assert attrs["dbx_native.job.id"] == job.job_id and attrs["dbx_native.job.run_id"] == run.run_id
    assert attrs["dbx_native.job.result"] == "SUCCESS" and attrs["dbx_native.client"] == "jobs"
