"""`LocalVectorStore`: the embedded index, usable without any server, persisted to disk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dbx_native.errors import InvalidRequestError
from dbx_native.local._vector_store import LocalVectorStore
from dbx_native.local._wire import LocalApiError
from dbx_native.vector import LocalVectorStore as Reexported


def _rows(n: int, dim: int = 4, seed: int = 7) -> list[dict[str, object]]:
    rng = np.random.default_rng(seed)
    return [{"id": f"r{i}", "n": i, "embedding": rng.normal(size=dim).tolist()} for i in range(n)]


def test_the_vector_package_reexports_the_store() -> None:
    assert Reexported is LocalVectorStore


def test_a_saved_store_reopens_with_the_same_rows_and_answers(tmp_path: Path) -> None:
    path = tmp_path / "index"
    store = LocalVectorStore(path, dimension=4, schema={"id": "string", "n": "int", "embedding": "array<float>"})
    store.upsert(_rows(20))
    store.delete(["r3"])
    before = store.query(vector=[1.0, 0.0, 0.0, 0.0], k=5)
    again = LocalVectorStore.open(path)
    assert len(again) == 19 and again.get("r3") is None
    assert again.query(vector=[1.0, 0.0, 0.0, 0.0], k=5) == before
    assert again.schema["n"] == "int" and again.metric == "cosine"


def test_exact_search_matches_a_brute_force_ranking() -> None:
    rows = _rows(500, dim=16)
    store = LocalVectorStore(dimension=16, metric="dot_product")
    store.upsert(rows)
    q = np.random.default_rng(1).normal(size=16)
    expected = sorted(rows, key=lambda r: -float(np.dot(r["embedding"], q)))[:10]  # type: ignore[arg-type]
    got = store.query(vector=q.tolist(), k=10)
    assert [r["id"] for r, _ in got] == [r["id"] for r in expected]


def test_deletes_keep_positions_consistent() -> None:
    store = LocalVectorStore(dimension=4)
    store.upsert(_rows(50))
    store.delete([f"r{i}" for i in range(0, 50, 2)])
    for i in range(1, 50, 2):
        row = store.get(f"r{i}", with_vector=True)
        assert row is not None and row["n"] == i
    hits = store.query(vector=_rows(50)[7]["embedding"], k=1)  # type: ignore[arg-type]
    assert hits[0][0]["id"] == "r7"


def test_upsert_replaces_by_primary_key() -> None:
    store = LocalVectorStore(dimension=2)
    store.upsert([{"id": "a", "v": 1, "embedding": [1.0, 0.0]}])
    store.upsert([{"id": "a", "v": 2, "embedding": [0.0, 1.0]}])
    assert len(store) == 1 and store.get("a") == {"id": "a", "v": 2}


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(InvalidRequestError, match="metric"):
        LocalVectorStore(metric="manhattan")
    with pytest.raises(InvalidRequestError, match="no path"):
        LocalVectorStore().save()
    with pytest.raises(LocalApiError, match="FULL_TEXT"):
        LocalVectorStore(dimension=2).query(text=None, query_type="FULL_TEXT")


def test_open_without_a_saved_store_says_so(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequestError, match=r"meta\.json"):
        LocalVectorStore.open(tmp_path)
