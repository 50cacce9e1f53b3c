"""Unity Catalog of the local workspace: catalogs, schemas and tables in an embedded DuckDB database.

```python
catalog = LocalCatalog()                                   # in memory; LocalCatalog(root="./.dbx") persists
catalog.create_table("main.fraud.merchants", [{"merchant_id": "m_1", "risk": 0.2}], primary_key="merchant_id")
catalog.read_table("main.fraud.merchants")                 # [{'merchant_id': 'm_1', 'risk': 0.2}]
catalog.execute("SELECT risk FROM main.fraud.merchants WHERE merchant_id = :id", {"id": "m_1"})
```

With `root`, each catalog is a DuckDB file under `<root>/.dbx_native/duckdb/` and, when `deltalake` is
installed (the `delta` extra), every table is also a real Delta table at `<root>/<catalog>/<schema>/<table>`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from dbx_native.errors import ConflictError, InvalidRequestError, NotFoundError
from dbx_native.local._catalog_delta import DeltaMirror, delta_available
from dbx_native.local._catalog_engine import Engine, qualified, schema_ident
from dbx_native.local._catalog_meta import MetaStore, now_ms
from dbx_native.local._catalog_names import parse_name
from dbx_native.local._catalog_rows import (
    clean_error,
    column_types,
    duck_type_of,
    is_arrow,
    normalize_row,
    quote,
    resolve_target,
    row_keys,
)
from dbx_native.local._catalog_types import ColumnType, from_duckdb_type, parse_type_text
from dbx_native.local._router import Route
from dbx_native.local._sql_translate import SqlError, translate

__all__ = ["LOCAL_OWNER", "LocalCatalog"]

_log = logging.getLogger("dbx_native.local.catalog")

LOCAL_OWNER = "local-user"
"""The owner and creator shown on every local catalog, schema and table."""

_DML_RESULTS = {
    "INSERT": ["num_affected_rows", "num_inserted_rows"],
    "UPDATE": ["num_affected_rows"],
    "DELETE": ["num_affected_rows"],
    "MERGE": ["num_affected_rows"],
}
_NO_RESULT = frozenset({"CREATE", "DROP", "ALTER", "TRUNCATE", "USE", "COMMENT", "SET"})


class LocalCatalog:
    """The local Unity Catalog: a `Backend` of the local workspace, and a Python API to make and read tables.

    Args:
        root: Directory to persist to; `None` keeps everything in memory.

    Example:
        >>> cat = LocalCatalog()
        >>> _ = cat.create_table("main.demo.users", [{"id": 1, "name": "ada"}])
        >>> cat.read_table("main.demo.users")
        [{'id': 1, 'name': 'ada'}]
    """

    def __init__(self, *, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root).resolve() if root is not None else None
        self._engine = Engine(self.root)
        self.lock = self._engine.lock
        self._delta = DeltaMirror(self.root) if self.root is not None and delta_available() else None
        self._meta = MetaStore(self.root)
        self._catalog_names = set(self._engine.catalogs())
        if self._delta is not None:
            self._load_delta_tables()

    # ------------------------------------------------------------------------------------------ catalogs, schemas

    def create_catalog(self, name: str, *, comment: str | None = None, exist_ok: bool = False) -> dict[str, Any]:
        """Create a catalog (with its `default` schema, as Databricks does); return its `CatalogInfo` JSON.

        Raises:
            InvalidRequestError: A bad name.
            ConflictError: It exists and `exist_ok` is false (409 `CATALOG_ALREADY_EXISTS`).
        """
        (catalog,) = parse_name(name, 1)
        with self.lock:
            if catalog in self._catalog_names:
                if not exist_ok:
                    raise ConflictError(
                        f"Catalog '{catalog}' already exists.", status_code=409, error_code="CATALOG_ALREADY_EXISTS"
                    )
            else:
                self._engine.attach(catalog)
                self._catalog_names.add(catalog)
                self._engine.query(f"CREATE SCHEMA IF NOT EXISTS {schema_ident(catalog, 'default')}")
                self._meta.entry("catalogs", catalog, comment=comment)
                self._meta.save()
        return self.catalog_info(catalog)

    def create_schema(self, full_name: str, *, comment: str | None = None, exist_ok: bool = False) -> dict[str, Any]:
        """Create a schema `catalog.schema` (the catalog too, when missing); return its `SchemaInfo` JSON.

        Raises:
            InvalidRequestError: A bad name.
            ConflictError: It exists and `exist_ok` is false (409 `SCHEMA_ALREADY_EXISTS`).
        """
        catalog, schema = parse_name(full_name, 2)
        with self.lock:
            self.create_catalog(catalog, exist_ok=True)
            if schema in self._engine.schemas(catalog) and not exist_ok:
                raise ConflictError(
                    f"Schema '{catalog}.{schema}' already exists.", status_code=409, error_code="SCHEMA_ALREADY_EXISTS"
                )
            self._engine.query(f"CREATE SCHEMA IF NOT EXISTS {schema_ident(catalog, schema)}")
            self._meta.entry("schemas", f"{catalog}.{schema}", comment=comment)
            self._meta.save()
        return self.schema_info(f"{catalog}.{schema}")

    def catalog_names(self) -> list[str]:
        """Names of the catalogs, sorted."""
        with self.lock:
            return sorted(self._catalog_names)

    def schema_names(self, catalog: str) -> list[str]:
        """Names of the schemas of `catalog`, sorted (`[]` when the catalog does not exist)."""
        (catalog,) = parse_name(catalog, 1)
        with self.lock:
            if catalog not in self._catalog_names:
                return []
            explicit = {k.split(".", 1)[1] for k in self._meta.data["schemas"] if k.split(".", 1)[0] == catalog}
            return sorted(set(self._engine.schemas(catalog)) | (explicit & {"main"}))

    # ------------------------------------------------------------------------------------------ tables

    def create_table(
        self,
        full_name: str,
        rows: Sequence[Mapping[str, Any]] | Any,
        *,
        schema: Mapping[str, str] | None = None,
        primary_key: str | Sequence[str] | None = None,
        mode: Literal["error", "overwrite", "append"] = "error",
        comment: str | None = None,
    ) -> dict[str, Any]:
        """Create a managed table from rows; the catalog and schema are created when missing.

        Args:
            full_name: `catalog.schema.table`.
            rows: A list of dicts (one per row), or a `pyarrow.Table`.
            schema: Databricks type text per column (`{"id": "bigint", "amount": "decimal(10,2)"}`): needed for an
                empty `rows` and for all-null columns, optional otherwise (it overrides inference per column).
            primary_key: Column(s) of the primary key: informational, as on Databricks, but the columns are NOT NULL.
            mode: `"error"` when the table exists (default), `"overwrite"` to replace it (its `table_id` is kept),
                `"append"` to add the rows.
            comment: The table comment.

        Returns:
            The table's `TableInfo` JSON, as `GET /api/2.1/unity-catalog/tables/{full_name}` returns it.

        Raises:
            InvalidRequestError: A bad name, mode, schema, row or value, or mixed types in a column.
            ConflictError: The table exists and mode is `"error"` (409 `TABLE_ALREADY_EXISTS`).
        """
        catalog, schema_name, table = parse_name(full_name, 3)
        if mode not in ("error", "overwrite", "append"):
            raise InvalidRequestError(f"Unknown mode {mode!r}: use 'error', 'overwrite' or 'append'.")
        key = [primary_key] if isinstance(primary_key, str) else list(primary_key or [])
        name = f"{catalog}.{schema_name}.{table}"
        with self.lock:
            exists = self._exists(catalog, schema_name, table)
            if exists and mode == "error":
                raise ConflictError(
                    f"Table '{name}' already exists: pass mode='overwrite' or mode='append'.",
                    status_code=409,
                    error_code="TABLE_ALREADY_EXISTS",
                )
            if exists and mode == "append":
                self.insert_rows(name, rows)
                return self.table_info(name)
            self.create_schema(f"{catalog}.{schema_name}", exist_ok=True)
            if is_arrow(rows):
                self._create_from_arrow(catalog, schema_name, table, rows, key)
            else:
                self._create_from_rows(catalog, schema_name, table, list(rows), schema, key)
            entry = self._meta.entry("tables", name, comment=comment)
            entry["primary_key"] = key
            entry["updated_at"] = now_ms()
            self._mirror(catalog, schema_name, table)
            self._meta.save()
            _log.debug("created local table %s (mode=%s)", name, mode)
        return self.table_info(name)

    def insert_rows(self, full_name: str, rows: Sequence[Mapping[str, Any]] | Any) -> int:
        """Append rows (dicts, or a `pyarrow.Table`) to an existing table; return how many were added.

        Raises:
            InvalidRequestError: A bad name, an unknown column, or a value the column cannot hold.
            NotFoundError: The table does not exist (404 `TABLE_DOES_NOT_EXIST`).
        """
        catalog, schema_name, table = self._require_table(full_name)
        target = qualified(catalog, schema_name, table)
        with self.lock:
            if is_arrow(rows):
                self._engine.load_arrow(target, rows, replace=False)
                count = int(getattr(rows, "num_rows", 0))
            else:
                row_list = list(rows)
                columns = self._engine.columns(catalog, schema_name, table)
                types = {n: t for n, t, _ in columns}
                unknown = sorted({c for r in row_list for c in row_keys(r) if c not in types})
                if unknown:
                    raise InvalidRequestError(
                        f"Table '{full_name}' has no column(s) {unknown}: its columns are {list(types)}. "
                        "Create it again with mode='overwrite' to change its schema."
                    )
                self._insert(target, columns, row_list)
                count = len(row_list)
            self._touch(catalog, schema_name, table)
        return count

    def read_table(self, full_name: str) -> list[dict[str, Any]]:
        """All rows of a table, as dicts in column order (timestamps come back as UTC-aware datetimes).

        Raises:
            NotFoundError: The table does not exist (404 `TABLE_DOES_NOT_EXIST`).
        """
        catalog, schema_name, table = self._require_table(full_name)
        description, rows = self._engine.run(f"SELECT * FROM {qualified(catalog, schema_name, table)}")
        names = [n for n, _ in description]
        return [dict(zip(names, row, strict=True)) for row in rows]

    def drop_table(self, full_name: str) -> None:
        """Drop a table (its Delta files too, as for a managed table on Databricks).

        Raises:
            NotFoundError: The table does not exist (404 `TABLE_DOES_NOT_EXIST`).
        """
        catalog, schema_name, table = self._require_table(full_name)
        with self.lock:
            self._engine.run(f"DROP TABLE {qualified(catalog, schema_name, table)}")
            self._meta.data["tables"].pop(f"{catalog}.{schema_name}.{table}", None)
            if self._delta is not None:
                self._delta.delete(catalog, schema_name, table)
            self._meta.save()

    def table_names(self, catalog: str | None = None, schema: str | None = None) -> list[str]:
        """Full names of the tables, sorted; optionally of one catalog and schema."""
        with self.lock:
            found = self._engine.tables(catalog.lower() if catalog else None)
        return [f"{c}.{s}.{t}".lower() for c, s, t in found if schema is None or s.lower() == schema.lower()]

    def table_exists(self, full_name: str) -> bool:
        """Whether the table exists."""
        catalog, schema_name, table = parse_name(full_name, 3)
        return self._exists(catalog, schema_name, table)

    def table_by_id(self, table_id: str) -> str:
        """The full name of the table with this `table_id`.

        Raises:
            NotFoundError: No table has it (404 `TABLE_DOES_NOT_EXIST`).
        """
        with self.lock:
            for name in self.table_names():
                if self._meta.entry("tables", name)["id"] == table_id:
                    return name
        raise NotFoundError(
            f"Table with id '{table_id}' does not exist.", status_code=404, error_code="TABLE_DOES_NOT_EXIST"
        )

    def columns(self, full_name: str) -> list[tuple[str, ColumnType, bool]]:
        """(name, type, nullable) of each column of a table."""
        catalog, schema_name, table = self._require_table(full_name)
        return self._engine.columns(catalog, schema_name, table)

    # ------------------------------------------------------------------------------------------ SQL

    def execute(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        catalog: str | None = None,
        schema: str | None = None,
    ) -> tuple[list[dict[str, Any]], list[tuple[Any, ...]]]:
        """Run one Databricks SQL statement over the local tables (for other local backends and tests).

        Args:
            sql: The statement; `catalog.schema.table` names, backticks and `:name` markers as on Databricks.
            params: Values of the `:name` markers (Python values; their SQL type is inferred).
            catalog: Default catalog for names without one.
            schema: Default schema for names without one.

        Returns:
            The columns (`{"name", "type_text", "type_name", "position"}`) and the rows as tuples of Python values.

        Raises:
            SqlError: The statement failed (an `InvalidRequestError` carrying the Databricks error class).
        """
        columns, rows = self.run_statement(sql, params, catalog=catalog, schema=schema)
        info = [
            {"name": name, "type_text": ctype.type_text, "type_name": ctype.type_name, "position": i}
            for i, (name, ctype) in enumerate(columns)
        ]
        return info, rows

    def run_statement(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        catalog: str | None = None,
        schema: str | None = None,
        param_types: Mapping[str, str] | None = None,
    ) -> tuple[list[tuple[str, ColumnType]], list[tuple[Any, ...]]]:
        """Like `execute`, with typed columns; `param_types` gives the DuckDB type of each parameter."""
        values = dict(params or {})
        types = {name: duck_type_of(value) for name, value in values.items()}
        types.update(param_types or {})
        with self.lock:
            use = self._use(catalog, schema)
            translated = translate(sql, catalogs=self._catalog_names, parameter_types=types)
            bound = {name: values.get(name) for name in translated.parameters}
            description, rows = self._engine.run(translated.sql, bound, use=use)
            if not translated.is_query:
                self._after_write(translated.target, use)
        keyword = translated.keyword
        if keyword in _DML_RESULTS and [n for n, _ in description] == ["Count"]:
            names = _DML_RESULTS[keyword]
            count = rows[0][0] if rows else 0
            return [(n, ColumnType("bigint")) for n in names], [tuple(count for _ in names)]
        if keyword in _NO_RESULT:
            return [], []
        return [(name, from_duckdb_type(dtype)) for name, dtype in description], rows

    # ------------------------------------------------------------------------------------------ REST / Backend

    def routes(self) -> Iterable[Route]:
        """The Unity Catalog routes (`/api/2.1/unity-catalog/...`)."""
        from dbx_native.local._catalog_routes import catalog_routes

        return catalog_routes(self)

    def reset(self) -> None:
        """Drop every catalog, schema and table (their files under `root` too)."""
        with self.lock:
            for catalog, schema, table in self._engine.tables():
                if self._delta is not None:
                    self._delta.delete(catalog, schema, table)
            for catalog in sorted(self._catalog_names):
                self._engine.detach(catalog)
            self._catalog_names.clear()
            self._meta.clear()
            self._meta.save()

    @property
    def metastore_id(self) -> str:
        """The id of the local metastore (stable for a root)."""
        return self._meta.metastore_id

    def close(self) -> None:
        """Close the DuckDB connection (another `LocalCatalog` may then open the same root)."""
        self._engine.close()

    # ------------------------------------------------------------------------------------------ metadata

    def entry(self, kind: Literal["catalogs", "schemas", "tables"], name: str) -> dict[str, Any]:
        """The metadata (`id`, `created_at`, `updated_at`, `comment`, ...) kept for one object."""
        with self.lock:
            return dict(self._meta.entry(kind, name))

    def catalog_info(self, name: str) -> dict[str, Any]:
        """The `CatalogInfo` JSON of a catalog (see `_catalog_routes`)."""
        from dbx_native.local._catalog_routes import catalog_json

        return catalog_json(self, name)

    def schema_info(self, full_name: str) -> dict[str, Any]:
        """The `SchemaInfo` JSON of a schema."""
        from dbx_native.local._catalog_routes import schema_json

        return schema_json(self, full_name)

    def table_info(self, full_name: str) -> dict[str, Any]:
        """The `TableInfo` JSON of a table."""
        from dbx_native.local._catalog_routes import table_json

        return table_json(self, full_name)

    def storage_location(self, catalog: str, schema: str, table: str) -> str:
        """Where the table's data is: a `file://` URI of its Delta table, or `local://...` when it has none."""
        if self._delta is not None:
            return self._delta.path(catalog, schema, table).as_uri()
        return f"local://{catalog}/{schema}/{table}"

    # ------------------------------------------------------------------------------------------ internals

    def _exists(self, catalog: str, schema: str, table: str) -> bool:
        with self.lock:
            return catalog in self._catalog_names and (catalog, schema, table) in {
                (c, s.lower(), t.lower()) for c, s, t in self._engine.tables(catalog)
            }

    def _require_table(self, full_name: str) -> tuple[str, str, str]:
        catalog, schema, table = parse_name(full_name, 3)
        if not self._exists(catalog, schema, table):
            raise NotFoundError(
                f"Table '{catalog}.{schema}.{table}' does not exist: create it with create_table() first.",
                status_code=404,
                error_code="TABLE_DOES_NOT_EXIST",
            )
        return catalog, schema, table

    def _create_from_rows(
        self,
        catalog: str,
        schema: str,
        table: str,
        rows: list[Mapping[str, Any]],
        declared: Mapping[str, str] | None,
        key: list[str],
    ) -> None:
        types = column_types(rows, {k: parse_type_text(v) for k, v in (declared or {}).items()})
        missing = [k for k in key if k not in types]
        if missing:
            raise InvalidRequestError(f"Primary key column(s) {missing} are not columns of the rows: {list(types)}.")
        target = qualified(catalog, schema, table)
        ddl = ", ".join(f"{quote(n)} {t.duckdb}{' NOT NULL' if n in key else ''}" for n, t in types.items())
        columns = [(n, t, n not in key) for n, t in types.items()]
        self._engine.query("BEGIN TRANSACTION")
        try:
            self._engine.query(f"CREATE OR REPLACE TABLE {target} ({ddl})")
            self._insert(target, columns, rows)
        except BaseException:
            self._engine.query("ROLLBACK")
            raise
        self._engine.query("COMMIT")

    def _create_from_arrow(self, catalog: str, schema: str, table: str, data: Any, key: list[str]) -> None:
        target = qualified(catalog, schema, table)
        self._engine.load_arrow(target, data, replace=True)
        for column in key:
            self._engine.run(f"ALTER TABLE {target} ALTER COLUMN {quote(column)} SET NOT NULL")

    def _insert(self, target: str, columns: list[tuple[str, ColumnType, bool]], rows: list[Mapping[str, Any]]) -> None:
        if not rows:
            return
        # One statement binding every row as a list of structs: ~40x faster than executemany row by row.
        names = ", ".join(quote(n) for n, _, _ in columns)
        struct = "STRUCT(" + ", ".join(f"{quote(n)} {t.duckdb}" for n, t, _ in columns) + ")"
        prepared = [normalize_row(row, columns, i) for i, row in enumerate(rows)]
        select = ", ".join(f"r.{quote(n)}" for n, _, _ in columns)
        try:
            self._engine.query(
                f"INSERT INTO {target} ({names}) SELECT {select} FROM (SELECT unnest(CAST($rows AS {struct}[])) AS r)",
                {"rows": prepared},
            )
        except Exception as err:  # duckdb.Error, imported lazily
            raise InvalidRequestError(f"Cannot insert the rows: {clean_error(err)}") from err

    def _touch(self, catalog: str, schema: str, table: str) -> None:
        self._meta.entry("tables", f"{catalog}.{schema}.{table}")["updated_at"] = now_ms()
        self._mirror(catalog, schema, table)
        self._meta.save()

    def _mirror(self, catalog: str, schema: str, table: str) -> None:
        if self._delta is not None:
            version = self._delta.write(catalog, schema, table, self._engine.arrow(catalog, schema, table))
            self._meta.entry("tables", f"{catalog}.{schema}.{table}")["delta_version"] = version

    def _use(self, catalog: str | None, schema: str | None) -> tuple[str, str] | None:
        if catalog is None:
            return None
        catalog, schema = catalog.lower(), (schema or "default").lower()
        if catalog not in self._catalog_names:
            raise SqlError("NO_SUCH_CATALOG_EXCEPTION", f"Catalog '{catalog}' was not found.", sql_state="42704")
        if schema not in self._engine.schemas(catalog):
            raise SqlError("SCHEMA_NOT_FOUND", f"The schema '{catalog}.{schema}' cannot be found.", sql_state="42704")
        return catalog, schema

    def _after_write(self, target: list[str], use: tuple[str, str] | None) -> None:
        """Bring metadata and Delta copies up to date after a writing SQL statement."""
        present = {f"{c}.{s}.{t}".lower() for c, s, t in self._engine.tables()}
        for gone in [n for n in self._meta.data["tables"] if n not in present]:
            del self._meta.data["tables"][gone]
            if self._delta is not None:
                self._delta.delete(*gone.split("."))
        full = resolve_target(target, use)
        if full in present:
            self._touch(*full.split("."))
        if self._delta is not None:
            for name in present:
                if "delta_version" not in self._meta.entry("tables", name):
                    self._mirror(*name.split("."))
        self._meta.save()

    def _load_delta_tables(self) -> None:
        """Load the Delta tables under root that DuckDB lacks or that changed since we wrote them."""
        assert self._delta is not None
        known = {f"{c}.{s}.{t}" for c, s, t in self._engine.tables()}
        for catalog, schema, table in self._delta.found():
            name = f"{catalog}.{schema}.{table}"
            version = self._delta.version(catalog, schema, table)
            if name in known and self._meta.data["tables"].get(name, {}).get("delta_version") == version:
                continue
            self.create_schema(f"{catalog}.{schema}", exist_ok=True)
            self._engine.load_arrow(
                qualified(catalog, schema, table), self._delta.read(catalog, schema, table), replace=True
            )
            self._meta.entry("tables", name)["delta_version"] = version
        self._meta.save()
