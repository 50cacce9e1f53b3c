"""Fault injection: statuses with Retry-After, counting, matching, latency, dropped connections, bad bodies."""

from __future__ import annotations

import email.utils

import pytest
import requests

from dbx_native._core.clock import FakeClock
from dbx_native.errors import InvalidRequestError
from dbx_native.local import LocalWorkspace, Route

AUTH = {"Authorization": "Bearer test-token"}


class EchoBackend:
    """A one-route backend: `GET|POST /api/2.0/echo` answers `{"ok": true, "method": ...}`."""

    def routes(self) -> list[Route]:
        return [
            Route("GET", "/api/2.0/echo", lambda r: {"ok": True, "method": r.method}),
            Route("POST", "/api/2.0/echo", lambda r: {"ok": True, "method": r.method}),
        ]

    def reset(self) -> None:
        pass


@pytest.fixture
def ws() -> LocalWorkspace:
    workspace = LocalWorkspace(clock=FakeClock())
    workspace.register(EchoBackend())
    return workspace


def get(ws: LocalWorkspace, path: str = "/api/2.0/echo", method: str = "GET") -> requests.Response:
    with ws.intercept():
        return requests.request(method, f"{ws.host}{path}", headers=AUTH, timeout=5)


def test_status_fault_answers_a_databricks_error_body_with_retry_after(ws: LocalWorkspace) -> None:
    ws.faults.add(status=429, retry_after="7", message="slow down")
    response = get(ws)
    assert response.status_code == 429
    assert response.json() == {"error_code": "REQUEST_LIMIT_EXCEEDED", "message": "slow down"}
    assert response.headers["Retry-After"] == "7"


def test_retry_after_http_date_is_sent_exactly_as_given(ws: LocalWorkspace) -> None:
    when = email.utils.formatdate(1_900_000_000, usegmt=True)
    ws.faults.add(status=503, retry_after=when)
    assert get(ws).headers["Retry-After"] == when


@pytest.mark.parametrize(("given", "sent"), [(2, "2"), (2.0, "2"), (0.25, "0.25"), (0, "0")])
def test_numeric_retry_after_is_sent_as_its_shortest_text(ws: LocalWorkspace, given: float, sent: str) -> None:
    ws.faults.add(status=503, retry_after=given)
    assert get(ws).headers["Retry-After"] == sent


def test_fault_without_retry_after_sends_no_retry_after_header(ws: LocalWorkspace) -> None:
    ws.faults.add(status=500)
    response = get(ws)
    assert response.status_code == 500
    assert "Retry-After" not in response.headers
    assert response.json()["error_code"] == "INTERNAL_ERROR"


def test_custom_error_code_is_used(ws: LocalWorkspace) -> None:
    ws.faults.add(status=400, error_code="INVALID_STATE", message="endpoint is updating")
    assert get(ws).json() == {"error_code": "INVALID_STATE", "message": "endpoint is updating"}


def test_fault_answers_times_requests_then_lets_them_through(ws: LocalWorkspace) -> None:
    fault = ws.faults.add(status=503, times=2)
    assert [get(ws).status_code for _ in range(3)] == [503, 503, 200]
    assert fault.hits == 2
    assert fault.remaining == 0
    assert len(ws.faults) == 0


def test_fault_with_times_none_answers_until_cancelled(ws: LocalWorkspace) -> None:
    fault = ws.faults.add(status=503, times=None)
    assert [get(ws).status_code for _ in range(4)] == [503] * 4
    assert [fault.remaining] == [None]  # no limit
    fault.cancel()
    assert get(ws).status_code == 200
    assert fault.remaining == 0
    assert fault.hits == 4


def test_faults_match_in_order_of_addition(ws: LocalWorkspace) -> None:
    ws.faults.add(status=429)
    ws.faults.add(status=503)
    assert [get(ws).status_code for _ in range(3)] == [429, 503, 200]


def test_method_filter_only_faults_that_method(ws: LocalWorkspace) -> None:
    fault = ws.faults.add(status=500, method="post")
    assert get(ws).status_code == 200
    assert get(ws, method="POST").status_code == 500
    assert fault.hits == 1


