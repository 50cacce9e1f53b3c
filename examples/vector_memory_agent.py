"""Conversation memory for an agent on Databricks AI Search, with VectorMemory.

Runs on the embedded local workspace by default (no Databricks account). Against a real workspace, set
DATABRICKS_HOST / DATABRICKS_TOKEN (or a profile) and pass --remote: the same code talks to AI Search.

    python examples/vector_memory_agent.py [--remote --index main.agent.memory --endpoint memory --embed gte]
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator

from dbx_native import DbxConfig
from dbx_native.gateway import GatewayClient
from dbx_native.vector import Filter, VectorMemory

HISTORY = [
    {"role": "user", "content": "My card was declined twice at Night Owl Gadgets"},
    {"role": "assistant", "content": "Both declines came from merchant m_002 for insufficient funds"},
    {"role": "user", "content": "Please refund the duplicate charge of 49.90"},
    {"role": "assistant", "content": "Refund ticket RF-7731 is open; it takes 3-5 business days"},
]


@contextlib.contextmanager
def workspace(remote: bool, embed_route: str) -> Iterator[DbxConfig | None]:
    """`None` (config from the environment) for a real workspace; otherwise a local one over loopback."""
    if remote:
        yield None
        return
    from dbx_native.local import LocalWorkspace

    ws = LocalWorkspace()
    ws.serving.create_endpoint(embed_route, task="llm/v1/embeddings", dimension=256)
    with ws.serve() as server:
        yield server.config


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--remote", action="store_true", help="use the workspace from the environment")
    parser.add_argument("--index", default="main.agent.memory")
    parser.add_argument("--endpoint", default="agent-memory")
    parser.add_argument("--embed", default="gte", help="the embedding serving endpoint")
    args = parser.parse_args()

    with workspace(args.remote, args.embed) as config, GatewayClient(args.embed, config=config) as gte:
        mem = VectorMemory(args.index, endpoint=args.endpoint, embed=gte, config=config)
        info = mem.ensure_index(progress=lambda state: print(f"  waiting: {state}"))
        print(f"index {info.name}: {info.dimension}-dim vectors, ready={info.ready}")

        # After every turn, hand the framework's whole message list to sync(): only new messages are written.
        mem.sync("conv-42", HISTORY[:2])
        written = mem.sync("conv-42", HISTORY)
        print(f"synced conv-42: wrote {written}")
        mem.wait_until_visible(written, timeout=60)

        for hit in mem.search("when will my refund arrive?", k=2, query_type="hybrid"):
            print(f"hit {hit.id} [{hit.role}] score={hit.score:.3f}: {hit.text}")
        only_user = mem.search("declined card", k=5, filters=Filter(role="user").lt("seq", 2))
        print(f"user messages before seq 2: {[h.id for h in only_user]}")
        context = [r.as_message() for r in mem.recall("conv-42", last_n=3)]
        print(f"recall for the next prompt: {[m['role'] for m in context]}")
        print(f"forgot {mem.forget('conv-42')} messages")
        mem.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
