"""The two AI Search REST generations VectorMemory can speak, and the row formats it reads back.

`legacy` (default): `/api/2.0/vector-search/indexes/{name}/query|upsert-data|delete-data|scan`, what
databricks-sdk's `w.vector_search_indexes` sends. `ai-search`: the AIP-style
`/api/2.0/ai-search/workspaces/{w}/endpoints/{e}/indexes/{name}:query|:upsertData|:removeData|:scan`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

from dbx_native.errors import APIResponseError, InvalidRequestError

__all__ = ["Api", "Routes", "encode_rows", "rows_from_query", "rows_from_scan"]

Api = Literal["vector-search", "ai-search"]


@dataclass(frozen=True)
class Routes:
    """Paths and field names of one API generation for one index."""

    api: Api
    index: str
    endpoint: str | None
    workspace_id: str | None = None

    @property
    def count_field(self) -> str:
        return "num_results" if self.api == "vector-search" else "max_results"

    @property
    def index_path(self) -> str:
        if self.api == "vector-search":
            return f"/api/2.0/vector-search/indexes/{quote(self.index, safe='.')}"
        return f"{self.endpoint_path}/indexes/{quote(self.index, safe='.')}"

    @property
    def endpoint_path(self) -> str:
        if self.api == "vector-search":
            return f"/api/2.0/vector-search/endpoints/{self.endpoint}"
        return f"/api/2.0/ai-search/workspaces/{self.workspace_id}/endpoints/{self.endpoint}"

    def method_path(self, verb: Literal["query", "upsert", "scan", "next-page"]) -> str:
        legacy = {"query": "/query", "upsert": "/upsert-data", "scan": "/scan", "next-page": "/query-next-page"}
        modern = {"query": ":query", "upsert": ":upsertData", "scan": ":scan", "next-page": ":query"}
        return self.index_path + (legacy if self.api == "vector-search" else modern)[verb]

    def delete_request(self, keys: Sequence[str]) -> tuple[str, str, dict[str, Any] | None, Any]:
        """`(method, path, query params, JSON body)` deleting `keys`."""
        if self.api == "vector-search":
            return "DELETE", self.index_path + "/delete-data", {"primary_keys": list(keys)}, None
        return "POST", self.index_path + ":removeData", None, {"primary_keys": list(keys)}

    def scan_body(self, page_size: int, cursor: str | None) -> dict[str, Any]:
        if self.api == "vector-search":
            return {"num_results": page_size, **({"last_primary_key": cursor} if cursor else {})}
        return {"page_size": page_size, **({"page_token": cursor} if cursor else {})}

    def create_endpoint_request(self, endpoint_type: str) -> tuple[str, dict[str, Any] | None, dict[str, Any]]:
        """`(path, query params, body)` creating the endpoint."""
        if self.api == "vector-search":
            return "/api/2.0/vector-search/endpoints", None, {"name": self.endpoint, "endpoint_type": endpoint_type}
        path = f"/api/2.0/ai-search/workspaces/{self.workspace_id}/endpoints"
        return path, {"endpoint_id": self.endpoint}, {"endpoint_type": endpoint_type}

    def create_index_request(self, spec: Mapping[str, Any]) -> tuple[str, dict[str, Any] | None, dict[str, Any]]:
        """`(path, query params, body)` creating the index from `spec` (primary_key, index_type, specs)."""
        if self.api == "vector-search":
            body = {"name": self.index, "endpoint_name": self.endpoint, **spec}
            return "/api/2.0/vector-search/indexes", None, body
        spec = dict(spec)
        for source in spec.get("direct_access_index_spec", {}).get("embedding_source_columns", []):
            source["embedding_model_endpoint"] = source.pop("embedding_model_endpoint_name", None)
        return f"{self.endpoint_path}/indexes", {"index_id": self.index}, spec


def encode_rows(rows: Sequence[Mapping[str, Any]], limit: int) -> list[str]:
    """Split rows into `inputs_json` strings whose request bodies stay under `limit` bytes.

    Raises:
        InvalidRequestError: One row alone is over the limit (nothing is sent).
    """
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    overhead = len('{"inputs_json":"[]"}') + 16
    for row in rows:
        encoded = json.dumps(row, separators=(",", ":"), ensure_ascii=False)
        # The rows travel as a JSON string inside the JSON body: quotes and backslashes get escaped.
        escaped = len(json.dumps(encoded, ensure_ascii=False).encode()) - 2 + 1
        if escaped + overhead > limit:
            raise InvalidRequestError(
                f"record {row.get('id')!r} is {escaped} bytes encoded, over the {limit}-byte request limit: "
                "shorten its text or metadata (or raise max_request_bytes if the service allows it)"
            )
        if current and size + escaped + overhead > limit:
            chunks.append("[" + ",".join(current) + "]")
            current, size = [], 0
        current.append(encoded)
        size += escaped
    if current:
        chunks.append("[" + ",".join(current) + "]")
    return chunks


def rows_from_query(body: Any, request_id: str | None = None) -> list[dict[str, Any]]:
    """Rows of a query response (`manifest.columns` + `result.data_array`), each with its `score`."""
    if not isinstance(body, Mapping):
        raise APIResponseError("the query answer is not a JSON object", request_id=request_id)
    columns = [c.get("name") for c in (body.get("manifest") or {}).get("columns") or []]
    data = (body.get("result") or {}).get("data_array") or []
    rows = []
    for values in data:
        if not isinstance(values, list) or len(values) != len(columns):
            raise APIResponseError(
                f"a query result row has {len(values) if isinstance(values, list) else 'no'} values for "
                f"{len(columns)} columns",
                request_id=request_id,
            )
        rows.append(dict(zip(columns, values, strict=True)))
    return rows


def rows_from_scan(body: Any, api: Api) -> tuple[list[dict[str, Any]], str | None]:
    """Rows of a scan page and the cursor of the next page (`None` at the end)."""
    if not isinstance(body, Mapping):
        return [], None
    data = body.get("data") or []
    if api == "ai-search":
        return [dict(r) for r in data if isinstance(r, Mapping)], body.get("next_page_token") or None
    rows = [{f["key"]: _struct_value(f.get("value") or {}) for f in r.get("fields", [])} for r in data]
    return rows, (body.get("last_primary_key") if rows else None)


def _struct_value(value: Mapping[str, Any]) -> Any:
    for key in ("string_value", "number_value", "bool_value"):
        if key in value:
            return value[key]
    if "list_value" in value:
        return [_struct_value(v) for v in (value["list_value"] or {}).get("values", [])]
    if "struct_value" in value:
        fields = (value["struct_value"] or {}).get("fields", [])
        return {f["key"]: _struct_value(f.get("value") or {}) for f in fields}
    return None
