"""Fixtures: a local workspace with an AI Search endpoint, and VectorMemory clients on a fake clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from vector_support import INDEX, embed

from canary import CANARY
from dbx_native import DbxConfig
from dbx_native._core.clock import FakeClock
from dbx_native.local import LocalWorkspace
from dbx_native.vector import VectorMemory


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
