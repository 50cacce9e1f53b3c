"""ensure_index, wait_until_visible, the ai-search API, GatewayClient embeddings and the loopback server."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from vector_support import DIM, INDEX, embed, requests_to

from canary import CANARY
from dbx_native import DbxConfig
from dbx_native._core.clock import FakeClock
from dbx_native.errors import InvalidRequestError, OperationTimeoutError
from dbx_native.gateway import GatewayClient
from dbx_native.local import LocalWorkspace
from dbx_native.vector import VectorMemory


def test_ensure_index_creates_endpoint_and_index_once(make: Callable[..., VectorMemory], ws: LocalWorkspace) -> None:
    mem = make(ensure=False)
    first = mem.ensure_index()
    assert first.created and first.ready and first.dimension == DIM
    assert {"id", "conversation_id", "seq", "role", "text", "created_at", "metadata"} <= set(first.columns)
    assert ws.vector.indexes[INDEX].endpoint_name == "memory"
    second = make(ensure=False).ensure_index()
    assert not second.created and second.ready
    assert len([r for r in ws.requests if r.method == "POST" and r.path.endswith("/indexes")]) == 1


def test_ensure_index_waits_through_provisioning_and_reports_progress(
    make: Callable[..., VectorMemory], ws: LocalWorkspace, clock: FakeClock
) -> None:
    ws.states.set("vector-search-endpoint", ["PROVISIONING", "PROVISIONING", "ONLINE"], after_reads=1)
    ws.states.set("vector-index", ["PROVISIONING_INITIAL_SNAPSHOT", "ONLINE_NO_PENDING_UPDATE"], after_reads=2)
    seen: list[str] = []
    info = make(ensure=False).ensure_index(progress=seen.append)
    assert info.ready and info.state == "ONLINE_NO_PENDING_UPDATE"
    assert seen[0] == "endpoint PROVISIONING" and seen[-1] == "endpoint ONLINE, index ONLINE_NO_PENDING_UPDATE"
    assert clock.sleeps and all(s <= 10.0 for s in clock.sleeps)  # waited on the fake clock, with backoff


def test_ensure_index_times_out_with_the_last_state(make: Callable[..., VectorMemory], ws: LocalWorkspace) -> None:
    ws.states.set("vector-search-endpoint", ["PROVISIONING", "ONLINE"], after_reads=1000)
    with pytest.raises(OperationTimeoutError) as info:
        make(ensure=False).ensure_index(wait_timeout=30)
    assert info.value.last_state == "endpoint PROVISIONING"


def test_ensure_index_refuses_an_index_of_another_dimension(make: Callable[..., VectorMemory]) -> None:
    make()
    with pytest.raises(InvalidRequestError, match="64-dimensional vectors, not 8"):
        make(ensure=False).ensure_index(dimension=8)


def test_managed_embeddings_need_an_embedding_endpoint(make: Callable[..., VectorMemory]) -> None:
    with pytest.raises(InvalidRequestError, match="embedding_endpoint"):
        make(embed=None, ensure=False).ensure_index()


def test_managed_embeddings_index_searches_by_text(make: Callable[..., VectorMemory]) -> None:
    mem = make(embed=None, ensure=False)
    mem.ensure_index(embedding_endpoint="databricks-gte-large-en")
    mem.add("c-1", ["my card was declined", "the weather is nice"])
    assert mem.search("declined card", k=1)[0].id == "c-1:0"
    assert [r.seq for r in mem.recall("c-1")] == [0, 1]


def test_wait_until_visible_polls_until_writes_show_up(
    make: Callable[..., VectorMemory], ws: LocalWorkspace, clock: FakeClock
) -> None:
    ws.vector.visibility_lag = 3
    mem = make()
    ids = mem.add("c-1", ["hello", "world"])
    mem.wait_until_visible(ids, timeout=10)
    assert clock.sleeps  # it had to wait
    assert {h.id for h in mem.search("hello world", k=5)} == set(ids)


def test_wait_until_visible_times_out_listing_the_missing_ids(
    make: Callable[..., VectorMemory], ws: LocalWorkspace
) -> None:
    ws.vector.visibility_lag = 10_000
    mem = make()
    ids = mem.add("c-1", ["hello"])
    with pytest.raises(OperationTimeoutError) as info:
        mem.wait_until_visible(ids, timeout=1)
    assert info.value.last_state == {"missing": ["c-1:0"]}


def test_the_ai_search_api_uses_the_aip_routes(make: Callable[..., VectorMemory], ws: LocalWorkspace) -> None:
    mem = make(api="ai-search")
    mem.add("c-1", ["card declined", "refund please"])
    assert mem.search("refund", k=1)[0].id == "c-1:1"
    assert [r.seq for r in mem.recall("c-1", last_n=1)] == [1]
    assert len(list(mem.iter_records(page_size=1))) == 2
    mem.forget("c-1")
    assert ws.vector.rows(INDEX) == []
    base = f"/api/2.0/ai-search/workspaces/{ws.workspace_id}/endpoints/memory/indexes/{INDEX}"
    paths = {r.path for r in ws.requests}
    assert {base + ":upsertData", base + ":query", base + ":scan", base + ":removeData"} <= paths
    assert not requests_to(ws, "/upsert-data")


def test_a_gateway_client_on_an_embedding_endpoint_embeds(
    make: Callable[..., VectorMemory], ws: LocalWorkspace
) -> None:
    ws.serving.create_endpoint("gte", task="llm/v1/embeddings", dimension=32)
    gateway = GatewayClient("gte", config=DbxConfig(host=ws.host, token=CANARY))
    mem = make(embed=gateway)
    assert mem.describe().dimension == 32
    mem.add("c-1", ["card declined at the grocery store", "weather report"])
    assert mem.search("grocery card", k=1)[0].id == "c-1:0"
    assert requests_to(ws, "/serving-endpoints/gte/invocations")


def test_memory_works_over_the_loopback_server(clock: FakeClock) -> None:
    workspace = LocalWorkspace(token=CANARY)
    with workspace.serve() as server:
        config = DbxConfig(host=f"http://127.0.0.1:{server.port}", token=CANARY)
        mem = VectorMemory(INDEX, endpoint="memory", embed=embed, config=config, clock=clock)
        mem.ensure_index()
        mem.sync("c-1", ["card declined", "refund please"])
        assert mem.search("refund", k=1)[0].text == "refund please"
        mem.close()


def test_with_options_copies_share_the_index_settings(mem: VectorMemory) -> None:
    copy = mem.with_options(timeout=5)
    assert (copy.index, copy.endpoint, copy.api) == (mem.index, mem.endpoint, mem.api)
    assert copy.config.retry.deadline == 5
