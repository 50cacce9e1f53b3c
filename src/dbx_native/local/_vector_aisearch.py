"""The AIP-style AI Search routes (`/api/2.0/ai-search/...`, `w.ai_search`), over the same state as the legacy ones.

Resource names: `workspaces/{workspace_id}/endpoints/{endpoint_id}` and
`workspaces/{workspace_id}/endpoints/{endpoint_id}/indexes/{catalog.schema.index}`; custom methods are
`{index}:query` (`max_results` instead of `num_results`), `:scan` (`page_size`, `page_token`), `:upsertData`,
`:removeData` and `:sync`.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from dbx_native.local._router import Route
from dbx_native.local._vector_wire import body_of, int_field
from dbx_native.local._wire import LocalApiError, LocalRequest

if TYPE_CHECKING:
    from dbx_native.local._vector import VectorEndpoint, VectorIndex, VectorSearchBackend

__all__ = ["aisearch_routes"]

_BASE = "/api/2.0/ai-search/workspaces/{workspace_id}/endpoints"


def aisearch_routes(backend: VectorSearchBackend) -> Iterator[Route]:
    """The routes, custom methods first (their paths would otherwise match the plain index routes)."""
    api = _AiSearch(backend)
    idx = _BASE + "/{endpoint_id}/indexes/{index_id}"
    for method in ("POST", "GET"):
        yield Route(method, idx + ":query", api.query)
    yield Route("POST", idx + ":scan", api.scan)
    yield Route("POST", idx + ":upsertData", api.upsert)
    yield Route("POST", idx + ":removeData", api.remove)
    yield Route("POST", idx + ":sync", api.sync)
    yield Route("POST", _BASE, api.create_endpoint)
    yield Route("GET", _BASE, api.list_endpoints)
    yield Route("GET", _BASE + "/{endpoint_id}", api.get_endpoint)
    yield Route("DELETE", _BASE + "/{endpoint_id}", api.delete_endpoint)
    yield Route("POST", _BASE + "/{endpoint_id}/indexes", api.create_index)
    yield Route("GET", _BASE + "/{endpoint_id}/indexes", api.list_indexes)
    yield Route("GET", idx, api.get_index)
    yield Route("DELETE", idx, api.delete_index)


class _AiSearch:
    def __init__(self, backend: VectorSearchBackend) -> None:
        self.b = backend

    # --- endpoints ------------------------------------------------------------------------------

    def create_endpoint(self, request: LocalRequest) -> dict[str, Any]:
        name = request.arg("endpoint_id") or ""
        if not name:
            raise LocalApiError(400, "endpoint_id is required")
        return self._endpoint(request, self.b.add_endpoint(name, body_of(request)), count=False)

    def list_endpoints(self, request: LocalRequest) -> dict[str, Any]:
        return {"endpoints": [self._endpoint(request, e, count=False) for e in self.b.endpoints.values()]}

    def get_endpoint(self, request: LocalRequest) -> dict[str, Any]:
        return self._endpoint(request, self.b.endpoint(request.path_params["endpoint_id"]))

    def delete_endpoint(self, request: LocalRequest) -> dict[str, Any]:
        request.path_params["endpoint_name"] = request.path_params["endpoint_id"]
        return self.b._delete_endpoint(request)

    # --- indexes --------------------------------------------------------------------------------

    def create_index(self, request: LocalRequest) -> dict[str, Any]:
        body = dict(body_of(request))
        body["name"] = request.arg("index_id") or ""
        body["endpoint_name"] = request.path_params["endpoint_id"]
        return self._index(request, self.b.add_index(body), count=False)

    def list_indexes(self, request: LocalRequest) -> dict[str, Any]:
        endpoint = request.path_params["endpoint_id"]
        self.b.endpoint(endpoint)
        found = [i for i in self.b.indexes.values() if i.endpoint_name == endpoint]
        return {"indexes": [self._index(request, i, count=False) for i in found]}

    def get_index(self, request: LocalRequest) -> dict[str, Any]:
        return self._index(request, self._find(request))

    def delete_index(self, request: LocalRequest) -> dict[str, Any]:
        request.path_params["index_name"] = self._find(request).name
        return self.b._delete_index(request)

    # --- data -----------------------------------------------------------------------------------

    def query(self, request: LocalRequest) -> dict[str, Any]:
        body = body_of(request)
        if "page_size" in body and "max_results" not in body:
            body["max_results"] = body["page_size"]
        result = self.b.query(self._find(request), body, count_field="max_results")
        result.pop("next_page_token", None)  # QueryIndexResponse has no pages: everything up to max_results
        return result

    def scan(self, request: LocalRequest) -> dict[str, Any]:
        index = self._find(request)
        body = body_of(request)
        limit = int_field(body, "page_size", 10)
        after = _decode_token(body.get("page_token"))
        rows = index.store.scan(after=after, limit=limit + 1)
        page, more = rows[:limit], len(rows) > limit
        out: dict[str, Any] = {"data": page}
        if more:
            out["next_page_token"] = _encode_token(page[-1][index.primary_key])
        return out

    def upsert(self, request: LocalRequest) -> dict[str, Any]:
        return self.b.upsert(self._find(request), request)

    def remove(self, request: LocalRequest) -> dict[str, Any]:
        keys = body_of(request).get("primary_keys")
        if not isinstance(keys, list) or not keys:
            raise LocalApiError(400, "primary_keys is required: a non-empty list")
        return self.b.delete_keys(self._find(request), [str(k) for k in keys])

    def sync(self, request: LocalRequest) -> dict[str, Any]:
        self.b.sync(self._find(request))
        return {}

    # --- helpers --------------------------------------------------------------------------------

    def _find(self, request: LocalRequest) -> VectorIndex:
        index = self.b.index(request.path_params["index_id"])
        if index.endpoint_name != request.path_params["endpoint_id"]:
            raise LocalApiError(404, f"Index {index.name} is not on endpoint {request.path_params['endpoint_id']}.")
        return index

    def _endpoint(self, request: LocalRequest, endpoint: VectorEndpoint, *, count: bool = True) -> dict[str, Any]:
        legacy = self.b.endpoint_json(endpoint, count=count)
        return {
            "name": f"workspaces/{request.path_params['workspace_id']}/endpoints/{endpoint.name}",
            "id": endpoint.id,
            "endpoint_type": endpoint.endpoint_type,
            "creator": legacy["creator"],
            "create_time": _rfc3339(endpoint.created_ms),
            "update_time": _rfc3339(endpoint.created_ms),
            "last_updated_user": legacy["last_updated_user"],
            "index_count": legacy["num_indexes"],
            "endpoint_status": legacy["endpoint_status"],
            **endpoint.extra,
        }

    def _index(self, request: LocalRequest, index: VectorIndex, *, count: bool = True) -> dict[str, Any]:
        legacy = self.b.index_json(index, count=count)
        parent = f"workspaces/{request.path_params['workspace_id']}/endpoints/{index.endpoint_name}"
        legacy.pop("endpoint_name")
        return {**legacy, "name": f"{parent}/indexes/{index.name}", "endpoint": index.endpoint_name}


def _rfc3339(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _encode_token(key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def _decode_token(token: Any) -> Any:
    if not token:
        return None
    try:
        return json.loads(base64.urlsafe_b64decode(str(token).encode()))
    except ValueError as err:
        raise LocalApiError(400, "page_token is not one this index issued") from err
