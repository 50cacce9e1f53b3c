"""LocalWorkspace: backends, auth, discovery metadata, reset, errors, catalog delegation."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import requests

from dbx_native.errors import ConfigurationError
from dbx_native.local import LocalApiError, LocalRequest, LocalWorkspace, Route

FIXED = "dapi" + "0123456789abcdef" * 2


class CounterBackend:
    """Counts POSTs to `/api/2.0/counter`; reset() forgets the count."""

    def __init__(self) -> None:
        self.count = 0
        self.resets = 0

    def routes(self) -> list[Route]:
        return [
            Route("POST", "/api/2.0/counter", self._bump),
            Route("GET", "/api/2.0/counter/{name}", lambda r: {"name": r.path_params["name"], "count": self.count}),
            Route("GET", "/api/2.0/boom", self._boom),
            Route("GET", "/api/2.0/refuse", self._refuse),
        ]

    def reset(self) -> None:
        self.count = 0
        self.resets += 1

    def _bump(self, request: LocalRequest) -> dict[str, Any]:
        self.count += int(request.json().get("by", 1))
        return {"count": self.count}

    def _boom(self, request: LocalRequest) -> None:
        raise RuntimeError("backend bug")

    def _refuse(self, request: LocalRequest) -> None:
        raise LocalApiError(409, "already there", error_code="RESOURCE_ALREADY_EXISTS")


def call(
    ws: LocalWorkspace, method: str, path: str, token: str | None = "any-token", **kwargs: Any
) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    with ws.intercept():
        return requests.request(method, f"{ws.host}{path}", headers=headers, timeout=5, **kwargs)


@pytest.fixture
def counter() -> CounterBackend:
    return CounterBackend()


@pytest.fixture
def ws(counter: CounterBackend) -> LocalWorkspace:
    workspace = LocalWorkspace()
    workspace.register(counter)
    return workspace


# --- backends and dispatch ----------------------------------------------------------------------


def test_registered_backend_routes_are_dispatched_with_path_params(ws: LocalWorkspace) -> None:
    assert call(ws, "POST", "/api/2.0/counter", json={"by": 3}).json() == {"count": 3}
    assert call(ws, "GET", "/api/2.0/counter/mine").json() == {"name": "mine", "count": 3}


def test_unknown_route_is_404_endpoint_not_found(ws: LocalWorkspace) -> None:
    response = call(ws, "GET", "/api/2.0/no-such-thing")
    assert response.status_code == 404
    assert response.json()["error_code"] == "ENDPOINT_NOT_FOUND"
    assert "/api/2.0/no-such-thing" in response.json()["message"]


def test_wrong_method_on_a_known_route_is_405(ws: LocalWorkspace) -> None:
    assert call(ws, "DELETE", "/api/2.0/counter").status_code == 405


def test_handler_local_api_error_becomes_the_error_body(ws: LocalWorkspace) -> None:
    response = call(ws, "GET", "/api/2.0/refuse")
    assert response.status_code == 409
    assert response.json() == {"error_code": "RESOURCE_ALREADY_EXISTS", "message": "already there"}


def test_handler_crash_is_a_500_and_logged_with_its_traceback(
    ws: LocalWorkspace, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="dbx_native.local"):
        response = call(ws, "GET", "/api/2.0/boom")
    assert response.status_code == 500
    assert response.json()["error_code"] == "INTERNAL_ERROR"
    assert "RuntimeError: backend bug" in response.json()["message"]
    assert any(r.exc_info for r in caplog.records)


def test_malformed_json_request_body_is_a_400(ws: LocalWorkspace) -> None:
    response = call(ws, "POST", "/api/2.0/counter", data=b"{not json")
    assert response.status_code == 400
    assert response.json()["error_code"] == "MALFORMED_REQUEST"


def test_every_response_carries_the_workspace_id_header(ws: LocalWorkspace) -> None:
    assert call(ws, "GET", "/api/2.0/nothing").headers["X-Databricks-Org-Id"] == str(ws.workspace_id)


def test_reset_resets_backends_faults_capture_and_states(ws: LocalWorkspace, counter: CounterBackend) -> None:
    call(ws, "POST", "/api/2.0/counter")
    ws.faults.add(status=503, times=None)
    ws.states.set("endpoint", ["A", "B"])
    ws.reset()
    assert counter.count == 0
    assert counter.resets == 1
    assert len(ws.faults) == 0
    assert len(ws.requests) == 0
    assert ws.states.start("endpoint", "e", states=["X", "Y"]) == "Y"  # the script is gone
    assert call(ws, "POST", "/api/2.0/counter").status_code == 200


def test_repr_names_host_and_backends_but_no_token() -> None:
    workspace = LocalWorkspace(token=FIXED)
    text = repr(workspace)
    assert workspace.host in text
    assert "MetaBackend" in text
    assert FIXED not in text


@pytest.mark.parametrize("host", ["workspace.example.com", "ftp://x", ""])
def test_host_must_be_an_http_url(host: str) -> None:
    with pytest.raises(ConfigurationError, match="http:// or https://"):
        LocalWorkspace(host=host)


def test_host_trailing_slash_is_dropped() -> None:
    assert LocalWorkspace(host="http://127.0.0.1:1/").host == "http://127.0.0.1:1"


def test_root_is_kept_as_a_path(tmp_path: Any) -> None:
    assert LocalWorkspace(root=str(tmp_path)).root == tmp_path


# --- auth ---------------------------------------------------------------------------------------


def test_request_without_credentials_is_401_unauthenticated(ws: LocalWorkspace) -> None:
    response = call(ws, "GET", "/api/2.0/counter/x", token=None)
    assert response.status_code == 401
    assert response.json()["error_code"] == "UNAUTHENTICATED"
    assert "Credential was not sent" in response.json()["message"]


def test_non_bearer_credentials_are_401(ws: LocalWorkspace) -> None:
    with ws.intercept():
        response = requests.get(f"{ws.host}/api/2.0/counter/x", auth=("user", "pass"), timeout=5)
    assert response.status_code == 401


def test_any_bearer_token_is_accepted_without_a_fixed_token(ws: LocalWorkspace) -> None:
    assert call(ws, "GET", "/api/2.0/counter/x", token="whatever").status_code == 200
    assert ws.token is None


def test_fixed_token_refuses_other_tokens_with_invalid_access_token(counter: CounterBackend) -> None:
    ws = LocalWorkspace(token=FIXED)
    ws.register(counter)
    wrong = "dapi-wrong-value"
    response = call(ws, "GET", "/api/2.0/counter/x", token=wrong)
    assert response.status_code == 401
    assert response.json() == {"error_code": "UNAUTHENTICATED", "message": "Invalid access token."}
    assert wrong not in response.text
    assert call(ws, "GET", "/api/2.0/counter/x", token=FIXED).status_code == 200
    assert ws.token == FIXED


def test_issued_tokens_are_accepted_next_to_the_fixed_one(counter: CounterBackend) -> None:
    ws = LocalWorkspace(token=FIXED)
    ws.register(counter)
    issued = ws.issue_token()
    assert issued.startswith("dapi") and issued != FIXED
    assert issued != ws.issue_token()
    assert call(ws, "GET", "/api/2.0/counter/x", token=issued).status_code == 200


def test_client_token_is_the_fixed_token_or_a_fresh_issued_one() -> None:
    assert LocalWorkspace(token=FIXED).client_token() == FIXED
    assert LocalWorkspace().client_token().startswith("dapi")


def test_expired_token_answers_401_saying_it_expired_until_reset(ws: LocalWorkspace) -> None:
    ws.expire_token("old-token")
    response = call(ws, "GET", "/api/2.0/counter/x", token="old-token")
    assert response.status_code == 401
    assert response.json()["error_code"] == "UNAUTHENTICATED"
    assert "expired" in response.json()["message"]
    assert "old-token" not in response.text
    assert call(ws, "GET", "/api/2.0/counter/x", token="new-token").status_code == 200
    ws.reset()
    assert call(ws, "GET", "/api/2.0/counter/x", token="old-token").status_code == 200


def test_token_values_are_never_logged(counter: CounterBackend, caplog: pytest.LogCaptureFixture) -> None:
    ws = LocalWorkspace(token=FIXED)
    ws.register(counter)
    with caplog.at_level(logging.DEBUG, logger="dbx_native"):
        ws.expire_token(FIXED)
        call(ws, "GET", "/api/2.0/counter/x", token=FIXED)
        call(ws, "GET", "/api/2.0/counter/x", token="other-secret")
    assert len(caplog.records) > 0
    assert FIXED not in caplog.text
    assert "other-secret" not in caplog.text


# --- discovery metadata ---------------------------------------------------------------------------


def test_well_known_config_answers_without_credentials_with_the_fields_the_sdk_reads(ws: LocalWorkspace) -> None:
    response = call(ws, "GET", "/.well-known/databricks-config", token=None)
    assert response.status_code == 200
    body = response.json()
    assert body["workspace_id"] == str(ws.workspace_id)
    assert body["cloud"] == "AWS"
    assert body["oidc_endpoint"] == f"{ws.host}/oidc"
    assert len(body["account_id"]) == 36


def test_workspace_id_is_configurable() -> None:
    ws = LocalWorkspace(workspace_id=42)
    assert call(ws, "GET", "/.well-known/databricks-config").json()["workspace_id"] == "42"


def test_oidc_discovery_points_back_at_the_workspace(ws: LocalWorkspace) -> None:
    body = call(ws, "GET", "/oidc/.well-known/oauth-authorization-server", token=None).json()
    assert body["token_endpoint"] == f"{ws.host}/oidc/v1/token"


def test_client_credentials_grant_issues_a_token_the_workspace_accepts(counter: CounterBackend) -> None:
    ws = LocalWorkspace(token=FIXED)
    ws.register(counter)
    grant = call(ws, "POST", "/oidc/v1/token", token=None, data={"grant_type": "client_credentials"}).json()
    assert grant["token_type"] == "Bearer"
    assert grant["expires_in"] > 0
    assert call(ws, "GET", "/api/2.0/counter/x", token=grant["access_token"]).status_code == 200


def test_other_oauth_grants_are_refused_with_an_oauth_error(ws: LocalWorkspace) -> None:
    response = call(ws, "POST", "/oidc/v1/token", token=None, data={"grant_type": "password"})
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


# --- catalog delegation --------------------------------------------------------------------------


def test_create_and_read_table_go_through_the_local_catalog() -> None:
    ws = LocalWorkspace()
    info = ws.create_table("main.s.t", [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}], primary_key="id")
    assert info["full_name"] == "main.s.t"
    assert sorted(ws.read_table("main.s.t"), key=lambda r: int(r["id"])) == [
        {"id": 1, "name": "a"},
        {"id": 2, "name": "b"},
    ]
    assert ws.catalog.read_table("main.s.t") == ws.read_table("main.s.t")


def test_catalog_and_sql_backends_are_registered_and_reset() -> None:
    ws = LocalWorkspace()
    assert ws.catalog in ws.backends
    assert ws.sql in ws.backends
    ws.create_table("main.s.t", [{"id": 1}])
    response = call(ws, "GET", "/api/2.1/unity-catalog/tables/main.s.t")
    assert response.status_code == 200
    ws.reset()
    assert call(ws, "GET", "/api/2.1/unity-catalog/tables/main.s.t").status_code == 404
