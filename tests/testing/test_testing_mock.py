"""`mock_databricks()`: environment pointed at a local workspace, real hosts blocked, all restored after."""

from __future__ import annotations

import asyncio
import os

import pytest
import requests

from dbx_native.local import LocalWorkspace
from dbx_native.testing import MockDatabricks, mock_databricks

POLLUTED = {
    "DATABRICKS_HOST": "https://real.cloud.databricks.com",
    "DATABRICKS_TOKEN": "dapi-real-token",
    "DATABRICKS_CONFIG_PROFILE": "prod",
    "DATABRICKS_CLIENT_SECRET": "real-secret",
    "DATABRICKS_WAREHOUSE_ID": "abc",
    "ARM_CLIENT_ID": "azure-app",
    "DBX_NATIVE_RETRY__MAX_ATTEMPTS": "9",
}


@pytest.fixture
def polluted_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name, value in POLLUTED.items():
        monkeypatch.setenv(name, value)
    return POLLUTED


def test_context_manager_points_the_environment_at_the_workspace(polluted_env: dict[str, str]) -> None:
    with mock_databricks() as ws:
        assert isinstance(ws, LocalWorkspace)
        assert os.environ["DATABRICKS_HOST"] == ws.host
        token = os.environ["DATABRICKS_TOKEN"]
        assert token != polluted_env["DATABRICKS_TOKEN"]
        for name in ("DATABRICKS_CONFIG_PROFILE", "DATABRICKS_CLIENT_SECRET", "DATABRICKS_WAREHOUSE_ID"):
            assert name not in os.environ
        assert "ARM_CLIENT_ID" not in os.environ
        assert "DBX_NATIVE_RETRY__MAX_ATTEMPTS" not in os.environ
        response = requests.get(f"{ws.host}/api/2.0/x", headers={"Authorization": f"Bearer {token}"}, timeout=5)
        assert response.status_code == 404
    assert {name: os.environ.get(name) for name in polluted_env} == polluted_env


def test_environment_is_restored_when_the_body_raises(polluted_env: dict[str, str]) -> None:
    with pytest.raises(RuntimeError), mock_databricks():
        raise RuntimeError("test failure")
    assert {name: os.environ.get(name) for name in polluted_env} == polluted_env


def test_variables_that_were_unset_are_unset_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABRICKS_HOST", raising=False)
    monkeypatch.delenv("DATABRICKS_TOKEN", raising=False)
    with mock_databricks():
        assert "DATABRICKS_HOST" in os.environ
    assert "DATABRICKS_HOST" not in os.environ
    assert "DATABRICKS_TOKEN" not in os.environ


def test_real_hosts_are_blocked_while_active() -> None:
    with mock_databricks(), pytest.raises(requests.ConnectionError, match=r"dbx_native\.testing blocked"):
        requests.get("https://example.cloud.databricks.com/api/2.0/clusters/list", timeout=5)


def test_given_workspace_is_used_and_its_fixed_token_exported() -> None:
    mine = LocalWorkspace(token="fixed-local-token")
    with mock_databricks(mine) as ws:
        assert ws is mine
        assert os.environ["DATABRICKS_TOKEN"] == "fixed-local-token"


def test_decorator_with_parentheses_activates_a_fresh_workspace_per_call() -> None:
    seen: list[str] = []

    @mock_databricks()
    def work(suffix: str) -> int:
        seen.append(os.environ["DATABRICKS_HOST"])
        return requests.get(f"{os.environ['DATABRICKS_HOST']}/{suffix}", timeout=5).status_code

    assert work("api/2.0/x") == 401
    assert work("api/2.0/y") == 401
    assert len(seen) == 2
    assert work.__name__ == "work"


def test_bare_decorator_activates_too() -> None:
    @mock_databricks
    def work() -> str:
        return os.environ["DATABRICKS_HOST"]

    assert work() == LocalWorkspace().host


def test_decorator_with_a_workspace_shares_it_across_calls() -> None:
    ws = LocalWorkspace()

    @mock_databricks(ws)
    def work() -> None:
        requests.get(f"{ws.host}/api/2.0/x", timeout=5)

    work()
    work()
    assert len(ws.requests) == 2


def test_async_functions_are_decorated_around_the_await() -> None:
    ws = LocalWorkspace()

    @mock_databricks(ws)
    async def work() -> str:
        await asyncio.sleep(0)
        return os.environ["DATABRICKS_HOST"]

    assert asyncio.run(work()) == ws.host


def test_nested_use_of_one_mock_object_restores_in_order() -> None:
    mock = MockDatabricks()
    with mock as outer:
        with mock as inner:
            assert os.environ["DATABRICKS_HOST"] == inner.host
        assert os.environ["DATABRICKS_HOST"] == outer.host


def test_databricks_sdk_client_from_the_environment_reaches_the_workspace() -> None:
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.errors import NotFound

    with mock_databricks() as ws:
        w = WorkspaceClient()
        with pytest.raises(NotFound):
            w.api_client.do("GET", "/api/2.0/no-such-thing")
    assert ws.requests.paths() == ["GET /.well-known/databricks-config", "GET /api/2.0/no-such-thing"]


def test_dbx_config_from_the_environment_reaches_the_workspace() -> None:
    from dbx_native.config import DbxConfig

    with mock_databricks() as ws:
        config = DbxConfig()
    assert config.host == ws.host
    assert config.token is not None
