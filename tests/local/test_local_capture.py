"""Request capture: what was sent, in order, with credentials redacted everywhere but `.authorization`."""

from __future__ import annotations

import pytest
import requests

from dbx_native.local import CapturedRequest, LocalRequest, LocalWorkspace, RequestLog

SECRET = "dapi" + "feedface" * 4


@pytest.fixture
def ws() -> LocalWorkspace:
    return LocalWorkspace()


def test_capture_records_method_path_query_body_and_status(ws: LocalWorkspace) -> None:
    with ws.intercept():
        requests.post(
            f"{ws.host}/api/2.0/things/a%20b",
            params={"page": "2", "tag": ["x", "y"]},
            json={"name": "n"},
            headers={"Authorization": f"Bearer {SECRET}"},
            timeout=5,
        )
    captured = ws.requests.last
    assert captured.method == "POST"
    assert captured.path == "/api/2.0/things/a b"
    assert captured.query == {"page": ["2"], "tag": ["x", "y"]}
    assert captured.arg("tag") == "x"
    assert captured.arg("missing", "d") == "d"
    assert captured.json() == {"name": "n"}
    assert captured.status == 404
    assert captured.headers["content-type"] == "application/json"


def test_authorization_is_redacted_in_headers_and_repr_but_kept_in_authorization(ws: LocalWorkspace) -> None:
    with ws.intercept():
        requests.get(f"{ws.host}/api/2.0/x", headers={"Authorization": f"Bearer {SECRET}"}, timeout=5)
    captured = ws.requests.last
    assert captured.headers["authorization"] == "Bearer ***"
    assert SECRET not in repr(captured)
    assert SECRET not in repr(ws.requests)
    assert SECRET not in str(ws.requests)
    assert captured.authorization == f"Bearer {SECRET}"
    assert captured.token == SECRET


@pytest.mark.parametrize(
    ("header", "shown", "token"),
    [("Basic dXNlcjpwYXNz", "Basic ***", None), ("opaque", "***", None), ("Bearer  ", "Bearer ***", None)],
)
def test_other_credentials_are_redacted_too(header: str, shown: str, token: str | None) -> None:
    request = LocalRequest.build("GET", "/x", "", {"Authorization": header, "Cookie": "session=s3cret"}, b"")
    captured = CapturedRequest.from_request(request)
    assert captured.headers["authorization"] == shown
    assert captured.headers["cookie"] == "***"
    assert "s3cret" not in repr(captured)
    assert captured.token is token


def test_request_without_authorization_has_no_token() -> None:
    captured = CapturedRequest.from_request(LocalRequest.build("GET", "/x", "", {}, b""))
    assert captured.authorization is None
    assert captured.token is None
    assert captured.json() is None


def test_capture_is_in_order_and_filterable(ws: LocalWorkspace) -> None:
    with ws.intercept():
        requests.get(f"{ws.host}/api/2.0/a", timeout=5)
        requests.post(f"{ws.host}/api/2.0/b", timeout=5)
        requests.get(f"{ws.host}/api/2.1/b", timeout=5)
    assert ws.requests.paths() == ["GET /api/2.0/a", "POST /api/2.0/b", "GET /api/2.1/b"]
    assert [r.path for r in ws.requests.filter(method="get")] == ["/api/2.0/a", "/api/2.1/b"]
    assert [r.path for r in ws.requests.filter(path=r"/b$")] == ["/api/2.0/b", "/api/2.1/b"]
    assert [r.path for r in ws.requests.filter(method="GET", path="2.1")] == ["/api/2.1/b"]


def test_clear_empties_the_log(ws: LocalWorkspace) -> None:
    with ws.intercept():
        requests.get(f"{ws.host}/api/2.0/a", timeout=5)
    ws.requests.clear()
    assert len(ws.requests) == 0
    with pytest.raises(IndexError, match="no request"):
        _ = ws.requests.last


def test_unauthenticated_request_is_captured_with_its_401(ws: LocalWorkspace) -> None:
    with ws.intercept():
        requests.get(f"{ws.host}/api/2.0/a", timeout=5)
    assert ws.requests.last.status == 401


def test_record_returns_the_entry_whose_status_is_filled_later() -> None:
    log = RequestLog()
    entry = log.record(LocalRequest.build("GET", "/x", "a=1", {}, b'{"k": 1}'))
    assert entry.status is None
    assert log == [entry]
    assert entry.json() == {"k": 1}


def test_maxlen_keeps_only_the_most_recent_requests(ws: LocalWorkspace) -> None:
    ws.requests.maxlen = 2
    with ws.intercept():
        for name in ("a", "b", "c"):
            requests.get(f"{ws.host}/api/2.0/{name}", timeout=5)
    assert ws.requests.paths() == ["GET /api/2.0/b", "GET /api/2.0/c"]
