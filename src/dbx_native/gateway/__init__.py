"""`GatewayClient` and its parts: chat, streaming, embeddings and completions on Model Serving / AI Gateway."""

from __future__ import annotations

from dbx_native.gateway._client import GatewayClient
from dbx_native.gateway._cost import Budget, CostLedger, Price, PriceTable
from dbx_native.gateway._guard import PiiFinding, PiiGuard
from dbx_native.gateway._models import (
    ChatChunk,
    ChatResponse,
    CompletionResponse,
    Cost,
    EmbeddingResponse,
    ToolCall,
    Usage,
)
from dbx_native.gateway._quirks import ModelQuirks, quirks_for
from dbx_native.gateway._ratelimit import RateLimit

__all__ = [
    "Budget",
    "ChatChunk",
    "ChatResponse",
    "CompletionResponse",
    "Cost",
    "CostLedger",
    "EmbeddingResponse",
    "GatewayClient",
    "ModelQuirks",
    "PiiFinding",
    "PiiGuard",
    "Price",
    "PriceTable",
    "RateLimit",
    "ToolCall",
    "Usage",
    "quirks_for",
]
