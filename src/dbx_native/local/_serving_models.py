"""Scripted chat models, a deterministic tokenizer and a hashing embedder for the local serving endpoints.

Nothing here is a language model: a local chat endpoint answers what the test scripted (a function, a list
of canned replies) or, by default, an echo that says it comes from a local scripted model. Token counts come
from a simple word/punctuation split, so usage figures are deterministic and easy to reason about in tests.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, Union, runtime_checkable

__all__ = [
    "DEFAULT_EMBEDDING_DIMENSION",
    "ChatModel",
    "Embedder",
    "HashingEmbedder",
    "ScriptedChatModel",
    "ScriptedReply",
    "count_tokens",
]

DEFAULT_EMBEDDING_DIMENSION = 384
"""Vector size of the default hashing embedder (the size of the small GTE/BGE models people start with)."""

_TOKEN = re.compile(r"\w+|[^\w\s]")

ReplyLike = Union["ScriptedReply", str, Mapping[str, Any]]
ReplyFunction = Callable[[dict[str, Any]], ReplyLike]


def count_tokens(text: str) -> int:
    """The number of tokens in `text` for the local workspace: words and punctuation marks, each one token.

    Args:
        text: Any text.

    Returns:
        The token count (0 for empty or blank text).

    Example:
        >>> from dbx_native.local import count_tokens
        >>> count_tokens("Hello, world!")
        4
    """
    return len(_TOKEN.findall(text))


def truncate_tokens(text: str, limit: int) -> str:
    """`text` cut after its first `limit` tokens (the whole text when it is shorter)."""
    if limit <= 0:
        return ""
    for i, match in enumerate(_TOKEN.finditer(text)):
        if i + 1 == limit:
            return text[: match.end()]
    return text


@dataclass
class ScriptedReply:
    """One reply of a scripted chat model.

    Attributes:
        content: The assistant text (`None` for a reply that only calls tools).
        tool_calls: Tool calls, either in the OpenAI shape (`{"id", "type": "function", "function": {"name",
            "arguments"}}`) or short (`{"name": ..., "arguments": dict | str}`); ids are filled in when missing.
        finish_reason: Defaults to `"tool_calls"` when there are tool calls, `"stop"` otherwise.
        usage: Override the counted usage: `{"prompt_tokens": ..., "completion_tokens": ...}` (either key).
    """

    content: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    finish_reason: str | None = None
    usage: dict[str, int] | None = None


@runtime_checkable
class ChatModel(Protocol):
    """What a local chat/completions endpoint calls: anything with a `name` and `reply(request)`."""

    name: str
    partial_usage: bool

    def reply(self, request: dict[str, Any]) -> ScriptedReply:
        """The reply to one request (the request body as a dict, after input guardrails)."""
        ...


@runtime_checkable
class Embedder(Protocol):
    """What a local embeddings endpoint calls: anything with a `name` and `embed(texts)`."""

    name: str

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text."""
        ...


