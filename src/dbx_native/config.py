"""Configuration shared by every dbx-native client.

`DbxConfig` is a frozen pydantic-settings model. Sources, highest first:

1. keyword arguments: `DbxConfig(host=..., token=...)`;
2. `DBX_NATIVE_*` environment variables, nested with `__` (`DBX_NATIVE_RETRY__MAX_ATTEMPTS=6`);
3. the standard Databricks variables (`DATABRICKS_HOST`, `DATABRICKS_TOKEN`, `DATABRICKS_CONFIG_PROFILE`,
   `DATABRICKS_AUTH_TYPE`, `DATABRICKS_CLIENT_ID`, `DATABRICKS_CLIENT_SECRET`);
4. defaults. A `profile` (or none of host and token) leaves the rest to databricks-sdk unified auth, which
   reads `~/.databrickscfg`, OAuth, Azure, GCP, notebook and Model Serving credentials when first needed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from dbx_native.errors import ConfigurationError

__all__ = ["DbxConfig", "RetryPolicy", "Timeouts"]

_ENV_PREFIX = "DBX_NATIVE_"

# DbxConfig field -> the standard Databricks environment variable that sets it.
_DATABRICKS_ENV: dict[str, str] = {
    "host": "DATABRICKS_HOST",
    "token": "DATABRICKS_TOKEN",
    "profile": "DATABRICKS_CONFIG_PROFILE",
    "auth_type": "DATABRICKS_AUTH_TYPE",
    "client_id": "DATABRICKS_CLIENT_ID",
    "client_secret": "DATABRICKS_CLIENT_SECRET",
}

_SECRET_FIELDS = frozenset({"token", "client_secret", "token_provider"})


class RetryPolicy(BaseModel):
    """How failed calls are retried.

    A call is retried while BOTH the attempt count and the total deadline allow it. Waits grow
    exponentially from `initial_backoff` to `max_backoff`, each shortened by up to `jitter` (a fraction)
    at random. A `Retry-After` the server sends is honoured up to `max_retry_after` seconds; past it the
    error is raised at once with `.retry_after` set, so the caller can decide.

    Attributes:
        max_attempts: Attempts in all, the first included (1 turns retries off).
        initial_backoff: Seconds before the first retry.
        max_backoff: Longest wait between two attempts, in seconds.
        jitter: Fraction (0-1) by which each wait may be shortened at random.
        deadline: Seconds from the first attempt after which no new attempt starts.
        max_retry_after: Longest `Retry-After` honoured, in seconds.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_attempts: int = Field(default=4, ge=1, le=100)
    initial_backoff: float = Field(default=0.5, ge=0.0)
    max_backoff: float = Field(default=8.0, ge=0.0)
    jitter: float = Field(default=0.25, ge=0.0, le=1.0)
    deadline: float = Field(default=300.0, gt=0.0)
    max_retry_after: float = Field(default=60.0, ge=0.0)


class Timeouts(BaseModel):
    """Per-attempt network timeouts, in seconds.

    Attributes:
        connect: Time to open a connection.
        read: Time to wait for the server between bytes of the response.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    connect: float = Field(default=10.0, gt=0.0)
    read: float = Field(default=60.0, gt=0.0)


class _DatabricksEnvSource(PydanticBaseSettingsSource):
    """Reads the standard `DATABRICKS_*` variables that databricks-sdk users already set."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        env = _DATABRICKS_ENV.get(field_name)
        value = os.environ.get(env) if env else None
        return (value or None), field_name, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, env in _DATABRICKS_ENV.items():
            value = os.environ.get(env)
            if value:
                values[name] = value
        return values


