"""Demo step: the agent's prompt kept in Unity Catalog (PromptRegistry) and its nightly job kept as code (JobRunner)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dbx_native.config import DbxConfig
    from dbx_native.local import LocalWorkspace

PROMPT = "main.agents.fraud_triage"
TEMPLATE = "Merchant {{merchant}} had {{chargebacks}} chargebacks in 30 days. Approve, review or block?"
JOB = "nightly-fraud-rescore"
TASKS: list[dict[str, Any]] = [
    {"task_key": "rescore", "notebook_task": {"notebook_path": "/Workspace/fraud/rescore"}},
    {
        "task_key": "report",
        "notebook_task": {"notebook_path": "/Workspace/fraud/report"},
        "depends_on": [{"task_key": "rescore"}],
    },
]


def _ops_step(n: int, ws: LocalWorkspace, config: DbxConfig) -> None:
    """Ensure a prompt version and a job (the second call writes nothing), load and format, run and wait."""
    from dbx_native.jobs import JobRunner
    from dbx_native.prompts import PromptRegistry

    print(f"\n[{n}] Prompt in Unity Catalog and a nightly job as code (PromptRegistry, JobRunner)")
    ws.catalog.create_schema("main.agents", exist_ok=True)
    with PromptRegistry(config) as prompts:
        first = prompts.ensure(PROMPT, TEMPLATE, alias="production", commit_message="first triage prompt")
        before = len(ws.requests)
        again = prompts.ensure(PROMPT, TEMPLATE, alias="production")
        writes = [r for r in ws.requests[before:] if r.method != "GET"]
        print(f"    {first.uri} v{first.version} @production; ensured again: v{again.version}, {len(writes)} writes")
        live = prompts.load(f"prompts:/{PROMPT}@production")
        before = len(ws.requests)
        prompts.load(f"prompts:/{PROMPT}@production")
        print(f"    loaded by alias; a second load came from the cache ({len(ws.requests) - before} requests)")
        print(f"    {live.format(merchant='m_002', chargebacks=7)}")

    ws.states.set("job-run", ["QUEUED", "PENDING", "RUNNING", "TERMINATED"], after_reads=1)  # a run takes a while
    ws.jobs.script("rescore", lambda task, params: f"rescored 4 merchants for {params.get('day', '?')}")
    with JobRunner(config) as jobs:
        made = jobs.ensure_job(JOB, tasks=TASKS, parameters={"day": "today"}, schedule="0 0 2 * * ?")
        again_job = jobs.ensure_job(JOB, tasks=TASKS, parameters={"day": "today"}, schedule="0 0 2 * * ?")
        print(f"    job {JOB} ({made.job.job_id}): {made.action}, then {again_job.action}")
        states: list[str] = []
        run = jobs.run(
            JOB, parameters={"day": "2026-11-26"}, poll_interval=0.01, progress=lambda r: states.append(r.state)
        )
        print(f"    run {run.run_id}: {' -> '.join(states)}, {run.termination_code}")
        print(f"    rescore task said: {jobs.output(run.run_id, task_key='rescore').result}")
