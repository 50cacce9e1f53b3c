"""Fixtures: a local workspace with an AI Search endpoint, and VectorMemory clients on a fake clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from canary import CANARY
from dbx_native import DbxConfig
from dbx_native._core.clock import FakeClock
from dbx_native.local import HashingEmbedder, LocalWorkspace
from dbx_native.vector import VectorMemory

INDEX = "main.agent.memory"
DIM = 64

_hashing = HashingEmbedder(dimension=DIM)


def embed(texts: list[str]) -> list[list[float]]:
    """A plain callable embedder (deterministic word hashing)."""
    return _hashing.embed(texts)


@pytest.fixture
def ws() -> Iterator[LocalWorkspace]:
    workspace = LocalWorkspace(token=CANARY)
    with workspace.intercept():
        yield workspace


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make(ws: LocalWorkspace, clock: FakeClock) -> Callable[..., VectorMemory]:
    """Build a VectorMemory on the workspace (the index is created on first use unless ensure=False)."""

    def build(*, ensure: bool = True, **options: Any) -> VectorMemory:
        config = DbxConfig(host=ws.host, token=CANARY, retry={"jitter": 0.0})
        options.setdefault("embed", embed)
        options.setdefault("endpoint", "memory")
        mem = VectorMemory(options.pop("index", INDEX), config=config, clock=clock, **options)
        if ensure:
            mem.ensure_index()
        return mem

    return build


@pytest.fixture
def mem(make: Callable[..., VectorMemory]) -> VectorMemory:
    return make()


def requests_to(ws: LocalWorkspace, suffix: str) -> list[Any]:
    """Captured requests whose path ends with `suffix`."""
    return [r for r in ws.requests if r.path.endswith(suffix)]
