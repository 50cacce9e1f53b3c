"""The embedded DuckDB engine behind the local Unity Catalog: one connection, one lock, one database per catalog.

Each UC catalog `c` is a DuckDB database attached as `uc__c` (DuckDB reserves `main`, `system` and `temp`),
UC schemas are DuckDB schemas and UC tables DuckDB tables. In memory the databases are `:memory:`; with a
root, each catalog is the file `<root>/.dbx_native/duckdb/<c>.duckdb`.

The local workspace serves requests from many threads. A DuckDB connection must not be used from two
threads at once, and each statement sets the session's default catalog and schema (`USE`) first, so every
use of the connection holds `lock` (a re-entrant lock: catalog methods call each other).
"""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path
from typing import Any

from dbx_native.errors import InvalidRequestError
from dbx_native.local._catalog_types import ColumnType, from_duckdb_type
from dbx_native.local._sql_translate import DB_PREFIX, SqlError, db_name

__all__ = ["Engine"]

_log = logging.getLogger("dbx_native.local.catalog")

# (exception class name, message fragment) -> (Databricks error class, SQLSTATE); first match wins.
_ERROR_CLASSES: list[tuple[str, str, str, str]] = [
    ("ParserException", "", "PARSE_SYNTAX_ERROR", "42601"),
    ("CatalogException", "Table with name", "TABLE_OR_VIEW_NOT_FOUND", "42P01"),
    ("CatalogException", "Schema with name", "SCHEMA_NOT_FOUND", "42704"),
    ("CatalogException", "Catalog with name", "CATALOG_NOT_FOUND", "42704"),
    ("CatalogException", "already exists", "TABLE_OR_VIEW_ALREADY_EXISTS", "42P07"),
    ("CatalogException", "does not exist", "UNRESOLVED_ROUTINE", "42883"),
    ("BinderException", "Referenced column", "UNRESOLVED_COLUMN.WITH_SUGGESTION", "42703"),
    ("BinderException", "", "DATATYPE_MISMATCH", "42K09"),
    ("ConversionException", "", "CAST_INVALID_INPUT", "22018"),
    ("ConstraintException", "NOT NULL", "DELTA_NOT_NULL_CONSTRAINT_VIOLATED", "23502"),
    ("ConstraintException", "", "DELTA_VIOLATE_CONSTRAINT", "23001"),
    ("OutOfRangeException", "", "ARITHMETIC_OVERFLOW", "22003"),
    ("InvalidInputException", "Division by zero", "DIVIDE_BY_ZERO", "22012"),
    ("InvalidInputException", "", "INVALID_PARAMETER_VALUE", "22023"),
    ("NotImplementedException", "", "UNSUPPORTED_FEATURE", "0A000"),
    ("InterruptException", "", "OPERATION_CANCELED", "HY008"),
]


def sql_error_from(err: Exception) -> SqlError:
    """A Databricks-shaped `SqlError` for a DuckDB error (the `uc__` database prefix removed from the message)."""
    name = type(err).__name__
    message = str(err).replace(f'"{DB_PREFIX}', '"').replace(DB_PREFIX, "")
    # Keep DuckDB's first line: its caret display and "Did you mean" hints refer to the translated SQL.
    message = message.strip().split("\n")[0].strip()
    message = re.sub(r"^[A-Za-z ]+ Error: ", "", message)
    for cls, fragment, error_class, sql_state in _ERROR_CLASSES:
        if name == cls and fragment in message:
            return SqlError(error_class, message, sql_state=sql_state)
    return SqlError("INTERNAL_ERROR", message, sql_state="XX000")


