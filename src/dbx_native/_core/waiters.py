"""The deadline-and-backoff arithmetic every long wait shares (endpoints, indexes, refreshes, statements).

Callers keep their own loop, what they read and what counts as done; `Poll` only answers "sleep now, or
has the time run out?", on the injected clock so tests never wait.
"""

from __future__ import annotations

from dbx_native._core.clock import Clock

__all__ = ["Poll"]


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
