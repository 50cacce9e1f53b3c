"""Retry decisions and the tenacity loop built from a `RetryPolicy`.

Decisions (one table, `should_retry`):

| failure                                   | idempotent call | non-idempotent call |
|-------------------------------------------|-----------------|---------------------|
| 429, 503 (or their error codes)           | retry           | retry               |
| connection refused / connect timeout      | retry           | retry (never sent)  |
| other 5xx except 501                      | retry           | no                  |
| read timeout, connection dropped mid-call | retry           | no (may have run)   |
| any other 4xx, 501, malformed 2xx body    | no              | no                  |

A `Retry-After` longer than `max_retry_after` is not slept on: the error is raised at once with
`.retry_after` set. No new attempt starts past the deadline, and the last real error is raised when
retries stop (never tenacity's `RetryError`, never a bare timeout).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TypeVar

import tenacity

from dbx_native._core.clock import Clock
from dbx_native._core.logs import get_logger
from dbx_native.config import RetryPolicy
from dbx_native.errors import (
    APIConnectionError,
    APIStatusError,
    RateLimitError,
    ServerError,
    ServiceUnavailableError,
)

__all__ = ["backoff", "retry_call", "should_retry"]

T = TypeVar("T")

_log = get_logger("dbx_native.retry")


def should_retry(err: BaseException, *, idempotent: bool, policy: RetryPolicy) -> bool:
    """Whether `err` may be cured by another attempt (see the module table)."""
    if isinstance(err, APIStatusError):
        if err.retry_after is not None and err.retry_after > policy.max_retry_after:
            return False
        if isinstance(err, RateLimitError | ServiceUnavailableError):
            return True
        if isinstance(err, ServerError):
            return idempotent and err.status_code != 501
        return False
    if isinstance(err, APIConnectionError):
        return idempotent or not err.request_sent
    return False


def backoff(attempt: int, policy: RetryPolicy, rng: Callable[[], float] = random.random) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based): exponential, capped, jittered down."""
    base = min(policy.max_backoff, policy.initial_backoff * (2 ** (attempt - 1)))
    return float(base * (1.0 - policy.jitter * rng()))


def retry_call(
    fn: Callable[[], T],
    *,
    policy: RetryPolicy,
    idempotent: bool,
    clock: Clock,
    deadline: float | None = None,
    describe: str = "call",
    rng: Callable[[], float] = random.random,
) -> T:
    """Run `fn` under `policy`; raise the last real error when retries stop.

    Args:
        fn: One attempt. It raises a `dbx_native.errors` exception on failure.
        policy: Attempts, backoff, jitter, deadline and Retry-After cap.
        idempotent: Whether repeating the call is safe (decides 5xx, timeouts, dropped connections).
        clock: Time source and sleeper (a `FakeClock` in tests).
        deadline: Seconds for the whole call, retries included (defaults to `policy.deadline`).
        describe: Words for the log line (`POST /serving-endpoints/x/invocations`).
        rng: Source of jitter in [0, 1).
    """
    start = clock.monotonic()
    # Fast path: most calls succeed first time, and building a tenacity loop costs ~25 us. The loop is
    # built only after a failure, and replays that failure as its attempt 1.
    try:
        return fn()
    except Exception as err:
        if policy.max_attempts <= 1 or not should_retry(err, idempotent=idempotent, policy=policy):
            raise
        first_failure: list[Exception] = [err]

    def attempt() -> T:
        if first_failure:
            raise first_failure.pop()
        return fn()

    budget = policy.deadline if deadline is None else min(deadline, policy.deadline)

    def wait(state: tenacity.RetryCallState) -> float:
        err = state.outcome.exception() if state.outcome else None
        retry_after = getattr(err, "retry_after", None)
        if retry_after is not None:
            return float(retry_after)
        return backoff(state.attempt_number, policy, rng)

    def stop(state: tenacity.RetryCallState) -> bool:
        if state.attempt_number >= policy.max_attempts:
            return True
        return (clock.monotonic() - start) + (state.upcoming_sleep or 0.0) > budget

    def before_sleep(state: tenacity.RetryCallState) -> None:
        err = state.outcome.exception() if state.outcome else None
        _log.info(
            "retrying %s in %.2f s (attempt %d of %d): %s",
            describe,
            state.upcoming_sleep,
            state.attempt_number + 1,
            policy.max_attempts,
            _short(err),
        )

    retrying = tenacity.Retrying(
        stop=stop,
        wait=wait,
        retry=tenacity.retry_if_exception(lambda e: should_retry(e, idempotent=idempotent, policy=policy)),
        sleep=clock.sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
    return retrying(attempt)


def _short(err: BaseException | None) -> str:
    if isinstance(err, APIStatusError):
        return f"{err.status_code} {err.error_code or ''}".strip()
    return type(err).__name__ if err else "unknown error"
