"""The official databricks-sdk against the local workspace, over the loopback server and in-process."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.clock import Clock
from databricks.sdk.config import Config
from databricks.sdk.errors import NotFound, Unauthenticated

from dbx_native.local import LocalWorkspace


class RecordingClock(Clock):
    """An SDK clock that records sleeps instead of waiting."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def ws() -> LocalWorkspace:
    return LocalWorkspace()


@pytest.fixture(params=["server", "in-process"])
def host(request: pytest.FixtureRequest, ws: LocalWorkspace) -> Iterator[str]:
    """The workspace's address over one transport; non-local hosts are blocked in both cases."""
    with ws.intercept():
        if request.param == "server":
            with ws.serve() as server:
                yield server.host
        else:
            yield ws.host


def sdk_client(host: str, token: str, clock: Clock | None = None) -> WorkspaceClient:
    return WorkspaceClient(config=Config(host=host, token=token, auth_type="pat", clock=clock or RecordingClock()))


def test_sdk_start_up_probe_is_answered_without_warnings(
    ws: LocalWorkspace, host: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="databricks.sdk"):
        w = sdk_client(host, ws.client_token())
    assert ws.requests.paths() == ["GET /.well-known/databricks-config"]
    assert ws.requests.last.status == 200
    assert w.config.workspace_id == str(ws.workspace_id)
    assert w.config.is_aws
    assert w.config.discovery_url is not None and w.config.discovery_url.startswith(host)
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_sdk_unknown_route_raises_not_found(ws: LocalWorkspace, host: str) -> None:
    w = sdk_client(host, ws.client_token())
    with pytest.raises(NotFound, match="no-such-thing"):
        w.api_client.do("GET", "/api/2.0/no-such-thing")
    assert ws.requests.last.status == 404
    assert ws.requests.last.headers["authorization"] == "Bearer ***"


def test_sdk_retries_a_503_with_retry_after(ws: LocalWorkspace, host: str) -> None:
    clock = RecordingClock()
    w = sdk_client(host, ws.client_token(), clock)
    fault = ws.faults.add(status=503, retry_after="2", times=2, path="no-such-thing")
    with pytest.raises(NotFound):
        w.api_client.do("GET", "/api/2.0/no-such-thing")
    assert fault.hits == 2
    assert [r.status for r in ws.requests.filter(path="no-such-thing")] == [503, 503, 404]
    assert len(clock.sleeps) == 2
    assert all(2.0 <= s < 3.0 for s in clock.sleeps)  # Retry-After plus the SDK's jitter of up to 1 s


def test_sdk_sends_the_token_it_was_given(ws: LocalWorkspace, host: str) -> None:
    token = ws.issue_token()
    w = sdk_client(host, token)
    with pytest.raises(NotFound):
        w.api_client.do("GET", "/api/2.0/x")
    assert ws.requests.last.token == token
    assert token not in repr(ws.requests)


def test_sdk_expired_token_raises_unauthenticated(ws: LocalWorkspace, host: str) -> None:
    token = ws.issue_token()
    w = sdk_client(host, token)
    ws.expire_token(token)
    with pytest.raises(Unauthenticated, match="expired"):
        w.api_client.do("GET", "/api/2.0/x")


def test_sdk_oauth_m2m_gets_a_token_from_the_local_token_endpoint() -> None:
    ws = LocalWorkspace(token="fixed-token-the-client-does-not-know")
    with ws.intercept(), ws.serve() as server:
        w = WorkspaceClient(
            config=Config(
                host=server.host, client_id="local-client", client_secret="local-secret", auth_type="oauth-m2m"
            )
        )
        with pytest.raises(NotFound):
            w.api_client.do("GET", "/api/2.0/x")
    assert "POST /oidc/v1/token" in ws.requests.paths()
    assert ws.requests.last.status == 404
    assert ws.requests.last.token not in (None, "fixed-token-the-client-does-not-know")
