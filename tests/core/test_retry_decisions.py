"""Retry decisions as tables: status x idempotency x Retry-After x attempts/deadline, on an injected clock."""

from __future__ import annotations

import pytest

from dbx_native._core.clock import FakeClock
from dbx_native._core.retry import backoff, retry_call, should_retry
from dbx_native._core.status import error_from_response, parse_retry_after
from dbx_native.config import RetryPolicy
from dbx_native.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    BadRequestError,
    RateLimitError,
    ServiceUnavailableError,
)

POLICY = RetryPolicy(max_attempts=4, initial_backoff=0.5, max_backoff=8.0, jitter=0.0, deadline=300.0)


def status_error(status: int, retry_after: float | None = None, code: str | None = None) -> APIStatusError:
    body = b'{"error_code": "%s", "message": "m"}' % (code or "X").encode()
    return error_from_response(status=status, content=body, retry_after=retry_after)


@pytest.mark.parametrize(
    ("status", "idempotent", "expected"),
    [
        (429, False, True),
        (429, True, True),
        (503, False, True),
        (503, True, True),
        (500, True, True),
        (500, False, False),
        (502, True, True),
        (502, False, False),
        (504, True, True),
        (504, False, False),
        (501, True, False),
        (400, True, False),
        (401, True, False),
        (403, True, False),
        (404, True, False),
        (409, True, False),
    ],
)
def test_status_retry_table(status: int, idempotent: bool, expected: bool) -> None:
    assert should_retry(status_error(status), idempotent=idempotent, policy=POLICY) is expected


@pytest.mark.parametrize(
    ("err", "idempotent", "expected"),
    [
        (APIConnectionError("refused", request_sent=False), False, True),
        (APIConnectionError("refused", request_sent=False), True, True),
        (APIConnectionError("dropped", request_sent=True), False, False),
        (APIConnectionError("dropped", request_sent=True), True, True),
        (APITimeoutError("read timeout", request_sent=True), False, False),
        (APITimeoutError("read timeout", request_sent=True), True, True),
        (APITimeoutError("connect timeout", request_sent=False), False, True),
        (ValueError("not ours"), True, False),
    ],
)
def test_connection_failure_retry_table(err: Exception, idempotent: bool, expected: bool) -> None:
    assert should_retry(err, idempotent=idempotent, policy=POLICY) is expected


def test_error_code_overrides_status_for_rate_limits() -> None:
    err = status_error(400, code="REQUEST_LIMIT_EXCEEDED")
    assert isinstance(err, RateLimitError)
    assert should_retry(err, idempotent=False, policy=POLICY)


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [(None, True), (0.0, True), (59.0, True), (60.0, True), (60.5, False), (3600.0, False)],
)
def test_retry_after_past_the_cap_is_not_retried(retry_after: float | None, expected: bool) -> None:
    assert should_retry(status_error(429, retry_after), idempotent=True, policy=POLICY) is expected


NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("2", 2.0),
        ("0", 0.0),
        ("1.5", 1.5),
        (" 7 ", 7.0),
        ("-3", 0.0),
        ("", None),
        (None, None),
        ("soon", None),
        ("nan", None),
        ("inf", None),
        ("Fri, 15 Jan 2027 08:00:10 GMT", None),  # computed below against a fixed now
    ],
)
def test_parse_retry_after_seconds_forms(header: str | None, expected: float | None) -> None:
    if header and "GMT" in header:
        import email.utils

        now = email.utils.parsedate_to_datetime(header).timestamp() - 10
        assert parse_retry_after(header, now=now) == pytest.approx(10.0)
    else:
        assert parse_retry_after(header, now=NOW) == expected


def test_parse_retry_after_http_date_in_the_past_is_zero() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=NOW) == 0.0


@pytest.mark.parametrize(
    ("attempt", "expected"), [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0), (6, 8.0), (10, 8.0)]
)
def test_backoff_is_exponential_and_capped(attempt: int, expected: float) -> None:
    assert backoff(attempt, POLICY, rng=lambda: 0.0) == expected


