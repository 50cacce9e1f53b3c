"""Messages in, index rows out, and rows back into `MemoryRecord`s; the embedder adapter."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from dbx_native.errors import APIResponseError, InvalidRequestError
from dbx_native.vector._models import MemoryHit, MemoryRecord

__all__ = [
    "BASE_COLUMNS",
    "Embedder",
    "Message",
    "as_embedder",
    "content_hash",
    "normalize_messages",
    "record_from_row",
]

BASE_COLUMNS: dict[str, str] = {
    "id": "string",
    "conversation_id": "string",
    "seq": "long",
    "role": "string",
    "text": "string",
    "created_at": "double",
    "metadata": "string",
}
"""The index columns every memory has (the vector column and `columns=` extras come on top)."""

Embedder = Callable[[list[str]], list[list[float]]]
Message = tuple[str, str, dict[str, Any]]  # role, text, extra column values


def as_embedder(embed: Any) -> Embedder | None:
    """A function `texts -> vectors` from a GatewayClient (anything with `.embed(texts).vectors`) or a callable.

    Raises:
        InvalidRequestError: `embed` is neither.
    """
    if embed is None:
        return None
    method = getattr(embed, "embed", None)
    if callable(method):

        def via_client(texts: list[str]) -> list[list[float]]:
            return [list(v) for v in method(texts).vectors]

        return via_client
    if callable(embed):
        return embed  # type: ignore[no-any-return]
    raise InvalidRequestError(
        f"embed must be a GatewayClient, a function list[str] -> list[list[float]], or None; not {type(embed).__name__}"
    )


def normalize_messages(items: Any, extra_columns: Sequence[str]) -> list[Message]:
    """`(role, text, extras)` for each message: strings are user texts; dicts are chat messages.

    Raises:
        InvalidRequestError: An empty list, or an item that is neither a string nor a message with text.
    """
    if isinstance(items, str | Mapping):
        items = [items]
    if not isinstance(items, Sequence) or not items:
        raise InvalidRequestError("give a non-empty list of messages ({'role', 'content'}) or texts")
    out: list[Message] = []
    source: Mapping[str, Any]
    for i, item in enumerate(items):
        if isinstance(item, str):
            role, text, source = "user", item, {}
        elif isinstance(item, Mapping):
            role = str(item.get("role") or "user")
            text = _content_text(item.get("content", item.get("text")))
            source = item
        else:
            raise InvalidRequestError(f"item {i} must be a string or a message dict, not {type(item).__name__}")
        if not text.strip() and role != "assistant":
            raise InvalidRequestError(f"item {i} has no text to remember")
        out.append((role, text, {c: source[c] for c in extra_columns if c in source}))
    return out


def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI content parts: keep the text parts
        return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, Mapping) and p.get("text"))
    return str(content)


def content_hash(message: Message) -> str:
    """A short digest of a message, to tell whether position `n` of a history changed."""
    role, text, extra = message
    payload = json.dumps([role, text, extra], sort_keys=True, default=str)
    return hashlib.blake2b(payload.encode(), digest_size=8).hexdigest()


def record_from_row(row: Mapping[str, Any], extra_columns: Sequence[str], *, with_score: bool) -> MemoryRecord:
    """A `MemoryRecord` (or `MemoryHit` with the row's `score`) from an index row."""
    created = row.get("created_at")
    metadata = row.get("metadata")
    try:
        meta = json.loads(metadata) if isinstance(metadata, str) and metadata else {}
    except ValueError:
        meta = {"raw": metadata}
    seq = row.get("seq")
    fields: dict[str, Any] = {
        "id": str(row.get("id")),
        "conversation_id": row.get("conversation_id"),
        "seq": _int(seq),
        "role": row.get("role"),
        "text": row.get("text") or "",
        "created_at": dt.datetime.fromtimestamp(float(created), tz=dt.timezone.utc)
        if isinstance(created, int | float)
        else None,
        "metadata": meta if isinstance(meta, dict) else {"value": meta},
        "extra": {c: row.get(c) for c in extra_columns if c in row},
    }
    if not with_score:
        return MemoryRecord(**fields)
    score = row.get("score")
    if not isinstance(score, int | float):
        raise APIResponseError(f"search result {fields['id']!r} carries no numeric score")
    return MemoryHit(**fields, score=float(score))


def _int(value: Any) -> int | None:
    # Numbers come back as JSON doubles (3.0) from the service, and as strings in some SDK types.
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def check_vectors(vectors: Any, count: int, dimension: int | None) -> list[list[float]]:
    """The embedder's answer checked: one vector per text, all of the index dimension.

    Raises:
        InvalidRequestError: A wrong count or dimension (nothing is sent).
    """
    if not isinstance(vectors, Sequence) or len(vectors) != count:
        got = len(vectors) if isinstance(vectors, Sequence) else type(vectors).__name__
        raise InvalidRequestError(f"the embedder returned {got} vectors for {count} texts")
    out = [list(map(float, v)) for v in vectors]
    dims = {len(v) for v in out}
    if len(dims) > 1:
        raise InvalidRequestError(f"the embedder returned vectors of mixed dimensions {sorted(dims)}")
    if dimension is not None and dims and dims != {dimension}:
        raise InvalidRequestError(
            f"dimension mismatch: the embedder returns {dims.pop()}-dimensional vectors but the index holds "
            f"{dimension}-dimensional ones; use the embedding model the index was built with"
        )
    return out
