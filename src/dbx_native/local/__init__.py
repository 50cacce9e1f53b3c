"""The embedded local Databricks workspace: the real REST protocol, no Databricks account needed.

`LocalWorkspace` holds one backend per service plus test controls (fault injection, request
capture, scripted state transitions, tokens). Clients reach it in-process (`ws.intercept()`, which
patches `requests`) or over a loopback HTTP server (`ws.serve()`, `dbx-native local serve`).

This package never imports client code (`dbx_native.gateway`, `dbx_native._core.http`, ...): the
emulator must not share parsing with the clients it tests. Names are imported lazily.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dbx_native.local._capture import CapturedRequest, RequestLog
    from dbx_native.local._clock import Clock, SystemClock
    from dbx_native.local._faults import DroppedConnection, Fault, FaultInjector, SimulatedReadTimeout
    from dbx_native.local._jobs import JobsBackend
    from dbx_native.local._jobs_runs import TaskOutcome
    from dbx_native.local._prompts import PromptsBackend
    from dbx_native.local._router import Backend, Route, Router
    from dbx_native.local._server import ServerHandle
    from dbx_native.local._serving import ServingBackend
    from dbx_native.local._serving_models import (
        ChatModel,
        Embedder,
        HashingEmbedder,
        ScriptedChatModel,
        ScriptedReply,
        count_tokens,
    )
    from dbx_native.local._states import StateMachine
    from dbx_native.local._wire import LocalApiError, LocalRequest, LocalResponse
    from dbx_native.local._workspace import DEFAULT_HOST, LocalWorkspace
    from dbx_native.local._zerobus_grpc import ZerobusGrpcServer

# public name -> module that defines it
_LAZY: dict[str, str] = {
    "Backend": "dbx_native.local._router",
    "CapturedRequest": "dbx_native.local._capture",
    "ChatModel": "dbx_native.local._serving_models",
    "Clock": "dbx_native.local._clock",
    "DEFAULT_HOST": "dbx_native.local._workspace",
    "DroppedConnection": "dbx_native.local._faults",
    "Embedder": "dbx_native.local._serving_models",
    "Fault": "dbx_native.local._faults",
    "FaultInjector": "dbx_native.local._faults",
    "HashingEmbedder": "dbx_native.local._serving_models",
    "JobsBackend": "dbx_native.local._jobs",
    "LocalApiError": "dbx_native.local._wire",
    "PromptsBackend": "dbx_native.local._prompts",
    "LocalRequest": "dbx_native.local._wire",
    "LocalResponse": "dbx_native.local._wire",
    "LocalWorkspace": "dbx_native.local._workspace",
    "RequestLog": "dbx_native.local._capture",
    "Route": "dbx_native.local._router",
    "Router": "dbx_native.local._router",
    "ScriptedChatModel": "dbx_native.local._serving_models",
    "ScriptedReply": "dbx_native.local._serving_models",
    "ServerHandle": "dbx_native.local._server",
    "ServingBackend": "dbx_native.local._serving",
    "SimulatedReadTimeout": "dbx_native.local._faults",
    "StateMachine": "dbx_native.local._states",
    "SystemClock": "dbx_native.local._clock",
    "TaskOutcome": "dbx_native.local._jobs_runs",
    "ZerobusGrpcServer": "dbx_native.local._zerobus_grpc",
    "count_tokens": "dbx_native.local._serving_models",
}

__all__ = [
    "DEFAULT_HOST",
    "Backend",
    "CapturedRequest",
    "ChatModel",
    "Clock",
    "DroppedConnection",
    "Embedder",
    "Fault",
    "FaultInjector",
    "HashingEmbedder",
    "JobsBackend",
    "LocalApiError",
    "LocalRequest",
    "LocalResponse",
    "LocalWorkspace",
    "PromptsBackend",
    "RequestLog",
    "Route",
    "Router",
    "ScriptedChatModel",
    "ScriptedReply",
    "ServerHandle",
    "ServingBackend",
    "SimulatedReadTimeout",
    "StateMachine",
    "SystemClock",
    "TaskOutcome",
    "ZerobusGrpcServer",
    "count_tokens",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dbx_native.local' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
