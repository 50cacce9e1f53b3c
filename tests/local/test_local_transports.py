"""Both transports over the same `handle()`: in-process interception and the loopback server."""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from dbx_native.local import LocalRequest, LocalResponse, LocalWorkspace, Route, ServerHandle

AUTH = {"Authorization": "Bearer test-token"}


class EchoBackend:
    """Echoes the request back as JSON, on every method; `/api/2.0/blob` answers 64 KiB of bytes."""

    def routes(self) -> list[Route]:
        methods = ("GET", "POST", "PUT", "PATCH", "DELETE")
        return [Route(m, "/api/2.0/echo/{rest:path}", self._echo) for m in methods] + [
            Route("GET", "/api/2.0/blob", lambda r: LocalResponse(body=bytes(range(256)) * 256))
        ]

    def reset(self) -> None:
        pass

    def _echo(self, request: LocalRequest) -> dict[str, Any]:
        return {
            "method": request.method,
            "rest": request.path_params["rest"],
            "query": request.query,
            "body": request.body.decode(),
            "base_url": request.base_url,
        }


@pytest.fixture
def ws() -> LocalWorkspace:
    workspace = LocalWorkspace()
    workspace.register(EchoBackend())
    return workspace


@pytest.fixture
def server(ws: LocalWorkspace) -> Iterator[ServerHandle]:
    with ws.serve() as handle:
        yield handle


@pytest.fixture(params=["in-process", "server"])
def base(request: pytest.FixtureRequest, ws: LocalWorkspace) -> Iterator[str]:
    """The base URL of the workspace over one transport or the other."""
    if request.param == "in-process":
        with ws.intercept():
            yield ws.host
    else:
        with ws.serve() as handle:
            yield handle.host


# --- the same behaviour over both transports --------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE"])
def test_every_method_reaches_the_backend(base: str, method: str) -> None:
    response = requests.request(method, f"{base}/api/2.0/echo/a/b", headers=AUTH, data=b'{"x":1}', timeout=5)
    assert response.status_code == 200
    assert response.json()["method"] == method
    assert response.json()["rest"] == "a/b"
    assert response.json()["body"] == '{"x":1}'


def test_query_and_percent_encoded_path_are_decoded(base: str) -> None:
    response = requests.get(f"{base}/api/2.0/echo/x%20y", params={"q": ["1", "2"]}, headers=AUTH, timeout=5)
    assert response.json()["rest"] == "x y"
    assert response.json()["query"] == {"q": ["1", "2"]}


def test_base_url_is_the_address_the_client_used(base: str) -> None:
    assert requests.get(f"{base}/api/2.0/echo/x", headers=AUTH, timeout=5).json()["base_url"] == base


def test_streamed_response_can_be_read_in_chunks(base: str) -> None:
    with requests.get(f"{base}/api/2.0/blob", headers=AUTH, stream=True, timeout=5) as response:
        chunks = list(response.iter_content(chunk_size=4096))
    assert len(chunks) > 1
    assert b"".join(chunks) == bytes(range(256)) * 256


def test_generator_request_body_is_read_whole(base: str) -> None:
    body = (part for part in (b'{"a":', b' "chunked"}'))
    response = requests.post(f"{base}/api/2.0/echo/c", data=body, headers=AUTH, timeout=5)
    assert response.json()["body"] == '{"a": "chunked"}'


def test_error_statuses_keep_their_body_and_headers(base: str, ws: LocalWorkspace) -> None:
    ws.faults.add(status=429, retry_after="1", path="echo")
    response = requests.get(f"{base}/api/2.0/echo/x", headers=AUTH, timeout=5)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"
    assert response.json()["error_code"] == "REQUEST_LIMIT_EXCEEDED"


def test_dropped_connection_is_a_connection_error(base: str, ws: LocalWorkspace) -> None:
    ws.faults.add(drop_connection=True, path="echo")
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{base}/api/2.0/echo/x", headers=AUTH, timeout=5)
    assert requests.get(f"{base}/api/2.0/echo/x", headers=AUTH, timeout=5).status_code == 200


def test_malformed_body_arrives_as_sent(base: str, ws: LocalWorkspace) -> None:
    ws.faults.add(malformed_body=True, path="echo")
    response = requests.get(f"{base}/api/2.0/echo/x", headers=AUTH, timeout=5)
    assert response.status_code == 200
    with pytest.raises(ValueError):
        json.loads(response.content)


# --- in-process specifics -------------------------------------------------------------------------


def test_non_local_hosts_are_blocked_loudly(ws: LocalWorkspace) -> None:
    with ws.intercept(), pytest.raises(requests.ConnectionError) as info:
        requests.get("https://adb-123.4.azuredatabricks.net/api/2.0/clusters/list?secret=x", timeout=5)
    message = str(info.value)
    assert "dbx_native.testing blocked a request to non-local host 'adb-123.4.azuredatabricks.net'" in message
    assert ws.host in message
    assert "secret=x" not in message
    assert len(ws.requests) == 0


def test_a_host_that_only_shares_a_prefix_is_not_the_workspace(ws: LocalWorkspace) -> None:
    with ws.intercept(), pytest.raises(requests.ConnectionError, match="blocked"):
        requests.get(f"{ws.host}.evil.example/api/2.0/echo/x", timeout=5)


