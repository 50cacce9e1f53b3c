"""The HTTP core against the local workspace (in-process): retries, refresh, errors, headers."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from canary import CANARY
from dbx_native import DbxConfig, RestClient
from dbx_native._core.clock import FakeClock
from dbx_native._version import __version__
from dbx_native.errors import (
    APIConnectionError,
    APIResponseError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    RateLimitError,
    ServiceUnavailableError,
)
from dbx_native.local import LocalWorkspace

PATH = "/api/2.0/things"


@pytest.fixture
def ws() -> Iterator[LocalWorkspace]:
    workspace = LocalWorkspace(token=CANARY)
    with workspace.intercept():
        yield workspace


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def client_for(ws: LocalWorkspace, clock: FakeClock, **config: object) -> RestClient:
    base: dict[str, object] = {"host": ws.host, "token": CANARY, "retry": {"jitter": 0.0}}
    base.update(config)
    return RestClient(config=DbxConfig(**base), clock=clock)


def well_known(client: RestClient) -> object:
    return client.get("/.well-known/databricks-config")


def test_429_with_retry_after_twice_then_success(ws: LocalWorkspace, clock: FakeClock) -> None:
    ws.faults.add(status=429, retry_after="2", times=2, path="databricks-config")
    client = client_for(ws, clock)
    assert isinstance(well_known(client), dict)
    assert clock.sleeps == [2.0, 2.0]
    assert len(ws.requests) == 3


def test_429_with_http_date_retry_after_is_honoured(ws: LocalWorkspace, clock: FakeClock) -> None:
    import email.utils

    when = email.utils.formatdate(clock.time() + 5, usegmt=True)
    ws.faults.add(status=429, retry_after=when, times=1, path="databricks-config")
    assert isinstance(well_known(client_for(ws, clock)), dict)
    assert len(clock.sleeps) == 1
    assert 4.0 <= clock.sleeps[0] <= 5.0


def test_retry_after_past_the_cap_raises_at_once_with_retry_after(ws: LocalWorkspace, clock: FakeClock) -> None:
    ws.faults.add(status=429, retry_after="3600", times=1, error_code="REQUEST_LIMIT_EXCEEDED")
    with pytest.raises(RateLimitError) as info:
        client_for(ws, clock).post(PATH, body={"a": 1})
    assert info.value.retry_after == 3600.0
    assert clock.sleeps == []
    assert len(ws.requests) == 1


def test_503_until_the_deadline_raises_service_unavailable_not_a_timeout(ws: LocalWorkspace, clock: FakeClock) -> None:
    ws.faults.add(status=503, times=None)
    client = client_for(ws, clock, retry={"max_attempts": 100, "deadline": 20.0, "jitter": 0.0})
    with pytest.raises(ServiceUnavailableError) as info:
        client.post(PATH, body={})
    assert info.value.status_code == 503
    assert info.value.error_code == "TEMPORARILY_UNAVAILABLE"
    assert not isinstance(info.value, TimeoutError)
    assert sum(clock.sleeps) <= 20.0
    assert clock.sleeps == [0.5, 1.0, 2.0, 4.0, 8.0]  # the next 8 s would pass 20 s
    assert len(ws.requests) == 6


def test_400_is_not_retried(ws: LocalWorkspace, clock: FakeClock) -> None:
    ws.faults.add(status=400, times=None, message="bad field")
    with pytest.raises(BadRequestError) as info:
        client_for(ws, clock).get(PATH)
    assert "bad field" in str(info.value)
    assert len(ws.requests) == 1
    assert clock.sleeps == []


def test_500_is_retried_for_get_but_not_for_post(ws: LocalWorkspace, clock: FakeClock) -> None:
    ws.faults.add(status=500, times=1, method="GET")
    assert isinstance(well_known(client_for(ws, clock)), dict)
    ws.requests.clear()
    ws.faults.add(status=500, times=1, method="POST")
    with pytest.raises(Exception) as info:
        client_for(ws, clock).post(PATH, body={})
    assert getattr(info.value, "status_code", None) == 500
    assert len(ws.requests) == 1


def test_dropped_connection_is_retried_only_for_idempotent_calls(ws: LocalWorkspace, clock: FakeClock) -> None:
    ws.faults.add(drop_connection=True, times=1, path="databricks-config")
    assert isinstance(well_known(client_for(ws, clock)), dict)

    ws.requests.clear()
    ws.faults.add(drop_connection=True, times=1, method="POST")
    with pytest.raises(APIConnectionError) as info:
        client_for(ws, clock).post(PATH, body={"x": 1})
    assert info.value.request_sent is True
    assert len(ws.requests) == 1

    ws.requests.clear()
    ws.faults.add(drop_connection=True, times=1, method="POST")
    with pytest.raises(NotFoundError):  # retried, then the route itself answers 404
        client_for(ws, clock).post(PATH, body={"x": 1}, idempotent=True)
    assert len(ws.requests) == 2


def test_read_timeout_is_an_api_timeout_error_retried_when_idempotent(ws: LocalWorkspace, clock: FakeClock) -> None:
    ws.faults.add(read_timeout=True, times=1, method="POST")
    with pytest.raises(APITimeoutError):
        client_for(ws, clock).post(PATH, body={})
    ws.faults.add(read_timeout=True, times=1, path="databricks-config")
    assert isinstance(well_known(client_for(ws, clock)), dict)


def test_malformed_success_body_is_a_response_error(ws: LocalWorkspace, clock: FakeClock) -> None:
    ws.faults.add(malformed_body=True, times=1, path="databricks-config")
    with pytest.raises(APIResponseError) as info:
        well_known(client_for(ws, clock))
    assert "not JSON" in str(info.value)


def test_expired_token_is_refreshed_once_through_a_token_provider(ws: LocalWorkspace, clock: FakeClock) -> None:
    first, second = ws.issue_token(), ws.issue_token()
    handed_out = iter([first, first, second, second])  # the provider's source rotates after the first token

    client = RestClient(config=DbxConfig(host=ws.host, token_provider=lambda: next(handed_out)), clock=clock)
    with pytest.raises(NotFoundError):
        client.get(PATH)
    ws.expire_token(first)
    with pytest.raises(NotFoundError):  # 401 -> ask the provider again -> resent with the new token -> 404
        client.get(PATH)
    assert [r.status for r in ws.requests] == [404, 401, 404]
    assert [r.authorization for r in ws.requests] == [f"Bearer {first}", f"Bearer {first}", f"Bearer {second}"]
    assert clock.sleeps == []


def test_refresh_happens_only_once_per_call(ws: LocalWorkspace, clock: FakeClock) -> None:
    token = ws.issue_token()
    ws.expire_token(token)
    client = RestClient(config=DbxConfig(host=ws.host, token_provider=lambda: token), clock=clock)
    with pytest.raises(AuthenticationError):
        client.get(PATH)
    assert [r.status for r in ws.requests] == [401, 401]


def test_static_token_401_is_raised_without_retry(clock: FakeClock) -> None:
    ws = LocalWorkspace(token=CANARY)
    with ws.intercept():
        client = RestClient(config=DbxConfig(host=ws.host, token="wrong-token-value"), clock=clock)
        with pytest.raises(AuthenticationError) as info:
            client.get(PATH)
    assert len(ws.requests) == 1
    assert "wrong-token-value" not in str(info.value)
    assert "doctor" in str(info.value)


def test_user_agent_and_auth_headers_are_sent(ws: LocalWorkspace, clock: FakeClock) -> None:
    client_for(ws, clock, user_agent_extra="myagent/1.2").get("/.well-known/databricks-config")
    sent = ws.requests[-1]
    assert sent.headers["user-agent"].startswith(f"dbx-native/{__version__} rest ")
    assert sent.headers["user-agent"].endswith("myagent/1.2")
    assert sent.authorization == f"Bearer {CANARY}"
    assert CANARY not in repr(sent)


def test_json_body_is_encoded_once_and_resent_identically(ws: LocalWorkspace, clock: FakeClock) -> None:
    ws.faults.add(status=503, times=1, method="POST")
    with pytest.raises(NotFoundError):
        client_for(ws, clock).post(PATH, body={"k": [1, 2, "ü"]})
    bodies = [r.body for r in ws.requests]
    assert len(bodies) == 2 and bodies[0] == bodies[1]
    assert ws.requests[-1].json() == {"k": [1, 2, "ü"]}


def test_not_found_carries_status_code_and_path(ws: LocalWorkspace, clock: FakeClock) -> None:
    with pytest.raises(NotFoundError) as info:
        client_for(ws, clock).get("/api/2.0/no-such-thing")
    assert info.value.status_code == 404
    assert "/api/2.0/no-such-thing" in str(info.value)


def test_per_call_timeout_bounds_retries(ws: LocalWorkspace, clock: FakeClock) -> None:
    ws.faults.add(status=503, times=None)
    with pytest.raises(ServiceUnavailableError):
        client_for(ws, clock, retry={"max_attempts": 50, "jitter": 0.0}).post(PATH, body={}, timeout=1.0)
    assert clock.sleeps == [0.5]


def test_with_options_copies_share_the_pool_and_change_retries(ws: LocalWorkspace, clock: FakeClock) -> None:
    client = client_for(ws, clock)
    client.get("/.well-known/databricks-config")
    once = client.with_options(max_attempts=1)
    assert once.config.retry.max_attempts == 1
    assert client.config.retry.max_attempts == 4
    assert once._http.session is client._http.session
    ws.faults.add(status=503, times=1)
    with pytest.raises(ServiceUnavailableError):
        once.post(PATH, body={})


def test_bad_input_is_refused_before_sending(ws: LocalWorkspace, clock: FakeClock) -> None:
    from dbx_native.errors import InvalidRequestError

    client = client_for(ws, clock)
    with pytest.raises(InvalidRequestError):
        client.get("api/2.0/no-leading-slash")
    with pytest.raises(InvalidRequestError):
        client.get(PATH, timeout=0)
    assert len(ws.requests) == 0


def test_retries_are_logged_at_info_without_secrets(
    ws: LocalWorkspace, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="dbx_native")
    ws.faults.add(status=503, times=1, path="databricks-config")
    well_known(client_for(ws, clock, log_bodies=True))
    retry_lines = [r for r in caplog.records if r.levelno == logging.INFO and "retrying" in r.getMessage()]
    assert len(retry_lines) == 1
    assert "GET /.well-known/databricks-config" in retry_lines[0].getMessage()
    assert CANARY not in caplog.text


def test_request_id_is_kept_on_results_and_errors(ws: LocalWorkspace, clock: FakeClock) -> None:
    client = client_for(ws, clock)
    response = client._http.request("GET", "/.well-known/databricks-config")
    assert response.request_id and len(response.request_id) >= 16
    with pytest.raises(NotFoundError) as info:
        client.get(PATH)
    assert info.value.request_id
    assert info.value.request_id != response.request_id
    assert info.value.request_id in str(info.value)


def test_local_workspace_config_works_in_process() -> None:
    ws = LocalWorkspace()
    with ws.intercept():
        assert RestClient(config=ws.config).get("/.well-known/databricks-config")["workspace_id"] == str(
            ws.workspace_id
        )
