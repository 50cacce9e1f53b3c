"""Feature specs of the local workspace (`ws.features`) and the Feature Serving answers computed from them.

```python
ws.create_table("main.fraud.merchants", [{"merchant_id": "m_1", "risk": 0.2}], primary_key="merchant_id")
ws.features.create_spec("main.fraud.merchant_spec", table="main.fraud.merchants", lookup_keys="merchant_id")
ws.features.serve("main.fraud.merchant_spec", [{"merchant_id": "m_1"}, {"merchant_id": "nope"}])
# [{'merchant_id': 'm_1', 'risk': 0.2}, {'merchant_id': 'nope', 'risk': None}]
```

Routes: `POST /api/2.0/feature-engineering/feature-specs`, `GET`/`DELETE .../feature-specs/{name}`. A serving
endpoint whose served entity's `entity_name` is a feature spec answers `dataframe_records` (or
`dataframe_split`) with `{"outputs": [...]}` through `invoke()`: one object per record, the record's own
columns plus the features; a key without a row gets its features null (or the spec's `default_values`).
Lookups read the local tables (DuckDB; Delta on disk when the workspace has a `root`), keys only ever as
query parameters. With a `root`, specs are kept in `<root>/.dbx_native/feature_specs.json`.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from dbx_native.errors import InvalidRequestError, NotFoundError
from dbx_native.local._catalog import LocalCatalog
from dbx_native.local._catalog_names import parse_name
from dbx_native.local._features_spec import Lookup, bad, json_value, parse_spec
from dbx_native.local._router import Route
from dbx_native.local._sql_translate import SqlError
from dbx_native.local._wire import LocalApiError, LocalRequest

__all__ = ["FeatureSpecsBackend"]

_log = logging.getLogger("dbx_native.local.features")
_API = "/api/2.0/feature-engineering/feature-specs"
_KEYS_PER_QUERY = 1000  # keys per lookup statement (one statement per lookup per 1000 distinct keys)


class FeatureSpecsBackend:
    """Feature specs over the local Unity Catalog tables, and their Feature Serving answers (`ws.features`).

    Args:
        catalog: The workspace's tables (`ws.catalog`).
        root: Directory to keep specs in; `None` keeps them in memory.

    Example:
        >>> from dbx_native.local import LocalWorkspace
        >>> ws = LocalWorkspace()
        >>> _ = ws.create_table("main.fraud.merchants", [{"merchant_id": "m_1", "risk": 0.2}])
        >>> _ = ws.features.create_spec("main.fraud.spec", table="main.fraud.merchants", lookup_keys="merchant_id")
        >>> ws.features.serve("main.fraud.spec", [{"merchant_id": "m_1"}, {"merchant_id": "m_9"}])
        [{'merchant_id': 'm_1', 'risk': 0.2}, {'merchant_id': 'm_9', 'risk': None}]
    """

    def __init__(self, catalog: LocalCatalog, *, root: str | os.PathLike[str] | None = None) -> None:
        self.catalog = catalog
        self._path = Path(root) / ".dbx_native" / "feature_specs.json" if root is not None else None
        self._specs: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        if self._path is not None and self._path.exists():
            self._specs = dict(json.loads(self._path.read_text(encoding="utf-8")))

    # --- Backend protocol -------------------------------------------------------------------------

    def routes(self) -> Iterable[Route]:
        """The feature spec routes of the Feature Engineering API."""
        return [
            Route("POST", _API, lambda r: self._create(r.json())),
            Route("GET", _API + "/{name}", lambda r: self._get(r.path_params["name"])),
            Route("DELETE", _API + "/{name}", self._delete),
        ]

    def reset(self) -> None:
        """Forget every feature spec."""
        with self._lock:
            self._specs.clear()
            self._save()

    # --- Python API -------------------------------------------------------------------------------

    def create_spec(
        self,
        name: str,
        *,
        table: str,
        lookup_keys: str | Sequence[str],
        feature_names: Sequence[str] | None = None,
        rename_outputs: Mapping[str, str] | None = None,
        default_values: Mapping[str, Any] | None = None,
        exclude_columns: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """Create a feature spec with one feature table lookup (no HTTP).

        Args:
            name: `catalog.schema.spec`.
            table: The feature table, `catalog.schema.table`.
            lookup_keys: Its key column(s).
            feature_names: Columns to serve; all but the keys when omitted.
            rename_outputs: Feature -> output name.
            default_values: Output name -> value served when the key has no row.
            exclude_columns: Output columns to leave out.

        Returns:
            The spec as `GET /api/2.0/feature-engineering/feature-specs/{name}` answers it.

        Raises:
            InvalidRequestError: A bad name or column, or a spec with this name exists.
            NotFoundError: The table does not exist.
        """
        lookup: dict[str, Any] = {
            "table": table,
            "lookup_keys": [lookup_keys] if isinstance(lookup_keys, str) else list(lookup_keys),
        }
        if feature_names is not None:
            lookup["feature_names"] = list(feature_names)
        if rename_outputs:
            lookup["rename_outputs"] = [{"feature": f, "output": o} for f, o in rename_outputs.items()]
        if default_values:
            lookup["default_values"] = [{"feature": f, "default_value": str(v)} for f, v in default_values.items()]
        spec: dict[str, Any] = {"name": name, "features": [{"feature_lookup": lookup}]}
        if exclude_columns:
            spec["exclude_columns"] = list(exclude_columns)
        return self.create_feature_spec(spec)

    def create_feature_spec(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """Create a feature spec from its JSON (databricks-sdk `FeatureSpec.as_dict()`); see `create_spec`.

        Raises:
            InvalidRequestError: A malformed spec, or one with this name exists.
            NotFoundError: A table does not exist.
        """
        try:
            return self._create(spec)
        except LocalApiError as err:
            raise _python_error(err) from None

    def get_spec(self, name: str) -> dict[str, Any]:
        """The spec JSON of `name`.

        Raises:
            NotFoundError: No such spec.
        """
        try:
            return self._get(name)
        except LocalApiError as err:
            raise _python_error(err) from None

    def has_spec(self, name: str) -> bool:
        """Whether `name` (any case) is a feature spec of this workspace."""
        with self._lock:
            return _key(name) in self._specs

    def names(self) -> list[str]:
        """The names of the feature specs, sorted."""
        with self._lock:
            return sorted(self._specs)

    def serve(self, name: str, dataframe_records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """The Feature Serving outputs of spec `name` for these records (what `invocations` answers).

        Args:
            name: The feature spec.
            dataframe_records: One object per row to look up, holding (at least) the lookup keys.

        Returns:
            One object per record, in order: the record's columns plus the features (null for a key
            without a row, unless the spec has a default for the feature).

        Raises:
            LocalApiError: 404 for an unknown spec, 400 for a record without a lookup key or a key of the
                wrong type.
        """
        spec = self._get(name)
        _, lookups = parse_spec(spec, self.catalog)
        records = _check_records(dataframe_records, lookups)
        outputs = [dict(r) for r in records]
        for lookup in lookups:
            found = self._rows(lookup, records)
            for record, out in zip(records, outputs, strict=True):
                row = found.get(_canonical(record[k] for k in lookup.keys))
                for i, (_, output) in enumerate(lookup.outputs):
                    value = row[i] if row is not None else None
                    out[output] = json_value(value) if value is not None else lookup.defaults.get(output)
        for column in spec.get("exclude_columns") or []:
            for out in outputs:
                out.pop(column, None)
        return outputs

    def invoke(self, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """The `invocations` answer of a Feature Serving endpoint serving spec `name`: `{"outputs": [...]}`.

        Raises:
            LocalApiError: 400 without `dataframe_records` / `dataframe_split`, else as `serve`.
        """
        return {"outputs": self.serve(name, _records(body))}

    # --- handlers ---------------------------------------------------------------------------------

    def _create(self, body: object) -> dict[str, Any]:
        spec, _ = parse_spec(body, self.catalog)
        with self._lock:
            if spec["name"] in self._specs:
                raise LocalApiError(
                    409, f"Feature spec '{spec['name']}' already exists.", error_code="RESOURCE_ALREADY_EXISTS"
                )
            self._specs[spec["name"]] = spec
            self._save()
        _log.debug("created feature spec %s", spec["name"])
        copied: dict[str, Any] = json.loads(json.dumps(spec))
        return copied

    def _get(self, name: str) -> dict[str, Any]:
        with self._lock:
            spec = self._specs.get(_key(name))
        if spec is None:
            raise LocalApiError(404, f"Feature spec '{name}' does not exist.", error_code="RESOURCE_DOES_NOT_EXIST")
        copied: dict[str, Any] = json.loads(json.dumps(spec))
        return copied

    def _delete(self, request: LocalRequest) -> dict[str, Any]:
        name = self._get(request.path_params["name"])["name"]
        with self._lock:
            self._specs.pop(name, None)
            self._save()
        return {}

    def _save(self) -> None:
        if self._path is not None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._path.write_text(json.dumps(self._specs, indent=1, sort_keys=True), encoding="utf-8")

    def _rows(self, lookup: Lookup, records: Sequence[Mapping[str, Any]]) -> dict[tuple[str, ...], tuple[Any, ...]]:
        """The table's rows for the records' keys: one parameterised statement per 1000 distinct keys."""
        distinct = list(dict.fromkeys(tuple(r[k] for k in lookup.keys) for r in records))
        distinct = [key for key in distinct if all(v is not None for v in key)]
        found: dict[tuple[str, ...], tuple[Any, ...]] = {}
        width = len(lookup.keys)
        for start in range(0, len(distinct), _KEYS_PER_QUERY):
            chunk = distinct[start : start + _KEYS_PER_QUERY]
            params = {f"p{i}_{j}": v for i, key in enumerate(chunk) for j, v in enumerate(key)}
            types = {f"p{i}_{j}": lookup.key_types[j].duckdb for i in range(len(chunk)) for j in range(width)}
            keys = ", ".join(_ident(k) for k in lookup.keys)
            markers = ", ".join("(" + ", ".join(f":p{i}_{j}" for j in range(width)) + ")" for i in range(len(chunk)))
            features = ", ".join(_ident(f) for f, _ in lookup.outputs)
            sql = f"SELECT {keys}, {features} FROM {_table(lookup.table)} WHERE ({keys}) IN ({markers})"
            try:
                _, rows = self.catalog.run_statement(sql, params, param_types=types)
            except SqlError as err:
                raise bad(
                    f"Lookup keys {list(lookup.keys)} do not fit table '{lookup.table}' (key types "
                    f"{[t.type_text for t in lookup.key_types]}): {err}",
                    "BAD_REQUEST",
                ) from None
            for row in rows:
                found.setdefault(_canonical(row[:width]), tuple(row[width:]))
        return found

    def __repr__(self) -> str:
        return f"FeatureSpecsBackend(specs={self.names()!r})"


def _key(name: str) -> str:
    try:
        return ".".join(parse_name(name, 3))
    except InvalidRequestError:
        return name


def _ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _table(full_name: str) -> str:
    return ".".join(_ident(p) for p in full_name.split("."))


def _canonical(values: Iterable[Any]) -> tuple[str, ...]:
    return tuple(str(v) for v in values)


def _records(body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    if "dataframe_records" in body:
        records = body["dataframe_records"]
        if not isinstance(records, list):
            raise bad("'dataframe_records' must be a list of objects.", "BAD_REQUEST")
        return records
    split = body.get("dataframe_split")
    if isinstance(split, Mapping) and isinstance(split.get("columns"), list) and isinstance(split.get("data"), list):
        columns = split["columns"]
        return [dict(zip(columns, row, strict=False)) for row in split["data"] if isinstance(row, list)]
    raise bad(
        "A Feature Serving endpoint expects 'dataframe_records' (a list of objects holding the lookup keys) "
        "or 'dataframe_split' ({columns, data}).",
        "BAD_REQUEST",
    )


def _check_records(records: object, lookups: Sequence[Lookup]) -> list[Mapping[str, Any]]:
    if not isinstance(records, Sequence) or isinstance(records, (str, bytes)):
        raise bad("'dataframe_records' must be a list of objects.", "BAD_REQUEST")
    for i, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise bad(f"dataframe_records[{i}] must be an object, got {record!r:.60}.", "BAD_REQUEST")
        for lookup in lookups:
            for key in lookup.keys:
                if key not in record:
                    raise bad(
                        f"dataframe_records[{i}] is missing lookup key '{key}' (the feature spec looks up "
                        f"{list(lookup.keys)} in {lookup.table}).",
                        "BAD_REQUEST",
                    )
                value = record[key]
                if value is not None and not isinstance(value, (str, int, float, bool)):
                    raise bad(f"dataframe_records[{i}].{key} must be a scalar, got {value!r:.60}.", "BAD_REQUEST")
    return list(records)


def _python_error(err: LocalApiError) -> Exception:
    if err.status == 404:
        return NotFoundError(err.message, status_code=404, error_code=err.error_code)
    return InvalidRequestError(err.message)
