"""Helpers the vector tests import by name (a unique module name: `conftest` is ambiguous across folders)."""

from __future__ import annotations

from typing import Any

from dbx_native.local import HashingEmbedder, LocalWorkspace

INDEX = "main.agent.memory"
DIM = 64

_hashing = HashingEmbedder(dimension=DIM)


def embed(texts: list[str]) -> list[list[float]]:
    """A plain callable embedder (deterministic word hashing)."""
    return _hashing.embed(texts)


def requests_to(ws: LocalWorkspace, suffix: str) -> list[Any]:
    """Captured requests whose path ends with `suffix`."""
    return [r for r in ws.requests if r.path.endswith(suffix)]
