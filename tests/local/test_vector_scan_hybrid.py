"""HYBRID queries take their vector ranking from the int8 first pass: the same answer as scoring every row."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from canary import CANARY
from dbx_native.local import LocalWorkspace
from dbx_native.local import _vector_scan as scan
from dbx_native.local import _vector_store as vector_store
from dbx_native.local._vector_store import HYBRID_MAX_RESULTS, LocalVectorStore

pytestmark = pytest.mark.skipif(not scan.AVAILABLE, reason="the int8 first pass needs simsimd (the local extra)")

METRICS = ("cosine", "l2", "dot_product")
WORDS = ("card", "declined", "refund", "address", "fraud", "login", "limit", "merchant")
Matrix = npt.NDArray[np.float32]
Hits = list[tuple[dict[str, Any], float]]


class Spy:
    """What the store did: each first pass's `(k, candidates or None)`, and each vector ranking it fused."""

    def __init__(self) -> None:
        self.searches: list[tuple[int, int | None]] = []
        self.rankings: list[list[int]] = []


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Spy:
    """Turns the int8 pass on for small stores and records its searches and the fused vector rankings."""
    monkeypatch.setattr(scan, "MIN_ROWS", 0)
    seen = Spy()
    search, fuse = scan.Int8Shadow.search, vector_store.rrf

    def spy_search(self: scan.Int8Shadow, *args: Any, **kwargs: Any) -> tuple[Any, Any] | None:
        found = search(self, *args, **kwargs)
        seen.searches.append((args[5], None if found is None else len(found[0])))
        return found

    def spy_rrf(rankings: Sequence[Sequence[int]], n: int) -> npt.NDArray[np.float64]:
        seen.rankings.append(list(rankings[0]))
        return fuse(rankings, n)

    monkeypatch.setattr(scan.Int8Shadow, "search", spy_search)
    monkeypatch.setattr(vector_store, "rrf", spy_rrf)
    return seen


def _gaussian(n: int, d: int, seed: int = 0) -> Matrix:
    return np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)


def _store(matrix: Matrix, metric: str, seed: int = 0) -> LocalVectorStore:
    rng = np.random.default_rng(seed)
    store = LocalVectorStore(dimension=matrix.shape[1], metric=metric)
    written, failed = store.upsert(
        {
            "id": f"r{i}",
            "n": i,
            "group": "even" if i % 2 == 0 else "odd",
            "text": " ".join(WORDS[j] for j in rng.integers(0, len(WORDS), size=3)),
            "embedding": row,
        }
        for i, row in enumerate(matrix)
    )
    assert (written, failed) == (len(matrix), [])
    return store


def _full_scan(monkeypatch: pytest.MonkeyPatch, query: Callable[[], Hits]) -> Hits:
    with monkeypatch.context() as patch:  # every row scored in float32 and stably sorted: the store as it was
        patch.setattr(scan, "MIN_ROWS", 10**12)
        return query()


def _assert_identical(
    store: LocalVectorStore, spy: Spy, monkeypatch: pytest.MonkeyPatch, queries: Matrix, text: str, **kw: Any
) -> None:
    """The fused hits and the vector ranking behind them equal the full scan's, bit for bit and in order."""
    for q in queries:

        def query(q: Matrix = q) -> Hits:
            return store.query(vector=q.tolist(), text=text, query_type="HYBRID", **kw)

        got = query()
        ranking = spy.rankings[-1]
        want = _full_scan(monkeypatch, query)
        assert spy.rankings[-1] == ranking
        assert got == want


def _limit(monkeypatch: pytest.MonkeyPatch, results: int) -> int:
    """Caps hybrid results (the vector ranking is twice that), so that small stores exercise the first pass."""
    monkeypatch.setattr(vector_store, "HYBRID_MAX_RESULTS", results)
    return 2 * results


def test_the_real_400_row_vector_ranking_comes_from_the_first_pass(spy: Spy, monkeypatch: pytest.MonkeyPatch) -> None:
    matrix = _gaussian(12_000, 32)
    store = _store(matrix, "cosine")
    queries = np.vstack([_gaussian(3, 32, seed=1), matrix[[7]]])
    _assert_identical(store, spy, monkeypatch, queries, "card fraud", k=HYBRID_MAX_RESULTS)
    fast = [count for k, count in spy.searches if k == 2 * HYBRID_MAX_RESULTS]
    assert len(fast) == len(queries) and all(count is not None and count < 0.1 * len(matrix) for count in fast)
    assert all(len(ranking) == 2 * HYBRID_MAX_RESULTS for ranking in spy.rankings)


