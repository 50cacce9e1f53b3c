"""Rows handed to `LocalCatalog.create_table`/`insert_rows`: column types and values DuckDB accepts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from dbx_native.errors import InvalidRequestError
from dbx_native.local._catalog_types import ColumnType, finalize, infer_type

__all__ = [
    "clean_error",
    "column_types",
    "duck_type_of",
    "is_arrow",
    "normalize_row",
    "quote",
    "resolve_target",
    "row_keys",
]


def column_types(rows: Sequence[Mapping[str, Any]], declared: Mapping[str, ColumnType]) -> dict[str, ColumnType]:
    """The type of every column: declared ones as given, the others inferred from the values.

    Columns are the declared ones, then the keys of the rows in first-seen order.

    Raises:
        InvalidRequestError: No columns at all, a row that is not a dict, or a column with only nulls and no
            declared type.
    """
    names: dict[str, None] = dict.fromkeys(declared)
    for row in rows:
        if not isinstance(row, Mapping):
            raise InvalidRequestError(f"Each row must be a dict of column name to value, got {type(row).__name__}.")
        for key in row:
            if not isinstance(key, str) or not key:
                raise InvalidRequestError(f"Column names must be non-empty strings, got {key!r}.")
            names.setdefault(key, None)
    if not names:
        raise InvalidRequestError(
            "Cannot create a table without columns: pass rows, or schema={'id': 'bigint', ...} for an empty table."
        )
    types: dict[str, ColumnType] = {}
    for name in names:
        if name in declared:
            types[name] = declared[name]
            continue
        inferred = infer_type((row.get(name) for row in rows), column=name)
        if inferred is None:
            raise InvalidRequestError(
                f"Column {name!r} holds only nulls, so its type is unknown: pass schema={{{name!r}: 'string'}} "
                "(or the type it should have)."
            )
        types[name] = finalize(inferred)
    return types


def normalize_row(
    row: Mapping[str, Any], columns: Sequence[tuple[str, ColumnType, bool]], index: int
) -> dict[str, Any]:
    """The row with every column, values shaped for the column types (missing columns are null).

    Raises:
        InvalidRequestError: A null in a NOT NULL column.
    """
    values: dict[str, Any] = {}
    for name, ctype, nullable in columns:
        value = row.get(name)
        if value is None and not nullable:
            raise InvalidRequestError(
                f"Row {index}: column {name!r} is part of the primary key (NOT NULL) but the value is null."
            )
        values[name] = _shape(value, ctype)
    return values


def _shape(value: Any, ctype: ColumnType) -> Any:
    """Fill missing struct fields, turn tuples into lists, read naive datetimes as UTC for `timestamp`."""
    if value is None:
        return None
    kind = ctype.kind
    if kind == "timestamp" and isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    if kind == "decimal" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return Decimal(str(value))
    if kind == "array" and isinstance(value, (list, tuple)):
        return [_shape(v, ctype.children[0]) for v in value]
    if kind == "struct" and isinstance(value, Mapping):
        return {n: _shape(value.get(n), c) for n, c in zip(ctype.names, ctype.children, strict=True)}
    if kind == "map" and isinstance(value, Mapping):
        # DuckDB binds a Python dict as a STRUCT, which unifies keys across the rows of a batch (and fails on
        # an empty dict next to a full one); the key/value-list form binds as a real MAP.
        key_type, value_type = ctype.children
        return {
            "key": [_shape(k, key_type) for k in value],
            "value": [_shape(v, value_type) for v in value.values()],
        }
    return value


def resolve_target(target: list[str], use: tuple[str, str] | None) -> str:
    """The full name a statement's target refers to, given the session's catalog and schema (`""` if unknown)."""
    parts = [p.lower() for p in target]
    if len(parts) == 3:
        return ".".join(parts)
    if use is not None and len(parts) == 2:
        return f"{use[0]}.{parts[0]}.{parts[1]}"
    if use is not None and len(parts) == 1:
        return f"{use[0]}.{use[1]}.{parts[0]}"
    return ""


def is_arrow(rows: Any) -> bool:
    """Whether `rows` is a `pyarrow.Table` (checked without importing pyarrow)."""
    return type(rows).__module__.startswith("pyarrow") and hasattr(rows, "num_rows")


def row_keys(row: Any) -> Iterable[str]:
    """The column names of one row, which must be a mapping."""
    if not isinstance(row, Mapping):
        raise InvalidRequestError(f"Each row must be a dict of column name to value, got {type(row).__name__}.")
    return row.keys()


def duck_type_of(value: Any) -> str:
    """The DuckDB type of a Python parameter value (`VARCHAR` for None)."""
    inferred = infer_type([value], column="parameter")
    return finalize(inferred).duckdb if inferred is not None else "VARCHAR"


def quote(name: str) -> str:
    """Quote an identifier for DuckDB."""
    return '"' + name.replace('"', '""') + '"'


def clean_error(err: Exception) -> str:
    """A DuckDB error message without our database prefix and caret display."""
    return str(err).replace("uc__", "").split("\n\nLINE")[0]
