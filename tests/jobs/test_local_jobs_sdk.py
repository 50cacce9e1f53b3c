"""databricks-sdk against the local Jobs backend: the wire protocol is the real one (2.2 and 2.1 routes)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import InvalidParameterValue, NotFound
from databricks.sdk.service import jobs

from canary import CANARY
from dbx_native.local import LocalWorkspace, TaskOutcome


@pytest.fixture
def ws() -> Iterator[LocalWorkspace]:
    workspace = LocalWorkspace(token=CANARY)
    with workspace.intercept():
        yield workspace


@pytest.fixture
def w(ws: LocalWorkspace) -> WorkspaceClient:
    return WorkspaceClient(host=ws.host, token=CANARY, auth_type="pat")


def task(key: str) -> jobs.Task:
    return jobs.Task(task_key=key, notebook_task=jobs.NotebookTask(notebook_path=f"/Jobs/{key}"))


def test_sdk_creates_a_job_runs_it_and_waits_for_the_result(ws: LocalWorkspace, w: WorkspaceClient) -> None:
    ws.jobs.script("score", lambda key, params: f"scored {params['day']}")
    created = w.jobs.create(
        name="nightly", tasks=[task("score")], parameters=[jobs.JobParameterDefinition(name="day", default="today")]
    )
    run = w.jobs.run_now(created.job_id, job_parameters={"day": "2026-03-02"}).result()
    assert run.state is not None and run.state.life_cycle_state == jobs.RunLifeCycleState.TERMINATED
    assert run.state.result_state == jobs.RunResultState.SUCCESS
    assert run.status is not None and run.status.state == jobs.RunLifecycleStateV2State.TERMINATED
    assert run.status.termination_details is not None
    assert run.status.termination_details.code == jobs.TerminationCodeCode.SUCCESS
    assert run.job_id == created.job_id and run.tasks is not None and run.tasks[0].task_key == "score"
    output = w.jobs.get_run_output(run.tasks[0].run_id)
    assert output.notebook_output is not None and output.notebook_output.result == "scored 2026-03-02"
    job = w.jobs.get(created.job_id)
    assert job.settings is not None and job.settings.name == "nightly" and job.settings.max_concurrent_runs == 1


def test_sdk_sees_the_run_states_it_polls_through(ws: LocalWorkspace, w: WorkspaceClient) -> None:
    ws.states.set("job-run", ["QUEUED", "PENDING", "RUNNING", "TERMINATED"], after_reads=1)
    job_id = w.jobs.create(name="j", tasks=[task("a")]).job_id
    run_id = w.jobs.run_now(job_id).run_id
    seen = [w.jobs.get_run(run_id).status.state.value for _ in range(5)]  # type: ignore[union-attr]
    assert seen == ["QUEUED", "PENDING", "RUNNING", "TERMINATED", "TERMINATED"]


def test_sdk_reads_a_scripted_failure(ws: LocalWorkspace, w: WorkspaceClient) -> None:
    ws.jobs.script("a", TaskOutcome.failure("boom", error_trace="Traceback: boom"))
    run = w.jobs.submit(
        run_name="once", tasks=[jobs.SubmitTask(task_key="a", notebook_task=jobs.NotebookTask(notebook_path="/x"))]
    ).result()
    assert run.state is not None and run.state.result_state == jobs.RunResultState.FAILED
    details = run.status.termination_details  # type: ignore[union-attr]
    assert details is not None and details.code == jobs.TerminationCodeCode.RUN_EXECUTION_ERROR
    assert details.type == jobs.TerminationTypeType.CLIENT_ERROR and "boom" in (details.message or "")
    output = w.jobs.get_run_output(run.run_id)  # a single-task run answers for its task
    assert output.error == "boom" and output.error_trace == "Traceback: boom"


def test_sdk_lists_jobs_by_name_across_pages(w: WorkspaceClient) -> None:
    ids = [w.jobs.create(name=f"job-{i}", tasks=[task("a")]).job_id for i in range(5)]
    w.jobs.create(name="other", tasks=[task("a")])
    listed = [j.job_id for j in w.jobs.list(limit=2)]
    assert len(listed) == 6 and listed == sorted(listed, reverse=True)
    named = list(w.jobs.list(name="JOB-3"))  # exact name, case-insensitive
    assert [j.job_id for j in named] == [ids[3]]
    expanded = list(w.jobs.list(name="job-3", expand_tasks=True))
    assert expanded[0].settings is not None and expanded[0].settings.tasks is not None


def test_sdk_lists_runs_across_pages_and_cancels_one(ws: LocalWorkspace, w: WorkspaceClient) -> None:
    job_id = w.jobs.create(name="j", tasks=[task("a")]).job_id
    finished = [w.jobs.run_now(job_id).run_id for _ in range(3)]
    ws.states.set("job-run", ["QUEUED", "RUNNING", "TERMINATED"], after_reads=50)
    active = w.jobs.run_now(job_id).run_id
    assert [r.run_id for r in w.jobs.list_runs(job_id=job_id, limit=2)] == [active, *finished[::-1]]
    assert [r.run_id for r in w.jobs.list_runs(job_id=job_id, active_only=True)] == [active]
    w.jobs.cancel_run(active)
    canceled = w.jobs.get_run(active)
    assert canceled.status is not None and canceled.status.state == jobs.RunLifecycleStateV2State.TERMINATING
    canceled = w.jobs.get_run(active)
    assert canceled.state is not None and canceled.state.result_state == jobs.RunResultState.CANCELED
    assert canceled.status.termination_details.code == jobs.TerminationCodeCode.USER_CANCELED  # type: ignore[union-attr]


def test_sdk_run_now_with_one_idempotency_token_starts_one_run(ws: LocalWorkspace, w: WorkspaceClient) -> None:
    job_id = w.jobs.create(name="j", tasks=[task("a")]).job_id
    first = w.jobs.run_now(job_id, idempotency_token="tok-1").run_id
    assert w.jobs.run_now(job_id, idempotency_token="tok-1").run_id == first
    assert ws.jobs.run_ids(job_id) == [first]


def test_sdk_repairs_a_failed_run_and_waits_for_it(ws: LocalWorkspace, w: WorkspaceClient) -> None:
    ws.jobs.script("a", [TaskOutcome.failure("flaky"), TaskOutcome.failure("flaky"), "fixed"])
    job_id = w.jobs.create(name="j", tasks=[task("a"), task("b")]).job_id
    run = w.jobs.run_now(job_id).result()
    assert run.state is not None and run.state.result_state == jobs.RunResultState.FAILED
    waiter = w.jobs.repair_run(run.run_id, rerun_all_failed_tasks=True)
    first_repair = waiter.response.repair_id
    assert first_repair is not None and waiter.result().state.result_state == jobs.RunResultState.FAILED  # type: ignore[union-attr]
    with pytest.raises(InvalidParameterValue, match="The latest repair ID needs to be provided"):
        w.jobs.repair_run(run.run_id, rerun_tasks=["a"])
    repaired = w.jobs.repair_run(run.run_id, rerun_tasks=["a"], latest_repair_id=first_repair).result()
    assert repaired.state is not None and repaired.state.result_state == jobs.RunResultState.SUCCESS
    history = w.jobs.get_run(run.run_id, include_history=True).repair_history or []
    assert [h.type for h in history] == [jobs.RepairHistoryItemType.ORIGINAL, *[jobs.RepairHistoryItemType.REPAIR] * 2]
    assert history[1].id == first_repair and history[0].id is None
    assert [t.attempt_number for t in repaired.tasks or [] if t.task_key == "a"] == [0, 1, 2]


def test_sdk_sees_queued_and_skipped_runs_and_cancels_all(ws: LocalWorkspace, w: WorkspaceClient) -> None:
    queued_job = w.jobs.create(name="q", tasks=[task("a")], queue=jobs.QueueSettings(enabled=True)).job_id
    plain_job = w.jobs.create(name="p", tasks=[task("a")]).job_id
    ws.states.set("job-run", ["QUEUED", "RUNNING", "TERMINATED"], after_reads=50)
    running = [w.jobs.run_now(job_id).run_id for job_id in (queued_job, plain_job)]
    waiting = w.jobs.get_run(w.jobs.run_now(queued_job).run_id)
    details = waiting.status.queue_details  # type: ignore[union-attr]
    assert details is not None and details.code == jobs.QueueDetailsCodeCode.MAX_CONCURRENT_RUNS_REACHED
    skipped = w.jobs.run_now(plain_job).result()  # the SDK's waiter stops on SKIPPED
    assert skipped.state is not None and skipped.state.life_cycle_state == jobs.RunLifeCycleState.SKIPPED
    assert skipped.state.result_state == jobs.RunResultState.MAXIMUM_CONCURRENT_RUNS_REACHED
    code = skipped.status.termination_details.code  # type: ignore[union-attr]
    assert code == jobs.TerminationCodeCode.MAX_CONCURRENT_RUNS_EXCEEDED
    w.jobs.cancel_all_runs(job_id=queued_job)
    assert w.jobs.get_run(waiting.run_id).status.termination_details.code == jobs.TerminationCodeCode.USER_CANCELED  # type: ignore[union-attr]
    assert [r.run_id for r in w.jobs.list_runs(active_only=True)] == [running[1], running[0]]  # TERMINATING


def test_sdk_errors_are_the_service_ones(w: WorkspaceClient) -> None:
    with pytest.raises(NotFound, match=r"Job 123 does not exist\."):
        w.jobs.get(123)
    with pytest.raises(NotFound, match=r"Run 456 does not exist\."):
        w.jobs.get_run(456)
    with pytest.raises(InvalidParameterValue, match="exactly one task type"):
        w.jobs.create(name="bad", tasks=[jobs.Task(task_key="a")])
    with pytest.raises(InvalidParameterValue, match="cycle"):
        w.jobs.create(
            name="loop",
            tasks=[
                jobs.Task(task_key="a", notebook_task=jobs.NotebookTask("/a"), depends_on=[jobs.TaskDependency("b")]),
                jobs.Task(task_key="b", notebook_task=jobs.NotebookTask("/b"), depends_on=[jobs.TaskDependency("a")]),
            ],
        )


def test_sdk_update_merges_tasks_by_key_and_reset_replaces_them(ws: LocalWorkspace, w: WorkspaceClient) -> None:
    job_id = w.jobs.create(name="j", tasks=[task("a"), task("b")]).job_id
    w.jobs.update(job_id, new_settings=jobs.JobSettings(tasks=[task("c")]), fields_to_remove=["tasks/a"])
    assert [t["task_key"] for t in ws.jobs.settings(job_id)["tasks"]] == ["b", "c"]
    w.jobs.reset(job_id, new_settings=jobs.JobSettings(name="renamed", tasks=[task("z")]))
    settings = ws.jobs.settings(job_id)
    assert settings["name"] == "renamed" and [t["task_key"] for t in settings["tasks"]] == ["z"]
    w.jobs.delete(job_id)
    with pytest.raises(NotFound):
        w.jobs.get(job_id)


def test_the_21_routes_answer_too(ws: LocalWorkspace) -> None:
    headers = {"Authorization": f"Bearer {CANARY}"}
    made = requests.post(
        f"{ws.host}/api/2.1/jobs/create",
        json={"name": "old", "tasks": [{"task_key": "a", "sql_task": {}}]},
        headers=headers,
        timeout=5,
    )
    assert made.status_code == 200
    got = requests.get(
        f"{ws.host}/api/2.1/jobs/get", params={"job_id": made.json()["job_id"]}, headers=headers, timeout=5
    )
    assert got.json()["settings"]["name"] == "old"


def test_sdk_works_over_the_loopback_server(ws: LocalWorkspace) -> None:
    ws.jobs.script("a", "over http")
    with ws.serve() as server:
        w = WorkspaceClient(host=server.host, token=server.token or CANARY, auth_type="pat")
        job_id = w.jobs.create(name="served", tasks=[task("a")]).job_id
        run = w.jobs.run_now(job_id).result()
        assert run.run_page_url is not None and run.run_page_url.startswith(server.host)
        assert w.jobs.get_run_output(run.tasks[0].run_id).notebook_output.result == "over http"  # type: ignore[index,union-attr]
