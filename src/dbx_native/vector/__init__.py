"""`VectorMemory`: agent conversation memory on Databricks AI Search, with a `Filter` builder.

`LocalVectorStore` (an embedded exact-search index persisted to disk, from `dbx_native.local`) is
re-exported here lazily: it needs numpy (the `local` extra), the client does not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dbx_native.vector._filters import Filter
from dbx_native.vector._memory import VectorMemory
from dbx_native.vector._models import IndexInfo, MemoryHit, MemoryRecord

if TYPE_CHECKING:
    from dbx_native.local._vector_store import LocalVectorStore

__all__ = ["Filter", "IndexInfo", "LocalVectorStore", "MemoryHit", "MemoryRecord", "VectorMemory"]


def __getattr__(name: str) -> Any:
    if name == "LocalVectorStore":
        from dbx_native.local._vector_store import LocalVectorStore

        return LocalVectorStore
    raise AttributeError(f"module 'dbx_native.vector' has no attribute {name!r}")
