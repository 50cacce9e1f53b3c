"""The int8 first pass of `LocalVectorStore`: the same rows and float32 scores as the full float32 scan."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
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
from dbx_native.local._vector_store import LocalVectorStore

pytestmark = pytest.mark.skipif(not scan.AVAILABLE, reason="the int8 first pass needs simsimd (the local extra)")

METRICS = ("cosine", "l2", "dot_product")
Matrix = npt.NDArray[np.float32]
Hits = list[tuple[dict[str, Any], float]]


@pytest.fixture
def searches(monkeypatch: pytest.MonkeyPatch) -> list[int | None]:
    """Turns the fast path on for small stores; records each search's candidate count (None: full scan)."""
    monkeypatch.setattr(scan, "MIN_ROWS", 0)
    calls: list[int | None] = []
    original = scan.Int8Shadow.search

    def spy(self: scan.Int8Shadow, *args: Any, **kwargs: Any) -> tuple[Any, Any] | None:
        found = original(self, *args, **kwargs)
        calls.append(None if found is None else len(found[0]))
        return found

    monkeypatch.setattr(scan.Int8Shadow, "search", spy)
    return calls


def _store(matrix: Matrix, metric: str, **options: Any) -> LocalVectorStore:
    store = LocalVectorStore(dimension=matrix.shape[1], metric=metric, **options)
    written, failed = store.upsert(
        {"id": f"r{i}", "n": i, "group": "even" if i % 2 == 0 else "odd", "embedding": row}
        for i, row in enumerate(matrix)
    )
    assert (written, failed) == (len(matrix), [])
    return store


def _full_scan(monkeypatch: pytest.MonkeyPatch, query: Callable[[], Hits]) -> Hits:
    with monkeypatch.context() as patch:  # every row scored in float32, no int8 pass
        patch.setattr(scan, "MIN_ROWS", 10**12)
        return query()


def _assert_same_hits(got: Hits, want: Hits) -> None:
    """Same scores (float rounding aside) and the same rows, except where rows tie within that rounding."""
    assert len(got) == len(want)
    if not got:
        return
    got_scores = np.array([s for _, s in got])
    want_scores = np.array([s for _, s in want])
    tol = 1e-6 * max(1.0, float(np.abs(want_scores).max()))
    np.testing.assert_allclose(got_scores, want_scores, rtol=1e-6, atol=tol)
    for i, ((row, _), (expected, score)) in enumerate(zip(got, want, strict=True)):
        others = np.delete(want_scores, i)
        boundary = i == len(want) - 1  # may tie a row just outside the top k
        if not boundary and np.all(np.abs(others - score) > 2 * tol):
            assert row["id"] == expected["id"]


def _compare(
    store: LocalVectorStore,
    monkeypatch: pytest.MonkeyPatch,
    queries: Matrix,
    ks: tuple[int, ...] = (1, 10, 40),
    **kw: Any,
) -> None:
    for q in queries:
        for k in ks:
            got = store.query(vector=q.tolist(), k=k, **kw)
            want = _full_scan(monkeypatch, lambda q=q, k=k: store.query(vector=q.tolist(), k=k, **kw))
            _assert_same_hits(got, want)


def _gaussian(n: int, d: int, seed: int = 0) -> Matrix:
    return np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)


