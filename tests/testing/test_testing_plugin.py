"""The pytest plugin: `dbx_workspace` and `dbx_server` fixtures, and a cheap import."""

from __future__ import annotations

import os
import subprocess
import sys

import duckdb
import pytest
import requests

from dbx_native.local import LocalWorkspace, ServerHandle

pytest_plugins = ["pytester"]

# pytester restores `sys.modules` after each in-process run; a C extension first imported inside one
# (DuckDB, by the local catalog) and imported again later aborts the interpreter. Importing it here
# keeps it in the snapshot.
PRELOADED = duckdb


def test_dbx_workspace_is_intercepted_with_the_environment_pointed_at_it(dbx_workspace: LocalWorkspace) -> None:
    assert os.environ["DATABRICKS_HOST"] == dbx_workspace.host
    token = os.environ["DATABRICKS_TOKEN"]
    response = requests.get(f"{dbx_workspace.host}/api/2.0/x", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 404
    assert dbx_workspace.requests.last.token == token
    with pytest.raises(requests.ConnectionError, match="blocked"):
        requests.get("https://example.com/", timeout=5)


def test_dbx_server_is_a_running_loopback_server(dbx_server: ServerHandle) -> None:
    assert dbx_server.running
    assert dbx_server.host.startswith("http://127.0.0.1:")
    headers = {"Authorization": f"Bearer {dbx_server.token}"}
    assert requests.get(f"{dbx_server.host}/api/2.0/x", headers=headers, timeout=5).status_code == 404
    assert len(dbx_server.workspace.requests) == 1


def test_fixtures_are_fresh_and_torn_down(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import os
        import requests

        seen = []

        def test_first(dbx_workspace, dbx_server):
            dbx_workspace.faults.add(status=503, times=None)
            seen.append((dbx_workspace, dbx_server, os.environ["DATABRICKS_HOST"]))

        def test_second(dbx_workspace):
            old_ws, old_server, _ = seen[0]
            assert dbx_workspace is not old_ws
            assert len(dbx_workspace.faults) == 0
            assert not old_server.running

        def test_after():
            assert os.environ.get("DATABRICKS_HOST") != seen[0][2]
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def test_plugin_import_does_not_load_the_workspace() -> None:
    code = (
        "import sys, dbx_native.testing._plugin, dbx_native.testing;"
        "heavy = [m for m in ('dbx_native.local._workspace', 'responses', 'databricks.sdk') if m in sys.modules];"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("package", ["dbx_native.local", "dbx_native.testing"])
def test_public_names_resolve_and_match_all(package: str) -> None:
    import importlib

    module = importlib.import_module(package)
    assert sorted(module._LAZY) == sorted(module.__all__)
    for name in module.__all__:
        assert getattr(module, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        module.nope  # noqa: B018


def test_fake_clock_makes_injected_latency_free() -> None:
    from dbx_native.testing import FakeClock, LocalWorkspace

    clock = FakeClock()
    ws = LocalWorkspace(clock=clock)
    ws.faults.add(latency=60.0, path="/")
    with ws.intercept():
        assert requests.get(f"{ws.host}/.well-known/databricks-config", timeout=5).status_code == 200
    assert clock.sleeps == [60.0]
