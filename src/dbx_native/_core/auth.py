"""Credentials: one provider per config, asked for headers on every request so tokens can refresh.

A static token or a `token_provider` callable needs nothing from databricks-sdk. Every other method
(OAuth M2M/U2M, Azure, GCP, notebook, Model Serving and Apps environment credentials, profiles) goes
through databricks-sdk unified auth, imported only when such a config is first used (the SDK costs
~0.8 s to import). We never build a credential chain of our own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from dbx_native.errors import ConfigurationError

if TYPE_CHECKING:
    from dbx_native.config import DbxConfig

__all__ = ["CallableToken", "CredentialProvider", "SdkCredentials", "StaticToken", "resolve_credentials"]


class CredentialProvider(Protocol):
    """Gives the auth headers for one request."""

    #: The auth method, for `doctor` and logs (`pat`, `token_provider`, `sdk:oauth-m2m`, ...).
    method: str

    def headers(self) -> dict[str, str]:
        """Fresh auth headers for the next request."""
        ...

    def refresh(self) -> bool:
        """Drop any cached credential after a 401; returns whether a retry may now succeed."""
        ...


class StaticToken:
    """A bearer token that never changes (a PAT). A 401 cannot be cured by asking again."""

    method = "pat"

    def __init__(self, token: str) -> None:
        self._header = {"Authorization": f"Bearer {token}"}

    def headers(self) -> dict[str, str]:
        return self._header

    def refresh(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "StaticToken(token='***')"


class CallableToken:
    """A token from the caller's callable, asked for on every request (the caller caches and refreshes)."""

    method = "token_provider"

    def __init__(self, provider: Callable[[], str]) -> None:
        self._provider = provider

    def headers(self) -> dict[str, str]:
        try:
            token = self._provider()
        except Exception as err:
            raise ConfigurationError(
                f"token_provider raised {type(err).__name__}; fix the provider or use another auth method",
                field="token_provider",
            ) from err
        if not token or not isinstance(token, str):
            raise ConfigurationError("token_provider returned no token (it must return a non-empty str)")
        return {"Authorization": f"Bearer {token}"}

    def refresh(self) -> bool:
        return True  # the next headers() call asks the provider again

    def __repr__(self) -> str:
        return "CallableToken(provider=...)"


class SdkCredentials:
    """databricks-sdk unified auth: `Config.authenticate()` per request (it caches and refreshes OAuth tokens)."""

    def __init__(self, factory: Callable[[], Any], *, method: str = "sdk") -> None:
        self._factory = factory
        self._lock = threading.Lock()
        self._sdk_config: Any = None
        self.method = method

    @classmethod
    def from_sdk_config(cls, sdk_config: Any) -> SdkCredentials:
        """Reuse an existing `databricks.sdk.core.Config` (for example `WorkspaceClient().config`)."""
        creds = cls(lambda: sdk_config, method=f"sdk:{getattr(sdk_config, 'auth_type', None) or 'default'}")
        creds._sdk_config = sdk_config
        return creds

    def sdk_config(self) -> Any:
        """The SDK `Config`, built on first use."""
        with self._lock:
            if self._sdk_config is None:
                self._sdk_config = self._factory()
                self.method = f"sdk:{getattr(self._sdk_config, 'auth_type', None) or 'default'}"
            return self._sdk_config

    @property
    def host(self) -> str | None:
        host = getattr(self.sdk_config(), "host", None)
        return str(host).rstrip("/") if host else None

    def headers(self) -> dict[str, str]:
        return dict(self.sdk_config().authenticate())

    def refresh(self) -> bool:
        with self._lock:
            try:
                self._sdk_config = self._factory()
            except Exception:  # keep the original 401 as the error the caller sees
                return False
        return True

    def __repr__(self) -> str:
        return f"SdkCredentials(method={self.method!r})"


def _sdk_factory(config: DbxConfig) -> Callable[[], Any]:
    def build() -> Any:
        try:
            from databricks.sdk.core import Config
        except ImportError as err:  # pragma: no cover - databricks-sdk is a core dependency
            raise ConfigurationError(
                "databricks-sdk is needed for this auth method: pip install databricks-sdk"
            ) from err
        kwargs: dict[str, Any] = {
            "host": config.host,
            "profile": config.profile,
            "auth_type": config.auth_type,
            "client_id": config.client_id,
            "client_secret": config.client_secret.get_secret_value() if config.client_secret else None,
            "token": config.token.get_secret_value() if config.token else None,
            # The SDK retries its own start-up calls for 300 s by default; an agent should learn of a
            # wrong host much sooner.
            "retry_timeout_seconds": int(min(config.retry.deadline, 60.0)),
        }
        try:
            return Config(**{k: v for k, v in kwargs.items() if v is not None})
        except Exception as err:
            # The SDK's message names the methods it tried and never contains secret values.
            raise ConfigurationError(
                f"Databricks authentication could not be resolved: {err}. Set host and token, a profile, "
                "or OAuth client credentials (run `dbx-native doctor`).",
                field="auth",
                source="databricks-sdk unified auth",
            ) from None

    return build


def resolve_credentials(config: DbxConfig) -> CredentialProvider:
    """The provider a config selects. Does not import databricks-sdk unless the config needs it."""
    if config.token_provider is not None:
        return CallableToken(config.token_provider)
    if config.token is not None and config.auth_type in (None, "pat"):
        return StaticToken(config.token.get_secret_value())
    return SdkCredentials(_sdk_factory(config), method=f"sdk:{config.auth_type}" if config.auth_type else "sdk")