@pytest.mark.parametrize("metric", METRICS)
def test_each_metric_returns_the_full_scan_rows_and_scores(
    metric: str, searches: list[int | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    matrix = _gaussian(3000, 48)
    store = _store(matrix, metric)
    queries = np.vstack([_gaussian(4, 48, seed=1), matrix[[5, 77]]])
    _compare(store, monkeypatch, queries)
    assert searches and all(count is not None for count in searches)


def test_the_candidates_are_a_small_fraction_of_the_rows_on_random_data(searches: list[int | None]) -> None:
    matrix = _gaussian(20_000, 64)
    store = _store(matrix, "cosine")
    for q in _gaussian(5, 64, seed=3):
        store.query(vector=q.tolist(), k=10)
    assert len(searches) == 5 and all(count is not None and count < 0.02 * len(matrix) for count in searches)


def test_filters_and_score_thresholds_keep_the_full_scan_answer(
    searches: list[int | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    matrix = _gaussian(3000, 32)
    store = _store(matrix, "dot_product")
    queries = _gaussian(3, 32, seed=2)
    _compare(store, monkeypatch, queries, filters={"group": "odd"})  # half the rows: the int8 pass runs
    _compare(store, monkeypatch, queries, filters={"n <": 40})  # a few rows: scored directly
    _compare(store, monkeypatch, queries, score_threshold=5.0)
    assert None not in searches
    hits = store.query(vector=queries[0].tolist(), k=10, filters={"group": "odd"})
    assert len(hits) == 10 and all(row["group"] == "odd" for row, _ in hits)


def test_k_larger_than_the_rows_a_filter_allows_returns_them_all(searches: list[int | None]) -> None:
    store = _store(_gaussian(3000, 16), "l2")
    hits = store.query(vector=[0.5] * 16, k=50, filters={"n <": 7})
    assert sorted(row["n"] for row, _ in hits) == list(range(7))
    scores = [score for _, score in hits]
    assert scores == sorted(scores, reverse=True)


def test_k_past_the_candidate_limit_falls_back_to_the_full_scan(
    searches: list[int | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _store(_gaussian(2000, 16), "cosine")
    q = _gaussian(1, 16, seed=9)
    _compare(store, monkeypatch, q, ks=(500,))
    assert searches == [None]


def test_overwrites_and_deletes_keep_the_int8_copy_in_sync(
    searches: list[int | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    matrix = _gaussian(3000, 32)
    store = _store(matrix, "cosine")
    q = _gaussian(1, 32, seed=4)[0]
    top = [row["id"] for row, _ in store.query(vector=q.tolist(), k=5)]
    store.upsert([{"id": "r17", "n": 17, "embedding": (q * 3).tolist()}])  # overwrite: now the best match
    store.delete(top[:3])
    hits = store.query(vector=q.tolist(), k=5)
    assert hits[0][0]["id"] == "r17" and hits[0][1] == pytest.approx(1.0)
    assert not {row["id"] for row, _ in hits} & set(top[:3])
    store.delete([f"r{i}" for i in range(0, 3000, 3)])  # many holes filled by moved rows
    store.upsert({"id": f"new{i}", "n": i, "embedding": row} for i, row in enumerate(_gaussian(500, 32, seed=5)))
    _compare(store, monkeypatch, np.vstack([q, _gaussian(3, 32, seed=6)]))
    assert None not in searches


def test_clear_then_refill_answers_from_the_new_rows(searches: list[int | None]) -> None:
    store = _store(_gaussian(1000, 8), "l2")
    store.clear()
    fresh = _gaussian(1200, 8, seed=11)
    store.upsert({"id": f"x{i}", "embedding": row} for i, row in enumerate(fresh))
    hits = store.query(vector=fresh[321].tolist(), k=1)
    assert hits[0][0]["id"] == "x321" and hits[0][1] == pytest.approx(1.0)
    assert len(searches) == 1 and searches[0] is not None


def _clustered(n: int, d: int, seed: int) -> Matrix:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(8, d)) * 10
    return (centres[rng.integers(0, 8, n)] + rng.normal(size=(n, d)) * 1e-3).astype(np.float32)


def _adversarial(name: str) -> tuple[Matrix, Matrix]:
    rng = np.random.default_rng(42)
    base = _gaussian(3000, 24, seed=7)
    if name == "duplicates":
        matrix = np.repeat(base[:300], 10, axis=0)
    elif name == "near_ties":
        matrix = (base[0] + rng.normal(size=(3000, 24)) * 1e-6).astype(np.float32)
    elif name == "huge_norms":
        matrix = base.copy()
        matrix[rng.choice(3000, 12, replace=False)] *= 1e5
    elif name == "zero_rows":
        matrix = base.copy()
        matrix[rng.choice(3000, 400, replace=False)] = 0.0
    elif name == "clustered":
        matrix = _clustered(3000, 24, seed=8)
    elif name == "one_big_coordinate":  # every other coordinate quantises to a few levels
        matrix = base.copy()
        matrix[:, 0] *= 300.0
    else:  # "tiny": products underflow in float32
        matrix = (base * 1e-22).astype(np.float32)
    queries = np.vstack([matrix[[3, 1500]], rng.normal(size=(2, 24)).astype(np.float32) * matrix.std(), [[0.0] * 24]])
    return matrix, queries.astype(np.float32)


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize(
    "data", ["duplicates", "near_ties", "huge_norms", "zero_rows", "clustered", "one_big_coordinate", "tiny"]
)
def test_adversarial_data_gets_the_full_scan_answer(
    data: str, metric: str, searches: list[int | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    matrix, queries = _adversarial(data)
    store = _store(matrix, metric)
    _compare(store, monkeypatch, queries, ks=(1, 10))
    assert searches  # the int8 path was tried for every query (and stepped aside where it could not help)


def test_rows_with_nan_or_infinite_values_are_refused() -> None:
    store = LocalVectorStore(dimension=2)
    written, failed = store.upsert(
        [
            {"id": "ok", "embedding": [1.0, 0.0]},
            {"id": "nan", "embedding": [float("nan"), 0.0]},
            {"id": "inf", "embedding": [0.0, float("-inf")]},
        ]
    )
    assert (written, sorted(failed)) == (1, ["inf", "nan"])
    assert store.get("nan") is None and len(store) == 1


def test_without_simsimd_the_store_scans_in_float32(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scan, "MIN_ROWS", 0)
    monkeypatch.setattr(scan, "AVAILABLE", False)
    called: list[object] = []
    monkeypatch.setattr(scan.Int8Shadow, "search", lambda *a, **kw: called.append(a))
    matrix = _gaussian(500, 16)
    store = _store(matrix, "dot_product")
    q = _gaussian(1, 16, seed=1)[0]
    hits = store.query(vector=q.tolist(), k=5)
    expected = np.argsort(-(matrix @ q), kind="stable")[:5]
    assert [row["n"] for row, _ in hits] == expected.tolist() and called == []


def test_small_stores_use_the_float32_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    called: list[object] = []
    monkeypatch.setattr(scan.Int8Shadow, "search", lambda *a, **kw: called.append(a))
    store = _store(_gaussian(200, 8), "cosine")
    assert len(store.query(vector=[1.0] * 8, k=3)) == 3 and called == []
    assert scan.MIN_ROWS > 200


def test_a_reopened_store_recomputes_its_int8_copy(
    tmp_path: Path, searches: list[int | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    matrix = _gaussian(2500, 32)
    store = _store(matrix, "l2", path=tmp_path / "index", autosave=False)
    store.save()
    again = LocalVectorStore.open(tmp_path / "index")
    assert sorted(p.name for p in (tmp_path / "index").iterdir()) == ["meta.json", "rows.json", "vectors.npy"]
    queries = _gaussian(3, 32, seed=3)
    for q in queries:
        assert again.query(vector=q.tolist(), k=10) == store.query(vector=q.tolist(), k=10)
    _compare(again, monkeypatch, queries, ks=(10,))
    assert searches and None not in searches


def test_queries_during_concurrent_upserts_see_consistent_rows(searches: list[int | None]) -> None:
    matrix = _gaussian(3000, 16)
    store = _store(matrix[:2000], "cosine")
    errors: list[BaseException] = []

    def write() -> None:
        for start in range(2000, 3000, 100):
            store.upsert({"id": f"r{i}", "n": i, "embedding": matrix[i]} for i in range(start, start + 100))

    def read() -> None:
        try:
            for i in range(0, 3000, 150):
                hits = store.query(vector=matrix[i].tolist(), k=1)
                assert hits and hits[0][1] <= 1.0 + 1e-6
        except BaseException as err:  # surfaced in the main thread below
            errors.append(err)

    threads = [threading.Thread(target=write)] + [threading.Thread(target=read) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for i in (2050, 2999):
        assert store.query(vector=matrix[i].tolist(), k=1)[0][0]["id"] == f"r{i}"


@pytest.fixture
def ws() -> Iterator[LocalWorkspace]:
    workspace = LocalWorkspace(token=CANARY)
    with workspace.intercept():
        yield workspace


@pytest.mark.parametrize("metric", METRICS)
def test_the_query_route_returns_the_full_scan_answer(
    ws: LocalWorkspace, metric: str, searches: list[int | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    name = "main.agent.vectors"
    ws.vector.create_endpoint("vs")
    ws.vector.create_index(name, endpoint_name="vs", dimension=32, metric=metric)
    matrix = _gaussian(2500, 32)
    ws.vector.store(name).upsert({"id": f"r{i}", "embedding": row} for i, row in enumerate(matrix))
    url = f"{ws.host}/api/2.0/vector-search/indexes/{name}/query"

    def route(q: list[float]) -> list[list[Any]]:
        body = {"columns": ["id"], "query_vector": q, "num_results": 10}
        r = requests.post(url, json=body, headers={"Authorization": f"Bearer {CANARY}"})
        r.raise_for_status()
        rows: list[list[Any]] = r.json()["result"]["data_array"]
        return rows

    for q in [matrix[10].tolist(), _gaussian(1, 32, seed=2)[0].tolist()]:
        got = [({"id": row[0]}, float(row[-1])) for row in route(q)]
        want = _full_scan(monkeypatch, lambda q=q: [({"id": row[0]}, float(row[-1])) for row in route(q)])
        _assert_same_hits(got, want)
    assert searches and None not in searches


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(40, 400),
    d=st.integers(1, 24),
    metric=st.sampled_from(METRICS),
    k=st.integers(1, 25),
    duplicates=st.booleans(),
    spread=st.floats(0.0, 12.0),
)
def test_any_data_gets_the_full_scan_answer_through_the_bounds(
    monkeypatch: pytest.MonkeyPatch,
    seed: int,
    n: int,
    d: int,
    metric: str,
    k: int,
    duplicates: bool,
    spread: float,
) -> None:
    rng = np.random.default_rng(seed)
    matrix = rng.normal(size=(n, d)) * 10.0 ** rng.uniform(-spread, spread, size=(n, 1))
    if duplicates:
        matrix[n // 2 :] = matrix[: n - n // 2]
    matrix[rng.random(n) < 0.05] = 0.0
    store = _store(matrix.astype(np.float32), metric)
    queries = np.vstack([matrix[rng.integers(0, n)], rng.normal(size=d) * 10.0 ** rng.uniform(-spread, spread)])
    with monkeypatch.context() as patch:  # every query goes through the bounds, however many candidates
        patch.setattr(scan, "MIN_ROWS", 0)
        patch.setattr(scan, "FEW_ALLOWED", 0.0)
        patch.setattr(scan, "MAX_FRACTION", 1.0)
        for q in queries.astype(np.float32):
            got = store.query(vector=q.tolist(), k=k)
            want = _full_scan(monkeypatch, lambda q=q: store.query(vector=q.tolist(), k=k))
            _assert_same_hits(got, want)


_F32 = st.floats(-(2.0**50), 2.0**50, width=32, allow_nan=False, allow_infinity=False)


@settings(max_examples=150, deadline=None)
@given(
    rows=st.integers(1, 12).flatmap(
        lambda d: st.lists(st.lists(_F32, min_size=d, max_size=d), min_size=1, max_size=30)
    ),
    data=st.data(),
    metric=st.sampled_from(METRICS),
)
def test_upper_bounds_are_never_below_the_exact_float32_score(
    rows: list[list[float]], data: st.DataObject, metric: str
) -> None:
    matrix = np.array(rows, dtype=np.float32)
    n, d = matrix.shape
    q = np.array(data.draw(st.lists(_F32, min_size=d, max_size=d)), dtype=np.float32)
    shadow = scan.Int8Shadow(d)
    shadow.grow(n, 0)
    for pos in range(n):
        shadow.mark(pos)
    shadow.refresh(matrix, n)
    with np.errstate(all="ignore"):  # huge values overflow the float32 score itself: both sides alike
        norms = np.linalg.norm(matrix, axis=1).astype(np.float32)
        qn = float(np.linalg.norm(q))
        exact = scan.similarity(metric, matrix @ q, norms, qn)
        upper = shadow.upper_bounds(q, qn, norms, n, metric)
    assert upper is not None  # only a query norm past 1e37 makes the store scan in float32 instead
    assert np.all(~(upper < exact) | np.isnan(exact))