class DbxConfig(BaseSettings):
    """Where and how dbx-native talks to Databricks.

    Args:
        host: Workspace URL (`https://adb-123.4.azuredatabricks.net`); a bare host name gets `https://`.
        token: A personal access token or other static bearer token.
        token_provider: A callable returning a bearer token, called for every request so it can refresh.
        profile: A `~/.databrickscfg` profile, resolved by databricks-sdk.
        auth_type: Force one databricks-sdk auth method (`pat`, `oauth-m2m`, `azure-cli`, ...).
        client_id: OAuth client id of a service principal.
        client_secret: OAuth client secret of a service principal.
        retry: The retry policy.
        timeouts: Per-attempt network timeouts.
        telemetry: Emit OpenTelemetry spans (no-op unless a tracer provider is configured).
        capture_content: Record prompts and responses on spans (off: they may hold personal data).
        log_bodies: Log request and response bodies at DEBUG (truncated, redacted).
        user_agent_extra: Appended to the `User-Agent` header (`myagent/1.2`).

    Raises:
        ConfigurationError: A value is invalid; the message names the field and where it came from.

    Example:
        >>> cfg = DbxConfig(host="example.cloud.databricks.com", token="dapi-example")
        >>> cfg.host
        'https://example.cloud.databricks.com'
        >>> "dapi-example" in repr(cfg)
        False
    """

    model_config = SettingsConfigDict(
        env_prefix=_ENV_PREFIX,
        env_nested_delimiter="__",
        frozen=True,
        extra="forbid",
        arbitrary_types_allowed=True,
        validate_default=True,
    )

    host: str | None = None
    token: SecretStr | None = None
    token_provider: Callable[[], str] | None = Field(default=None, exclude=True)
    profile: str | None = None
    auth_type: str | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    timeouts: Timeouts = Field(default_factory=Timeouts)
    telemetry: bool = True
    capture_content: bool = False
    log_bodies: bool = False
    user_agent_extra: str | None = None

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as err:
            raise _configuration_error(err, values) from None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # No dotenv or secrets directory: a library must not read files it was not told about.
        return init_settings, env_settings, _DatabricksEnvSource(settings_cls)

    @field_validator("host")
    @classmethod
    def _normalise_host(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().rstrip("/")
        if not value:
            return None
        if "://" not in value:
            value = "https://" + value
        scheme = value.split("://", 1)[0]
        if scheme not in ("http", "https"):
            raise ValueError(f"the URL scheme must be https (or http for a local workspace), not {scheme!r}")
        if "@" in value.split("://", 1)[1].split("/", 1)[0]:
            raise ValueError("credentials must not be part of the host URL; use token= or a profile")
        return value

    @field_validator("token", "client_secret")
    @classmethod
    def _empty_secret_is_none(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            return None
        return value

    def replace(self, **changes: Any) -> DbxConfig:
        """A copy with some fields changed, validated (environment variables do not override the copy).

        Example:
            >>> DbxConfig(host="h.example.com").replace(retry={"max_attempts": 1}).retry.max_attempts
            1
        """
        values = {name: getattr(self, name) for name in type(self).model_fields}
        values.update(changes)
        return type(self)(**values)

    @property
    def auth_method(self) -> str:
        """The auth method this config selects, without resolving anything (`pat`, `token_provider`, `sdk`)."""
        if self.token_provider is not None:
            return "token_provider"
        if self.token is not None and self.auth_type in (None, "pat"):
            return "pat"
        return f"sdk:{self.auth_type}" if self.auth_type else "sdk"


def _source_of(field: str, init_values: Mapping[str, Any]) -> str:
    """Where the value of a (possibly nested, `retry.max_attempts`) field came from."""
    top = field.split(".", 1)[0]
    if top in init_values:
        return "keyword argument"
    env_name = _ENV_PREFIX + field.replace(".", "__").upper()
    if env_name in os.environ or (_ENV_PREFIX + top.upper()) in os.environ:
        return f"environment variable {env_name if env_name in os.environ else _ENV_PREFIX + top.upper()}"
    if top in _DATABRICKS_ENV and os.environ.get(_DATABRICKS_ENV[top]):
        return f"environment variable {_DATABRICKS_ENV[top]}"
    return "default"


def _configuration_error(err: ValidationError, init_values: Mapping[str, Any]) -> ConfigurationError:
    lines = []
    first_field = None
    first_source = None
    for item in err.errors(include_url=False, include_input=False, include_context=False):
        field = ".".join(str(part) for part in item["loc"]) or "config"
        source = _source_of(field, init_values)
        first_field = first_field or field
        first_source = first_source or source
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown setting (check the spelling; see DbxConfig's fields)"
        lines.append(f"{field} (from {source}): {message}")
    detail = "; ".join(lines)
    return ConfigurationError(f"Invalid dbx-native configuration: {detail}", field=first_field, source=first_source)
