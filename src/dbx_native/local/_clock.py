"""The clock the local workspace sleeps and reads time through, so tests can replace it."""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """What the local workspace needs from a clock.

    The `time` module itself satisfies this protocol; a test clock that records sleeps instead of
    waiting makes injected latency free.
    """

    def time(self) -> float:
        """Seconds since the epoch (used for resource timestamps)."""
        ...

    def sleep(self, seconds: float, /) -> None:
        """Wait `seconds` (used for injected latency)."""
        ...


class SystemClock:
    """The real clock: `time.time()` and `time.sleep()`."""

    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float, /) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def __repr__(self) -> str:
        return "SystemClock()"
