"""Index lifecycle for VectorMemory: describe, ensure (create endpoint and index, wait), read-after-write waits."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from dbx_native._core.logs import get_logger
from dbx_native._core.waiters import Poll
from dbx_native.errors import APIResponseError, ConflictError, InvalidRequestError, NotFoundError, OperationTimeoutError
from dbx_native.vector._models import IndexInfo
from dbx_native.vector._records import BASE_COLUMNS

if TYPE_CHECKING:
    from dbx_native.vector._memory import VectorMemory

__all__ = ["describe", "ensure_index", "wait_until_visible"]

_log = get_logger("dbx_native.vector")
_ENDPOINT_FAILED = frozenset({"OFFLINE", "RED_STATE", "DELETED", "STOPPED"})
_VISIBLE_BATCH = 1000


def describe(mem: VectorMemory, timeout: float | None) -> IndexInfo:
    """GET the index; remember its dimension and schema on `mem`."""
    routes = mem._routes(timeout)
    body = mem._http.request("GET", routes.index_path, timeout=timeout, operation="vector.describe").json() or {}
    info = _index_info(mem, body)
    if mem._dimension is None:
        mem._dimension = info.dimension
    if info.columns:
        mem._schema = dict(info.columns)
    mem._info_loaded = True
    return info


def _index_info(mem: VectorMemory, body: Mapping[str, Any]) -> IndexInfo:
    spec = body.get("direct_access_index_spec") or body.get("delta_sync_index_spec") or {}
    vectors = spec.get("embedding_vector_columns") or []
    dimension = vectors[0].get("embedding_dimension") if vectors else None
    columns: dict[str, str] = {}
    if isinstance(spec.get("schema_json"), str):
        try:
            schema = json.loads(spec["schema_json"])
        except ValueError:
            schema = {}
        vector_names = {v.get("name") for v in vectors}
        columns = {str(k): str(v) for k, v in schema.items() if k not in vector_names}
    status = body.get("status") or {}
    return IndexInfo(
        name=mem.index,
        endpoint=body.get("endpoint_name") or body.get("endpoint") or mem.endpoint,
        ready=bool(status.get("ready")),
        state=status.get("detailed_state"),
        dimension=int(dimension) if isinstance(dimension, int | float) else None,
        columns=columns,
        indexed_row_count=status.get("indexed_row_count"),
    )


def ensure_index(
    mem: VectorMemory,
    dimension: int | None,
    embedding_endpoint: str | None,
    endpoint_type: str,
    wait: bool,
    wait_timeout: float,
    progress: Callable[[str], None] | None,
    timeout: float | None,
) -> IndexInfo:
    if not mem.endpoint:
        raise InvalidRequestError("ensure_index() needs the AI Search endpoint: VectorMemory(..., endpoint='name')")
    routes = mem._routes(timeout)
    try:
        mem._http.request("GET", routes.endpoint_path, timeout=timeout, operation="vector.get_endpoint")
    except NotFoundError:
        path, params, body = routes.create_endpoint_request(endpoint_type)
        _log.info("creating AI Search endpoint %s (%s)", mem.endpoint, endpoint_type)
        _create(mem, path, params, body, timeout)
    created = False
    try:
        info = describe(mem, timeout)
    except NotFoundError:
        spec = _index_spec(mem, dimension, embedding_endpoint)
        path, params, body = routes.create_index_request(spec)
        _log.info("creating Direct Access index %s on endpoint %s", mem.index, mem.endpoint)
        created = _create(mem, path, params, body, timeout)
        info = describe(mem, timeout)
    _check_fits(mem, info, dimension)
    if wait:  # also when the index says ready: queries need the endpoint ONLINE too
        info = _wait_ready(mem, wait_timeout, progress, timeout)
    return info.model_copy(update={"created": created})


def _create(mem: VectorMemory, path: str, params: Any, body: Any, timeout: float | None) -> bool:
    try:
        # A create is not idempotent by key, but a repeat is harmless: it answers 409, which we accept.
        mem._http.request("POST", path, params=params, json_body=body, idempotent=True, timeout=timeout)
        return True
    except ConflictError:
        return False


def _index_spec(mem: VectorMemory, dimension: int | None, embedding_endpoint: str | None) -> dict[str, Any]:
    schema: dict[str, str] = {**BASE_COLUMNS, **mem.columns}
    if mem.text_column != "text":
        schema[mem.text_column] = schema.pop("text")
    spec: dict[str, Any] = {}
    if mem._embed is not None:
        dim = dimension or mem._dimension
        if dim is None:
            dim = len(mem._embed(["dimension probe"])[0])
        if dim < 1:
            raise InvalidRequestError(f"dimension must be a positive integer, not {dim}")
        mem._dimension = dim
        schema["embedding"] = "array<float>"
        spec["embedding_vector_columns"] = [{"name": "embedding", "embedding_dimension": dim}]
    elif embedding_endpoint:
        spec["embedding_source_columns"] = [
            {"name": mem.text_column, "embedding_model_endpoint_name": embedding_endpoint}
        ]
    else:
        raise InvalidRequestError(
            "without embed=, the index computes embeddings itself: pass ensure_index(embedding_endpoint='<model>')"
        )
    spec["schema_json"] = json.dumps(schema)
    return {"primary_key": "id", "index_type": "DIRECT_ACCESS", "direct_access_index_spec": spec}


def _check_fits(mem: VectorMemory, info: IndexInfo, dimension: int | None) -> None:
    if dimension is not None and info.dimension is not None and dimension != info.dimension:
        raise InvalidRequestError(
            f"index {mem.index} holds {info.dimension}-dimensional vectors, not {dimension}: "
            "use another index name for another embedding model"
        )
    missing = sorted({"id", "conversation_id", "seq"} - set(info.columns)) if info.columns else []
    if missing:
        raise InvalidRequestError(f"index {mem.index} exists but lacks the memory columns {missing}")


def _wait_ready(
    mem: VectorMemory, wait_timeout: float, progress: Callable[[str], None] | None, timeout: float | None
) -> IndexInfo:
    poll = Poll(mem._http.clock, timeout=wait_timeout, initial=1.0, factor=2.0, maximum=10.0)
    routes = mem._routes(timeout)
    last_state, seen = "unknown", ""
    while True:
        endpoint = mem._http.request("GET", routes.endpoint_path, timeout=timeout).json() or {}
        ep_state = str((endpoint.get("endpoint_status") or {}).get("state") or "UNKNOWN")
        if ep_state in _ENDPOINT_FAILED:
            raise APIResponseError(f"AI Search endpoint {mem.endpoint} is {ep_state}; check it in the workspace UI")
        info = describe(mem, timeout) if ep_state == "ONLINE" else None
        last_state = f"endpoint {ep_state}" + (f", index {info.state or ('ready' if info.ready else 'not ready')}"
                                               if info else "")  # fmt: skip
        if last_state != seen:
            seen = last_state
            _log.info("waiting for index %s: %s", mem.index, last_state)
            if progress is not None:
                progress(last_state)
        if info is not None and info.ready:
            return info
        if not poll.wait():
            raise OperationTimeoutError(
                f"index {mem.index} was not ready after {wait_timeout:.0f} s ({last_state}); "
                "call ensure_index() again to keep waiting",
                last_state=last_state,
                timeout=wait_timeout,
            )


def wait_until_visible(mem: VectorMemory, ids: list[str], timeout: float, request_timeout: float | None) -> None:
    if not ids:
        return
    poll = Poll(mem._http.clock, timeout=timeout, initial=0.05, factor=2.0, maximum=2.0)
    missing = list(dict.fromkeys(str(i) for i in ids))
    while True:
        still: list[str] = []
        for i in range(0, len(missing), _VISIBLE_BATCH):
            chunk = missing[i : i + _VISIBLE_BATCH]
            rows = mem._lookup({"id": chunk}, ["id"], len(chunk), None, request_timeout)
            found = {str(r.get("id")) for r in rows}
            still.extend(k for k in chunk if k not in found)
        missing = still
        if not missing:
            return
        _log.debug("waiting for %d ids to become visible in %s", len(missing), mem.index)
        if not poll.wait():
            raise OperationTimeoutError(
                f"{len(missing)} of {len(ids)} ids were not visible in index {mem.index} after {timeout} s "
                f"(first: {missing[:3]}); the index may be syncing slowly: wait longer",
                last_state={"missing": missing},
                timeout=timeout,
            )
