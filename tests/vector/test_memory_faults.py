"""VectorMemory under injected faults, and bad input refused before anything is sent."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from vector_support import INDEX, embed, requests_to

from dbx_native._core.clock import FakeClock
from dbx_native.errors import (
    APIResponseError,
    InvalidRequestError,
    NotFoundError,
    RateLimitError,
    ServiceUnavailableError,
)
from dbx_native.local import LocalWorkspace
from dbx_native.vector import Filter, VectorMemory

UPSERT = r"/upsert-data$"


def test_429_and_503_during_upsert_are_retried_without_duplicates(
    mem: VectorMemory, ws: LocalWorkspace, clock: FakeClock
) -> None:
    ws.faults.add(status=429, retry_after="2", path=UPSERT)
    ws.faults.add(status=503, path=UPSERT)
    ids = mem.add("c-1", ["card declined", "refund please", "thanks"])
    assert ids == ["c-1:0", "c-1:1", "c-1:2"]
    assert sorted(r["id"] for r in ws.vector.rows(INDEX)) == ids  # nothing lost, nothing twice
    assert len(requests_to(ws, "/upsert-data")) == 3
    assert 2.0 in clock.sleeps  # Retry-After honoured on the fake clock


def test_a_dropped_connection_after_sending_is_retried_because_upserts_are_keyed(
    mem: VectorMemory, ws: LocalWorkspace
) -> None:
    ws.faults.add(read_timeout=True, path=UPSERT)
    mem.add("c-1", ["one", "two"])
    assert [r["id"] for r in ws.vector.rows(INDEX)] == ["c-1:0", "c-1:1"]


def test_a_replayed_sync_after_a_failure_writes_each_row_once(
    make: Callable[..., VectorMemory], ws: LocalWorkspace
) -> None:
    history = ["a", "b", "c", "d"]
    mem = make()
    ws.faults.add(status=503, path=UPSERT, times=10)  # more failures than attempts: the call fails
    with pytest.raises(ServiceUnavailableError):
        mem.sync("c-1", history)
    ws.faults.clear()
    assert make().sync("c-1", history) == ["c-1:0", "c-1:1", "c-1:2", "c-1:3"]
    assert [r["id"] for r in ws.vector.rows(INDEX)] == ["c-1:0", "c-1:1", "c-1:2", "c-1:3"]


def test_rate_limit_past_the_retry_budget_raises_the_real_error(
    make: Callable[..., VectorMemory], ws: LocalWorkspace
) -> None:
    mem = make().with_options(max_attempts=2)
    ws.faults.add(status=429, path=UPSERT, times=5)
    with pytest.raises(RateLimitError):
        mem.add("c-1", ["x"])


def test_dimension_mismatch_is_refused_before_sending(make: Callable[..., VectorMemory], ws: LocalWorkspace) -> None:
    make()  # creates the 64-dimensional index
    wrong = make(embed=lambda texts: [[1.0, 0.0, 0.0] for _ in texts], ensure=False)
    before = len(requests_to(ws, "/upsert-data"))
    with pytest.raises(InvalidRequestError, match="dimension mismatch"):
        wrong.add("c-1", ["hello"])
    assert len(requests_to(ws, "/upsert-data")) == before


def test_embedder_returning_the_wrong_count_is_refused(make: Callable[..., VectorMemory]) -> None:
    mem = make(embed=lambda texts: embed(texts)[:1])
    with pytest.raises(InvalidRequestError, match="2 texts"):
        mem.add("c-1", ["a", "b"])


def test_unknown_filter_column_is_refused_before_querying(mem: VectorMemory, ws: LocalWorkspace) -> None:
    before = len(requests_to(ws, "/query"))
    with pytest.raises(InvalidRequestError, match="colour"):
        mem.search("card", filters=Filter(colour="red"))
    with pytest.raises(InvalidRequestError, match="operator"):
        mem.search("card", filters={"seq ~": 1})
    assert len(requests_to(ws, "/query")) == before


@pytest.mark.parametrize("query", ["", "   "])
def test_empty_query_is_refused(mem: VectorMemory, query: str) -> None:
    with pytest.raises(InvalidRequestError, match="non-empty query"):
        mem.search(query)


def test_bad_k_and_query_type_are_refused(mem: VectorMemory) -> None:
    with pytest.raises(InvalidRequestError, match="k must"):
        mem.search("x", k=0)
    with pytest.raises(InvalidRequestError, match="k must"):
        mem.search("x", k=500, query_type="hybrid")
    with pytest.raises(InvalidRequestError, match="query_type"):
        mem.search("x", query_type="semantic")


def test_oversized_record_is_refused_and_nothing_is_sent(make: Callable[..., VectorMemory], ws: LocalWorkspace) -> None:
    mem = make(max_request_bytes=4096)
    before = len(requests_to(ws, "/upsert-data"))
    with pytest.raises(InvalidRequestError, match=r"c-1:1.*over the 4096-byte"):
        mem.add("c-1", ["small", "x" * 5000])
    assert len(requests_to(ws, "/upsert-data")) == before


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((("", ["x"]), {}), "conversation_id"),
        ((("c-1", []), {}), "non-empty list"),
        ((("c-1", [42]), {}), "string or a message"),
        ((("c-1", ["x"]), {"metadata": {"when": object()}}), "JSON-serialisable"),
    ],
)
def test_bad_add_arguments_are_refused(
    mem: VectorMemory, args: tuple[tuple[object, ...], dict[str, object]], match: str
) -> None:
    positional, keywords = args
    with pytest.raises(InvalidRequestError, match=match):
        mem.add(*positional, **keywords)  # type: ignore[arg-type]


def test_constructor_checks_its_arguments() -> None:
    with pytest.raises(InvalidRequestError, match="three-level"):
        VectorMemory("memory", embed=embed)
    with pytest.raises(InvalidRequestError, match="embed must be"):
        VectorMemory("a.b.c", embed=42)
    with pytest.raises(InvalidRequestError, match="built-in"):
        VectorMemory("a.b.c", embed=embed, columns={"seq": "int"})


def test_a_missing_index_says_to_create_it(make: Callable[..., VectorMemory]) -> None:
    mem = make(index="main.agent.nothing", ensure=False)
    with pytest.raises(NotFoundError, match="ensure_index"):
        mem.add("c-1", ["x"])


def test_rows_the_service_refuses_raise_after_one_more_try(mem: VectorMemory, ws: LocalWorkspace) -> None:
    store = ws.vector.store(INDEX)
    store.schema["role"] = "int"  # the index now refuses string roles: every row fails
    with pytest.raises(APIResponseError, match=r"FAILURE.*c-1:0"):
        mem.add("c-1", ["x"])
    assert len(requests_to(ws, "/upsert-data")) == 2
