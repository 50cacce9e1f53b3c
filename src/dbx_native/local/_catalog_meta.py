"""What the local Unity Catalog keeps beside the data: ids, timestamps, comments, primary keys, Delta versions.

DuckDB says which catalogs, schemas and tables exist; this store adds what Unity Catalog reports about them.
With a root it is the JSON file `<root>/.dbx_native/catalog.json`, rewritten atomically on each change.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

__all__ = ["MetaStore", "now_ms"]

_KINDS = ("catalogs", "schemas", "tables")


def now_ms() -> int:
    """Milliseconds since the epoch, as UC timestamps are."""
    return int(time.time() * 1000)


class MetaStore:
    """Metadata entries per kind (`catalogs`, `schemas`, `tables`) and full name."""

    def __init__(self, root: Path | None) -> None:
        self.path = root / ".dbx_native" / "catalog.json" if root is not None else None
        self.metastore_id = str(uuid.uuid4())
        self.data: dict[str, dict[str, dict[str, Any]]] = {kind: {} for kind in _KINDS}
        if self.path is not None and self.path.is_file():
            loaded = json.loads(self.path.read_text(encoding="utf-8"))
            self.metastore_id = loaded.get("metastore_id", self.metastore_id)
            for kind in _KINDS:
                self.data[kind].update(loaded.get(kind, {}))

    def entry(self, kind: str, name: str, *, comment: str | None = None) -> dict[str, Any]:
        """The entry of one object, made (with a new UUID and timestamps) on first use."""
        entries = self.data[kind]
        if name not in entries:
            now = now_ms()
            entries[name] = {"id": str(uuid.uuid4()), "created_at": now, "updated_at": now, "comment": comment}
        elif comment is not None:
            entries[name]["comment"] = comment
        return entries[name]

    def clear(self) -> None:
        """Forget every entry."""
        self.data = {kind: {} for kind in _KINDS}

    def save(self) -> None:
        """Write the file (no-op in memory)."""
        if self.path is None:
            return
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"metastore_id": self.metastore_id, **self.data}, indent=1), encoding="utf-8")
        tmp.replace(self.path)  # atomic: a crash never leaves half a file
