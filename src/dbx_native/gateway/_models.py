"""Typed results of GatewayClient calls. Responses allow extra fields so new server fields never break callers."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ChatChunk", "ChatResponse", "CompletionResponse", "Cost", "EmbeddingResponse", "ToolCall", "Usage"]


class _Result(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, arbitrary_types_allowed=True)


class ToolCall(_Result):
    """A tool the model asked to call.

    Attributes:
        id: The call id, to send back with the tool's result.
        name: The function name.
        arguments: The arguments decoded from JSON (`{}` when the model sent invalid JSON; see `arguments_json`).
        arguments_json: The arguments exactly as the model sent them.
    """

    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    arguments_json: str = "{}"


class Usage(_Result):
    """Token counts of one call.

    Attributes:
        prompt_tokens: Input tokens.
        completion_tokens: Output tokens.
        total_tokens: Both.
        estimated: True when the server sent no usage and the counts were estimated (about 4 characters a token).
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    estimated: bool = False


class Cost(_Result):
    """What a call cost, from a `PriceTable`.

    Attributes:
        total: `input + output`.
        input: Cost of the prompt tokens.
        output: Cost of the completion tokens.
        currency: Currency of the prices (`USD` unless the table says otherwise).
        estimated: True when the usage behind it was estimated.
    """

    total: float
    input: float
    output: float
    currency: str = "USD"
    estimated: bool = False


class ChatResponse(_Result):
    """One chat reply.

    Attributes:
        text: The reply's text (reasoning or list-of-parts content flattened to its text parts).
        message: The assistant message as the server sent it, ready to append to the conversation.
        tool_calls: Tools the model asked to call.
        finish_reason: Why generation stopped (`stop`, `length`, `tool_calls`, ...).
        usage: Token counts.
        cost: The cost, when the client has prices for the endpoint.
        endpoint: The serving endpoint that answered (after fallbacks and A/B choice).
        route: The route the call was made on (the client's route name).
        request_id: The server's request id.
        latency_s: Seconds from the first attempt to the reply, retries and fallbacks included.
        parsed: The reply validated into the `response_format` model, when one was given.
        fallbacks_tried: Endpoints that failed before `endpoint` answered.
    """

    text: str = ""
    message: dict[str, Any] = Field(default_factory=dict)
    tool_calls: list[ToolCall] = Field(default_factory=list)
    finish_reason: str | None = None
    usage: Usage = Field(default_factory=Usage)
    cost: Cost | None = None
    endpoint: str = ""
    route: str = ""
    request_id: str | None = None
    latency_s: float = 0.0
    parsed: Any = None
    fallbacks_tried: list[str] = Field(default_factory=list)


class CompletionResponse(_Result):
    """One text completion (completion endpoints)."""

    text: str = ""
    finish_reason: str | None = None
    usage: Usage = Field(default_factory=Usage)
    cost: Cost | None = None
    endpoint: str = ""
    route: str = ""
    request_id: str | None = None
    latency_s: float = 0.0


class ChatChunk(_Result):
    """One piece of a streamed reply.

    Attributes:
        delta: New text in this chunk.
        tool_call_deltas: Partial tool calls as the server sent them (`index`, `id`, `function.name/arguments`).
        finish_reason: Set on the chunk that ends generation.
        usage: On the last chunk: the total usage of the call (partial per-chunk usage is summed).
        cost: On the last chunk, with a price table: the call's cost.
        endpoint: The endpoint streaming the reply.
    """

    delta: str = ""
    tool_call_deltas: list[dict[str, Any]] = Field(default_factory=list)
    finish_reason: str | None = None
    usage: Usage | None = None
    cost: Cost | None = None
    endpoint: str = ""


class EmbeddingResponse(_Result):
    """Embeddings, in the order of the input texts.

    Attributes:
        vectors: One vector per input text.
        dimension: Length of each vector.
        usage: Token counts over all batches.
        endpoint: The embedding endpoint.
    """

    vectors: list[list[float]] = Field(default_factory=list)
    dimension: int = 0
    usage: Usage = Field(default_factory=Usage)
    endpoint: str = ""
