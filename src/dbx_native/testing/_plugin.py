"""The dbx-native pytest plugin (entry point `pytest11: dbx_native`): fixtures over a local workspace.

Loaded by every pytest run in an environment where dbx-native is installed, so importing it must stay
cheap: the workspace is imported inside the fixtures.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from dbx_native.local import LocalWorkspace, ServerHandle

__all__ = ["dbx_server", "dbx_workspace"]


@pytest.fixture
def dbx_workspace(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalWorkspace]:
    """A fresh `LocalWorkspace`, intercepting `requests`, with the environment pointed at it.

    `DATABRICKS_HOST` / `DATABRICKS_TOKEN` name the workspace, other `DATABRICKS_*` and `DBX_NATIVE_*`
    variables are removed, and requests to any non-loopback host other than the workspace fail.
    """
    from dbx_native.local import LocalWorkspace
    from dbx_native.testing._mock import isolated_environ

    workspace = LocalWorkspace()
    for name, value in isolated_environ(workspace, workspace.client_token()).items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    with workspace.intercept():
        yield workspace


@pytest.fixture
def dbx_server() -> Iterator[ServerHandle]:
    """A loopback HTTP server over a fresh `LocalWorkspace` (`.host`, `.token`, `.config`, `.workspace`).

    Stopped at teardown. The environment is left alone: pass `dbx_server.config` or host and token to
    the client under test.
    """
    from dbx_native.local import LocalWorkspace

    server = LocalWorkspace().serve()
    try:
        yield server
    finally:
        server.stop()
