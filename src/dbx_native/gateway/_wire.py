"""Request payloads and response parsing for serving-endpoint invocations (chat, completions, embeddings)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from dbx_native.errors import APIResponseError, InvalidRequestError
from dbx_native.gateway._models import ChatChunk, ChatResponse, ToolCall, Usage
from dbx_native.gateway._quirks import flatten_content

__all__ = [
    "build_chat_payload",
    "check_messages",
    "estimate_tokens",
    "parse_chat",
    "parse_sse",
    "parse_structured",
    "response_format_payload",
    "usage_from",
]

_ROLES = frozenset({"system", "user", "assistant", "tool", "developer"})
# Model Serving payload limits: 16 MB, 4 MB for Foundation Model API / external model / agent endpoints.
MAX_PAYLOAD = 16 * 1024 * 1024
MAX_PAYLOAD_FOUNDATION = 4 * 1024 * 1024


def check_messages(messages: Any) -> list[dict[str, Any]]:
    """Validate chat messages before anything is sent; returns them as a list of dicts."""
    if isinstance(messages, str | bytes) or not isinstance(messages, Sequence):
        raise InvalidRequestError("messages must be a list of {'role': ..., 'content': ...} dicts")
    if not messages:
        raise InvalidRequestError("messages is empty: send at least one message")
    out: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise InvalidRequestError(
                f"messages[{i}] must be a dict with 'role' and 'content', not {type(message).__name__}"
            )
        role = message.get("role")
        if role not in _ROLES:
            raise InvalidRequestError(f"messages[{i}] has unknown role {role!r}; use one of {sorted(_ROLES)}")
        content = message.get("content")
        if content is None and not (role == "assistant" and message.get("tool_calls")):
            raise InvalidRequestError(f"messages[{i}] ({role}) has no content")
        if content is not None and not isinstance(content, str | list):
            raise InvalidRequestError(f"messages[{i}].content must be a string or a list of parts")
        if role == "tool" and not message.get("tool_call_id"):
            raise InvalidRequestError(f"messages[{i}] is a tool result without 'tool_call_id'")
        out.append(dict(message))
    return out


def response_format_payload(response_format: Any) -> tuple[dict[str, Any] | None, type | None]:
    """The wire `response_format` and, when a Pydantic model class was given, the class to validate into."""
    if response_format is None:
        return None, None
    if isinstance(response_format, type) and hasattr(response_format, "model_json_schema"):
        schema = response_format.model_json_schema()
        fmt = {
            "type": "json_schema",
            "json_schema": {"name": response_format.__name__, "schema": schema, "strict": True},
        }
        return fmt, response_format
    if isinstance(response_format, Mapping):
        return dict(response_format), None
    raise InvalidRequestError(
        "response_format must be a Pydantic model class or a dict such as {'type': 'json_object'}"
    )


def build_chat_payload(
    messages: list[dict[str, Any]],
    *,
    max_tokens: int | None,
    temperature: float | None,
    tools: Sequence[Mapping[str, Any]] | None,
    tool_choice: Any,
    response_format: dict[str, Any] | None,
    stop: str | Sequence[str] | None,
    extra_params: Mapping[str, Any] | None,
    stream: bool = False,
) -> dict[str, Any]:
    if max_tokens is not None and max_tokens <= 0:
        raise InvalidRequestError(f"max_tokens must be positive, not {max_tokens!r}")
    if temperature is not None and not 0.0 <= temperature <= 2.0:
        raise InvalidRequestError(f"temperature must be between 0 and 2, not {temperature!r}")
    payload: dict[str, Any] = {"messages": messages}
    for key, value in (
        ("max_tokens", max_tokens),
        ("temperature", temperature),
        ("tools", list(tools) if tools else None),
        ("tool_choice", tool_choice),
        ("response_format", response_format),
        ("stop", stop),
    ):
        if value is not None:
            payload[key] = value
    if extra_params:
        payload.update(extra_params)
    if stream:
        payload["stream"] = True
    return payload


def encode_payload(payload: Mapping[str, Any], *, endpoint: str) -> bytes:
    """The JSON bytes to send, refused before sending when over the endpoint's payload limit."""
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    limit = MAX_PAYLOAD_FOUNDATION if endpoint.startswith("databricks-") else MAX_PAYLOAD
    if len(body) > limit:
        raise InvalidRequestError(
            f"request to {endpoint!r} is {len(body) / 1e6:.1f} MB, over the {limit // (1024 * 1024)} MB limit of "
            "the endpoint: shorten the conversation or send fewer inputs per call"
        )
    return body


def estimate_tokens(text: str) -> int:
    """About 4 characters a token, as AI Gateway estimates when a model reports no usage."""
    return (len(text) + 3) // 4


def _messages_text(messages: Sequence[Mapping[str, Any]]) -> str:
    return "\n".join(flatten_content(m.get("content")) for m in messages)


def usage_from(raw: Any, *, prompt_text: str, completion_text: str) -> Usage:
    """Usage from a response's `usage` object; estimated (and flagged) when the server sent none."""
    if isinstance(raw, Mapping) and ("prompt_tokens" in raw or "completion_tokens" in raw):
        prompt = int(raw.get("prompt_tokens") or 0)
        completion = int(raw.get("completion_tokens") or 0)
        return Usage(
            prompt_tokens=prompt,
            completion_tokens=completion,
            total_tokens=int(raw.get("total_tokens") or prompt + completion),
        )
    prompt, completion = estimate_tokens(prompt_text), estimate_tokens(completion_text)
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion, estimated=True)