@pytest.mark.parametrize("metric", METRICS)
def test_each_metric_fuses_the_full_scan_ranking(metric: str, spy: Spy, monkeypatch: pytest.MonkeyPatch) -> None:
    depth = _limit(monkeypatch, 15)
    matrix = _gaussian(3000, 24)
    store = _store(matrix, metric)
    queries = np.vstack([_gaussian(3, 24, seed=2), matrix[[5]]])
    for k in (1, 10, 15):
        _assert_identical(store, spy, monkeypatch, queries, "declined card", k=k)
    assert spy.searches and all(k == depth and count is not None for k, count in spy.searches)


def test_filters_thresholds_and_pending_rows_keep_the_full_scan_answer(
    spy: Spy, monkeypatch: pytest.MonkeyPatch
) -> None:
    _limit(monkeypatch, 15)
    store = _store(_gaussian(3000, 24), "dot_product")
    queries = _gaussian(3, 24, seed=3)
    _assert_identical(store, spy, monkeypatch, queries, "refund", k=10, filters={"group": "odd"})
    _assert_identical(store, spy, monkeypatch, queries, "refund", k=10, filters={"n <": 120})  # scored directly
    _assert_identical(store, spy, monkeypatch, queries, "refund", k=10, filters={"n <": 9})  # fewer than asked
    _assert_identical(store, spy, monkeypatch, queries, "refund", k=10, score_threshold=0.02)
    assert None not in [count for _, count in spy.searches]
    store.visibility_lag = 10  # the next 10 queries do not see the row written now
    store.upsert([{"id": "late", "n": -1, "text": "refund", "embedding": (queries[0] * 9).tolist()}])
    _assert_identical(store, spy, monkeypatch, queries[:1], "refund", k=10)  # not visible yet
    assert "late" not in {row["id"] for row, _ in store.query(vector=queries[0].tolist(), text="x", k=5)}
    hits = store.query(vector=queries[0].tolist(), text="refund", query_type="HYBRID", k=10, filters={"group": "odd"})
    assert len(hits) == 10 and all(row["group"] == "odd" for row, _ in hits)


def test_overwrites_and_deletes_keep_ties_in_row_position_order(spy: Spy, monkeypatch: pytest.MonkeyPatch) -> None:
    _limit(monkeypatch, 15)
    monkeypatch.setattr(scan, "MAX_FRACTION", 1.0)  # the ties would otherwise send the query to the full scan
    matrix = _gaussian(3000, 16)
    matrix[1000:1600] = matrix[0]  # 601 equal rows: their order is their position, which deletes move
    store = _store(matrix, "cosine")
    store.delete([f"r{i}" for i in range(1100, 1300, 3)] + ["r1"])
    store.upsert([{"id": "r2", "n": 2, "text": "card", "embedding": matrix[0]}])
    _assert_identical(store, spy, monkeypatch, matrix[[0, 5]], "card", k=15)
    assert spy.searches and None not in [count for _, count in spy.searches]


def _adversarial(name: str) -> tuple[Matrix, Matrix]:
    rng = np.random.default_rng(42)
    base = _gaussian(3000, 24, seed=7)
    if name == "duplicates":
        matrix = np.repeat(base[:300], 10, axis=0)
    elif name == "all_equal":
        matrix = np.repeat(base[:1], 3000, axis=0)
    elif name == "near_ties":
        matrix = (base[0] + rng.normal(size=(3000, 24)) * 1e-6).astype(np.float32)
    elif name == "zero_rows":
        matrix = base.copy()
        matrix[rng.choice(3000, 1500, replace=False)] = 0.0
    elif name == "huge_norms":
        matrix = base.copy()
        matrix[rng.choice(3000, 40, replace=False)] *= 1e5
    else:  # "tiny": products underflow in float32
        matrix = (base * 1e-22).astype(np.float32)
    queries = np.vstack([matrix[[3, 1500]], rng.normal(size=(1, 24)) * matrix.std(), np.zeros((1, 24))])
    return matrix, queries.astype(np.float32)


