"""Demo step: agent memory on an AI Search index (VectorMemory), embeddings through an embedding endpoint."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dbx_native.config import DbxConfig
    from dbx_native.local import LocalWorkspace

MEMORY_INDEX = "main.fraud.agent_memory"
EMBEDDINGS = "demo-gte"
HISTORY = [
    {"role": "user", "content": "My card was declined twice at Night Owl Gadgets"},
    {"role": "assistant", "content": "Both declines came from merchant m_002: insufficient funds checks"},
    {"role": "user", "content": "Please refund the duplicate charge of 49.90"},
]


def _vector_step(n: int, ws: LocalWorkspace, config: DbxConfig) -> None:
    """Sync a conversation into a Direct Access index, replay it (nothing rewritten), search and recall."""
    from dbx_native.gateway import GatewayClient
    from dbx_native.vector import VectorMemory

    print(f"\n[{n}] Agent memory on Databricks AI Search (VectorMemory)")
    ws.serving.create_endpoint(EMBEDDINGS, task="llm/v1/embeddings", dimension=128)
    with GatewayClient(EMBEDDINGS, config=config) as gte:
        mem = VectorMemory(MEMORY_INDEX, endpoint="fraud-memory", embed=gte, config=config)
        info = mem.ensure_index()
        written = mem.sync("conv-42", HISTORY)
        again = mem.sync("conv-42", HISTORY)
        print(f"    index {info.name} ({info.dimension}-dim, ready={info.ready}); synced {len(written)} messages, "
              f"replayed sync wrote {len(again)}")  # fmt: skip
        hit = mem.search("duplicate charge refund", k=1, conversation_id="conv-42")[0]
        print(f"    search 'duplicate charge refund' -> {hit.id} [{hit.role}] {hit.text!r} (score {hit.score:.3f})")
        recent = mem.recall("conv-42", last_n=2)
        print(f"    recall last 2 -> {[r.as_message()['role'] for r in recent]} (oldest first)")
        mem.close()
