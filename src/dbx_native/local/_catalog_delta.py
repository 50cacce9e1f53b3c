"""Persisted local tables as real Delta tables: `<root>/<catalog>/<schema>/<table>` (with the `delta` extra).

DuckDB stays the engine that answers queries; after every change a table is written again with
`deltalake.write_deltalake`, so Spark, delta-rs, Polars or DuckDB's `delta` extension read the same rows.
At start, a Delta table whose version is not the one we last wrote (Spark changed it, or it was copied in)
is loaded into DuckDB, so the files on disk win over our copy.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

__all__ = ["DeltaMirror", "delta_available"]

_log = logging.getLogger("dbx_native.local.catalog")


def delta_available() -> bool:
    """Whether `deltalake` and `pyarrow` can be imported."""
    try:
        import deltalake  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


class DeltaMirror:
    """Writes, reads and deletes the Delta copies of the tables under one root."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, catalog: str, schema: str, table: str) -> Path:
        """Where the Delta table of a UC table lives."""
        return self.root / catalog / schema / table

    def write(self, catalog: str, schema: str, table: str, arrow_table: Any) -> int:
        """Overwrite the Delta table with `arrow_table` (schema included); return the new Delta version."""
        from deltalake import DeltaTable, write_deltalake

        path = self.path(catalog, schema, table)
        path.mkdir(parents=True, exist_ok=True)
        write_deltalake(str(path), arrow_table, mode="overwrite", schema_mode="overwrite")
        return int(DeltaTable(str(path)).version())

    def append(self, catalog: str, schema: str, table: str, arrow_table: Any) -> int:
        """Append rows to the Delta table; return the new Delta version."""
        from deltalake import DeltaTable, write_deltalake

        path = self.path(catalog, schema, table)
        write_deltalake(str(path), arrow_table, mode="append")
        return int(DeltaTable(str(path)).version())

    def delete(self, catalog: str, schema: str, table: str) -> None:
        """Delete the Delta table's directory (a managed table's data goes with it, as on Databricks)."""
        path = self.path(catalog, schema, table)
        if path.is_dir() and path.resolve().is_relative_to(self.root.resolve()):
            shutil.rmtree(path)

    def found(self) -> list[tuple[str, str, str]]:
        """(catalog, schema, table) of every Delta table under the root."""
        found: list[tuple[str, str, str]] = []
        for log_dir in sorted(self.root.glob("*/*/*/_delta_log")):
            table_dir = log_dir.parent
            parts = table_dir.relative_to(self.root).parts
            if not parts[0].startswith("."):
                found.append((parts[0], parts[1], parts[2]))
        return found

    def version(self, catalog: str, schema: str, table: str) -> int:
        """The current version of a Delta table."""
        from deltalake import DeltaTable

        return int(DeltaTable(str(self.path(catalog, schema, table))).version())

    def read(self, catalog: str, schema: str, table: str) -> Any:
        """The Delta table as a `pyarrow.Table`."""
        from deltalake import DeltaTable

        _log.info("loading Delta table %s.%s.%s from disk", catalog, schema, table)
        return DeltaTable(str(self.path(catalog, schema, table))).to_pyarrow_table()
