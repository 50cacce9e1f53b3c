"""Client-side rate limits: a token bucket per route for requests and tokens per minute."""

from __future__ import annotations

import threading

from dbx_native._core.clock import SYSTEM_CLOCK, Clock
from dbx_native.errors import InvalidRequestError, RateLimitError

__all__ = ["RateLimit"]


class _Bucket:
    def __init__(self, per_minute: float, now: float) -> None:
        self.capacity = per_minute
        self.rate = per_minute / 60.0
        self.level = per_minute
        self.stamp = now

    def refill(self, now: float) -> None:
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait_for(self, amount: float) -> float:
        """Seconds until `amount` is available (0 if it is now)."""
        missing = min(amount, self.capacity) - self.level
        return 0.0 if missing <= 0 else missing / self.rate


class RateLimit:
    """Requests and tokens per minute for one client (each route gets its own buckets).

    Args:
        requests_per_minute: Most calls a minute, bursts included.
        tokens_per_minute: Most tokens a minute (counted from the prompt estimate plus `max_tokens`).
        wait: When over the limit, wait for capacity (True) or raise `RateLimitError` at once (False).
        max_wait: Longest wait in seconds before raising `RateLimitError` anyway.
        clock: Time source (tests use a fake clock).
    """

    def __init__(
        self,
        *,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        wait: bool = True,
        max_wait: float = 60.0,
        clock: Clock | None = None,
    ) -> None:
        for name, value in (("requests_per_minute", requests_per_minute), ("tokens_per_minute", tokens_per_minute)):
            if value is not None and value <= 0:
                raise InvalidRequestError(f"{name} must be positive, not {value!r}")
        self.requests_per_minute = requests_per_minute
        self.tokens_per_minute = tokens_per_minute
        self.wait = wait
        self.max_wait = max_wait
        self.clock = clock or SYSTEM_CLOCK
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str], _Bucket] = {}

    def _bucket(self, route: str, kind: str, per_minute: float, now: float) -> _Bucket:
        bucket = self._buckets.get((route, kind))
        if bucket is None:
            bucket = self._buckets[(route, kind)] = _Bucket(per_minute, now)
        bucket.refill(now)
        return bucket

    def acquire(self, route: str, *, tokens: int = 0) -> float:
        """Take one request and `tokens` tokens for `route`, waiting if allowed; returns the seconds waited.

        Raises:
            RateLimitError: Over the limit and `wait` is off, or the wait would pass `max_wait`.
        """
        waited = 0.0
        while True:
            with self._lock:
                now = self.clock.monotonic()
                needs: list[tuple[_Bucket, float]] = []
                if self.requests_per_minute:
                    needs.append((self._bucket(route, "requests", self.requests_per_minute, now), 1.0))
                if self.tokens_per_minute and tokens:
                    needs.append((self._bucket(route, "tokens", self.tokens_per_minute, now), float(tokens)))
                delay = max((b.wait_for(n) for b, n in needs), default=0.0)
                if delay <= 0:
                    for bucket, amount in needs:
                        bucket.level -= min(amount, bucket.capacity)
                    return waited
            if not self.wait or waited + delay > self.max_wait:
                raise RateLimitError(
                    f"client-side rate limit for route {route!r} reached; capacity returns in {delay:.2f} s "
                    "(raise the limit, or construct RateLimit(wait=True) to wait for it)",
                    status_code=429,
                    error_code="CLIENT_RATE_LIMIT",
                    retry_after=delay,
                )
            self.clock.sleep(delay)
            waited += delay

    def __repr__(self) -> str:
        return f"RateLimit(requests_per_minute={self.requests_per_minute}, tokens_per_minute={self.tokens_per_minute})"
