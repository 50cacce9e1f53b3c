"""Time, behind a seam, so retry and wait tests run instantly on a fake clock."""

from __future__ import annotations

import time
from typing import Protocol

__all__ = ["Clock", "FakeClock", "SystemClock"]


class Clock(Protocol):
    """What the core needs of time: a monotonic reading, the wall time, and sleeping."""

    def monotonic(self) -> float: ...

    def time(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class FakeClock:
    """A clock that only moves when slept on; records every sleep.

    Example:
        >>> clock = FakeClock()
        >>> clock.sleep(1.5); clock.monotonic(), clock.sleeps
        (1.5, [1.5])
    """

    def __init__(self, *, start: float = 0.0, wall: float = 1_800_000_000.0) -> None:
        self._now = start
        self._wall = wall
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self._now

    def time(self) -> float:
        return self._wall + self._now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self._now += max(0.0, seconds)

    def advance(self, seconds: float) -> None:
        """Move time forward without recording a sleep (time spent in a call)."""
        self._now += seconds


SYSTEM_CLOCK = SystemClock()