@pytest.mark.parametrize("forced", [False, True], ids=["defaults", "through_the_bounds"])
@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("data", ["duplicates", "all_equal", "near_ties", "zero_rows", "huge_norms", "tiny"])
def test_adversarial_data_fuses_the_full_scan_ranking(
    data: str, metric: str, forced: bool, spy: Spy, monkeypatch: pytest.MonkeyPatch
) -> None:
    _limit(monkeypatch, 15)
    if forced:  # no fallback to the full scan, however many rows tie: the bounds and the stable order decide
        monkeypatch.setattr(scan, "MAX_FRACTION", 1.0)
        monkeypatch.setattr(scan, "FEW_ALLOWED", 0.0)
    matrix, queries = _adversarial(data)
    store = _store(matrix, metric)
    _assert_identical(store, spy, monkeypatch, queries, "merchant limit", k=15)
    assert len(spy.searches) == len(queries)
    if forced:
        assert None not in [count for _, count in spy.searches]


@pytest.fixture
def ws() -> Iterator[LocalWorkspace]:
    workspace = LocalWorkspace(token=CANARY)
    with workspace.intercept():
        yield workspace


def test_the_query_route_returns_the_full_scan_hybrid_answer(
    ws: LocalWorkspace, spy: Spy, monkeypatch: pytest.MonkeyPatch
) -> None:
    _limit(monkeypatch, 15)
    name = "main.agent.vectors"
    ws.vector.create_endpoint("vs")
    schema = {"id": "string", "text": "string", "embedding": "array<float>"}
    ws.vector.create_index(name, endpoint_name="vs", dimension=24, schema=schema, metric="l2")
    matrix = _gaussian(3000, 24)
    rows = ({"id": f"r{i}", "text": WORDS[i % len(WORDS)], "embedding": row} for i, row in enumerate(matrix))
    assert ws.vector.store(name).upsert(rows) == (3000, [])
    url = f"{ws.host}/api/2.0/vector-search/indexes/{name}/query"

    def route(q: list[float]) -> list[list[Any]]:
        body = {"columns": ["id"], "query_vector": q, "query_text": "fraud", "query_type": "HYBRID", "num_results": 15}
        r = requests.post(url, json=body, headers={"Authorization": f"Bearer {CANARY}"})
        r.raise_for_status()
        data: list[list[Any]] = r.json()["result"]["data_array"]
        return data

    for q in [matrix[10].tolist(), _gaussian(1, 24, seed=2)[0].tolist()]:
        got = route(q)
        with monkeypatch.context() as patch:
            patch.setattr(scan, "MIN_ROWS", 10**12)
            assert got == route(q) and len(got) == 15
    assert spy.searches and None not in [count for _, count in spy.searches]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(40, 400),
    d=st.integers(1, 16),
    metric=st.sampled_from(METRICS),
    results=st.integers(1, 12),
    duplicates=st.booleans(),
    spread=st.floats(0.0, 12.0),
)
def test_any_data_fuses_the_full_scan_ranking_through_the_bounds(
    spy: Spy,
    monkeypatch: pytest.MonkeyPatch,
    seed: int,
    n: int,
    d: int,
    metric: str,
    results: int,
    duplicates: bool,
    spread: float,
) -> None:
    rng = np.random.default_rng(seed)
    matrix = rng.normal(size=(n, d)) * 10.0 ** rng.uniform(-spread, spread, size=(n, 1))
    if duplicates:
        matrix[n // 2 :] = matrix[: n - n // 2]
    matrix[rng.random(n) < 0.05] = 0.0
    store = _store(matrix.astype(np.float32), metric, seed=seed)
    queries = np.vstack([matrix[rng.integers(0, n)], rng.normal(size=d) * 10.0 ** rng.uniform(-spread, spread)])
    with monkeypatch.context() as patch:  # every query goes through the bounds, however many candidates
        patch.setattr(vector_store, "HYBRID_MAX_RESULTS", results)
        patch.setattr(scan, "FEW_ALLOWED", 0.0)
        patch.setattr(scan, "MAX_FRACTION", 1.0)
        spy.searches.clear()
        _assert_identical(store, spy, monkeypatch, queries.astype(np.float32), "card", k=results)
        assert len(spy.searches) == len(queries)
