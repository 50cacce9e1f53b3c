"""Waiting for a monitor refresh: polls with backoff on the injected clock, progress at INFO."""

from __future__ import annotations

from collections.abc import Callable

from dbx_native._core.clock import Clock
from dbx_native._core.logs import get_logger
from dbx_native._core.waiters import Poll
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
    poll_ = Poll(clock, timeout=timeout, initial=max(poll_interval, 0.01), factor=1.5, maximum=_MAX_PAUSE)
    current = first
    if progress is not None:
        progress(current)
    while not current.done:
        if not poll_.wait():
            raise OperationTimeoutError(
                f"Refresh {current.refresh_id} of the monitor on {table} was still {current.state} after "
                f"{timeout:g}s: it keeps running on the server; call status({table!r}) later or raise timeout=.",
                last_state=current,
                timeout=timeout,
            )
        latest = poll()
        if latest.state != current.state:
            _log.info("monitor refresh %s of %s: %s -> %s", latest.refresh_id, table, current.state, latest.state)
            if progress is not None:
                progress(latest)
        current = latest
    if not current.succeeded:
        _log.warning("monitor refresh %s of %s ended %s: %s", current.refresh_id, table, current.state, current.message)
    return current
