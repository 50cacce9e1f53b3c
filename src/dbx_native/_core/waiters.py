"""The deadline-and-backoff arithmetic every long wait shares (endpoints, indexes, refreshes, statements).

`Poll` only answers "sleep now, or has the time run out?", on the injected clock so tests never wait; `follow`
is the loop of the waits that report progress (monitor refreshes, job runs): callers say what they read, what
counts as done, what to log on a change and which error to raise on timeout.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from dbx_native._core.clock import Clock
from dbx_native.errors import OperationTimeoutError

__all__ = ["Poll", "follow"]

T = TypeVar("T")


class Poll:
    """Backoff between polls, bounded by a deadline.

    Each `wait()` sleeps the current delay, cut to what is left of the timeout, then grows the delay by
    `factor` up to `maximum`. Once the deadline has passed, `wait()` returns False without sleeping: the
    caller raises its `OperationTimeoutError` with the last state it saw. So the last poll happens at the
    deadline, not one delay before it.

    Example:
        >>> from dbx_native._core.clock import FakeClock
        >>> clock = FakeClock()
        >>> poll = Poll(clock, timeout=5.0, initial=1.0, factor=2.0, maximum=10.0)
        >>> [poll.wait() for _ in range(4)], clock.sleeps
        ([True, True, True, False], [1.0, 2.0, 2.0])
    """

    def __init__(self, clock: Clock, *, timeout: float, initial: float, factor: float, maximum: float) -> None:
        self.clock = clock
        self.timeout = timeout
        self.deadline = clock.monotonic() + timeout
        self.delay = initial
        self.factor = factor
        self.maximum = maximum

    @property
    def elapsed(self) -> float:
        return self.clock.monotonic() - (self.deadline - self.timeout)

    def wait(self) -> bool:
        """Sleep before the next poll; False (and no sleep) when the deadline has passed."""
        remaining = self.deadline - self.clock.monotonic()
        if remaining <= 0:
            return False
        self.clock.sleep(min(self.delay, remaining))
        self.delay = min(self.delay * self.factor, self.maximum)
        return True


def follow(
    poll: Callable[[], T],
    first: T,
    *,
    clock: Clock,
    timeout: float,
    poll_interval: float,
    done: Callable[[T], bool],
    state: Callable[[T], object],
    on_change: Callable[[T, T], None],
    timed_out: Callable[[T], OperationTimeoutError],
    progress: Callable[[T], None] | None = None,
    maximum: float = 30.0,
) -> T:
    """Poll until `done`; return the last state read.

    Pauses start at `poll_interval` and grow 1.5x up to `maximum`. `progress` gets `first`, then each state
    that differs (by `state`) from the one before, after `on_change(before, after)` (the caller's log line).

    Raises:
        OperationTimeoutError: `timed_out(last)`, once `timeout` has passed before the operation ended.
    """
    pause = Poll(clock, timeout=timeout, initial=max(poll_interval, 0.01), factor=1.5, maximum=maximum)
    current = first
    if progress is not None:
        progress(current)
    while not done(current):
        if not pause.wait():
            raise timed_out(current)
        latest = poll()
        if state(latest) != state(current):
            on_change(current, latest)
            if progress is not None:
                progress(latest)
        current = latest
    return current
