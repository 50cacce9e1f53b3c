"""`GatewayClient` and its parts: chat, streaming, embeddings and completions on Model Serving / AI Gateway."""

from __future__ import annotations

from dbx_native.gateway._client import GatewayClient
from dbx_native.gateway._cost import Budget, CostLedger, Price, PriceTable
from dbx_native.gateway._guard import PiiFinding, PiiGuard
from dbx_native.gateway._gwconfig import (
    AiGatewayRateLimit,
    FallbackConfig,
    GatewayChange,
    GatewayConfig,
    GatewayPlan,
    Guardrail,
    Guardrails,
    InferenceTableConfig,
    PiiBehavior,
    TrafficRoute,
    UsageTracking,
)
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
    "AiGatewayRateLimit",
    "Budget",
    "ChatChunk",
    "ChatResponse",
    "CompletionResponse",
    "Cost",
    "CostLedger",
    "EmbeddingResponse",
    "FallbackConfig",
    "GatewayChange",
    "GatewayClient",
    "GatewayConfig",
    "GatewayPlan",
    "Guardrail",
    "Guardrails",
    "InferenceTableConfig",
    "ModelQuirks",
    "PiiBehavior",
    "PiiFinding",
    "PiiGuard",
    "Price",
    "PriceTable",
    "RateLimit",
    "ToolCall",
    "TrafficRoute",
    "Usage",
    "UsageTracking",
    "quirks_for",
]
