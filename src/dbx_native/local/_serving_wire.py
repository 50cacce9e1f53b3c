"""Response bodies of local serving endpoints: OpenAI-shaped chat, completions, embeddings and SSE chunks."""

from __future__ import annotations

import base64
import json
import re
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from dbx_native.local._serving_models import ScriptedReply

__all__ = ["Answer", "chat_body", "completion_body", "embeddings_body", "sse_events"]

SYSTEM_FINGERPRINT = "dbx-native-local-scripted"
"""Sent on every chat answer so nobody mistakes a local scripted reply for a real model's."""


@dataclass
class Answer:
    """What an invocation produced, before it is shaped into a body or a stream."""

    request_id: str
    created: int
    model: str
    served_entity: str
    replies: list[ScriptedReply]
    prompt_tokens: int
    completion_tokens: int
    partial_usage: bool = False

    def usage(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }


def _message(reply: ScriptedReply) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
    if reply.tool_calls:
        message["tool_calls"] = reply.tool_calls
    return message


def chat_body(answer: Answer) -> dict[str, Any]:
    """A `chat.completion` object."""
    return {
        "id": answer.request_id,
        "object": "chat.completion",
        "created": answer.created,
        "model": answer.model,
        "system_fingerprint": SYSTEM_FINGERPRINT,
        "choices": [
            {"index": i, "message": _message(r), "finish_reason": r.finish_reason, "logprobs": None}
            for i, r in enumerate(answer.replies)
        ],
        "usage": answer.usage(),
    }


def completion_body(answer: Answer) -> dict[str, Any]:
    """A `text_completion` object."""
    return {
        "id": answer.request_id,
        "object": "text_completion",
        "created": answer.created,
        "model": answer.model,
        "system_fingerprint": SYSTEM_FINGERPRINT,
        "choices": [
            {"index": i, "text": r.content or "", "finish_reason": r.finish_reason, "logprobs": None}
            for i, r in enumerate(answer.replies)
        ],
        "usage": answer.usage(),
    }


def embeddings_body(
    vectors: Sequence[Sequence[float]], *, model: str, prompt_tokens: int, encoding: str
) -> dict[str, Any]:
    """An embeddings `list` object; `encoding` `"base64"` packs each vector as little-endian float32."""

    def encode(vector: Sequence[float]) -> Any:
        if encoding == "base64":
            return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
        return list(vector)

    return {
        "object": "list",
        "model": model,
        "data": [{"object": "embedding", "index": i, "embedding": encode(v)} for i, v in enumerate(vectors)],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": 0, "total_tokens": prompt_tokens},
    }


def _pieces(text: str) -> list[str]:
    # One word per chunk, whitespace kept, so joining the deltas gives back the text exactly.
    pieces = re.findall(r"\s*\S+", text)
    rest = text[len("".join(pieces)) :]
    if rest:
        pieces.append(rest)
    return pieces


def _chunk(answer: Answer, obj: str, choice: dict[str, Any], usage: dict[str, int] | None) -> dict[str, Any]:
    chunk: dict[str, Any] = {
        "id": answer.request_id,
        "object": obj,
        "created": answer.created,
        "model": answer.model,
        "system_fingerprint": SYSTEM_FINGERPRINT,
        "choices": [choice],
    }
    if usage is not None:
        chunk["usage"] = usage
    return chunk


def _choice_chunks(answer: Answer, chat: bool) -> Iterator[tuple[str, dict[str, Any]]]:
    """(`"delta"` | `"finish"`, choice) for every chunk, in order."""
    for i, reply in enumerate(answer.replies):
        if chat:
            yield "delta", {"index": i, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
        for piece in _pieces(reply.content or ""):
            if chat:
                yield "delta", {"index": i, "delta": {"content": piece}, "finish_reason": None}
            else:
                yield "delta", {"index": i, "text": piece, "finish_reason": None, "logprobs": None}
        for n, call in enumerate(reply.tool_calls or []):
            yield "delta", {"index": i, "delta": {"tool_calls": [{"index": n, **call}]}, "finish_reason": None}
        if chat:
            yield "finish", {"index": i, "delta": {}, "finish_reason": reply.finish_reason}
        else:
            yield "finish", {"index": i, "text": "", "finish_reason": reply.finish_reason, "logprobs": None}


def sse_events(answer: Answer, *, chat: bool) -> list[bytes]:
    """The Server-Sent Events of a streamed answer: `data: {chunk}` events, then `data: [DONE]`.

    Usage goes on the last chunk; with `answer.partial_usage` it is split instead: the first chunk carries
    the prompt tokens and the last one the completion tokens (a client must add them up).
    """
    obj = "chat.completion.chunk" if chat else "text_completion"
    chunks = list(_choice_chunks(answer, chat))
    events: list[bytes] = []
    last = len(chunks) - 1
    for i, (_, choice) in enumerate(chunks):
        usage: dict[str, int] | None = None
        if answer.partial_usage and i == 0 and last > 0:
            usage = {
                "prompt_tokens": answer.prompt_tokens,
                "completion_tokens": 0,
                "total_tokens": answer.prompt_tokens,
            }
        elif answer.partial_usage and i == last:
            m = answer.completion_tokens
            usage = {"prompt_tokens": 0, "completion_tokens": m, "total_tokens": m}
        elif i == last:
            usage = answer.usage()
        data = json.dumps(_chunk(answer, obj, choice, usage), separators=(",", ":"))
        events.append(f"data: {data}\n\n".encode())
    events.append(b"data: [DONE]\n\n")
    return events
