"""REST routes of the local Unity Catalog, shaped like `/api/2.1/unity-catalog/...` on Databricks.

Field names follow the SDK's `catalog.TableInfo`, `ColumnInfo`, `SchemaInfo` and `CatalogInfo`. Errors carry
the UC error codes: `TABLE_DOES_NOT_EXIST`, `SCHEMA_DOES_NOT_EXIST`, `CATALOG_DOES_NOT_EXIST` (404) and
`..._ALREADY_EXISTS` (409). Lists page with `max_results` and an opaque `page_token`.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from dbx_native.errors import ConflictError, InvalidRequestError
from dbx_native.local._catalog_names import parse_name
from dbx_native.local._router import Route
from dbx_native.local._wire import LocalApiError, LocalRequest

if TYPE_CHECKING:
    from dbx_native.local._catalog import LocalCatalog

__all__ = ["catalog_json", "catalog_routes", "schema_json", "table_json"]

_UC = "/api/2.1/unity-catalog"
_DEFAULT_PAGE = 100  # max_results=0 or absent: the server picks the page size, as the real service does
_MAX_PAGE = 1000


def _owner() -> str:
    from dbx_native.local._catalog import LOCAL_OWNER

    return LOCAL_OWNER


def catalog_json(cat: LocalCatalog, name: str) -> dict[str, Any]:
    """The `CatalogInfo` JSON of a catalog."""
    meta = cat.entry("catalogs", name)
    info: dict[str, Any] = {
        "name": name,
        "full_name": name,
        "catalog_type": "MANAGED_CATALOG",
        "owner": _owner(),
        "created_at": meta["created_at"],
        "created_by": _owner(),
        "updated_at": meta["updated_at"],
        "updated_by": _owner(),
        "metastore_id": cat.metastore_id,
        "securable_type": "CATALOG",
        "isolation_mode": "OPEN",
        "properties": {},
    }
    if meta.get("comment"):
        info["comment"] = meta["comment"]
    return info


def schema_json(cat: LocalCatalog, full_name: str) -> dict[str, Any]:
    """The `SchemaInfo` JSON of a schema."""
    catalog, schema = full_name.split(".")
    meta = cat.entry("schemas", full_name)
    info: dict[str, Any] = {
        "name": schema,
        "catalog_name": catalog,
        "full_name": full_name,
        "schema_id": meta["id"],
        "catalog_type": "MANAGED_CATALOG",
        "owner": _owner(),
        "created_at": meta["created_at"],
        "created_by": _owner(),
        "updated_at": meta["updated_at"],
        "updated_by": _owner(),
        "metastore_id": cat.metastore_id,
        "properties": {},
    }
    if meta.get("comment"):
        info["comment"] = meta["comment"]
    return info


def table_json(cat: LocalCatalog, full_name: str, *, omit_columns: bool = False) -> dict[str, Any]:
    """The `TableInfo` JSON of a table (a MANAGED Delta table)."""
    catalog, schema, table = full_name.split(".")
    meta = cat.entry("tables", full_name)
    info: dict[str, Any] = {
        "name": table,
        "catalog_name": catalog,
        "schema_name": schema,
        "full_name": full_name,
        "table_type": "MANAGED",
        "data_source_format": "DELTA",
        "table_id": meta["id"],
        "storage_location": cat.storage_location(catalog, schema, table),
        "owner": _owner(),
        "created_at": meta["created_at"],
        "created_by": _owner(),
        "updated_at": meta["updated_at"],
        "updated_by": _owner(),
        "metastore_id": cat.metastore_id,
        "properties": {"delta.minReaderVersion": "1", "delta.minWriterVersion": "2"},
    }
    if not omit_columns:
        info["columns"] = [
            {
                "name": name,
                "type_text": ctype.type_text,
                "type_name": ctype.type_name,
                "type_json": ctype.type_json(name, nullable=nullable),
                "position": position,
                "nullable": nullable,
                **({"type_precision": ctype.precision, "type_scale": ctype.scale} if ctype.kind == "decimal" else {}),
            }
            for position, (name, ctype, nullable) in enumerate(cat.columns(full_name))
        ]
    if meta.get("primary_key"):
        info["table_constraints"] = [
            {"primary_key_constraint": {"name": f"{table}_pk", "child_columns": list(meta["primary_key"])}}
        ]
    if meta.get("comment"):
        info["comment"] = meta["comment"]
    return info


# ---------------------------------------------------------------------------------------------- helpers


def _name(raw: str, parts: int) -> tuple[str, ...]:
    try:
        return parse_name(raw, parts)
    except InvalidRequestError as err:
        raise LocalApiError(400, str(err), error_code="INVALID_PARAMETER_VALUE") from err


def _require_catalog(cat: LocalCatalog, catalog: str) -> None:
    if catalog not in cat.catalog_names():
        raise LocalApiError(404, f"Catalog '{catalog}' does not exist.", error_code="CATALOG_DOES_NOT_EXIST")


def _require_schema(cat: LocalCatalog, catalog: str, schema: str) -> None:
    _require_catalog(cat, catalog)
    if schema not in cat.schema_names(catalog):
        raise LocalApiError(404, f"Schema '{catalog}.{schema}' does not exist.", error_code="SCHEMA_DOES_NOT_EXIST")


def _page(req: LocalRequest, names: list[str]) -> tuple[list[str], str | None]:
    raw_max = req.arg("max_results") or "0"
    try:
        max_results = int(raw_max)
    except ValueError:
        raise LocalApiError(400, f"max_results must be an integer, got {raw_max!r}.") from None
    if max_results < 0:
        raise LocalApiError(400, "max_results must be 0 (server default) or more.")
    size = min(max_results or _DEFAULT_PAGE, _MAX_PAGE)
    token = req.arg("page_token") or ""
    try:
        start = int(base64.urlsafe_b64decode(token.encode()).decode()) if token else 0
    except ValueError:
        raise LocalApiError(400, f"Invalid page_token {token!r}: pass the next_page_token of the last page.") from None
    chunk = names[start : start + size]
    more = start + size < len(names)
    return chunk, base64.urlsafe_b64encode(str(start + size).encode()).decode() if more else None


def _required_arg(req: LocalRequest, name: str) -> str:
    value = req.arg(name)
    if not value:
        raise LocalApiError(400, f"Missing required query parameter '{name}'.")
    return value


def _conflict(err: ConflictError) -> LocalApiError:
    return LocalApiError(409, err.message, error_code=err.error_code)


# ---------------------------------------------------------------------------------------------- routes


def catalog_routes(cat: LocalCatalog) -> list[Route]:
    """The routes of the local Unity Catalog."""

    def get_table(req: LocalRequest) -> dict[str, Any]:
        catalog, schema, table = _name(req.path_params["full_name"], 3)
        full = f"{catalog}.{schema}.{table}"
        if not cat.table_exists(full):
            raise LocalApiError(404, f"Table '{full}' does not exist.", error_code="TABLE_DOES_NOT_EXIST")
        return table_json(cat, full)

    def table_exists(req: LocalRequest) -> dict[str, Any]:
        catalog, schema, table = _name(req.path_params["full_name"], 3)
        return {"table_exists": cat.table_exists(f"{catalog}.{schema}.{table}")}

    def list_tables(req: LocalRequest) -> dict[str, Any]:
        catalog = _name(_required_arg(req, "catalog_name"), 1)[0]
        schema = _name(_required_arg(req, "schema_name"), 1)[0]
        _require_schema(cat, catalog, schema)
        omit = (req.arg("omit_columns") or "").lower() == "true"
        chunk, token = _page(req, cat.table_names(catalog, schema))
        body: dict[str, Any] = {"tables": [table_json(cat, n, omit_columns=omit) for n in chunk]}
        if token:
            body["next_page_token"] = token
        return body

    def delete_table(req: LocalRequest) -> dict[str, Any]:
        catalog, schema, table = _name(req.path_params["full_name"], 3)
        full = f"{catalog}.{schema}.{table}"
        if not cat.table_exists(full):
            raise LocalApiError(404, f"Table '{full}' does not exist.", error_code="TABLE_DOES_NOT_EXIST")
        cat.drop_table(full)
        return {}

    def get_schema(req: LocalRequest) -> dict[str, Any]:
        catalog, schema = _name(req.path_params["full_name"], 2)
        _require_schema(cat, catalog, schema)
        return schema_json(cat, f"{catalog}.{schema}")

    def list_schemas(req: LocalRequest) -> dict[str, Any]:
        catalog = _name(_required_arg(req, "catalog_name"), 1)[0]
        _require_catalog(cat, catalog)
        chunk, token = _page(req, cat.schema_names(catalog))
        body: dict[str, Any] = {"schemas": [schema_json(cat, f"{catalog}.{s}") for s in chunk]}
        if token:
            body["next_page_token"] = token
        return body

    def create_schema(req: LocalRequest) -> dict[str, Any]:
        body = req.json()
        catalog = _name(str(body.get("catalog_name") or ""), 1)[0]
        schema = _name(str(body.get("name") or ""), 1)[0]
        _require_catalog(cat, catalog)
        try:
            return cat.create_schema(f"{catalog}.{schema}", comment=body.get("comment"))
        except ConflictError as err:
            raise _conflict(err) from err

    def get_catalog(req: LocalRequest) -> dict[str, Any]:
        (catalog,) = _name(req.path_params["name"], 1)
        _require_catalog(cat, catalog)
        return catalog_json(cat, catalog)

    def list_catalogs(req: LocalRequest) -> dict[str, Any]:
        chunk, token = _page(req, cat.catalog_names())
        body: dict[str, Any] = {"catalogs": [catalog_json(cat, c) for c in chunk]}
        if token:
            body["next_page_token"] = token
        return body

    def create_catalog(req: LocalRequest) -> dict[str, Any]:
        body = req.json()
        (catalog,) = _name(str(body.get("name") or ""), 1)
        try:
            return cat.create_catalog(catalog, comment=body.get("comment"))
        except ConflictError as err:
            raise _conflict(err) from err

    return [
        Route("GET", f"{_UC}/tables/{{full_name}}/exists", table_exists),
        Route("GET", f"{_UC}/tables/{{full_name}}", get_table),
        Route("DELETE", f"{_UC}/tables/{{full_name}}", delete_table),
        Route("GET", f"{_UC}/tables", list_tables),
        Route("GET", f"{_UC}/schemas/{{full_name}}", get_schema),
        Route("GET", f"{_UC}/schemas", list_schemas),
        Route("POST", f"{_UC}/schemas", create_schema),
        Route("GET", f"{_UC}/catalogs/{{name}}", get_catalog),
        Route("GET", f"{_UC}/catalogs", list_catalogs),
        Route("POST", f"{_UC}/catalogs", create_catalog),
    ]
