"""dbx-native: thin, fast, typed Databricks-native adapters for agent code.

Public names are imported lazily, so `import dbx_native` stays cheap (no `databricks.sdk`, no
pydantic models until first use).
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

from dbx_native import errors as _errors
from dbx_native._version import __version__
from dbx_native.errors import *  # noqa: F403 - the error tree is cheap (no dependencies) and always public

if TYPE_CHECKING:
    from dbx_native.bundles import BundleInspector
    from dbx_native.config import DbxConfig, RetryPolicy, Timeouts
    from dbx_native.features import FeatureLookup
    from dbx_native.gateway import (
        Budget,
        CostLedger,
        GatewayClient,
        GatewayConfig,
        PiiGuard,
        Price,
        PriceTable,
        RateLimit,
    )
    from dbx_native.jobs import JobRunner
    from dbx_native.monitoring import MonitorManager
    from dbx_native.prompts import PromptRegistry
    from dbx_native.rest import RestClient
    from dbx_native.vector import Filter, VectorMemory

# public name -> module that defines it
_LAZY: dict[str, str] = {
    "DbxConfig": "dbx_native.config",
    "RetryPolicy": "dbx_native.config",
    "Timeouts": "dbx_native.config",
    "RestClient": "dbx_native.rest",
    "BundleInspector": "dbx_native.bundles",
    "Filter": "dbx_native.vector",
    "FeatureLookup": "dbx_native.features",
    "JobRunner": "dbx_native.jobs",
    "MonitorManager": "dbx_native.monitoring",
    "PromptRegistry": "dbx_native.prompts",
    "VectorMemory": "dbx_native.vector",
    **{
        name: "dbx_native.gateway"
        for name in (
            "Budget",
            "CostLedger",
            "GatewayClient",
            "GatewayConfig",
            "PiiGuard",
            "Price",
            "PriceTable",
            "RateLimit",
        )
    },
}

__all__ = [
    "Budget",
    "BundleInspector",
    "CostLedger",
    "DbxConfig",
    "FeatureLookup",
    "Filter",
    "GatewayClient",
    "GatewayConfig",
    "JobRunner",
    "MonitorManager",
    "PiiGuard",
    "Price",
    "PriceTable",
    "PromptRegistry",
    "RateLimit",
    "RestClient",
    "RetryPolicy",
    "Timeouts",
    "VectorMemory",
    "__version__",
    *_errors.__all__,
]

logging.getLogger("dbx_native").addHandler(logging.NullHandler())


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dbx_native' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
