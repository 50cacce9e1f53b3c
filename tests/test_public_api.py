"""The public surface: `__all__` snapshots, and every public client can be autospecced with spec_set=True."""

from __future__ import annotations

import inspect
from unittest import mock

import pytest

import dbx_native
from dbx_native import errors

EXPECTED_TOP_LEVEL = {
    "APIConnectionError",
    "APIError",
    "APIResponseError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "Budget",
    "BudgetExceededError",
    "BundleInspector",
    "CostLedger",
    "GatewayClient",
    "MonitorManager",
    "PiiGuard",
    "Price",
    "PriceTable",
    "RateLimit",
    "StreamInterruptedError",
    "BundleError",
    "ConfigurationError",
    "ConflictError",
    "DbxConfig",
    "FeatureLookup",
    "Filter",
    "DbxNativeError",
    "GuardrailError",
    "InvalidRequestError",
    "NotFoundError",
    "OperationTimeoutError",
    "PermissionDeniedError",
    "RateLimitError",
    "RestClient",
    "RetryPolicy",
    "ServerError",
    "ServiceUnavailableError",
    "Timeouts",
    "VectorMemory",
    "JobRunner",
    "PromptRegistry",
    "__version__",
}

# Every public client class; later clients join this list.
CLIENTS = [
    "RestClient",
    "GatewayClient",
    "VectorMemory",
    "MonitorManager",
    "FeatureLookup",
    "JobRunner",
    "PromptRegistry",
]


def test_top_level_all_is_a_superset_of_the_snapshot() -> None:
    missing = EXPECTED_TOP_LEVEL - set(dbx_native.__all__)
    assert not missing, f"public names disappeared: {sorted(missing)}"


def test_errors_all_matches_the_module() -> None:
    defined = {n for n, v in vars(errors).items() if isinstance(v, type) and issubclass(v, Exception)}
    assert set(errors.__all__) == defined


@pytest.mark.parametrize("name", CLIENTS)
def test_client_autospec_with_spec_set(name: str) -> None:
    cls = getattr(dbx_native, name)
    fake = mock.create_autospec(cls, spec_set=True, instance=True)
    with pytest.raises(AttributeError):
        fake.no_such_method  # noqa: B018 - spec_set rejects unknown attributes
    with pytest.raises(AttributeError):
        fake.no_such_attribute = 1
    for method in ("with_options", "close", "from_env", "from_workspace_client"):
        assert hasattr(fake, method)


@pytest.mark.parametrize("name", CLIENTS)
def test_client_network_methods_take_timeout_and_are_keyword_only(name: str) -> None:
    cls = getattr(dbx_native, name)
    network_methods = (
        *("get", "post", "put", "patch", "delete", "request", "chat", "stream", "embed", "complete"),
        *("add", "sync", "search", "recall", "forget", "prune", "ensure_index", "wait_until_visible"),
        *("ensure_inference_monitor", "monitor_traces", "refresh", "status", "delete", "drift"),
        *("get_many",),
    )
    for method_name in network_methods:
        method = getattr(cls, method_name, None)
        if method is None:
            continue
        params = inspect.signature(method).parameters
        assert "timeout" in params, method_name
        kinds = [p.kind for p in params.values()][1:]
        positional = [p for p, k in zip(list(params)[1:], kinds, strict=True) if k is not p_kind_kw()]
        assert len(positional) <= 2, (method_name, positional)  # the identifying argument(s) only


def p_kind_kw() -> inspect._ParameterKind:
    return inspect.Parameter.KEYWORD_ONLY


def test_autospecced_client_records_calls() -> None:
    fake = mock.create_autospec(dbx_native.RestClient, spec_set=True, instance=True)
    fake.get.return_value = {"ok": True}
    assert fake.get("/api/2.0/x", timeout=3) == {"ok": True}
    fake.get.assert_called_once_with("/api/2.0/x", timeout=3)
    with pytest.raises(TypeError):
        fake.get("/a", "positional-not-allowed")


def test_every_lazy_name_is_in_all_and_resolves() -> None:
    lazy = dbx_native._LAZY  # type: ignore[attr-defined]
    assert set(lazy) <= set(dbx_native.__all__)
    assert set(dbx_native.__all__) - set(lazy) - set(errors.__all__) == {"__version__"}