def _tool_calls(raw: Any) -> list[ToolCall]:
    calls = []
    for i, call in enumerate(raw or []):
        function = call.get("function") or {}
        args_json = function.get("arguments") or "{}"
        if not isinstance(args_json, str):
            args_json = json.dumps(args_json)
        try:
            args = json.loads(args_json)
        except ValueError:
            args = {}
        calls.append(
            ToolCall(
                id=str(call.get("id") or f"call_{i}"),
                name=str(function.get("name") or ""),
                arguments=args if isinstance(args, dict) else {"value": args},
                arguments_json=args_json,
            )
        )
    return calls


def parse_chat(body: Any, *, messages: Sequence[Mapping[str, Any]], request_id: str | None) -> ChatResponse:
    """A `ChatResponse` (without routing fields) from a chat-completion body."""
    try:
        choice = body["choices"][0]
        message = dict(choice.get("message") or {})
    except (KeyError, IndexError, TypeError, AttributeError):
        raise APIResponseError(
            "the endpoint's answer has no choices[0].message: is it a chat endpoint? "
            "(custom models answer 'predictions'; use RestClient for those)",
            request_id=request_id,
        ) from None
    text = flatten_content(message.get("content"))
    return ChatResponse.model_construct(
        text=text,
        message=message,
        tool_calls=_tool_calls(message.get("tool_calls")),
        finish_reason=choice.get("finish_reason"),
        usage=usage_from(body.get("usage"), prompt_text=_messages_text(messages), completion_text=text),
        cost=None,
        endpoint="",
        route="",
        request_id=request_id,
        latency_s=0.0,
        parsed=None,
        fallbacks_tried=[],
    )


class UsageAccumulator:
    """Totals usage over stream chunks.

    Servers differ: most send the whole usage on the last chunk; some send running totals on several chunks;
    some (hosted Claude) send partial pieces (prompt tokens on the first chunk, completion tokens on the
    last) that must be added up. Prompt tokens: the largest value seen. Completion tokens: a strictly
    increasing series is read as running totals (the last value); anything else as pieces (the sum).
    """

    def __init__(self) -> None:
        self._series: dict[str, list[int]] = {"prompt_tokens": [], "completion_tokens": []}
        self.seen = False

    def add(self, usage: Mapping[str, Any]) -> None:
        self.seen = True
        for key, values in self._series.items():
            value = int(usage.get(key) or 0)
            if value:
                values.append(value)

    def _total(self, key: str) -> int:
        values = self._series[key]
        if key == "prompt_tokens":
            return max(values, default=0)  # the prompt is counted once: pieces and running totals agree on the max
        if len(values) > 1 and all(b > a for a, b in itertools.pairwise(values)):
            return values[-1]
        return sum(values)

    def usage(self, *, prompt_text: str, completion_text: str) -> Usage:
        if not self.seen:
            return usage_from(None, prompt_text=prompt_text, completion_text=completion_text)
        prompt, completion = self._total("prompt_tokens"), self._total("completion_tokens")
        return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)


def parse_sse(lines: Iterator[bytes]) -> Iterator[dict[str, Any]]:
    """The JSON events of a server-sent-event stream, until `data: [DONE]`."""
    for raw in lines:
        if not raw or raw.startswith(b":"):
            continue
        line = raw.decode("utf-8", errors="replace").strip()
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            return
        try:
            event = json.loads(data)
        except ValueError:
            raise APIResponseError(f"the stream sent an event that is not JSON: {data[:80]!r}") from None
        if isinstance(event, dict):
            if "error_code" in event or "error" in event:
                raise APIResponseError(f"the stream ended with an error: {event.get('message') or event.get('error')}")
            yield event


def chunk_from_event(event: Mapping[str, Any], *, endpoint: str) -> tuple[ChatChunk, Mapping[str, Any] | None]:
    """The chunk for one stream event, and the event's raw usage if it carried any."""
    choices = event.get("choices") or []
    delta: Mapping[str, Any] = {}
    finish_reason = None
    if choices:
        delta = choices[0].get("delta") or {}
        finish_reason = choices[0].get("finish_reason")
    chunk = ChatChunk.model_construct(
        delta=flatten_content(delta.get("content")),
        tool_call_deltas=list(delta.get("tool_calls") or []),
        finish_reason=finish_reason,
        usage=None,
        endpoint=endpoint,
    )
    usage = event.get("usage")
    return chunk, usage if isinstance(usage, Mapping) else None


def parse_structured(model_cls: type, text: str, request_id: str | None) -> Any:
    try:
        return model_cls.model_validate_json(text)  # type: ignore[attr-defined]
    except ValueError as err:
        snippet = text[:120]
        raise APIResponseError(
            f"the reply does not fit {model_cls.__name__}: {str(err).splitlines()[0]} (reply starts {snippet!r}); "
            "the model may not support structured output on this endpoint",
            request_id=request_id,
        ) from None
    except TypeError:  # pragma: no cover - model_cls is checked to be a Pydantic model
        return json.loads(text)
