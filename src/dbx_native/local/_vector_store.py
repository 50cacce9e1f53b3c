"""`LocalVectorStore`: an embedded exact vector index, in memory or persisted to a directory.

The local workspace keeps each AI Search index in one; it is also usable on its own, with no server:

```python
store = LocalVectorStore("./memory-index", dimension=3, schema={"id": "string", "text": "string"})
store.upsert([{"id": "a", "text": "card declined", "embedding": [1.0, 0.0, 0.0]}])
store.query(vector=[1.0, 0.1, 0.0], k=1)          # [({'id': 'a', 'text': 'card declined'}, 0.99...)]
LocalVectorStore.open("./memory-index")            # the same index, read back from disk
```
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from dbx_native.errors import InvalidRequestError
from dbx_native.local import _vector_scan as _scan
from dbx_native.local._vector_filters import compile_filters, evaluate
from dbx_native.local._vector_rows import INT_TYPES, atomic_write, coerce, sort_key
from dbx_native.local._vector_text import Bm25, rrf
from dbx_native.local._wire import LocalApiError

__all__ = ["HYBRID_MAX_RESULTS", "METRICS", "LocalVectorStore"]

Metric = Literal["cosine", "l2", "dot_product"]
METRICS: tuple[str, ...] = ("cosine", "l2", "dot_product")
HYBRID_MAX_RESULTS = 200
"""Hybrid and full-text queries return at most 200 results, as on the real service."""

Row = dict[str, Any]
Hit = tuple[Row, float]


class LocalVectorStore:
    """An exact (brute-force) vector index with filters, BM25 full-text and hybrid search.

    Scores: `cosine` -> `(1 + cos) / 2` in [0, 1]; `l2` -> `1 / (1 + d²)`; `dot_product` -> the dot product.
    Large stores answer vector queries (and the vector side of hybrid ones) from an int8 copy first, then float32
    for the few rows that can still make the top k: the same rows and scores as a full float32 scan (see
    `_vector_scan`). Thread-safe.
    With `path`, every write is saved to that directory (atomically); `open(path)` reloads it.

    Args:
        path: Directory to persist to; `None` keeps the index in memory.
        dimension: Vector size; `None` takes it from the first vector written.
        primary_key: The primary-key column (values are strings or integers).
        vector_column: The column holding each row's vector.
        schema: Column name -> type (`string`, `int`, `long`, `float`, `double`, `boolean`, `array<float>`);
            values are checked and converted on write. `None` accepts any JSON scalar column.
        metric: `cosine`, `l2` or `dot_product`.
        embed: Computes vectors for rows written without one, and for text queries (managed embeddings).
        source_column: The text column `embed` reads.
        autosave: Save after every write (with `path`); turn off for bulk loads and call `save()`.

    Raises:
        InvalidRequestError: A bad metric or dimension.

    Example:
        >>> store = LocalVectorStore(dimension=2)
        >>> store.upsert([{"id": "a", "embedding": [1.0, 0.0]}, {"id": "b", "embedding": [0.0, 1.0]}])
        (2, [])
        >>> [(row["id"], round(score, 2)) for row, score in store.query(vector=[1.0, 0.2], k=1)]
        [('a', 0.99)]
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        dimension: int | None = None,
        primary_key: str = "id",
        vector_column: str = "embedding",
        schema: Mapping[str, str] | None = None,
        metric: str = "cosine",
        embed: Callable[[list[str]], list[list[float]]] | None = None,
        source_column: str | None = None,
        autosave: bool = True,
    ) -> None:
        if metric not in METRICS:
            raise InvalidRequestError(f"metric must be one of {METRICS}, not {metric!r}")
        if dimension is not None and dimension < 1:
            raise InvalidRequestError(f"dimension must be at least 1, not {dimension}")
        self.path = Path(path) if path is not None else None
        self.dimension = dimension
        self.primary_key = primary_key
        self.vector_column = vector_column
        self.schema = {k: v.lower() for k, v in (schema or {}).items()}
        self.metric = metric
        self.embed = embed
        self.source_column = source_column
        self.autosave = autosave
        self.lock = threading.RLock()
        self._keys: list[Any] = []
        self._pos: dict[Any, int] = {}
        self._rows: list[Row] = []
        self._vectors = np.zeros((0, dimension or 0), dtype=np.float32)
        self._norms = np.zeros(0, dtype=np.float32)
        self._shadow: _scan.Int8Shadow | None = None  # int8 codes of the vectors, for the fast first pass
        self._cache: dict[str, Any] = {}
        self._pending: dict[Any, int] = {}  # key -> queries before it becomes visible
        self.visibility_lag = 0

    # --- persistence ----------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | os.PathLike[str], **options: Any) -> LocalVectorStore:
        """Load the store saved in directory `path` (options such as `embed` are not saved: pass them).

        Raises:
            InvalidRequestError: No store is saved there.
        """
        meta_file = Path(path) / "meta.json"
        if not meta_file.exists():
            raise InvalidRequestError(f"no LocalVectorStore is saved in {str(path)!r} (meta.json is missing)")
        meta = json.loads(meta_file.read_text())
        store = cls(path, **{**{k: meta[k] for k in _SAVED if k in meta}, **options})
        rows = json.loads((Path(path) / "rows.json").read_text())
        vectors = np.load(Path(path) / "vectors.npy") if rows else None
        with store.lock:
            for i, row in enumerate(rows):
                store._append(row[store.primary_key], row, vectors[i] if vectors is not None else None)
            store._fast_shadow()  # the int8 copy is recomputed, not saved: the on-disk format is unchanged
        return store

    def save(self) -> None:
        """Write the store to its `path` (atomically: a crash leaves the previous version).

        Raises:
            InvalidRequestError: The store has no `path`.
        """
        if self.path is None:
            raise InvalidRequestError("this LocalVectorStore has no path to save to; pass path= when creating it")
        with self.lock:
            self.path.mkdir(parents=True, exist_ok=True)
            meta = {k: getattr(self, k) for k in _SAVED}
            atomic_write(self.path / "rows.json", json.dumps(self._rows).encode())
            tmp = self.path / "vectors.tmp.npy"
            np.save(tmp, self._vectors[: len(self._keys)])
            os.replace(tmp, self.path / "vectors.npy")
            atomic_write(self.path / "meta.json", json.dumps(meta).encode())

    # --- writes ---------------------------------------------------------------------------------

    def upsert(self, rows: Iterable[Mapping[str, Any]]) -> tuple[int, list[str]]:
        """Insert or replace rows by primary key.

        Returns:
            `(rows written, primary keys of rows refused)`: a row is refused for a missing key, a vector of
            the wrong size or with a NaN or infinite value, an unknown column or a value of the wrong type.
        """
        rows = list(rows)
        self._embed_missing(rows)
        written, failed = 0, []
        with self.lock:
            for raw in rows:
                key = raw.get(self.primary_key)
                try:
                    row, vector = self._check(raw)
                except ValueError:
                    failed.append(str(key))
                    continue
                self._append(key, row, vector)
                if self.visibility_lag:
                    self._pending[key] = self.visibility_lag
                written += 1
            self._cache.clear()
            self._fast_shadow()
            if self.path is not None and self.autosave and written:
                self.save()
        return written, failed

    def delete(self, keys: Iterable[Any]) -> int:
        """Delete rows by primary key; unknown keys are ignored. Returns how many were deleted."""
        deleted = 0
        with self.lock:
            for key in keys:
                key = self._key_of(key)
                pos = self._pos.pop(key, None)
                if pos is None:
                    continue
                last = len(self._keys) - 1
                if pos != last:  # move the last row into the hole: O(1), positions are not an order
                    moved = self._keys[last]
                    self._keys[pos], self._rows[pos] = moved, self._rows[last]
                    self._vectors[pos], self._norms[pos] = self._vectors[last], self._norms[last]
                    if self._shadow is not None:
                        self._shadow.move(last, pos)
                    self._pos[moved] = pos
                self._keys.pop()
                self._rows.pop()
                self._pending.pop(key, None)
                deleted += 1
            self._cache.clear()
            if self.path is not None and self.autosave and deleted:
                self.save()
        return deleted

    def clear(self) -> None:
        """Delete every row."""
        with self.lock:
            self.delete(list(self._keys))

    # --- reads ----------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._keys)

    @property
    def columns(self) -> list[str]:
        """The scalar columns (the schema's, or every column written so far), the vector column excluded."""
        if self.schema:
            return [c for c in self.schema if c != self.vector_column]
        cached: list[str] | None = self._cache.get("columns")
        if cached is None:  # schemaless: the union of the rows' keys, recomputed only after a write
            seen: dict[str, None] = {self.primary_key: None}
            for row in self._rows:
                seen.update(dict.fromkeys(row))
            cached = self._cache["columns"] = list(seen)
        return cached

    def get(self, key: Any, *, with_vector: bool = False) -> Row | None:
        """The row with this primary key (and its vector when asked), or `None`."""
        with self.lock:
            pos = self._pos.get(self._key_of(key))
            if pos is None:
                return None
            row = dict(self._rows[pos])
            if with_vector:
                row[self.vector_column] = self._vectors[pos].tolist()
            return row

    def scan(self, *, after: Any = None, limit: int = 10, with_vector: bool = True) -> list[Row]:
        """Rows in primary-key order, starting after key `after` (all columns, the vector included)."""
        with self.lock:
            self._tick()
            keys = sorted((k for k in self._keys if k not in self._pending), key=sort_key)
            if after is not None:
                after_key = sort_key(self._key_of(after))
                keys = [k for k in keys if sort_key(k) > after_key]
            out = []
            for key in keys[:limit]:
                row = self.get(key, with_vector=with_vector)
                if row is not None:
                    out.append(row)
            return out

    def query(
        self,
        *,
        vector: Sequence[float] | None = None,
        text: str | None = None,
        k: int = 10,
        filters: Any = None,
        query_type: str = "ANN",
        score_threshold: float | None = None,
        query_columns: Sequence[str] | None = None,
        sort_columns: Sequence[str] | None = None,
    ) -> list[Hit]:
        """The `k` best rows for a vector (ANN), text (FULL_TEXT) or both (HYBRID), after filters.

        `HYBRID` fuses the vector ranking and the BM25 ranking by reciprocal-rank fusion; `sort_columns`
        (`"seq DESC"`) orders the filtered rows by column values instead of relevance.

        Raises:
            LocalApiError: 400 for a bad query (missing vector or text, wrong dimension, bad filter).
        """
        query_type = query_type.upper()
        if query_type not in ("ANN", "HYBRID", "FULL_TEXT"):
            raise LocalApiError(400, f"query_type must be ANN, HYBRID or FULL_TEXT, not {query_type!r}")
        if k < 1:
            raise LocalApiError(400, f"num_results must be at least 1, not {k}")
        if query_type != "ANN":
            k = min(k, HYBRID_MAX_RESULTS)
        with self.lock:
            self._tick()
            q = self._query_vector(vector, text, query_type)
            n = len(self._keys)
            clauses = compile_filters(filters, self.columns) if filters else []
            mask = evaluate(clauses, n, self._column) if clauses else np.ones(n, dtype=bool)
            for key in self._pending:
                mask[self._pos[key]] = False
            if query_type == "ANN" and not sort_columns and q is not None:
                scores, mask = self._nearest(q, mask, k)
            else:
                scores = self._rank(q, text, query_type, mask, query_columns)
            if score_threshold is not None:
                mask &= scores >= score_threshold
            chosen = self._order(scores, mask, k, sort_columns)
            return [(dict(self._rows[i]), float(scores[i])) for i in chosen]

    # --- internals ------------------------------------------------------------------------------

    def _rank(
        self,
        q: npt.NDArray[np.float32] | None,
        text: str | None,
        query_type: str,
        mask: npt.NDArray[np.bool_],
        query_columns: Sequence[str] | None,
    ) -> npt.NDArray[np.float64]:
        n = len(self._keys)
        if query_type == "ANN":
            return self._similarity(q) if q is not None else np.zeros(n)
        keyword = self._bm25(query_columns).scores(text or "")
        mask &= keyword > 0 if query_type == "FULL_TEXT" else (keyword > 0) | (q is not None)
        if query_type == "FULL_TEXT":
            return keyword
        # rrf reads only the best 400 vector ranks: `_nearest` keeps every allowed row that can reach them (ties
        # included), so a stable sort of those is the full scan's first 400, in the same order
        vec, ranked = self._nearest(q, mask, HYBRID_MAX_RESULTS * 2) if q is not None else (np.zeros(n), mask)
        by_vector = np.flatnonzero(ranked)
        by_vector = by_vector[np.argsort(-vec[by_vector], kind="stable")][: HYBRID_MAX_RESULTS * 2]
        candidates = np.flatnonzero(mask)
        with_words = candidates[keyword[candidates] > 0]
        by_words = with_words[np.argsort(-keyword[with_words], kind="stable")][: HYBRID_MAX_RESULTS * 2]
        return rrf([by_vector.tolist(), by_words.tolist()], n)

    def _similarity(self, q: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        n = len(self._keys)
        if n == 0:
            return np.zeros(0)
        dots = _scan.dot_products(self._vectors[:n], q)
        return _scan.similarity(self.metric, dots, self._norms[:n], float(np.linalg.norm(q))).astype(np.float64)

    def _nearest(
        self, q: npt.NDArray[np.float32], mask: npt.NDArray[np.bool_], k: int
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
        """Top-`k` vector query: exact scores (and a narrowed mask) for the rows that can make the top `k`."""
        shadow = self._fast_shadow()
        found = shadow.narrow(self._vectors, self._norms, q, len(self._keys), mask, k, self.metric) if shadow else None
        return found or (self._similarity(q), mask)

    def _fast_shadow(self) -> _scan.Int8Shadow | None:
        """The int8 copy, brought up to date, when the store is big enough for it to pay (and simsimd is there)."""
        if self._shadow is None or not _scan.AVAILABLE or len(self._keys) < _scan.MIN_ROWS:
            return None
        self._shadow.refresh(self._vectors, len(self._keys))  # batches: writes only marked their rows
        return self._shadow

    def _order(
        self, scores: npt.NDArray[np.float64], mask: npt.NDArray[np.bool_], k: int, sort_columns: Sequence[str] | None
    ) -> list[int]:
        candidates = np.flatnonzero(mask)
        if sort_columns:
            rows: list[int] = [int(i) for i in candidates]
            for clause in reversed(list(sort_columns)):  # stable sorts, last key first
                column, _, direction = clause.strip().partition(" ")
                if column not in self.columns:
                    raise LocalApiError(400, f"Sort column {column!r} does not exist in the index")
                reverse = direction.strip().upper() == "DESC"
                present = [i for i in rows if self._rows[i].get(column) is not None]
                missing = [i for i in rows if self._rows[i].get(column) is None]
                rows = sorted(present, key=lambda i: self._rows[i][column], reverse=reverse) + missing
            return rows[:k]
        if len(candidates) > k:
            top = np.argpartition(-scores[candidates], k - 1)[:k]
            candidates = candidates[top]
        return [int(i) for i in candidates[np.argsort(-scores[candidates], kind="stable")]]

    def _query_vector(
        self, vector: Sequence[float] | None, text: str | None, query_type: str
    ) -> npt.NDArray[np.float32] | None:
        if vector is None and text and query_type != "FULL_TEXT" and self.embed is not None:
            vector = self.embed([text])[0]
        if query_type == "FULL_TEXT":
            if not text:
                raise LocalApiError(400, "A FULL_TEXT query needs query_text")
            return None
        if vector is None:
            raise LocalApiError(
                400, "query_vector is required: this index has self-managed embeddings (or send query_text)"
            )
        if query_type == "HYBRID" and not text:
            raise LocalApiError(400, "A HYBRID query needs query_text as well as a vector")
        q = np.asarray(vector, dtype=np.float32)
        if self.dimension is not None and q.shape != (self.dimension,):
            raise LocalApiError(
                400, f"query_vector has dimension {q.shape[0] if q.ndim else 0}, the index expects {self.dimension}"
            )
        return q

    def _column(self, name: str) -> npt.NDArray[Any]:
        key = "col:" + name
        arr: npt.NDArray[Any] | None = self._cache.get(key)
        if arr is None:
            arr = np.empty(len(self._rows), dtype=object)
            arr[:] = [row.get(name) for row in self._rows]
            self._cache[key] = arr
        return arr

    def _bm25(self, query_columns: Sequence[str] | None) -> Bm25:
        columns = tuple(query_columns) if query_columns else tuple(self._text_columns())
        key = "bm25:" + "|".join(columns)
        bm: Bm25 | None = self._cache.get(key)
        if bm is None:
            docs = [" ".join(str(row[c]) for c in columns if isinstance(row.get(c), str)) for row in self._rows]
            bm = self._cache[key] = Bm25(docs)
        return bm

    def _text_columns(self) -> list[str]:
        if self.schema:
            return [c for c, t in self.schema.items() if t == "string" and c != self.primary_key]
        return [c for c in self.columns if c != self.primary_key]

    def _tick(self) -> None:
        if self._pending:
            for key in list(self._pending):
                self._pending[key] -= 1
                if self._pending[key] < 0:
                    del self._pending[key]

    def _embed_missing(self, rows: list[Mapping[str, Any]]) -> None:
        if self.embed is None or self.source_column is None:
            return
        todo = [i for i, r in enumerate(rows) if r.get(self.vector_column) is None and r.get(self.source_column)]
        if todo:
            vectors = self.embed([str(rows[i][self.source_column]) for i in todo])
            for i, v in zip(todo, vectors, strict=True):
                rows[i] = {**rows[i], self.vector_column: v}

    def _check(self, raw: Mapping[str, Any]) -> tuple[Row, npt.NDArray[np.float32]]:
        if raw.get(self.primary_key) is None:
            raise ValueError("missing primary key")
        vector = raw.get(self.vector_column)
        if vector is None:
            raise ValueError("missing vector")
        vec = np.asarray(vector, dtype=np.float32)
        if vec.ndim != 1 or (self.dimension is not None and vec.shape[0] != self.dimension) or not len(vec):
            raise ValueError("wrong dimension")
        if not np.isfinite(vec).all():  # NaN/inf (or past float32's range) has no distance: refuse the row
            raise ValueError("non-finite value")
        if self.dimension is None:
            self.dimension = int(vec.shape[0])
            self._vectors = np.zeros((0, self.dimension), dtype=np.float32)
        row: Row = {}
        for name, value in raw.items():
            if name == self.vector_column:
                continue
            if self.schema and name not in self.schema:
                raise ValueError(f"unknown column {name}")
            row[name] = coerce(self.schema.get(name), value)
        return row, vec

    def _append(self, key: Any, row: Row, vector: Any) -> None:
        vec = np.asarray(vector, dtype=np.float32)
        if self.dimension is None:
            self.dimension = int(vec.shape[0])
            self._vectors = np.zeros((0, self.dimension), dtype=np.float32)
        pos = self._pos.get(key)
        if pos is None:
            pos = len(self._keys)
            if pos >= self._vectors.shape[0]:
                self._grow(max(16, pos * 2))
            self._keys.append(key)
            self._rows.append(row)
            self._pos[key] = pos
        else:
            self._rows[pos] = row
        self._vectors[pos] = vec
        self._norms[pos] = float(np.linalg.norm(vec))
        if self._shadow is not None:
            self._shadow.mark(pos)

    def _grow(self, capacity: int) -> None:
        vectors = np.zeros((capacity, self.dimension or 0), dtype=np.float32)
        vectors[: len(self._keys)] = self._vectors[: len(self._keys)]
        norms = np.zeros(capacity, dtype=np.float32)
        norms[: len(self._keys)] = self._norms[: len(self._keys)]
        self._vectors, self._norms = vectors, norms
        if self._shadow is None:
            self._shadow = _scan.Int8Shadow(self.dimension or 0)
        self._shadow.grow(capacity, len(self._keys))

    def _key_of(self, key: Any) -> Any:
        if key in self._pos or not isinstance(key, str):
            return key
        # Keys arrive as strings on the wire (delete-data, scan cursors) even for integer primary keys.
        if self.schema.get(self.primary_key, "string") in INT_TYPES and key.lstrip("-").isdigit():
            return int(key)
        return key

    def __repr__(self) -> str:
        where = str(self.path) if self.path else "memory"
        return f"LocalVectorStore({where!r}, rows={len(self)}, dimension={self.dimension}, metric={self.metric!r})"


_SAVED = ("dimension", "primary_key", "vector_column", "schema", "metric", "source_column")
