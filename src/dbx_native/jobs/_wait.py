"""Waiting for a job run: polls with backoff on the injected clock, progress at INFO."""

from __future__ import annotations

from collections.abc import Callable

from dbx_native._core.clock import Clock
from dbx_native._core.logs import get_logger
from dbx_native._core.waiters import follow
from dbx_native.errors import OperationTimeoutError
from dbx_native.jobs._models import JobRun

__all__ = ["wait_for_run"]

_log = get_logger("dbx_native.jobs")
_MAX_PAUSE = 30.0


def wait_for_run(
    poll: Callable[[], JobRun],
    *,
    first: JobRun,
    clock: Clock,
    timeout: float,
    poll_interval: float,
    progress: Callable[[JobRun], None] | None,
) -> JobRun:
    """Poll until the run ends; return it in its final state (`progress` is called with each new state).

    Raises:
        OperationTimeoutError: `timeout` passed first; `.last_state` is the last `JobRun` seen.
    """

    def timed_out(last: JobRun) -> OperationTimeoutError:
        return OperationTimeoutError(
            f"Run {last.run_id} of {last.run_name!r} was still {last.state} after {timeout:g}s: it keeps running on "
            f"the server; call status({last.run_id}) later, cancel({last.run_id}), or raise timeout=.",
            last_state=last,
            timeout=timeout,
        )

    def on_change(before: JobRun, after: JobRun) -> None:
        _log.info("job run %s of %r: %s -> %s", after.run_id, after.run_name, before.state, after.state)

    current = follow(
        poll,
        first,
        clock=clock,
        timeout=timeout,
        poll_interval=poll_interval,
        done=lambda r: r.done,
        state=lambda r: r.state,
        on_change=on_change,
        timed_out=timed_out,
        progress=progress,
        maximum=_MAX_PAUSE,
    )
    if not current.succeeded:
        _log.warning(
            "job run %s of %r ended %s: %s",
            current.run_id,
            current.run_name,
            current.termination_code or current.result_state,
            current.message,
        )
    return current
