"""JobRunner against the local workspace: max_concurrent_runs (queued or skipped runs), repairs, cancel-all."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from jobs_support import LIFECYCLE, notebook

from canary import CANARY
from dbx_native import DbxConfig
from dbx_native._core.clock import FakeClock
from dbx_native.errors import BadRequestError, InvalidRequestError, JobRunFailedError
from dbx_native.jobs import JobRun, JobRunner
from dbx_native.local import LocalWorkspace, TaskOutcome


@pytest.fixture
def runner(ws: LocalWorkspace) -> JobRunner:
    return JobRunner(DbxConfig(host=ws.host, token=CANARY, retry={"jitter": 0.0}), clock=FakeClock())


def wait_until_done(runner: JobRunner, run_id: int) -> JobRun:
    for _ in range(50):
        run = runner.status(run_id)
        if run.done:
            return run
    raise AssertionError(f"run {run_id} never ended")


def sent(ws: LocalWorkspace, route: str) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in ws.requests if r.method == "POST" and r.path.endswith(f"/jobs/{route}")]


# --- max_concurrent_runs and the queue ----------------------------------------------------------------------------


def test_runs_over_the_limit_wait_queued_and_start_oldest_first_when_a_slot_frees(
    ws: LocalWorkspace, runner: JobRunner
) -> None:
    job = runner.ensure_job("serial", tasks=[notebook("score")], queue=True).job
    assert ws.jobs.settings(job.job_id)["queue"] == {"enabled": True}
    ws.states.set("job-run", LIFECYCLE, after_reads=2)
    first, second, third = (runner.run(job, wait=False) for _ in range(3))
    assert first.queue_reason is None  # the first one took the free slot
    for waiting in (second, third):
        assert waiting.queued and waiting.queue_reason == "MAX_CONCURRENT_RUNS_REACHED"
        assert "max_concurrent_runs" in (waiting.queue_message or "")
        assert str(waiting).endswith("QUEUED (MAX_CONCURRENT_RUNS_REACHED)")
    assert wait_until_done(runner, first.run_id).succeeded
    assert runner.status(third.run_id).queue_reason == "MAX_CONCURRENT_RUNS_REACHED"  # still behind the second
    started = runner.status(second.run_id)
    assert started.queue_reason is None and not started.done
    assert [r.run_id for r in runner.runs(job, active_only=True)] == [third.run_id, second.run_id]
    assert wait_until_done(runner, second.run_id).succeeded
    assert wait_until_done(runner, third.run_id).succeeded


def test_run_waits_with_progress_through_queued_until_the_run_ahead_ends(
    ws: LocalWorkspace, runner: JobRunner, caplog: pytest.LogCaptureFixture
) -> None:
    job = runner.ensure_job("serial", tasks=[notebook("score")], queue=True).job
    ws.states.set("job-run", LIFECYCLE, after_reads=1)
    ahead = runner.run(job, wait=False)
    seen: list[tuple[str, str | None]] = []
    with caplog.at_level(logging.INFO, logger="dbx_native.jobs"):
        run = runner.run(job, progress=lambda r: seen.append((r.state, r.queue_reason)), poll_interval=1.0)
    assert seen[0] == ("QUEUED", "MAX_CONCURRENT_RUNS_REACHED")
    assert seen[-1] == ("TERMINATED", None) and run.succeeded
    assert runner.status(ahead.run_id).succeeded  # the run ahead ended first, as time passed for both
    assert "QUEUED -> PENDING" in caplog.text


def test_with_the_queue_off_a_run_over_the_limit_is_skipped_and_returned(ws: LocalWorkspace, runner: JobRunner) -> None:
    job = runner.ensure_job("pair", tasks=[notebook("score")], max_concurrent_runs=2).job
    ws.states.set("job-run", LIFECYCLE, after_reads=100)
    active = [runner.run(job, wait=False) for _ in range(2)]
    skipped = runner.run(job)  # waited for: it ends at once
    assert all(not r.done for r in active)
    assert skipped.done and skipped.skipped and not skipped.succeeded
    assert skipped.termination_code == "MAX_CONCURRENT_RUNS_EXCEEDED"
    assert skipped.result_state == "MAXIMUM_CONCURRENT_RUNS_REACHED"
    assert "limit of 2 maximum concurrent runs" in (skipped.message or "")
    with pytest.raises(JobRunFailedError, match=r"was skipped.*max_concurrent_runs.*queue") as caught:
        skipped.raise_for_failure()
    assert caught.value.termination_code == "MAX_CONCURRENT_RUNS_EXCEEDED"
    with pytest.raises(JobRunFailedError, match="was skipped"):
        runner.run(job, check=True)
    assert runner.status(skipped.run_id).skipped  # it stays skipped
    ws.jobs.clear_scripts()
    runner.ensure_job("off", tasks=[notebook("score")], max_concurrent_runs=0)
    assert runner.run("off").skipped  # 0 skips every run


def test_cancel_all_cancels_the_running_and_waiting_runs_of_one_job_only(ws: LocalWorkspace, runner: JobRunner) -> None:
    job = runner.ensure_job("serial", tasks=[notebook("score")], queue=True).job
    other = runner.ensure_job("other", tasks=[notebook("score")]).job
    ws.states.set("job-run", LIFECYCLE, after_reads=100)
    running, waiting = runner.run(job, wait=False), runner.run(job, wait=False)
    untouched = runner.run(other, wait=False)
    runner.cancel_all("serial")
    assert sent(ws, "runs/cancel-all") == [{"job_id": job.job_id}]
    gone = runner.status(waiting.run_id)  # a waiting run never started: it ends at once
    assert gone.done and gone.termination_code == "USER_CANCELED"
    assert runner.cancel(running.run_id, wait=True).termination_code == "USER_CANCELED"
    assert not runner.status(untouched.run_id).done


def test_cancel_all_queued_only_leaves_the_running_runs(ws: LocalWorkspace, runner: JobRunner) -> None:
    jobs = [runner.ensure_job(name, tasks=[notebook("score")], queue=True).job for name in ("a", "b")]
    ws.states.set("job-run", LIFECYCLE, after_reads=100)
    runs = [(runner.run(job, wait=False), runner.run(job, wait=False)) for job in jobs]
    runner.cancel_all(jobs[0], queued_only=True)
    assert sent(ws, "runs/cancel-all")[-1] == {"all_queued_runs": True, "job_id": jobs[0].job_id}
    assert runner.status(runs[0][1].run_id).termination_code == "USER_CANCELED"
    assert runner.status(runs[1][1].run_id).queued  # another job's waiting run is kept
    runner.cancel_all(None, queued_only=True)  # every waiting run of the workspace
    assert runner.status(runs[1][1].run_id).termination_code == "USER_CANCELED"
    assert [runner.status(pair[0].run_id).state for pair in runs] == ["QUEUED", "QUEUED"]  # running, lifecycle
    assert all(runner.status(pair[0].run_id).queue_reason is None for pair in runs)


# --- repair -------------------------------------------------------------------------------------------------------


def test_repair_reruns_only_the_failed_tasks_and_succeeds_on_the_second_attempt(
    ws: LocalWorkspace, runner: JobRunner
) -> None:
    runner.ensure_job("train", tasks=[notebook("prep"), notebook("fit", after="prep"), notebook("eval", after="fit")])
    ws.jobs.script("fit", [TaskOutcome.failure("CUDA out of memory", code="DRIVER_ERROR"), "model v2"])
    failed = runner.run("train")
    assert not failed.succeeded and failed.latest_repair_id is None
    assert [h.type for h in failed.repair_history] == ["ORIGINAL"]
    seen: list[str] = []
    repaired = runner.repair(failed.run_id, progress=lambda r: seen.append(r.state))
    assert repaired.run_id == failed.run_id and repaired.succeeded and repaired.termination_code == "SUCCESS"
    assert seen[-1] == "TERMINATED"
    assert sent(ws, "runs/repair") == [
        {"run_id": failed.run_id, "rerun_dependent_tasks": True, "rerun_all_failed_tasks": True}
    ]
    assert repaired.task("prep").run_id == failed.task("prep").run_id  # kept, not re-run
    for key in ("fit", "eval"):
        assert repaired.task(key).attempt_number == 1 and repaired.task(key).run_id != failed.task(key).run_id
    assert len(repaired.tasks) == 5  # every attempt is listed, as on Databricks
    original, repair = repaired.repair_history
    assert (original.type, original.repair_id, original.termination_code) == ("ORIGINAL", None, "DRIVER_ERROR")
    assert repair.type == "REPAIR" and repair.repair_id == repaired.latest_repair_id is not None
    assert repair.termination_code == "SUCCESS"
    assert sorted(repair.task_run_ids) == sorted(repaired.task(k).run_id for k in ("fit", "eval"))
    assert runner.output(failed.run_id, task_key="fit").result == "model v2"  # the latest attempt's output


def test_repair_of_named_tasks_with_and_without_their_dependents(ws: LocalWorkspace, runner: JobRunner) -> None:
    runner.ensure_job("chain", tasks=[notebook("a"), notebook("b", after="a"), notebook("c", after="b")])
    ws.jobs.script("b", [TaskOutcome.failure("flaky"), "ok", "ok"])
    run = runner.run("chain")
    alone = runner.repair(run.run_id, tasks=["b"], rerun_dependents=False)
    assert [(t.task_key, t.attempt_number) for t in alone.latest_tasks] == [("a", 0), ("b", 1), ("c", 0)]
    assert alone.task("c").result_state == "UPSTREAM_FAILED" and not alone.succeeded
    assert alone.termination_code == "RUN_EXECUTION_ERROR"
    chained = runner.repair(run.run_id, tasks=["a"])  # a succeeded, but is named: b and c follow it
    assert [(t.task_key, t.attempt_number) for t in chained.latest_tasks] == [("a", 1), ("b", 2), ("c", 1)]
    assert chained.succeeded and len(chained.repair_history) == 3
    assert sent(ws, "runs/repair")[-1]["latest_repair_id"] == alone.latest_repair_id  # a second repair names it


def test_repair_applies_new_parameters_to_the_rerun_tasks(ws: LocalWorkspace, runner: JobRunner) -> None:
    runner.ensure_job("daily", tasks=[notebook("load")], parameters={"day": "today"})
    ws.jobs.script("load", lambda key, params: "ok" if params["day"] == "2026-03-02" else TaskOutcome.failure("no"))
    run = runner.run("daily")
    repaired = runner.repair(run.run_id, parameters={"day": "2026-03-02"})
    assert repaired.succeeded and repaired.parameters == {"day": "2026-03-02"}


def test_repair_of_a_successful_or_active_run_is_refused_with_the_service_error(
    ws: LocalWorkspace, runner: JobRunner
) -> None:
    job = runner.ensure_job("fine", tasks=[notebook("a")], max_concurrent_runs=5).job
    done = runner.run(job)
    with pytest.raises(BadRequestError, match="succeeded: only unsuccessful runs can be repaired") as caught:
        runner.repair(done.run_id)
    assert caught.value.error_code == "INVALID_PARAMETER_VALUE"
    ws.states.set("job-run", LIFECYCLE, after_reads=100)
    active = runner.run(job, wait=False)
    with pytest.raises(BadRequestError, match="still in progress"):
        runner.repair(active.run_id)
    ws.jobs.script("a", TaskOutcome.failure("boom"))
    ws.states.set("job-run", LIFECYCLE, after_reads=0)
    failed = runner.run(job)
    with pytest.raises(BadRequestError, match=r"not tasks of run"):
        runner.repair(failed.run_id, tasks=["nope"])


def test_a_canceled_run_can_be_repaired(ws: LocalWorkspace, runner: JobRunner) -> None:
    runner.ensure_job("long", tasks=[notebook("a"), notebook("b", after="a")])
    ws.states.set("job-run", LIFECYCLE, after_reads=100)
    canceled = runner.cancel(runner.run("long", wait=False).run_id, wait=True)
    assert canceled.termination_code == "USER_CANCELED"
    ws.states.set("job-run", LIFECYCLE, after_reads=0)
    repaired = runner.repair(canceled.run_id)
    assert repaired.succeeded and [t.attempt_number for t in repaired.latest_tasks] == [1, 1]


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda r: r.repair(0), "positive integer"),
        (lambda r: r.repair(5, tasks="fit"), "list of task keys"),
        (lambda r: r.repair(5, tasks=[]), "non-empty list"),
        (lambda r: r.repair(5, tasks=["a", "a"]), "twice"),
        (lambda r: r.repair(5, tasks=[""]), "task keys"),
        (lambda r: r.repair(5, parameters={"x": {"y": 1}}), "string or a number"),
        (lambda r: r.repair(5, timeout=-1), "timeout must be positive"),
        (lambda r: r.cancel_all(None), "queued_only=True"),
        (lambda r: r.cancel_all(True), "job id, a job name or a JobInfo"),
        (lambda r: r.ensure_job("j", tasks=[notebook("a")], queue="yes"), "queue must be True or False"),
    ],
)
def test_bad_input_is_refused_before_anything_is_sent(
    ws: LocalWorkspace, runner: JobRunner, call: Any, match: str
) -> None:
    with pytest.raises(InvalidRequestError, match=match):
        call(runner)
    assert len(ws.requests) == 0


def test_repair_and_cancel_all_are_one_span_each(runner: JobRunner, ws: LocalWorkspace, span_exporter: Any) -> None:
    job = runner.ensure_job("traced", tasks=[notebook("a")]).job
    ws.jobs.script("a", [TaskOutcome.failure("boom"), "ok"])
    run = runner.run(job)
    span_exporter.clear()
    runner.repair(run.run_id)
    runner.cancel_all(job)
    spans = span_exporter.get_finished_spans()
    assert [s.name for s in spans] == ["jobs.repair", "jobs.cancel_all"]
    assert dict(spans[0].attributes)["dbx_native.job.result"] == "SUCCESS"
    assert dict(spans[1].attributes)["dbx_native.job.id"] == job.job_id
