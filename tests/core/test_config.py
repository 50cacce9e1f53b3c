"""DbxConfig: sources and their precedence, validation errors that name field and source, no secret in repr."""

from __future__ import annotations

import pytest

from canary import CANARY
from dbx_native.config import DbxConfig, RetryPolicy, Timeouts
from dbx_native.errors import ConfigurationError


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith(("DATABRICKS_", "DBX_NATIVE_")):
            monkeypatch.delenv(name)


def test_defaults_match_the_documented_policy() -> None:
    cfg = DbxConfig()
    assert cfg.retry == RetryPolicy(
        max_attempts=4, initial_backoff=0.5, max_backoff=8.0, jitter=0.25, deadline=300.0, max_retry_after=60.0
    )
    assert cfg.timeouts == Timeouts(connect=10.0, read=60.0)
    assert cfg.capture_content is False
    assert cfg.host is None


def test_keyword_beats_dbx_native_env_beats_databricks_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABRICKS_HOST", "https://from-databricks-env.example.com")
    assert DbxConfig().host == "https://from-databricks-env.example.com"
    monkeypatch.setenv("DBX_NATIVE_HOST", "https://from-dbx-env.example.com")
    assert DbxConfig().host == "https://from-dbx-env.example.com"
    assert DbxConfig(host="https://kw.example.com").host == "https://kw.example.com"


def test_standard_databricks_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABRICKS_TOKEN", CANARY)
    monkeypatch.setenv("DATABRICKS_CONFIG_PROFILE", "dev")
    monkeypatch.setenv("DATABRICKS_AUTH_TYPE", "oauth-m2m")
    monkeypatch.setenv("DATABRICKS_CLIENT_ID", "sp-id")
    monkeypatch.setenv("DATABRICKS_CLIENT_SECRET", "sp-secret-value")
    cfg = DbxConfig()
    assert cfg.token is not None and cfg.token.get_secret_value() == CANARY
    assert (cfg.profile, cfg.auth_type, cfg.client_id) == ("dev", "oauth-m2m", "sp-id")
    assert cfg.client_secret is not None and cfg.client_secret.get_secret_value() == "sp-secret-value"


def test_nested_env_with_double_underscore(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBX_NATIVE_RETRY__MAX_ATTEMPTS", "7")
    monkeypatch.setenv("DBX_NATIVE_TIMEOUTS__READ", "5.5")
    cfg = DbxConfig()
    assert cfg.retry.max_attempts == 7
    assert cfg.timeouts.read == 5.5


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("adb-1.2.azuredatabricks.net", "https://adb-1.2.azuredatabricks.net"),
        ("https://x.cloud.databricks.com/", "https://x.cloud.databricks.com"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("  ", None),
    ],
)
def test_host_is_normalised(raw: str, normalised: str | None) -> None:
    assert DbxConfig(host=raw).host == normalised


def test_bad_env_value_names_the_field_and_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBX_NATIVE_RETRY__MAX_ATTEMPTS", "many")
    with pytest.raises(ConfigurationError) as info:
        DbxConfig()
    assert info.value.field == "retry.max_attempts"
    assert info.value.source == "environment variable DBX_NATIVE_RETRY__MAX_ATTEMPTS"
    assert "retry.max_attempts" in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"host": "ftp://x"}, "host"),
        ({"host": "https://user:pw@x.example.com"}, "host"),
        ({"retry": {"jitter": 1.5}}, "retry.jitter"),
        ({"retry": {"max_attempts": 0}}, "retry.max_attempts"),
        ({"timeouts": {"read": 0}}, "timeouts.read"),
        ({"hots": "x"}, "hots"),
    ],
)
def test_bad_keyword_value_names_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        DbxConfig(**kwargs)
    assert info.value.field == field
    assert info.value.source == "keyword argument"


def test_invalid_secret_value_is_not_echoed_in_the_error() -> None:
    with pytest.raises(ConfigurationError) as info:
        DbxConfig(token=12345678901234567890, retry={"deadline": -1})  # type: ignore[arg-type]
    assert "12345678901234567890" not in str(info.value)


def test_repr_and_dump_never_show_secrets() -> None:
    cfg = DbxConfig(host="h.example.com", token=CANARY, client_secret="sp-secret-value", token_provider=lambda: CANARY)
    for text in (repr(cfg), str(cfg), cfg.model_dump_json()):
        assert CANARY not in text
        assert "sp-secret-value" not in text


def test_config_is_frozen() -> None:
    cfg = DbxConfig(host="h.example.com")
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen-instance error
        cfg.host = "other"  # type: ignore[misc]


def test_replace_validates_and_ignores_env(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = DbxConfig(host="h.example.com", token=CANARY)
    monkeypatch.setenv("DBX_NATIVE_HOST", "https://env.example.com")
    copy = cfg.replace(retry={"max_attempts": 1})
    assert copy.host == "https://h.example.com"
    assert copy.retry.max_attempts == 1
    assert copy.token is not None and copy.token.get_secret_value() == CANARY
    with pytest.raises(ConfigurationError):
        cfg.replace(retry={"max_attempts": -1})


@pytest.mark.parametrize(
    ("kwargs", "method"),
    [
        ({"token": "t0k3n-value"}, "pat"),
        ({"token": "t0k3n-value", "auth_type": "pat"}, "pat"),
        ({"token_provider": lambda: "x"}, "token_provider"),
        ({"profile": "dev"}, "sdk"),
        ({"client_id": "a", "client_secret": "b", "auth_type": "oauth-m2m"}, "sdk:oauth-m2m"),
        ({}, "sdk"),
    ],
)
def test_auth_method_is_chosen_without_resolving(kwargs: dict[str, object], method: str) -> None:
    assert DbxConfig(**kwargs).auth_method == method
