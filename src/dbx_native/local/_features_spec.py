"""Feature spec JSON of the local workspace: validation against the local tables, and JSON-safe values.

A feature spec (`POST /api/2.0/feature-engineering/feature-specs`, databricks-sdk `FeatureSpec`) is
`{"name": "catalog.schema.spec", "features": [{"feature_lookup": {...}}, ...], "exclude_columns": [...]}`,
each `feature_lookup` being `{"table", "lookup_keys", "feature_names"?, "rename_outputs"?
[{"feature", "output"}], "default_values"? [{"feature", "default_value"}]}`.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from dbx_native.errors import InvalidRequestError, NotFoundError
from dbx_native.local._catalog import LocalCatalog
from dbx_native.local._catalog_names import parse_name
from dbx_native.local._catalog_types import ColumnType
from dbx_native.local._wire import LocalApiError

__all__ = ["Lookup", "json_value", "parse_spec"]


def bad(message: str, code: str = "INVALID_PARAMETER_VALUE") -> LocalApiError:
    return LocalApiError(400, message, error_code=code)


@dataclass(frozen=True)
class Lookup:
    """One checked `feature_lookup`: the table, its key columns and the features it serves (name -> output)."""

    table: str
    keys: tuple[str, ...]
    key_types: tuple[ColumnType, ...]
    outputs: tuple[tuple[str, str], ...]  # (column in the table, output name)
    defaults: Mapping[str, Any]  # output name -> default value (a string, cast to the column's type)
    column_types: Mapping[str, ColumnType]


def parse_spec(body: object, catalog: LocalCatalog) -> tuple[dict[str, Any], list[Lookup]]:
    """The normalized spec JSON and its lookups, checked against the local tables.

    Raises:
        LocalApiError: 400 for a malformed spec or an unknown column, 404 for an unknown table,
            501 for features the local workspace does not compute (functions, declarative features).
    """
    if not isinstance(body, Mapping):
        raise bad("The request body must be a FeatureSpec object with 'name' and 'features'.")
    try:
        name = ".".join(parse_name(str(body.get("name") or ""), 3))
    except InvalidRequestError as err:
        raise bad(f"Feature spec name: {err}") from None
    features = body.get("features")
    if not isinstance(features, list) or not features:
        raise bad(f"Feature spec '{name}' needs a non-empty 'features' list.")
    lookups: list[Lookup] = []
    for i, entry in enumerate(features):
        if not isinstance(entry, Mapping) or len([k for k in entry if entry[k] is not None]) != 1:
            raise bad(f"features[{i}] must hold exactly one of feature_lookup, feature_function, declarative_feature.")
        if entry.get("feature_lookup") is None:
            kind = next(k for k in entry if entry[k] is not None)
            raise LocalApiError(
                501,
                f"features[{i}] is a {kind}: the local workspace serves feature_lookup entries only.",
                error_code="NOT_IMPLEMENTED",
            )
        lookups.append(_lookup(entry["feature_lookup"], i, catalog))
    exclude = body.get("exclude_columns") or []
    if not isinstance(exclude, list) or not all(isinstance(c, str) for c in exclude):
        raise bad("'exclude_columns' must be a list of output column names.")
    outputs = [o for lk in lookups for _, o in lk.outputs]
    clashes = sorted({o for o in outputs if outputs.count(o) > 1})
    if clashes:
        raise bad(f"Feature spec '{name}' outputs {clashes} more than once: rename them with rename_outputs.")
    spec = {
        "name": name,
        "features": [
            {"feature_lookup": _lookup_json(lk, f["feature_lookup"])} for lk, f in zip(lookups, features, strict=True)
        ],
        **({"exclude_columns": list(exclude)} if exclude else {}),
    }
    return spec, lookups


def _lookup(raw: object, i: int, catalog: LocalCatalog) -> Lookup:
    where = f"features[{i}].feature_lookup"
    if not isinstance(raw, Mapping):
        raise bad(f"{where} must be an object with 'table' and 'lookup_keys'.")
    if raw.get("timestamp_lookup_keys") or raw.get("lookback_window"):
        raise LocalApiError(
            501, f"{where}: point-in-time lookups are not served by the local workspace.", error_code="NOT_IMPLEMENTED"
        )
    try:
        table = ".".join(parse_name(str(raw.get("table") or ""), 3))
        columns = {n: t for n, t, _ in catalog.columns(table)}
    except InvalidRequestError as err:
        raise bad(f"{where}.table: {err}") from None
    except NotFoundError:
        raise LocalApiError(
            404, f"{where}: table '{raw.get('table')}' does not exist.", error_code="TABLE_DOES_NOT_EXIST"
        ) from None
    keys = _names(raw.get("lookup_keys"), f"{where}.lookup_keys", columns, table, required=True)
    wanted = _names(raw.get("feature_names"), f"{where}.feature_names", columns, table, required=False)
    features = wanted or [c for c in columns if c not in keys]
    renames = {}
    for item in raw.get("rename_outputs") or []:
        feature, output = (item.get("feature"), item.get("output")) if isinstance(item, Mapping) else (None, None)
        if feature not in features or not isinstance(output, str) or not output:
            raise bad(f"{where}.rename_outputs: {item!r} must rename one of the features {features} to a name.")
        renames[feature] = output
    outputs = tuple((f, renames.get(f, f)) for f in features)
    by_output = {o: f for f, o in outputs}
    defaults: dict[str, Any] = {}
    for item in raw.get("default_values") or []:
        feature = item.get("feature") if isinstance(item, Mapping) else None
        if feature not in by_output:
            raise bad(f"{where}.default_values: {item!r} must name a served feature (output names {list(by_output)}).")
        defaults[str(feature)] = _cast_default(item.get("default_value"), columns[by_output[str(feature)]], where)
    key_types = tuple(columns[k] for k in keys)
    return Lookup(table, tuple(keys), key_types, outputs, defaults, columns)


def _names(raw: object, where: str, columns: Mapping[str, ColumnType], table: str, *, required: bool) -> list[str]:
    if raw is None and not required:
        return []
    names = [raw] if isinstance(raw, str) else raw
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names) or (required and not names):
        raise bad(f"{where} must be a {'non-empty ' if required else ''}list of column names.")
    actual = {c.lower(): c for c in columns}  # column names are case-insensitive, as in Unity Catalog
    unknown = [n for n in names if n.lower() not in actual]
    if unknown:
        raise bad(f"{where}: table '{table}' has no column(s) {unknown}; its columns are {list(columns)}.")
    return [actual[n.lower()] for n in names]


def _cast_default(value: object, ctype: ColumnType, where: str) -> Any:
    if value is None or not isinstance(value, str):
        return value
    try:
        if ctype.kind in ("bigint", "int", "smallint", "tinyint"):
            return int(value)
        if ctype.kind in ("double", "float", "decimal"):
            return float(value)
        if ctype.kind == "boolean":
            return value.strip().lower() == "true"
    except ValueError:
        raise bad(f"{where}.default_values: {value!r} is not a {ctype.type_text}.") from None
    return value


def _lookup_json(lookup: Lookup, raw: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"table": lookup.table, "lookup_keys": list(lookup.keys)}
    for field in ("feature_names", "rename_outputs", "default_values"):
        if raw.get(field):
            out[field] = raw[field] if field != "feature_names" else [f for f, _ in lookup.outputs]
    return out


def json_value(value: Any) -> Any:
    """A DuckDB value as the service's JSON would carry it."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [json_value(v) for v in value]
    return value