class ScriptedChatModel:
    """A chat model that answers from a script, and says it is one.

    Args:
        replies: A function `(request dict) -> reply`, a list of replies used in turn (cycling), a single reply,
            or `None` for the default echo. A reply is a `str`, a message dict (`{"content": ..., "tool_calls":
            [...]}`) or a `ScriptedReply`.
        name: The `model` field of responses.
        partial_usage: When streaming, split usage over the chunks like some hosted Claude endpoints: the first
            chunk carries `{prompt_tokens: N, completion_tokens: 0}` and the last one `{prompt_tokens: 0,
            completion_tokens: M}`, which a client must add up. By default only the last chunk carries usage.

    Example:
        >>> from dbx_native.local import ScriptedChatModel
        >>> model = ScriptedChatModel(["first", "second"])
        >>> [model.reply({"messages": []}).content for _ in range(3)]
        ['first', 'second', 'first']
    """

    def __init__(
        self,
        replies: ReplyFunction | Sequence[ReplyLike] | ReplyLike | None = None,
        *,
        name: str = "local-scripted",
        partial_usage: bool = False,
    ) -> None:
        self.name = name
        self.partial_usage = partial_usage
        self._function: ReplyFunction | None = None
        self._canned: list[ReplyLike] = []
        self._next = 0
        self._lock = threading.Lock()
        self.calls: list[dict[str, Any]] = []
        """The requests the model was called with, in order (after input guardrails)."""
        if callable(replies):
            self._function = replies
        elif isinstance(replies, (str, Mapping, ScriptedReply)):
            self._canned = [replies]
        elif replies is not None:
            self._canned = list(replies)
            if not self._canned:
                raise ValueError("ScriptedChatModel needs at least one canned reply (or replies=None for the echo)")

    def reply(self, request: dict[str, Any]) -> ScriptedReply:
        """The next scripted reply to `request`.

        Args:
            request: The request body (`messages` for chat, `prompt` for completions, ...).

        Returns:
            The reply, normalised.

        Raises:
            TypeError: The script produced something that is not a reply.
        """
        canned: ReplyLike | None = None
        with self._lock:
            self.calls.append(request)
            if self._canned:
                canned = self._canned[self._next % len(self._canned)]
                self._next += 1
        if self._function is not None:
            return as_reply(self._function(request))
        if canned is not None:
            return as_reply(canned)
        return echo_reply(request)

    def __repr__(self) -> str:
        kind = "function" if self._function else f"{len(self._canned)} canned" if self._canned else "echo"
        return f"ScriptedChatModel(name={self.name!r}, {kind}, partial_usage={self.partial_usage})"


def as_reply(raw: object) -> ScriptedReply:
    """Normalise a str / message dict / `ScriptedReply` into a `ScriptedReply` with OpenAI-shaped tool calls."""
    if isinstance(raw, ScriptedReply):
        reply = ScriptedReply(raw.content, raw.tool_calls, raw.finish_reason, raw.usage)
    elif isinstance(raw, str):
        reply = ScriptedReply(content=raw)
    elif isinstance(raw, Mapping):
        reply = ScriptedReply(
            content=raw.get("content"),
            tool_calls=raw.get("tool_calls"),
            finish_reason=raw.get("finish_reason"),
            usage=raw.get("usage"),
        )
    else:
        raise TypeError(f"a scripted reply must be a str, a message dict or a ScriptedReply, not {type(raw).__name__}")
    if reply.tool_calls:
        reply.tool_calls = [_tool_call(i, call) for i, call in enumerate(reply.tool_calls)]
    if reply.finish_reason is None:
        reply.finish_reason = "tool_calls" if reply.tool_calls else "stop"
    return reply


def _tool_call(index: int, call: Mapping[str, Any]) -> dict[str, Any]:
    function = call.get("function", call)
    name = str(function.get("name", ""))
    arguments = function.get("arguments", {})
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments, separators=(",", ":"))
    digest = hashlib.sha256(f"{index}:{name}:{arguments}".encode()).hexdigest()[:16]
    return {
        "id": str(call.get("id") or f"call_{digest}"),
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    }


def echo_reply(request: Mapping[str, Any]) -> ScriptedReply:
    """The default reply: echo the last user text, call the tool that `tool_choice` forces, honour JSON mode."""
    tool = _forced_tool(request)
    if tool is not None:
        return as_reply({"tool_calls": [{"name": tool, "arguments": {}}]})
    said = last_user_text(request)
    fmt = request.get("response_format")
    if isinstance(fmt, Mapping) and fmt.get("type") in ("json_object", "json_schema"):
        return ScriptedReply(content=json.dumps({"echo": said, "note": "local scripted model"}), finish_reason="stop")
    return ScriptedReply(content=f"[local scripted model] You said: {said}", finish_reason="stop")


