"""The request layer under VectorMemory: routes, chunked idempotent upserts, deletes, paged queries."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from dbx_native._core.client import BaseClient
from dbx_native._core.logs import get_logger
from dbx_native.errors import APIResponseError, InvalidRequestError, NotFoundError
from dbx_native.vector._models import IndexInfo
from dbx_native.vector._records import check_vectors
from dbx_native.vector._wire import Api, Routes, encode_rows, rows_from_query

__all__ = ["MemoryTransport"]

_log = get_logger("dbx_native.vector")
_DELETE_BATCH = 100  # keys per delete-data call: they travel in the query string


class MemoryTransport(BaseClient):
    """What VectorMemory sends and how; the public verbs live on `VectorMemory`."""

    _client_name: ClassVar[str] = "vector"
    index: str
    endpoint: str | None
    api: Api
    max_request_bytes: int
    _embed: Callable[[list[str]], list[list[float]]] | None
    _workspace_id: str | None
    _dimension: int | None
    _schema: dict[str, str] | None
    _info_loaded: bool

    def describe(self, *, timeout: float | None = None) -> IndexInfo:
        raise NotImplementedError  # pragma: no cover - VectorMemory implements it

    def _upsert(self, rows: list[dict[str, Any]], timeout: float | None) -> None:
        routes = self._routes(timeout)
        for chunk in encode_rows(rows, self.max_request_bytes):  # all chunks encoded before the first is sent
            self._upsert_chunk(routes, chunk, timeout, retry_failed=True)

    def _upsert_chunk(self, routes: Routes, chunk: str, timeout: float | None, *, retry_failed: bool) -> None:
        response = self._http.request(
            "POST", routes.method_path("upsert"), json_body={"inputs_json": chunk}, idempotent=True,
            timeout=timeout, operation="vector.upsert",
        )  # fmt: skip
        body = response.json() or {}
        status = body.get("status", "SUCCESS")
        failed = list((body.get("result") or {}).get("failed_primary_keys") or [])
        if status == "SUCCESS" and not failed:
            return
        if retry_failed and failed:  # keys fix the rows, so sending the failed ones again is safe
            again = [r for r in json.loads(chunk) if str(r.get("id")) in set(failed)]
            _log.info("upsert of %d rows to %s failed; sending them once more", len(again), self.index)
            self._upsert_chunk(routes, json.dumps(again, separators=(",", ":")), timeout, retry_failed=False)
            return
        raise APIResponseError(
            f"upsert to index {self.index} answered {status}; rows not written: {failed[:10]}"
            f"{' ...' if len(failed) > 10 else ''}. Check their values against the index schema, then add again "
            "(writes are idempotent).",
            request_id=response.request_id,
        )

    def _delete(self, keys: list[str], timeout: float | None) -> None:
        routes = self._routes(timeout)
        for i in range(0, len(keys), _DELETE_BATCH):
            method, path, params, body = routes.delete_request(keys[i : i + _DELETE_BATCH])
            self._http.request(
                method, path, params=params, json_body=body, idempotent=True, timeout=timeout,
                operation="vector.delete",
            )  # fmt: skip

    def _query(
        self, body: dict[str, Any], flt: dict[str, Any], k: int, timeout: float | None, *, operation: str
    ) -> list[dict[str, Any]]:
        routes = self._routes(timeout)
        body = {**body, routes.count_field: k}
        if flt:
            body["filters_json"] = json.dumps(flt, separators=(",", ":"))
        response = self._http.request(
            "POST", routes.method_path("query"), json_body=body, idempotent=True, timeout=timeout, operation=operation
        )
        payload = response.json()
        rows = rows_from_query(payload, response.request_id)
        token = payload.get("next_page_token") if isinstance(payload, Mapping) else None
        while token and len(rows) < k and self.api == "vector-search":  # the legacy API pages past 1,000 rows
            response = self._http.request(
                "POST", routes.method_path("next-page"), json_body={"endpoint_name": self.endpoint,
                "page_token": token}, idempotent=True, timeout=timeout, operation=operation,
            )  # fmt: skip
            payload = response.json()
            rows.extend(rows_from_query(payload, response.request_id))
            token = payload.get("next_page_token") if isinstance(payload, Mapping) else None
        return rows[:k]

    def _lookup(
        self, flt: dict[str, Any], columns: list[str], n: int, sort: str | None, timeout: float | None
    ) -> list[dict[str, Any]]:
        """A query that selects by filter (and sorts by column); its vector or text only has to be valid."""
        body: dict[str, Any] = {"columns": columns, "query_type": "ANN"}
        if sort:
            body["sort_columns"] = [sort]
        if self._embed is not None:
            dimension = self._index_dimension(timeout)
            body["query_vector"] = [1.0] + [0.0] * (dimension - 1)
        else:
            body["query_text"] = "conversation"
        return self._query(body, flt, n, timeout, operation="vector.lookup")

    def _vectors(self, texts: list[str], timeout: float | None) -> list[list[float]]:
        assert self._embed is not None
        dimension = self._index_dimension(timeout)
        return check_vectors(self._embed(texts), len(texts), dimension)

    def _index_dimension(self, timeout: float | None) -> int:
        if self._dimension is None:
            self._load_info(timeout)
        if self._dimension is None:
            raise InvalidRequestError(
                f"index {self.index} has no self-managed vector column; pass embed=None to use its managed embeddings"
            )
        return self._dimension

    def _load_info(self, timeout: float | None) -> None:
        if not self._info_loaded:
            try:
                self.describe(timeout=timeout)
            except NotFoundError as err:
                raise NotFoundError(
                    f"index {self.index} does not exist; create it with ensure_index() first",
                    status_code=err.status_code,
                    error_code=err.error_code,
                    request_id=err.request_id,
                ) from err

    def _routes(self, timeout: float | None) -> Routes:
        if self.api == "ai-search":
            if not self.endpoint:
                raise InvalidRequestError("the ai-search API names indexes under their endpoint: pass endpoint=")
            if self._workspace_id is None:
                probe = self._http.request("GET", "/.well-known/databricks-config", timeout=timeout, traced=False)
                self._workspace_id = str((probe.json() or {}).get("workspace_id") or "")
                if not self._workspace_id:
                    raise InvalidRequestError("the workspace did not report its id: pass workspace_id=")
        return Routes(self.api, self.index, self.endpoint, self._workspace_id)
