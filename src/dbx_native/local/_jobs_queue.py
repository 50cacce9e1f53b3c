"""Concurrency of the local Lakeflow Jobs backend: `max_concurrent_runs`, the job queue, skipped runs.

A new job run starts when its job has a free slot. Otherwise it waits `QUEUED` (with `status.queue_details`
`MAX_CONCURRENT_RUNS_REACHED`) when queueing is on for the job (`queue.enabled`, or the run's own `queue`), and
starts, oldest first, once an active run of its job ends; with queueing off it is skipped at once (`TERMINATED`,
code `MAX_CONCURRENT_RUNS_EXCEEDED`, deprecated lifecycle `SKIPPED`). A limit of 0 skips every new run.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from dbx_native.local._jobs_runs import RUN_KIND, TERMINATED, LocalRun, skip

if TYPE_CHECKING:
    from dbx_native.local._states import StateMachine

__all__ = ["active", "admit", "dequeue"]


def active(runs: Collection[LocalRun], job_id: int | None, states: StateMachine) -> list[LocalRun]:
    """The runs of the job that hold a slot: started, not waiting, not ended."""
    held = [r for r in runs if r.job_id == job_id and not r.settled and r.queue is None]
    return [r for r in held if r.cancel is not None or states.peek(RUN_KIND, str(r.run_id)) != TERMINATED]


def admit(
    run: LocalRun,
    settings: Mapping[str, Any],
    queue: Any,
    runs: Collection[LocalRun],
    states: StateMachine,
    now_ms: int,
) -> None:
    """Start a new run of the job with these settings, queue it behind the job's active runs, or skip it."""
    limit = int(settings.get("max_concurrent_runs", 1))
    chosen = queue if isinstance(queue, dict) else settings.get("queue")
    queueing = isinstance(chosen, dict) and chosen.get("enabled") is True
    others = [r for r in runs if r is not run]
    busy = len(active(others, run.job_id, states)) >= limit
    waiting = any(r.job_id == run.job_id and r.queue is not None for r in others)
    if limit == 0 or (busy and not queueing):
        skip(run, limit, now_ms)
    elif busy or waiting:  # first come, first served: never overtake a waiting run
        run.queue = f"Queued: job {run.job_id} already has {limit} active run(s), its max_concurrent_runs."
    else:
        states.start(RUN_KIND, str(run.run_id))


def dequeue(
    settings: Mapping[str, Any] | None,
    job_id: int | None,
    runs: Collection[LocalRun],
    states: StateMachine,
    now_ms: int,
) -> None:
    """Start the job's waiting runs, oldest first, while it has free slots (all of them if the job is gone)."""
    limit = int(settings.get("max_concurrent_runs", 1)) if settings is not None else None
    waiting = sorted((r for r in runs if r.job_id == job_id and r.queue is not None), key=lambda r: r.run_id)
    for run in waiting:
        if limit is not None and len(active(runs, job_id, states)) >= limit:
            return
        run.queue = None
        run.queue_duration = now_ms - run.start_time
        states.start(RUN_KIND, str(run.run_id))