def test_loopback_passes_through_while_intercepting(ws: LocalWorkspace, server: ServerHandle) -> None:
    other = LocalWorkspace()
    with other.intercept():
        response = requests.get(f"{server.host}/api/2.0/echo/x", headers=AUTH, timeout=5)
    assert response.status_code == 200
    assert len(ws.requests) == 1
    assert len(other.requests) == 0


def test_two_workspaces_on_different_hosts_intercept_at_once() -> None:
    first, second = LocalWorkspace(host="https://one.invalid"), LocalWorkspace(host="https://two.invalid")
    with first.intercept(), second.intercept():
        requests.get(f"{first.host}/api/2.0/a", timeout=5)
        requests.get(f"{second.host}/api/2.0/b", timeout=5)
    assert first.requests.paths() == ["GET /api/2.0/a"]
    assert second.requests.paths() == ["GET /api/2.0/b"]


def test_interception_stops_when_the_context_ends() -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ws = LocalWorkspace(host=f"http://127.0.0.1:{port}")
    with ws.intercept():
        assert requests.get(f"{ws.host}/api/2.0/x", timeout=5).status_code == 401
        with ws.intercept():  # nested: the outer one is still active after the inner one ends
            pass
        assert requests.get(f"{ws.host}/api/2.0/x", timeout=5).status_code == 401
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{ws.host}/api/2.0/x", timeout=5)
    assert len(ws.requests) == 2


def test_in_process_read_timeout_is_requests_read_timeout(ws: LocalWorkspace) -> None:
    ws.faults.add(read_timeout=True, path="echo")
    with ws.intercept(), pytest.raises(requests.ReadTimeout):
        requests.get(f"{ws.host}/api/2.0/echo/x", headers=AUTH, timeout=5)


# --- server specifics -----------------------------------------------------------------------------


def test_server_keeps_the_connection_alive_across_requests(server: ServerHandle) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        for i in range(3):
            conn.request("POST", f"/api/2.0/echo/{i}", body=b"{}", headers=AUTH)
            response = conn.getresponse()
            assert json.loads(response.read())["rest"] == str(i)
            assert response.getheader("Content-Length") is not None
        assert conn.sock is not None  # still the first connection
    finally:
        conn.close()


def test_server_head_request_has_no_body(server: ServerHandle) -> None:
    response = requests.head(f"{server.host}/.well-known/databricks-config", timeout=5)
    assert response.status_code == 405
    assert response.content == b""


def test_server_handle_exposes_host_port_url_and_token(server: ServerHandle, ws: LocalWorkspace) -> None:
    assert server.host == f"http://127.0.0.1:{server.port}"
    assert server.url == server.host
    assert server.workspace is ws
    assert server.running
    assert requests.get(f"{server.host}/api/2.0/echo/x", headers={"Authorization": f"Bearer {server.token}"}).ok
    assert server.token not in repr(server)


def test_server_config_is_a_dbx_config_pointing_at_it(server: ServerHandle) -> None:
    config = server.config
    assert config.host == server.host
    assert config.token is not None
    assert config.token.get_secret_value() == server.token


def test_server_token_is_the_fixed_token_when_one_is_required() -> None:
    ws = LocalWorkspace(token="fixed-token-value")
    with ws.serve() as server:
        assert server.token == "fixed-token-value"
        assert requests.get(f"{server.host}/api/2.0/x", headers={"Authorization": "Bearer no"}).status_code == 401


def test_server_read_timeout_lets_the_client_time_out() -> None:
    release = threading.Event()

    class BlockingClock:
        def time(self) -> float:
            return 0.0

        def sleep(self, seconds: float) -> None:
            release.wait(seconds)

    ws = LocalWorkspace(clock=BlockingClock())
    ws.faults.add(read_timeout=True, latency=5.0, path="/api/")
    with ws.serve() as server:
        try:
            with pytest.raises(requests.ReadTimeout):
                requests.get(f"{server.host}/api/2.0/x", headers=AUTH, timeout=0.05)
        finally:
            release.set()


def test_stop_closes_idle_keep_alive_connections_and_refuses_new_ones(ws: LocalWorkspace) -> None:
    server = ws.serve()
    session = requests.Session()
    assert session.get(f"{server.host}/api/2.0/echo/x", headers=AUTH, timeout=5).ok  # leaves an idle connection
    server.stop()
    server.stop()  # idempotent
    assert not server.running
    assert server.wait(0)
    with pytest.raises(requests.ConnectionError):
        session.get(f"{server.host}/api/2.0/echo/x", headers=AUTH, timeout=5)
    session.close()


def test_concurrent_requests_are_served_in_parallel(server: ServerHandle, ws: LocalWorkspace) -> None:
    results: list[int] = []

    def hit() -> None:
        with requests.Session() as session:
            for _ in range(5):
                results.append(session.get(f"{server.host}/api/2.0/echo/p", headers=AUTH, timeout=5).status_code)

    threads = [threading.Thread(target=hit) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 20
    assert len(ws.requests) == 20


def test_in_process_call_log_of_responses_stays_bounded(ws: LocalWorkspace, monkeypatch: pytest.MonkeyPatch) -> None:
    from dbx_native.local import _transport

    monkeypatch.setattr(_transport, "_CALL_LOG_LIMIT", 5)
    with ws.intercept():
        for _ in range(12):
            requests.get(f"{ws.host}/api/2.0/echo/x", headers=AUTH, timeout=5)
        mock = _transport._INTERCEPTOR._mock
        assert mock is not None
        assert len(mock.calls) <= 5
    assert len(ws.requests) == 12
