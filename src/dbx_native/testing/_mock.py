"""`mock_databricks()`: point every client in the process at a local workspace and block real hosts."""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, overload

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from dbx_native.local import LocalWorkspace

__all__ = ["MockDatabricks", "isolated_environ", "mock_databricks"]

P = ParamSpec("P")
R = TypeVar("R")

# Every variable databricks-sdk or dbx-native reads for a host, profile or credential. Other clouds'
# credential variables are cleared too: the SDK refuses a config with two auth methods, and a developer
# laptop often has ARM_* or GOOGLE_* set.
_CLEARED_PREFIXES = ("DATABRICKS_", "DBX_NATIVE_")
_CLEARED_NAMES = frozenset(
    {"ARM_CLIENT_ID", "ARM_CLIENT_SECRET", "ARM_TENANT_ID", "ARM_USE_MSI", "ARM_ENVIRONMENT", "GOOGLE_CREDENTIALS"}
)


def isolated_environ(workspace: LocalWorkspace, token: str) -> dict[str, str | None]:
    """The environment changes that point clients at `workspace`: name -> new value (`None`: remove).

    Every `DATABRICKS_*` and `DBX_NATIVE_*` variable (profiles, config file, OAuth and cloud credentials,
    warehouse ids) is removed, then `DATABRICKS_HOST` and `DATABRICKS_TOKEN` are set.

    Args:
        workspace: The workspace clients should reach.
        token: The token to put in `DATABRICKS_TOKEN`.

    Returns:
        The changes to apply (the pytest plugin applies them through `monkeypatch`).
    """
    changes: dict[str, str | None] = {
        name: None for name in os.environ if name.startswith(_CLEARED_PREFIXES) or name in _CLEARED_NAMES
    }
    changes["DATABRICKS_HOST"] = workspace.host
    changes["DATABRICKS_TOKEN"] = token
    return changes


class MockDatabricks:
    """The context manager and decorator `mock_databricks()` returns.

    As a context manager it yields the `LocalWorkspace`; as a decorator it activates a fresh one (or
    the given one) around each call of the function, sync or async.
    """

    def __init__(self, workspace: LocalWorkspace | None = None) -> None:
        self._workspace = workspace
        self._active: list[tuple[AbstractContextManager[LocalWorkspace], dict[str, str | None]]] = []

    def __enter__(self) -> LocalWorkspace:
        from dbx_native.local import LocalWorkspace

        workspace = self._workspace if self._workspace is not None else LocalWorkspace()
        changes = isolated_environ(workspace, workspace.client_token())
        saved = {name: os.environ.get(name) for name in changes}
        _apply(changes)
        interception = workspace.intercept()
        try:
            interception.__enter__()
        except BaseException:
            _apply(saved)
            raise
        self._active.append((interception, saved))
        return workspace

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        interception, saved = self._active.pop()
        try:
            interception.__exit__(exc_type, exc, tb)
        finally:
            _apply(saved)

    @overload
    def __call__(self, func: Callable[P, Coroutine[Any, Any, R]]) -> Callable[P, Coroutine[Any, Any, R]]: ...

    @overload
    def __call__(self, func: Callable[P, R]) -> Callable[P, R]: ...

    def __call__(self, func: Callable[P, Any]) -> Callable[P, Any]:
        workspace = self._workspace
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
                with MockDatabricks(workspace):
                    return await func(*args, **kwargs)

            return async_wrapper

        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
            with MockDatabricks(workspace):
                return func(*args, **kwargs)

        return wrapper


@overload
def mock_databricks(workspace: Callable[P, R], /) -> Callable[P, R]: ...


@overload
def mock_databricks(workspace: LocalWorkspace | None = None, /) -> MockDatabricks: ...


def mock_databricks(workspace: LocalWorkspace | Callable[..., Any] | None = None, /) -> Any:
    """Send every Databricks call in the process to a local workspace, and refuse real hosts.

    While active: `requests` calls to the workspace host are answered in-process (this covers
    databricks-sdk and dbx-native clients), loopback addresses stay reachable, any other host raises
    `requests.ConnectionError`; `DATABRICKS_HOST` and `DATABRICKS_TOKEN` point at the workspace and every
    other `DATABRICKS_*` / `DBX_NATIVE_*` variable is removed. Everything is restored on exit.

    Args:
        workspace: The workspace to use (default: a fresh `LocalWorkspace`). Used bare as a decorator,
            this is the decorated function.

    Returns:
        A context manager yielding the workspace, usable as a decorator (`@mock_databricks()` or
        `@mock_databricks`).

    Example:
        >>> import os
        >>> from dbx_native.testing import mock_databricks
        >>> with mock_databricks() as ws:
        ...     os.environ["DATABRICKS_HOST"] == ws.host
        True
    """
    if workspace is not None and callable(workspace) and not hasattr(workspace, "handle"):
        return MockDatabricks()(workspace)
    return MockDatabricks(workspace)  # type: ignore[arg-type]


def _apply(changes: dict[str, str | None]) -> None:
    for name, value in changes.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
