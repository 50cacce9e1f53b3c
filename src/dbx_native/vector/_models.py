"""Typed results of VectorMemory calls. They allow extra fields so new server fields never break callers."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["IndexInfo", "MemoryHit", "MemoryRecord"]


class _Result(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class MemoryRecord(_Result):
    """One stored message of a conversation.

    Attributes:
        id: The primary key, `{conversation_id}:{seq}`.
        conversation_id: The conversation it belongs to.
        seq: Its position in the conversation (0 first).
        role: `user`, `assistant`, `system`, `tool`, ...
        text: The message text.
        created_at: When it was written (UTC), if known.
        metadata: The metadata given when it was written.
        extra: Values of the extra index columns (`VectorMemory(columns=...)`).
    """

    id: str
    conversation_id: str | None = None
    seq: int | None = None
    role: str | None = None
    text: str = ""
    created_at: dt.datetime | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    extra: dict[str, Any] = Field(default_factory=dict)

    def as_message(self) -> dict[str, str]:
        """The record as a chat message, `{"role", "content"}`, ready to put back into a prompt."""
        return {"role": self.role or "user", "content": self.text}


class MemoryHit(MemoryRecord):
    """A search result: a stored message and how well it matched.

    Attributes:
        score: The service's relevance score (higher is closer; its scale depends on `query_type`).
    """

    score: float = 0.0


class IndexInfo(_Result):
    """What `ensure_index` / `describe` found.

    Attributes:
        name: The index (`catalog.schema.index`).
        endpoint: The AI Search endpoint hosting it.
        ready: Whether the index answers queries.
        state: The detailed state, when the service reports one (`ONLINE_NO_PENDING_UPDATE`, ...).
        dimension: The vector size of self-managed embeddings (`None` with managed embeddings).
        columns: Column name -> type, when the index schema is known.
        indexed_row_count: Rows in the index, as the service counts them.
        created: Whether this call created the index.
    """

    name: str
    endpoint: str | None = None
    ready: bool = False
    state: str | None = None
    dimension: int | None = None
    columns: dict[str, str] = Field(default_factory=dict)
    indexed_row_count: int | None = None
    created: bool = False