def _forced_tool(request: Mapping[str, Any]) -> str | None:
    tools = request.get("tools") or []
    choice = request.get("tool_choice")
    if isinstance(choice, Mapping):
        return str((choice.get("function") or {}).get("name") or "") or None
    if choice == "required" and tools and isinstance(tools[0], Mapping):
        return str((tools[0].get("function") or {}).get("name") or "") or None
    return None


def last_user_text(request: Mapping[str, Any]) -> str:
    """The text of the last user message (chat) or the prompt (completions)."""
    prompt = request.get("prompt")
    if prompt is not None:
        return prompt if isinstance(prompt, str) else " ".join(str(p) for p in prompt)
    for message in reversed(request.get("messages") or []):
        if isinstance(message, Mapping) and message.get("role") == "user":
            return content_text(message.get("content"))
    return ""


def content_text(content: object) -> str:
    """The text of a message `content`: a string, or the text parts of a list of content parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, Mapping) and "text" in p)
    return str(content)


@dataclass
class HashingEmbedder:
    """A deterministic embedder: feature hashing of words and character trigrams, L2-normalised.

    Texts that share words get close vectors, so nearest-neighbour search behaves sensibly in tests, and
    the same text always gets the same vector, in any process. Not a semantic model.

    Attributes:
        dimension: The vector size.
        name: The `model` field of responses.

    Example:
        >>> from dbx_native.local import HashingEmbedder
        >>> [vector] = HashingEmbedder(dimension=8).embed(["card declined"])
        >>> len(vector), round(sum(x * x for x in vector), 6)
        (8, 1.0)
    """

    dimension: int = DEFAULT_EMBEDDING_DIMENSION
    name: str = "local-hashing-embedder"
    _cache: dict[str, tuple[int, float]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.dimension < 1:
            raise ValueError(f"embedding dimension must be at least 1, not {self.dimension}")

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit vector per text (all zeros for a text without words)."""
        return [self._embed_one(text) for text in texts]

    def _embed_one(self, text: str) -> list[float]:
        vector = [0.0] * self.dimension
        for word in re.findall(r"\w+", text.lower()):
            self._add(vector, "w:" + word, 1.0)
            padded = f"^{word}$"
            for i in range(len(padded) - 2):
                # Trigrams make "decline" and "declined" neighbours; a lower weight keeps words dominant.
                self._add(vector, "t:" + padded[i : i + 3], 0.3)
        norm = math.sqrt(sum(x * x for x in vector))
        return [x / norm for x in vector] if norm else vector

    def _add(self, vector: list[float], feature: str, weight: float) -> None:
        slot = self._cache.get(feature)
        if slot is None:
            digest = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "big")
            # One bit picks the sign so that colliding features cancel out on average instead of piling up.
            slot = self._cache[feature] = (digest % self.dimension, 1.0 if digest >> 63 else -1.0)
            if len(self._cache) > 100_000:
                self._cache.clear()
        vector[slot[0]] += slot[1] * weight


class FunctionEmbedder:
    """Adapts a function `(texts) -> vectors` to the `Embedder` protocol."""

    def __init__(self, function: Callable[[list[str]], list[list[float]]], *, name: str = "local-embedder") -> None:
        self._function = function
        self.name = name

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [list(map(float, v)) for v in self._function(list(texts))]


def as_chat_model(model: object) -> ChatModel:
    """A `ChatModel` from what `create_endpoint(model=...)` accepts: a model, a function, replies or `None`."""
    if isinstance(model, ChatModel):
        return model
    return ScriptedChatModel(model)  # type: ignore[arg-type]


def as_embedder(model: object, dimension: int) -> Embedder:
    """An `Embedder` from what `create_endpoint(model=...)` accepts for an embeddings endpoint."""
    if model is None:
        return HashingEmbedder(dimension=dimension)
    if isinstance(model, Embedder):
        return model
    if callable(model):
        return FunctionEmbedder(model)
    raise TypeError(f"an embeddings endpoint needs an Embedder or a function texts -> vectors, not {model!r}")