def test_path_filter_is_a_regex_searched_in_the_path(ws: LocalWorkspace) -> None:
    ws.faults.add(status=500, path=r"ech[o]$")
    assert get(ws, "/api/2.0/other").status_code == 404
    assert get(ws).status_code == 500


def test_fault_without_path_skips_discovery_probes(ws: LocalWorkspace) -> None:
    fault = ws.faults.add(status=503)
    assert get(ws, "/.well-known/databricks-config").status_code == 200
    assert fault.hits == 0
    assert get(ws).status_code == 503


def test_fault_with_a_path_can_target_discovery_probes(ws: LocalWorkspace) -> None:
    ws.faults.add(status=503, path="databricks-config")
    assert get(ws, "/.well-known/databricks-config").status_code == 503


def test_latency_sleeps_through_the_workspace_clock_then_answers_normally(ws: LocalWorkspace) -> None:
    ws.faults.add(latency=1.5)
    response = get(ws)
    assert response.status_code == 200
    assert response.json()["ok"] is True
    assert isinstance(ws.clock, FakeClock)
    assert ws.clock.sleeps == [1.5]


def test_latency_combines_with_a_status(ws: LocalWorkspace) -> None:
    ws.faults.add(status=504, latency=30.0)
    assert get(ws).status_code == 504
    assert isinstance(ws.clock, FakeClock)
    assert ws.clock.sleeps == [30.0]


def test_malformed_body_answers_200_with_a_body_that_is_not_json(ws: LocalWorkspace) -> None:
    ws.faults.add(malformed_body=True)
    response = get(ws)
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()


def test_malformed_body_can_carry_another_status(ws: LocalWorkspace) -> None:
    ws.faults.add(malformed_body=True, status=502)
    response = get(ws)
    assert response.status_code == 502
    with pytest.raises(ValueError):
        response.json()


def test_drop_connection_raises_connection_error_in_process(ws: LocalWorkspace) -> None:
    ws.faults.add(drop_connection=True)
    with pytest.raises(requests.ConnectionError) as info:
        get(ws)
    assert not isinstance(info.value, requests.ReadTimeout)
    assert ws.requests.last.status is None
    assert get(ws).status_code == 200


def test_read_timeout_raises_read_timeout_in_process_after_the_latency(ws: LocalWorkspace) -> None:
    ws.faults.add(read_timeout=True, latency=10.0)
    with pytest.raises(requests.ReadTimeout):
        get(ws)
    assert isinstance(ws.clock, FakeClock)
    assert ws.clock.sleeps == [10.0]
    assert ws.requests.last.status is None


def test_clear_removes_every_fault_and_cancels_the_handles(ws: LocalWorkspace) -> None:
    first = ws.faults.add(status=500, times=None)
    ws.faults.add(status=503, times=3)
    ws.faults.clear()
    assert len(ws.faults) == 0
    assert list(ws.faults) == []
    assert first.remaining == 0
    assert get(ws).status_code == 200


def test_faults_lists_only_active_faults(ws: LocalWorkspace) -> None:
    used = ws.faults.add(status=500)
    waiting = ws.faults.add(status=503, path="never-matches")
    get(ws)
    assert list(ws.faults) == [waiting]
    assert used not in list(ws.faults)
    assert "active=1" in repr(ws.faults)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({}, "needs an effect"),
        ({"status": 99}, "between 100 and 599"),
        ({"status": 600}, "between 100 and 599"),
        ({"status": 503, "times": 0}, "at least 1"),
        ({"latency": -1.0}, "zero or more"),
        ({"drop_connection": True, "read_timeout": True}, "not both"),
        ({"status": 200}, "malformed_body"),
        ({"retry_after": "1"}, "need a fault status"),
        ({"error_code": "X"}, "need a fault status"),
        ({"status": 500, "path": "("}, "not a valid regular expression"),
    ],
)
def test_invalid_fault_arguments_are_refused(ws: LocalWorkspace, kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(InvalidRequestError, match=fragment):
        ws.faults.add(**kwargs)  # type: ignore[arg-type]
    assert len(ws.faults) == 0