def test_backoff_jitter_only_shortens_the_wait() -> None:
    policy = POLICY.model_copy(update={"jitter": 0.25})
    assert backoff(3, policy, rng=lambda: 0.0) == 2.0
    assert backoff(3, policy, rng=lambda: 0.999999) == pytest.approx(1.5, abs=1e-5)


class Script:
    """Fails with the given errors in order, then returns 'ok'; counts calls."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


@pytest.mark.parametrize(
    ("errors", "max_attempts", "calls", "sleeps", "outcome"),
    [
        ((), 4, 1, [], "ok"),
        ((status_error(503),), 4, 2, [0.5], "ok"),
        ((status_error(503), status_error(503), status_error(503)), 4, 4, [0.5, 1.0, 2.0], "ok"),
        ((status_error(503),) * 4, 4, 4, [0.5, 1.0, 2.0], ServiceUnavailableError),
        ((status_error(429, 2.0), status_error(429, 3.0)), 4, 3, [2.0, 3.0], "ok"),
        ((status_error(429, 90.0),), 4, 1, [], RateLimitError),
        ((status_error(400),), 4, 1, [], BadRequestError),
        ((status_error(503),) * 2, 1, 1, [], ServiceUnavailableError),
        ((status_error(503),) * 2, 2, 2, [0.5], ServiceUnavailableError),
    ],
)
def test_retry_loop_table(
    errors: tuple[BaseException, ...], max_attempts: int, calls: int, sleeps: list[float], outcome: object
) -> None:
    clock = FakeClock()
    fn = Script(*errors)
    policy = POLICY.model_copy(update={"max_attempts": max_attempts})
    if outcome == "ok":
        assert retry_call(fn, policy=policy, idempotent=False, clock=clock, rng=lambda: 0.0) == "ok"
    else:
        assert isinstance(outcome, type)
        with pytest.raises(outcome):
            retry_call(fn, policy=policy, idempotent=False, clock=clock, rng=lambda: 0.0)
    assert fn.calls == calls
    assert clock.sleeps == sleeps


def test_deadline_stops_before_a_sleep_that_would_cross_it_and_raises_the_real_error() -> None:
    clock = FakeClock()
    fn = Script(*(status_error(503, 4.0) for _ in range(100)))
    policy = POLICY.model_copy(update={"max_attempts": 100, "deadline": 10.0})
    with pytest.raises(ServiceUnavailableError) as info:
        retry_call(fn, policy=policy, idempotent=True, clock=clock)
    assert info.value.status_code == 503
    assert clock.sleeps == [4.0, 4.0]  # a third 4 s wait would end at 12 s > 10 s
    assert clock.monotonic() <= 10.0


def test_per_call_deadline_is_tighter_than_the_policy() -> None:
    clock = FakeClock()
    fn = Script(*(status_error(503) for _ in range(10)))
    with pytest.raises(ServiceUnavailableError):
        retry_call(
            fn,
            policy=POLICY.model_copy(update={"max_attempts": 10}),
            idempotent=True,
            clock=clock,
            deadline=1.0,
            rng=lambda: 0.0,
        )
    assert clock.sleeps == [0.5]


def test_time_spent_in_attempts_counts_against_the_deadline() -> None:
    clock = FakeClock()
    calls = 0

    def slow_failure() -> str:
        nonlocal calls
        calls += 1
        clock.advance(4.0)
        raise status_error(503)

    with pytest.raises(ServiceUnavailableError):
        retry_call(
            slow_failure,
            policy=POLICY.model_copy(update={"max_attempts": 10, "deadline": 10.0}),
            idempotent=True,
            clock=clock,
            rng=lambda: 0.0,
        )
    # 4 s, wait 0.5, 4 s (8.5 s), wait 1 s starts the third attempt at 9.5 s; no fourth starts past 10 s
    assert calls == 3
    assert clock.sleeps == [0.5, 1.0]