class Engine:
    """The DuckDB connection and the databases of the local catalogs."""

    def __init__(self, root: Path | None) -> None:
        import duckdb  # lazy: the `local` extra

        self.root = root
        self.lock = threading.RLock()
        self._duckdb = duckdb
        self._con = duckdb.connect(":memory:")
        # Databricks TIMESTAMP values are instants shown in the session time zone; ours is UTC everywhere.
        self._con.execute("SET TimeZone = 'UTC'")
        if root is not None:
            (root / ".dbx_native" / "duckdb").mkdir(parents=True, exist_ok=True)
            for path in sorted((root / ".dbx_native" / "duckdb").glob("*.duckdb")):
                self.attach(path.stem)

    # ------------------------------------------------------------------------------------------ databases

    def attach(self, catalog: str) -> None:
        """Attach (creating when missing) the database of `catalog`."""
        target = ":memory:" if self.root is None else str(self.root / ".dbx_native" / "duckdb" / f"{catalog}.duckdb")
        with self.lock:
            try:
                self._con.execute(f"ATTACH {_sql_string(target)} AS {_q(db_name(catalog))}")
            except self._duckdb.Error as err:
                raise InvalidRequestError(
                    f"Cannot open the local catalog {catalog!r} at {target}: {err}. Another LocalCatalog on the "
                    "same root may hold it: close() that one first."
                ) from err
            _log.debug("attached local catalog %s (%s)", catalog, target)

    def detach(self, catalog: str) -> None:
        """Detach the database of `catalog` and delete its file, if any."""
        with self.lock:
            self._con.execute(f"DETACH {_q(db_name(catalog))}")
        if self.root is not None:
            for suffix in (".duckdb", ".duckdb.wal"):
                (self.root / ".dbx_native" / "duckdb" / f"{catalog}{suffix}").unlink(missing_ok=True)

    def catalogs(self) -> list[str]:
        """Names of the attached catalogs, sorted."""
        rows = self.query("SELECT database_name FROM duckdb_databases()")
        return sorted(str(r[0])[len(DB_PREFIX) :] for r in rows if str(r[0]).startswith(DB_PREFIX))

    def schemas(self, catalog: str) -> list[str]:
        """Names of the schemas of `catalog`, sorted (DuckDB's own `main` schema is hidden unless it holds tables)."""
        rows = self.query(
            "SELECT s.schema_name, (SELECT count(*) FROM duckdb_tables() t WHERE t.database_name = s.database_name "
            "AND t.schema_name = s.schema_name) FROM duckdb_schemas() s WHERE s.database_name = $db AND NOT s.internal",
            {"db": db_name(catalog)},
        )
        return sorted(str(name) for name, count in rows if name != "main" or count)

    def tables(self, catalog: str | None = None) -> list[tuple[str, str, str]]:
        """(catalog, schema, table) of every table, optionally of one catalog, sorted."""
        rows = self.query("SELECT database_name, schema_name, table_name FROM duckdb_tables()")
        found = [(str(d)[len(DB_PREFIX) :], str(s), str(t)) for d, s, t in rows if str(d).startswith(DB_PREFIX)]
        return sorted(f for f in found if catalog is None or f[0] == catalog)

    def columns(self, catalog: str, schema: str, table: str) -> list[tuple[str, ColumnType, bool]]:
        """(name, type, nullable) of each column of a table, in order."""
        with self.lock:
            cur = self._con.execute(f"SELECT * FROM {qualified(catalog, schema, table)} LIMIT 0")
            described = [(str(d[0]), from_duckdb_type(d[1])) for d in cur.description or []]
            nullable = dict(
                self._con.execute(
                    "SELECT column_name, is_nullable FROM duckdb_columns() WHERE database_name = $db "
                    "AND schema_name = $s AND table_name = $t",
                    {"db": db_name(catalog), "s": schema, "t": table},
                ).fetchall()
            )
        return [(name, ctype, bool(nullable.get(name, True))) for name, ctype in described]

    # ------------------------------------------------------------------------------------------ statements

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Run trusted internal SQL and return its rows."""
        with self.lock:
            return self._con.execute(sql, params or {}).fetchall()

    def run(
        self, sql: str, params: dict[str, Any] | None = None, *, use: tuple[str, str] | None = None
    ) -> tuple[list[tuple[str, Any]], list[tuple[Any, ...]]]:
        """Run one translated statement; return its (name, DuckDB type) columns and rows.

        Raises:
            SqlError: DuckDB refused or failed the statement.
        """
        with self.lock:
            try:
                if use is not None:
                    self._con.execute(f"USE {_q(db_name(use[0]))}.{_q(use[1])}")
                else:
                    self._con.execute("USE memory.main")
                cur = self._con.execute(sql, params or {})
                description = [(str(d[0]), d[1]) for d in cur.description or []]
                rows = cur.fetchall() if description else []
            except self._duckdb.Error as err:
                raise sql_error_from(err) from err
        return description, rows

    def arrow(self, catalog: str, schema: str, table: str) -> Any:
        """The table as a `pyarrow.Table` (needs pyarrow)."""
        with self.lock:
            return self._con.sql(f"SELECT * FROM {qualified(catalog, schema, table)}").to_arrow_table()

    def load_arrow(self, full: str, arrow_table: Any, *, replace: bool) -> None:
        """Create (or replace) a table from a `pyarrow.Table`, or append it to an existing one."""
        with self.lock:
            self._con.register("_dbx_native_arrow_input", arrow_table)
            try:
                if replace:
                    self._con.execute(f"CREATE OR REPLACE TABLE {full} AS SELECT * FROM _dbx_native_arrow_input")
                else:
                    self._con.execute(f"INSERT INTO {full} BY NAME SELECT * FROM _dbx_native_arrow_input")
            finally:
                self._con.unregister("_dbx_native_arrow_input")

    def close(self) -> None:
        """Close the connection (files are flushed)."""
        with self.lock:
            self._con.close()


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def qualified(catalog: str, schema: str, table: str) -> str:
    """The quoted DuckDB name of a UC table."""
    return f"{_q(db_name(catalog))}.{_q(schema)}.{_q(table)}"


def schema_ident(catalog: str, schema: str) -> str:
    """The quoted DuckDB name of a UC schema."""
    return f"{_q(db_name(catalog))}.{_q(schema)}"
