"""The base every public client builds on: construction, copies, closing, one `HttpClient`."""

from __future__ import annotations

import copy
from typing import Any, ClassVar, TypeVar

from dbx_native._core.auth import CredentialProvider, SdkCredentials
from dbx_native._core.clock import Clock
from dbx_native._core.http import HttpClient
from dbx_native.config import DbxConfig, RetryPolicy, Timeouts
from dbx_native.errors import ConfigurationError

__all__ = ["BaseClient"]

_C = TypeVar("_C", bound="BaseClient")


class BaseClient:
    """Shared construction for every dbx-native client.

    `Client(config=None)` reads `DbxConfig()` from the environment; `from_env()` says so explicitly;
    `from_workspace_client(w)` reuses a databricks-sdk `WorkspaceClient`'s host and auth;
    `with_options(...)` is a cheap copy that shares the connection pool; clients are context managers.
    """

    _client_name: ClassVar[str] = "core"

    def __init__(
        self,
        config: DbxConfig | None = None,
        *,
        clock: Clock | None = None,
        _credentials: CredentialProvider | None = None,
    ) -> None:
        self._config = config if config is not None else DbxConfig()
        self._http = HttpClient(self._config, client_name=self._client_name, credentials=_credentials, clock=clock)

    @property
    def config(self) -> DbxConfig:
        """The configuration this client uses."""
        return self._config

    @classmethod
    def from_env(cls: type[_C], **options: Any) -> _C:
        """A client configured from `DBX_NATIVE_*` / `DATABRICKS_*` variables and databricks-sdk defaults."""
        return cls(config=DbxConfig(), **options)

    @classmethod
    def from_workspace_client(cls: type[_C], w: Any, **options: Any) -> _C:
        """A client that reuses an existing `databricks.sdk.WorkspaceClient`'s host and authentication.

        Args:
            w: A `WorkspaceClient` (anything with a databricks-sdk `Config` as `.config`).
            **options: Client options, as for the constructor.

        Raises:
            ConfigurationError: `w` carries no databricks-sdk config.
        """
        sdk_config = getattr(w, "config", None)
        if sdk_config is None or not hasattr(sdk_config, "authenticate"):
            raise ConfigurationError(
                "from_workspace_client() needs a databricks.sdk.WorkspaceClient (its .config authenticates requests)"
            )
        config = options.pop("config", None) or DbxConfig(host=sdk_config.host, auth_type=sdk_config.auth_type)
        return cls(config=config, _credentials=SdkCredentials.from_sdk_config(sdk_config), **options)

    def with_options(
        self: _C,
        *,
        timeout: float | None = None,
        max_attempts: int | None = None,
        retry: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
    ) -> _C:
        """A copy with other retry or timeout settings; it shares this client's connection pool and auth.

        Args:
            timeout: Total seconds per call, retries included (the retry deadline).
            max_attempts: Attempts per call, the first included (1 turns retries off).
            retry: A whole new retry policy (applied before `timeout` and `max_attempts`).
            timeouts: Per-attempt connect/read timeouts.
        """
        policy = retry or self._config.retry
        changes: dict[str, Any] = {}
        if timeout is not None:
            changes["deadline"] = timeout
        if max_attempts is not None:
            changes["max_attempts"] = max_attempts
        if changes:
            policy = RetryPolicy(**{**policy.model_dump(), **changes})
        config = self._config.replace(retry=policy, timeouts=timeouts or self._config.timeouts)
        clone = copy.copy(self)
        clone._config = config
        clone._http = self._http.with_config(config)
        return clone

    def close(self) -> None:
        """Close the connection pool (copies made with `with_options` share it)."""
        self._http.close()

    def __enter__(self: _C) -> _C:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(host={self._config.host!r}, auth={self._http.credentials.method!r})"
