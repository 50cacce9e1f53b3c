"""Databricks AI Search (Vector Search) of the local workspace (`ws.vector`): endpoints, indexes, data routes.

Both API generations are answered from the same state: the legacy `/api/2.0/vector-search/...` routes here
(what databricks-sdk's `w.vector_search_*` and the ai-search Python client send), the AIP-style
`/api/2.0/ai-search/...` routes in `_vector_aisearch`. Each index is a `LocalVectorStore` (exact search).
Endpoints go `PROVISIONING` -> `ONLINE` and indexes `PROVISIONING_INITIAL_SNAPSHOT` ->
`ONLINE_NO_PENDING_UPDATE` through `ws.states` (kinds `vector-search-endpoint` and `vector-index`).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dbx_native.errors import InvalidRequestError
from dbx_native.local._router import Route
from dbx_native.local._states import StateMachine
from dbx_native.local._vector_store import LocalVectorStore
from dbx_native.local._vector_wire import (
    body_of,
    check_index_name,
    int_field,
    parse_inputs,
    primary_keys_of,
    query_result,
    struct_row,
)
from dbx_native.local._wire import LocalApiError, LocalRequest, LocalResponse

__all__ = ["ENDPOINT_KIND", "INDEX_KIND", "VectorSearchBackend"]

ENDPOINT_KIND = "vector-search-endpoint"
INDEX_KIND = "vector-index"
LOCAL_USER = "local-user@dbx-native.invalid"
_API = "/api/2.0/vector-search"
EmbedderFor = Callable[[str, int | None], Callable[[list[str]], list[list[float]]]]


@dataclass
class VectorEndpoint:
    name: str
    endpoint_type: str
    created_ms: int
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class VectorIndex:
    name: str
    endpoint_name: str
    primary_key: str
    index_type: str
    index_subtype: str
    spec: dict[str, Any]
    store: LocalVectorStore
    created_ms: int
    id: str = field(default_factory=lambda: uuid.uuid4().hex)


class VectorSearchBackend:
    """AI Search of a `LocalWorkspace` (`ws.vector`): the REST routes and a Python API for tests.

    Args:
        states: The workspace's state machines: endpoint and index readiness follow them.
        time: The current time in seconds (the workspace clock).
        read_table: Reads a Unity Catalog table's rows (the source of Delta Sync indexes).
        embedder_for: `(model endpoint name, dimension)` -> a function embedding texts (managed embeddings).

    Attributes:
        page_size: Most rows in one query response; more come through `next_page_token`.
        visibility_lag: Queries and scans for which freshly upserted rows stay invisible (eventual consistency).
        max_request_bytes: Largest upsert body accepted.

    Example:
        >>> from dbx_native.local import LocalWorkspace
        >>> ws = LocalWorkspace()
        >>> _ = ws.vector.create_endpoint("memory")
        >>> ws.vector.create_index("main.agent.memory", endpoint_name="memory", dimension=2)["status"]["ready"]
        True
    """

    def __init__(
        self,
        *,
        states: StateMachine,
        time: Callable[[], float],
        read_table: Callable[[str], list[dict[str, Any]]] | None = None,
        embedder_for: EmbedderFor | None = None,
    ) -> None:
        self._states = states
        self._time = time
        self._read_table = read_table
        self._embedder_for = embedder_for
        self.endpoints: dict[str, VectorEndpoint] = {}
        self.indexes: dict[str, VectorIndex] = {}
        self.page_size = 1000
        self.visibility_lag = 0
        self.max_request_bytes = 10 * 1024 * 1024
        self._pages: dict[str, tuple[str, list[str], list[tuple[dict[str, Any], float]]]] = {}
        self._lock = threading.RLock()
        states.define(ENDPOINT_KIND, ["PROVISIONING", "ONLINE"])
        states.define(INDEX_KIND, ["PROVISIONING_INITIAL_SNAPSHOT", "ONLINE_NO_PENDING_UPDATE"])

    # --- Python API -----------------------------------------------------------------------------

    def create_endpoint(self, name: str, *, endpoint_type: str = "STANDARD") -> dict[str, Any]:
        """Create an AI Search endpoint; returns its `EndpointInfo` JSON.

        Raises:
            InvalidRequestError: The name is taken or the type unknown.
        """
        try:
            return self.endpoint_json(self.add_endpoint(name, {"endpoint_type": endpoint_type}), count=False)
        except LocalApiError as err:
            raise InvalidRequestError(err.message) from None

    def create_index(
        self,
        name: str,
        *,
        endpoint_name: str,
        primary_key: str = "id",
        dimension: int | None = None,
        schema: Mapping[str, str] | None = None,
        vector_column: str = "embedding",
        metric: str = "cosine",
        source_table: str | None = None,
        embedding_source_column: str | None = None,
        embedding_model_endpoint: str | None = None,
    ) -> dict[str, Any]:
        """Create a Direct Access index (or a Delta Sync one with `source_table`); returns its JSON.

        Args:
            name: `catalog.schema.index`.
            endpoint_name: An endpoint made with `create_endpoint`.
            primary_key: The primary-key column.
            dimension: Vector size (self-managed embeddings).
            schema: Column -> type for a Direct Access index (`{"id": "string", "text": "string"}`).
            vector_column: The vector column's name.
            metric: `cosine`, `l2` or `dot_product` (a local choice: the service does not expose one).
            source_table: The Unity Catalog table a Delta Sync index reads.
            embedding_source_column: Text column to embed (managed embeddings).
            embedding_model_endpoint: The embedding endpoint for managed embeddings.

        Raises:
            InvalidRequestError: The request would be refused by the service (the message says why).
        """
        body = _index_request(
            name, endpoint_name, primary_key, dimension, schema, vector_column,
            source_table, embedding_source_column, embedding_model_endpoint,
        )  # fmt: skip
        try:
            index = self.add_index(body, metric=metric)
        except LocalApiError as err:
            raise InvalidRequestError(err.message) from None
        return self.index_json(index, count=False)

    def store(self, name: str) -> LocalVectorStore:
        """The `LocalVectorStore` behind index `name` (read rows, set `visibility_lag`, ...).

        Raises:
            KeyError: No such index.
        """
        return self.indexes[name].store

    def rows(self, name: str) -> list[dict[str, Any]]:
        """Every row of index `name` in primary-key order, vectors left out."""
        store = self.store(name)
        return [row for key in sorted(store._pos, key=str) if (row := store.get(key)) is not None]

    def routes(self) -> Iterable[Route]:
        from dbx_native.local._vector_aisearch import aisearch_routes

        idx = _API + "/indexes/{index_name}"
        yield Route("POST", _API + "/endpoints", self._create_endpoint)
        yield Route("GET", _API + "/endpoints", self._list_endpoints)
        yield Route("GET", _API + "/endpoints/{endpoint_name}", self._get_endpoint)
        yield Route("DELETE", _API + "/endpoints/{endpoint_name}", self._delete_endpoint)
        yield Route("POST", _API + "/indexes", self._create_index)
        yield Route("GET", _API + "/indexes", self._list_indexes)
        yield Route("GET", idx, self._get_index)
        yield Route("DELETE", idx, self._delete_index)
        for method in ("POST", "GET"):  # the ai-search client sends queries and scans as GET with a JSON body
            yield Route(method, idx + "/query", self._query)
            yield Route(method, idx + "/query-next-page", self._query_next_page)
            yield Route(method, idx + "/scan", self._scan)
        yield Route("POST", idx + "/upsert-data", self._upsert)
        yield Route("DELETE", idx + "/delete-data", self._delete_data)
        yield Route("POST", idx + "/delete-data", self._delete_data)
        yield Route("POST", idx + "/sync", self._sync)
        yield from aisearch_routes(self)

    def reset(self) -> None:
        with self._lock:
            self.endpoints.clear()
            self.indexes.clear()
            self._pages.clear()
            self.page_size = 1000
            self.visibility_lag = 0

    # --- operations shared by both API generations ----------------------------------------------

    def add_endpoint(self, name: str, body: Mapping[str, Any]) -> VectorEndpoint:
        if not name or not all(c.isalnum() or c in "-_" for c in name):
            raise LocalApiError(400, f"Endpoint name {name!r} may hold only letters, digits, '-' and '_'")
        endpoint_type = str(body.get("endpoint_type") or "STANDARD")
        if endpoint_type not in ("STANDARD", "STORAGE_OPTIMIZED"):
            raise LocalApiError(400, f"endpoint_type must be STANDARD or STORAGE_OPTIMIZED, not {endpoint_type!r}")
        with self._lock:
            if name in self.endpoints:
                raise LocalApiError(409, f"Vector search endpoint {name} already exists.")
            extra = {k: body[k] for k in ("budget_policy_id", "target_qps", "usage_policy_id") if k in body}
            endpoint = self.endpoints[name] = VectorEndpoint(name, endpoint_type, self._now_ms(), extra=extra)
        self._states.start(ENDPOINT_KIND, name)
        return endpoint

    def endpoint(self, name: str) -> VectorEndpoint:
        endpoint = self.endpoints.get(name)
        if endpoint is None:
            raise LocalApiError(404, f"Vector search endpoint {name} not found.")
        return endpoint

    def index(self, name: str) -> VectorIndex:
        index = self.indexes.get(name)
        if index is None:
            raise LocalApiError(404, f"Index {name} does not exist.")
        return index

    def add_index(self, body: Mapping[str, Any], *, metric: str = "cosine") -> VectorIndex:
        from dbx_native.local._vector_specs import build_index

        name = str(body.get("name") or "")
        check_index_name(name)
        self.endpoint(str(body.get("endpoint_name") or ""))
        with self._lock:
            if name in self.indexes:
                raise LocalApiError(409, f"Index {name} already exists.")
            index = build_index(body, metric=metric, embedder_for=self._embedder_for, now_ms=self._now_ms())
            index.store.visibility_lag = self.visibility_lag
            self.indexes[name] = index
        self._states.start(INDEX_KIND, name)
        if index.index_type == "DELTA_SYNC":
            self.sync(index)
        return index

    def query(self, index: VectorIndex, body: Mapping[str, Any], *, count_field: str) -> dict[str, Any]:
        columns = body.get("columns")
        if not isinstance(columns, list) or not columns or not all(isinstance(c, str) for c in columns):
            raise LocalApiError(400, "columns is required: the list of columns to return")
        known = set(index.store.columns)
        unknown = [c for c in columns if c not in known and c != index.store.vector_column]
        if unknown:
            raise LocalApiError(400, f"Requested columns do not exist in the index: {unknown}")
        filters = body.get("filters_json", body.get("filters"))
        num = int_field(body, count_field, 10)
        threshold = body.get("score_threshold")
        hits = index.store.query(
            vector=body.get("query_vector"),
            text=body.get("query_text"),
            k=num,
            filters=filters,
            query_type=str(body.get("query_type") or "ANN"),
            score_threshold=float(threshold) if threshold is not None else None,
            query_columns=body.get("query_columns") or None,
            sort_columns=body.get("sort_columns") or None,
        )
        return self._page(index, columns, hits)

    def upsert(self, index: VectorIndex, request: LocalRequest) -> dict[str, Any]:
        if index.index_type != "DIRECT_ACCESS":
            raise LocalApiError(400, f"Index {index.name} is a Delta Sync index: write to its source table instead")
        if len(request.body) > self.max_request_bytes:
            raise LocalApiError(
                400, f"Request of {len(request.body)} bytes exceeds the {self.max_request_bytes}-byte upsert limit"
            )
        rows = parse_inputs(body_of(request))
        written, failed = index.store.upsert(rows)
        status = "SUCCESS" if not failed else "PARTIAL_SUCCESS" if written else "FAILURE"
        return {"status": status, "result": {"success_row_count": written, "failed_primary_keys": failed}}

    def delete_keys(self, index: VectorIndex, keys: Sequence[str]) -> dict[str, Any]:
        if index.index_type != "DIRECT_ACCESS":
            raise LocalApiError(400, f"Index {index.name} is a Delta Sync index: delete from its source table instead")
        index.store.delete(keys)
        return {"status": "SUCCESS", "result": {"success_row_count": len(keys), "failed_primary_keys": []}}

    def sync(self, index: VectorIndex) -> None:
        if index.index_type != "DELTA_SYNC":
            raise LocalApiError(400, f"Index {index.name} is not a Delta Sync index; only those can be synced")
        spec = index.spec
        if self._read_table is None:
            raise LocalApiError(501, "This local workspace has no catalog to sync from")
        try:
            source = self._read_table(str(spec["source_table"]))
        except Exception as err:
            raise LocalApiError(404, f"Source table {spec['source_table']} of index {index.name}: {err}") from err
        keep = spec.get("columns_to_sync") or None
        rows = [{k: v for k, v in r.items() if keep is None or k in keep or k == index.primary_key} for r in source]
        store = index.store
        store.autosave, lag = False, store.visibility_lag
        store.visibility_lag = 0  # a sync publishes a whole snapshot at once
        try:
            store.clear()
            store.upsert(rows)
        finally:
            store.visibility_lag = lag

    # --- JSON -----------------------------------------------------------------------------------

    def endpoint_json(self, endpoint: VectorEndpoint, *, count: bool = True) -> dict[str, Any]:
        read = self._states.read if count else self._states.peek
        state = read(ENDPOINT_KIND, endpoint.name)
        return {
            "name": endpoint.name,
            "id": endpoint.id,
            "endpoint_type": endpoint.endpoint_type,
            "creator": LOCAL_USER,
            "creation_timestamp": endpoint.created_ms,
            "last_updated_timestamp": endpoint.created_ms,
            "last_updated_user": LOCAL_USER,
            "num_indexes": sum(1 for i in self.indexes.values() if i.endpoint_name == endpoint.name),
            "endpoint_status": {"state": state, "message": f"Endpoint is {state.lower()}."},
            **endpoint.extra,
        }

    def index_json(self, index: VectorIndex, *, count: bool = True) -> dict[str, Any]:
        read = self._states.read if count else self._states.peek
        state = read(INDEX_KIND, index.name)
        spec_key = "direct_access_index_spec" if index.index_type == "DIRECT_ACCESS" else "delta_sync_index_spec"
        return {
            "name": index.name,
            "endpoint_name": index.endpoint_name,
            "primary_key": index.primary_key,
            "index_type": index.index_type,
            "index_subtype": index.index_subtype,
            "creator": LOCAL_USER,
            spec_key: index.spec,
            "status": {
                "ready": state.startswith("ONLINE"),
                "detailed_state": state,
                "indexed_row_count": len(index.store),
                "message": f"Index is {state.lower().replace('_', ' ')}.",
                "index_url": f"local/{index.endpoint_name}/{index.name}",
            },
        }

    def mini_index_json(self, index: VectorIndex) -> dict[str, Any]:
        keys = ("name", "endpoint_name", "primary_key", "index_type", "index_subtype")
        return {k: getattr(index, k) for k in keys} | {"creator": LOCAL_USER}

    # --- legacy route handlers ------------------------------------------------------------------

    def _create_endpoint(self, request: LocalRequest) -> dict[str, Any]:
        body = body_of(request)
        return self.endpoint_json(self.add_endpoint(str(body.get("name") or ""), body), count=False)

    def _list_endpoints(self, request: LocalRequest) -> dict[str, Any]:
        return {"endpoints": [self.endpoint_json(e, count=False) for e in self.endpoints.values()]}

    def _get_endpoint(self, request: LocalRequest) -> dict[str, Any]:
        return self.endpoint_json(self.endpoint(request.path_params["endpoint_name"]))

    def _delete_endpoint(self, request: LocalRequest) -> dict[str, Any]:
        name = request.path_params["endpoint_name"]
        self.endpoint(name)
        with self._lock:
            if any(i.endpoint_name == name for i in self.indexes.values()):
                raise LocalApiError(400, f"Endpoint {name} still has indexes; delete them first.")
            del self.endpoints[name]
        self._states.forget(ENDPOINT_KIND, name)
        return {}

    def _create_index(self, request: LocalRequest) -> dict[str, Any]:
        return self.index_json(self.add_index(body_of(request)), count=False)

    def _list_indexes(self, request: LocalRequest) -> dict[str, Any]:
        endpoint = request.arg("endpoint_name")
        found = [i for i in self.indexes.values() if endpoint is None or i.endpoint_name == endpoint]
        return {"vector_indexes": [self.mini_index_json(i) for i in found]}

    def _get_index(self, request: LocalRequest) -> dict[str, Any]:
        return self.index_json(self.index(request.path_params["index_name"]))

    def _delete_index(self, request: LocalRequest) -> dict[str, Any]:
        name = request.path_params["index_name"]
        self.index(name)
        with self._lock:
            del self.indexes[name]
        self._states.forget(INDEX_KIND, name)
        return {}

    def _query(self, request: LocalRequest) -> dict[str, Any]:
        return self.query(self.index(request.path_params["index_name"]), body_of(request), count_field="num_results")

    def _query_next_page(self, request: LocalRequest) -> dict[str, Any]:
        index = self.index(request.path_params["index_name"])
        token = str(body_of(request).get("page_token") or "")
        with self._lock:
            page = self._pages.pop(token, None)
        if page is None or page[0] != index.name:
            raise LocalApiError(400, "page_token is unknown or already used; run the query again")
        return self._page(index, page[1], page[2])

    def _scan(self, request: LocalRequest) -> dict[str, Any]:
        index = self.index(request.path_params["index_name"])
        body = body_of(request)
        limit = int_field(body, "num_results", 10)
        rows = index.store.scan(after=body.get("last_primary_key"), limit=limit)
        out: dict[str, Any] = {"data": [struct_row(r) for r in rows]}
        if rows:
            out["last_primary_key"] = str(rows[-1][index.primary_key])
        return out

    def _upsert(self, request: LocalRequest) -> dict[str, Any]:
        return self.upsert(self.index(request.path_params["index_name"]), request)

    def _delete_data(self, request: LocalRequest) -> dict[str, Any]:
        return self.delete_keys(self.index(request.path_params["index_name"]), primary_keys_of(request))

    def _sync(self, request: LocalRequest) -> LocalResponse:
        self.sync(self.index(request.path_params["index_name"]))
        return LocalResponse.json({})

    # --- helpers --------------------------------------------------------------------------------

    def _page(self, index: VectorIndex, columns: list[str], hits: list[tuple[dict[str, Any], float]]) -> dict[str, Any]:
        page, rest = hits[: self.page_size], hits[self.page_size :]
        out = query_result(columns, index.store.schema, page)
        if rest:
            token = uuid.uuid4().hex
            with self._lock:
                self._pages[token] = (index.name, columns, rest)
            out["next_page_token"] = token
        return out

    def _now_ms(self) -> int:
        return int(self._time() * 1000)

    def __repr__(self) -> str:
        return f"VectorSearchBackend(endpoints={sorted(self.endpoints)!r}, indexes={sorted(self.indexes)!r})"


def _index_request(
    name: str,
    endpoint_name: str,
    primary_key: str,
    dimension: int | None,
    schema: Mapping[str, str] | None,
    vector_column: str,
    source_table: str | None,
    source_column: str | None,
    model_endpoint: str | None,
) -> dict[str, Any]:
    vectors = [{"name": vector_column, "embedding_dimension": dimension}] if dimension else []
    sources = [{"name": source_column, "embedding_model_endpoint_name": model_endpoint}] if source_column else []
    body: dict[str, Any] = {"name": name, "endpoint_name": endpoint_name, "primary_key": primary_key}
    if source_table is not None:
        body["index_type"] = "DELTA_SYNC"
        body["delta_sync_index_spec"] = {
            "source_table": source_table,
            "pipeline_type": "TRIGGERED",
            **({"embedding_vector_columns": vectors} if vectors else {}),
            **({"embedding_source_columns": sources} if sources else {}),
        }
        return body
    full_schema = dict(schema or {primary_key: "string"})
    if vectors:
        full_schema.setdefault(vector_column, "array<float>")
    body["index_type"] = "DIRECT_ACCESS"
    body["direct_access_index_spec"] = {
        "schema_json": json.dumps(full_schema),
        **({"embedding_vector_columns": vectors} if vectors else {}),
        **({"embedding_source_columns": sources} if sources else {}),
    }
    return body
