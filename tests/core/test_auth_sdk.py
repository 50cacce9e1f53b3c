"""Auth through databricks-sdk: a WorkspaceClient's auth reused, SDK-only methods resolved lazily."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from canary import CANARY
from dbx_native import DbxConfig, RestClient
from dbx_native._core.auth import CallableToken, SdkCredentials, StaticToken, resolve_credentials
from dbx_native._core.clock import FakeClock
from dbx_native.errors import APIConnectionError, ConfigurationError, NotFoundError
from dbx_native.local import LocalWorkspace


@pytest.fixture
def ws() -> Iterator[LocalWorkspace]:
    workspace = LocalWorkspace(token=CANARY)
    with workspace.intercept():
        yield workspace


def test_from_workspace_client_reuses_the_sdk_auth(ws: LocalWorkspace) -> None:
    from databricks.sdk import WorkspaceClient

    w = WorkspaceClient(host=ws.host, token=CANARY, auth_type="pat")
    client = RestClient.from_workspace_client(w)
    assert isinstance(client._http.credentials, SdkCredentials)
    assert client.config.host == ws.host
    with pytest.raises(NotFoundError):
        client.get("/api/2.0/nothing")
    assert ws.requests[-1].authorization == f"Bearer {CANARY}"
    assert CANARY not in repr(client)


def test_from_workspace_client_rejects_other_objects() -> None:
    with pytest.raises(ConfigurationError, match="WorkspaceClient"):
        RestClient.from_workspace_client(object())


def test_profile_config_resolves_through_the_sdk_lazily(
    ws: LocalWorkspace, tmp_path: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg_file = tmp_path / "databrickscfg"  # type: ignore[operator]
    cfg_file.write_text(f"[dev]\nhost = {ws.host}\ntoken = {CANARY}\n")
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(cfg_file))
    client = RestClient(config=DbxConfig(profile="dev"))
    assert isinstance(client._http.credentials, SdkCredentials)
    with pytest.raises(NotFoundError):
        client.get("/api/2.0/nothing")  # host and token both came from the profile
    assert client._http.credentials.method.startswith("sdk:")
    assert ws.requests[-1].authorization == f"Bearer {CANARY}"


def test_unresolvable_sdk_auth_is_a_configuration_error_without_secrets(
    ws: LocalWorkspace, tmp_path: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(tmp_path / "missing"))  # type: ignore[operator]
    client = RestClient(config=DbxConfig(host=ws.host, client_id="cid", client_secret=CANARY, auth_type="bogus"))
    with pytest.raises(ConfigurationError) as info:
        client.get("/api/2.0/x")
    assert CANARY not in str(info.value)
    assert "doctor" in str(info.value)


def test_resolve_credentials_picks_the_cheap_path_first() -> None:
    assert isinstance(resolve_credentials(DbxConfig(token="tok-value")), StaticToken)
    assert isinstance(resolve_credentials(DbxConfig(token_provider=lambda: "x")), CallableToken)
    assert isinstance(resolve_credentials(DbxConfig(token="t", auth_type="oauth-m2m")), SdkCredentials)
    assert "tok-value" not in repr(resolve_credentials(DbxConfig(token="tok-value")))


@pytest.mark.parametrize("bad", [lambda: "", lambda: None, lambda: 1 / 0])
def test_broken_token_provider_is_a_configuration_error(bad: object) -> None:
    provider = CallableToken(bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        provider.headers()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_connection_refused_is_retried_even_for_post_and_reported_as_not_sent() -> None:
    clock = FakeClock()
    client = RestClient(
        config=DbxConfig(host=f"http://127.0.0.1:{_free_port()}", token="t-123456", retry={"max_attempts": 3}),
        clock=clock,
    )
    with pytest.raises(APIConnectionError) as info:
        client.post("/api/2.0/x", body={})
    assert info.value.request_sent is False
    assert len(clock.sleeps) == 2
    assert "connect" in str(info.value).lower()
