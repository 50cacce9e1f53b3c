"""Test doubles for code that uses Databricks: `mock_databricks()`, pytest fixtures, a fake clock.

The pytest plugin is registered automatically (entry point `dbx_native`) and provides the fixtures
`dbx_workspace` (an intercepted `LocalWorkspace` with the environment pointed at it) and `dbx_server`
(a loopback server over a fresh workspace). Names here are imported lazily so that loading the
plugin costs nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dbx_native._core.clock import FakeClock
    from dbx_native.local import LocalWorkspace, ServerHandle
    from dbx_native.testing._mock import MockDatabricks, mock_databricks

# public name -> module that defines it
_LAZY: dict[str, str] = {
    "FakeClock": "dbx_native._core.clock",
    "LocalWorkspace": "dbx_native.local",
    "MockDatabricks": "dbx_native.testing._mock",
    "ServerHandle": "dbx_native.local",
    "mock_databricks": "dbx_native.testing._mock",
}

__all__ = [
    "FakeClock",
    "LocalWorkspace",
    "MockDatabricks",
    "ServerHandle",
    "mock_databricks",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dbx_native.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
