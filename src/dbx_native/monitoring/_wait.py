"""Waiting for a monitor refresh: polls with backoff on the injected clock, progress at INFO."""

from __future__ import annotations

from collections.abc import Callable

from dbx_native._core.clock import Clock
from dbx_native._core.logs import get_logger
from dbx_native._core.waiters import follow
from dbx_native.errors import OperationTimeoutError
from dbx_native.monitoring._models import RefreshInfo

__all__ = ["wait_for_refresh"]

_log = get_logger("dbx_native.monitoring")
_MAX_PAUSE = 30.0


def wait_for_refresh(
    poll: Callable[[], RefreshInfo],
    *,
    first: RefreshInfo,
    table: str,
    clock: Clock,
    timeout: float,
    poll_interval: float,
    progress: Callable[[RefreshInfo], None] | None,
) -> RefreshInfo:
    """Poll until the refresh ends; return it in its final state.

    Raises:
        OperationTimeoutError: `timeout` passed first; `.last_state` is the last `RefreshInfo` seen.
    """

    def timed_out(last: RefreshInfo) -> OperationTimeoutError:
        return OperationTimeoutError(
            f"Refresh {last.refresh_id} of the monitor on {table} was still {last.state} after "
            f"{timeout:g}s: it keeps running on the server; call status({table!r}) later or raise timeout=.",
            last_state=last,
            timeout=timeout,
        )

    def on_change(before: RefreshInfo, after: RefreshInfo) -> None:
        _log.info("monitor refresh %s of %s: %s -> %s", after.refresh_id, table, before.state, after.state)

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
        _log.warning("monitor refresh %s of %s ended %s: %s", current.refresh_id, table, current.state, current.message)
    return current
