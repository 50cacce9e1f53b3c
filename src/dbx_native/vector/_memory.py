"""`VectorMemory`: conversation memory for agents on a Databricks AI Search (Vector Search) index."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar

from dbx_native._core.clock import Clock
from dbx_native.config import DbxConfig
from dbx_native.errors import InvalidRequestError
from dbx_native.vector._filters import Filter, normalize_filters
from dbx_native.vector._io import MemoryTransport
from dbx_native.vector._models import IndexInfo, MemoryHit, MemoryRecord
from dbx_native.vector._records import (
    BASE_COLUMNS,
    Message,
    as_embedder,
    content_hash,
    normalize_messages,
    record_from_row,
)
from dbx_native.vector._wire import Api, rows_from_scan

__all__ = ["VectorMemory"]

_QUERY_TYPES = {"ann": "ANN", "hybrid": "HYBRID", "full_text": "FULL_TEXT"}
_MAX_RESULTS = 10_000
_KEYWORD_MAX_RESULTS = 200  # hybrid and full-text queries return at most 200 rows
_LOOKUP_PAGE = 1000
DEFAULT_MAX_REQUEST_BYTES = 4 * 1024 * 1024


class VectorMemory(MemoryTransport):
    """Conversation memory on an AI Search index: append, sync, search, recall, forget and prune.

    Every stored message is one row keyed `{conversation_id}:{seq}`. Keys are computed before anything is
    sent, so a retried or replayed upsert overwrites the same rows and never duplicates them; upserts are
    therefore retried on 429, 5xx and dropped connections.

    Args:
        index: The index, `catalog.schema.index`.
        endpoint: The AI Search endpoint hosting it (needed by `ensure_index` and the `ai-search` API).
        embed: A `GatewayClient` on an embedding endpoint, a function `list[str] -> list[list[float]]`, or
            `None` for an index that computes embeddings itself (managed embeddings).
        text_column: The column holding the message text.
        columns: Extra index columns (name -> type, e.g. `{"user_id": "string"}`), filled from message keys
            of the same name and returned in `MemoryHit.extra`.
        api: `"vector-search"` (the legacy routes, default) or `"ai-search"` (the AIP-style routes).
        workspace_id: The workspace id for `ai-search` routes (read from the workspace when omitted).
        dimension: The vector size, when known (otherwise read from the index).
        max_request_bytes: Largest upsert request; bigger writes are split into several requests.
        config: Connection settings (`DbxConfig()` from the environment when omitted).
        clock: Time source and sleeper (tests use `FakeClock`).

    Example:
        >>> from dbx_native.local import LocalWorkspace
        >>> ws = LocalWorkspace()
        >>> embed = lambda texts: [[float("card" in t), float("refund" in t), 1.0] for t in texts]
        >>> with ws.intercept():
        ...     mem = VectorMemory("main.agent.memory", endpoint="memory", embed=embed, config=ws.config)
        ...     _ = mem.ensure_index()
        ...     mem.add("c-1", ["my card was declined", "I want a refund"])
        ...     mem.search("refund please", k=1)[0].text
        ['c-1:0', 'c-1:1']
        'I want a refund'
    """

    _client_name: ClassVar[str] = "vector"

    def __init__(
        self,
        index: str,
        *,
        endpoint: str | None = None,
        embed: Any = None,
        text_column: str = "text",
        columns: Mapping[str, str] | None = None,
        api: Api = "vector-search",
        workspace_id: str | int | None = None,
        dimension: int | None = None,
        max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
        config: DbxConfig | None = None,
        clock: Clock | None = None,
        _credentials: Any = None,
    ) -> None:
        if not isinstance(index, str) or index.count(".") != 2 or any(not p for p in index.split(".")):
            raise InvalidRequestError(f"index must be a three-level name catalog.schema.index, not {index!r}")
        if api not in ("vector-search", "ai-search"):
            raise InvalidRequestError(f"api must be 'vector-search' or 'ai-search', not {api!r}")
        extra = dict(columns or {})
        clash = sorted(set(extra) & (set(BASE_COLUMNS) | {"embedding", text_column}))
        if clash:
            raise InvalidRequestError(f"columns= may not redefine the built-in columns {clash}")
        if max_request_bytes < 1024:
            raise InvalidRequestError("max_request_bytes must be at least 1024")
        super().__init__(config, clock=clock, _credentials=_credentials)
        self.index = index
        self.endpoint = endpoint
        self.text_column = text_column
        self.columns = extra
        self.api: Api = api
        self.max_request_bytes = max_request_bytes
        self._embed: Callable[[list[str]], list[list[float]]] | None = as_embedder(embed)
        self._workspace_id = str(workspace_id) if workspace_id is not None else None
        self._dimension = dimension
        self._schema: dict[str, str] | None = None
        self._info_loaded = False
        self._last_seq: dict[str, int] = {}
        self._hashes: dict[str, list[str | None]] = {}
        self._lock = threading.RLock()

    # --- writes ---------------------------------------------------------------------------------

    def add(
        self,
        conversation_id: str,
        messages_or_texts: Sequence[Mapping[str, Any] | str] | str,
        *,
        metadata: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> list[str]:
        """Append messages after the conversation's last stored one.

        Args:
            conversation_id: The conversation (thread, session) to append to.
            messages_or_texts: Chat messages (`{"role", "content"}`) or plain texts (stored as `user`).
            metadata: JSON-serialisable values stored with each message.
            timeout: Seconds for each request, retries included.

        Returns:
            The ids written, `{conversation_id}:{seq}`.

        Raises:
            InvalidRequestError: Bad input, a vector of the wrong dimension, or a record over the request
                limit (nothing sent).
            APIStatusError: The service refused the write.
        """
        _check_conversation(conversation_id)
        messages = normalize_messages(messages_or_texts, list(self.columns))
        meta = _metadata_json(metadata)
        with self._lock:
            start = self._last_seq_of(conversation_id, timeout) + 1
            seqs = list(range(start, start + len(messages)))
            ids = self._write(conversation_id, list(zip(seqs, messages, strict=True)), meta, timeout)
            self._remember(conversation_id, seqs, messages)
        return ids

    def sync(
        self,
        conversation_id: str,
        history: Sequence[Mapping[str, Any] | str],
        *,
        metadata: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> list[str]:
        """Store a whole conversation history by position; only what is new (or changed) is written.

        Agent frameworks keep the full message list in their state: pass it after every turn. Message `n`
        is row `{conversation_id}:{n}`, so calling again with the same history writes nothing and a longer
        one writes only the new tail.

        Args:
            conversation_id: The conversation.
            history: All its messages, oldest first.
            metadata: Stored with each newly written message.
            timeout: Seconds for each request, retries included.

        Returns:
            The ids written by this call (empty when nothing was new).

        Raises:
            InvalidRequestError: Bad input, wrong vector dimension, or an oversized record (nothing sent).
            APIStatusError: The service refused the write.
        """
        _check_conversation(conversation_id)
        if isinstance(history, Sequence) and not isinstance(history, str) and not history:
            return []
        messages = normalize_messages(history, list(self.columns))
        meta = _metadata_json(metadata)
        with self._lock:
            known = self._hashes.get(conversation_id)
            if known is None:
                stored = self._last_seq_of(conversation_id, timeout)
                known = self._hashes[conversation_id] = [None] * (stored + 1)  # stored, content unknown
            todo = [
                (seq, m)
                for seq, m in enumerate(messages)
                if seq >= len(known) or (known[seq] is not None and known[seq] != content_hash(m))
            ]
            if not todo:
                return []
            ids = self._write(conversation_id, todo, meta, timeout)
            self._remember(conversation_id, [s for s, _ in todo], [m for _, m in todo])
        return ids

    def forget(
        self, conversation_id: str | None = None, *, ids: Sequence[str] | None = None, timeout: float | None = None
    ) -> int:
        """Delete a whole conversation, or the given ids.

        Returns:
            How many ids were sent for deletion.

        Raises:
            InvalidRequestError: Neither (or both of) `conversation_id` and `ids` given.
        """
        if (conversation_id is None) == (ids is None):
            raise InvalidRequestError("forget() takes a conversation_id or ids=, exactly one of them")
        if conversation_id is not None:
            _check_conversation(conversation_id)
            with self._lock:
                last = max(self._lookup_last_seq(conversation_id, timeout), self._last_seq.get(conversation_id, -1))
                keys = [f"{conversation_id}:{seq}" for seq in range(last + 1)]
                self._last_seq.pop(conversation_id, None)
                self._hashes.pop(conversation_id, None)
        else:
            keys = [str(k) for k in ids or []]
            if not keys:
                return 0
            with self._lock:
                for conv in {k.rpartition(":")[0] for k in keys}:
                    self._hashes.pop(conv, None)  # positions may be gone now: re-check on the next sync
        self._delete(keys, timeout)
        return len(keys)

    def prune(
        self,
        *,
        older_than: dt.timedelta | dt.datetime | float,
        conversation_id: str | None = None,
        timeout: float | None = None,
    ) -> int:
        """Delete messages written before a cutoff.

        Args:
            older_than: An age (`timedelta` or seconds) or an absolute time (`datetime`, UTC when naive).
            conversation_id: Only prune this conversation.
            timeout: Seconds for each request, retries included.

        Returns:
            How many messages were deleted.
        """
        if isinstance(older_than, dt.datetime):
            aware = older_than if older_than.tzinfo else older_than.replace(tzinfo=dt.timezone.utc)
            cutoff = aware.timestamp()
        else:
            age = older_than.total_seconds() if isinstance(older_than, dt.timedelta) else float(older_than)
            if age < 0:
                raise InvalidRequestError("older_than must not be negative")
            cutoff = self._http.clock.time() - age
        flt = Filter().lt("created_at", cutoff)
        if conversation_id is not None:
            _check_conversation(conversation_id)
            flt = flt.eq("conversation_id", conversation_id)
        deleted: set[str] = set()
        while True:  # query, delete, repeat: no cursor to keep across deletes
            rows = self._lookup(flt.to_dict(), ["id"], _LOOKUP_PAGE, None, timeout)
            fresh = [str(r["id"]) for r in rows if str(r["id"]) not in deleted]
            if not fresh:
                break
            self._delete(fresh, timeout)
            deleted.update(fresh)
        with self._lock:
            for key in deleted:
                self._hashes.pop(key.rpartition(":")[0], None)
        return len(deleted)

    # --- reads ----------------------------------------------------------------------------------

    def search(
        self,
        query: str,
        *,
        k: int = 5,
        conversation_id: str | None = None,
        filters: Filter | Mapping[str, Any] | None = None,
        query_type: str = "ann",
        score_threshold: float | None = None,
        timeout: float | None = None,
    ) -> list[MemoryHit]:
        """The `k` stored messages closest to `query`.

        Args:
            query: What to look for.
            k: How many results (at most 10,000; 200 for hybrid and full-text).
            conversation_id: Only search this conversation.
            filters: A `Filter` or a filter dict (`{"role": "user", "seq >=": 3}`).
            query_type: `"ann"` (vector), `"hybrid"` (vector + keywords) or `"full_text"` (keywords).
            score_threshold: Drop results scoring below this.
            timeout: Seconds for each request, retries included.

        Returns:
            The hits, best first.

        Raises:
            InvalidRequestError: An empty query, a bad `k` or `query_type`, an unknown filter column.
        """
        if not isinstance(query, str) or not query.strip():
            raise InvalidRequestError("search() needs a non-empty query string")
        qtype = _QUERY_TYPES.get(str(query_type).lower())
        if qtype is None:
            raise InvalidRequestError(f"query_type must be one of {sorted(_QUERY_TYPES)}, not {query_type!r}")
        most = _MAX_RESULTS if qtype == "ANN" else _KEYWORD_MAX_RESULTS
        if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= most:
            raise InvalidRequestError(f"k must be an integer from 1 to {most} for {query_type!r} queries, not {k!r}")
        flt = self._filters(filters, conversation_id, timeout)
        body: dict[str, Any] = {"columns": self._result_columns(), "query_type": qtype}
        if qtype != "FULL_TEXT" and self._embed is not None:
            body["query_vector"] = self._vectors([query], timeout)[0]
        if qtype != "ANN" or self._embed is None:
            body["query_text"] = query
        if score_threshold is not None:
            body["score_threshold"] = float(score_threshold)
        rows = self._query(body, flt, k, timeout, operation="vector.search")
        return [record_from_row(r, list(self.columns), with_score=True) for r in rows]  # type: ignore[misc]

    def recall(self, conversation_id: str, *, last_n: int = 20, timeout: float | None = None) -> list[MemoryRecord]:
        """The last `last_n` messages of a conversation, oldest first (ready to go back into a prompt).

        One filtered query sorted by `seq` (`sort_columns=["seq DESC"]`), not a scan of the index.

        Raises:
            InvalidRequestError: A bad conversation id or `last_n`.
        """
        _check_conversation(conversation_id)
        if not isinstance(last_n, int) or not 1 <= last_n <= _MAX_RESULTS:
            raise InvalidRequestError(f"last_n must be an integer from 1 to {_MAX_RESULTS}, not {last_n!r}")
        rows = self._lookup({"conversation_id": conversation_id}, self._result_columns(), last_n, "seq DESC", timeout)
        records = [record_from_row(r, list(self.columns), with_score=False) for r in rows]
        return sorted(records, key=lambda r: r.seq if r.seq is not None else -1)

    def iter_records(self, *, page_size: int = 100, timeout: float | None = None) -> Iterator[MemoryRecord]:
        """Every stored message, in primary-key order, page by page through the index's `scan` route.

        For exports and backups: it reads the whole index. Use `recall` for one conversation.
        """
        if not 1 <= page_size <= _MAX_RESULTS:
            raise InvalidRequestError(f"page_size must be from 1 to {_MAX_RESULTS}")
        routes = self._routes(timeout)
        cursor: str | None = None
        while True:
            body = routes.scan_body(page_size, cursor)
            response = self._http.request(
                "POST", routes.method_path("scan"), json_body=body, idempotent=True, timeout=timeout,
                operation="vector.scan",
            )  # fmt: skip
            rows, cursor = rows_from_scan(response.json(), self.api)
            for row in rows:
                yield record_from_row(row, list(self.columns), with_score=False)
            if not rows or not cursor or (self.api == "vector-search" and len(rows) < page_size):
                return  # the legacy scan has no end marker: a short page is the last one

    # --- index lifecycle (see _lifecycle) ---------------------------------------------------------

    def ensure_index(
        self,
        *,
        dimension: int | None = None,
        embedding_endpoint: str | None = None,
        endpoint_type: str = "STANDARD",
        wait: bool = True,
        wait_timeout: float = 1800.0,
        progress: Callable[[str], None] | None = None,
        timeout: float | None = None,
    ) -> IndexInfo:
        """Create the endpoint and the Direct Access index when missing (idempotent), then wait until ready.

        Args:
            dimension: Vector size; found by embedding a probe text when omitted (self-managed embeddings).
            embedding_endpoint: The model endpoint computing embeddings when `embed` is `None` (managed).
            endpoint_type: `STANDARD` or `STORAGE_OPTIMIZED`, for a new endpoint.
            wait: Wait until the endpoint is `ONLINE` and the index ready.
            wait_timeout: Seconds to wait in all.
            progress: Called with a line describing each state seen while waiting.
            timeout: Seconds for each request, retries included.

        Raises:
            InvalidRequestError: No endpoint configured, or an existing index that does not fit this memory.
            OperationTimeoutError: Not ready within `wait_timeout` (`.last_state` says where it stopped).
        """
        from dbx_native.vector._lifecycle import ensure_index

        return ensure_index(self, dimension, embedding_endpoint, endpoint_type, wait, wait_timeout, progress, timeout)

    def describe(self, *, timeout: float | None = None) -> IndexInfo:
        """The index as the service reports it now (and the schema used to check filters).

        Raises:
            NotFoundError: The index does not exist (create it with `ensure_index`).
        """
        from dbx_native.vector._lifecycle import describe

        return describe(self, timeout)

    def wait_until_visible(
        self, ids: Sequence[str], *, timeout: float = 30.0, request_timeout: float | None = None
    ) -> None:
        """Wait until every id answers queries (writes reach the index asynchronously: read-after-write).

        Raises:
            OperationTimeoutError: Some ids are still missing after `timeout` seconds (`.last_state` lists them).
        """
        from dbx_native.vector._lifecycle import wait_until_visible

        wait_until_visible(self, list(ids), timeout, request_timeout)

    # --- internals ------------------------------------------------------------------------------

    def _write(
        self, conversation_id: str, items: list[tuple[int, Message]], meta: str, timeout: float | None
    ) -> list[str]:
        now = self._http.clock.time()
        texts = [m[1] for _, m in items]
        vectors = self._vectors(texts, timeout) if self._embed is not None else None
        rows = []
        for i, (seq, (role, text, extra)) in enumerate(items):
            row: dict[str, Any] = {
                "id": f"{conversation_id}:{seq}",
                "conversation_id": conversation_id,
                "seq": seq,
                "role": role,
                self.text_column: text,
                "created_at": now,
                "metadata": meta,
                **extra,
            }
            if vectors is not None:
                row["embedding"] = vectors[i]
            rows.append(row)
        self._upsert(rows, timeout)
        return [r["id"] for r in rows]

    def _lookup_last_seq(self, conversation_id: str, timeout: float | None) -> int:
        rows = self._lookup({"conversation_id": conversation_id}, ["id", "seq"], 1, "seq DESC", timeout)
        seqs = [int(r["seq"]) for r in rows if isinstance(r.get("seq"), int | float)]
        return max(seqs, default=-1)

    def _last_seq_of(self, conversation_id: str, timeout: float | None) -> int:
        last = self._last_seq.get(conversation_id)
        if last is None:
            last = self._last_seq[conversation_id] = self._lookup_last_seq(conversation_id, timeout)
        return last

    def _remember(self, conversation_id: str, seqs: list[int], messages: list[Message]) -> None:
        self._last_seq[conversation_id] = max([self._last_seq.get(conversation_id, -1), *seqs])
        known = self._hashes.setdefault(conversation_id, [])
        for seq, message in zip(seqs, messages, strict=True):
            known.extend([None] * (seq + 1 - len(known)))
            known[seq] = content_hash(message)

    def _filters(
        self, filters: Filter | Mapping[str, Any] | None, conversation_id: str | None, timeout: float | None
    ) -> dict[str, Any]:
        if filters is None and conversation_id is None:
            return {}
        self._load_info(timeout)
        items = normalize_filters(filters, self._schema)
        if conversation_id is not None:
            _check_conversation(conversation_id)
            if items.get("conversation_id", conversation_id) != conversation_id:
                raise InvalidRequestError("conversation_id= and filters disagree on the conversation")
            items["conversation_id"] = conversation_id
        return items

    def _result_columns(self) -> list[str]:
        return ["id", "conversation_id", "seq", "role", self.text_column, "created_at", "metadata", *self.columns]

    def __repr__(self) -> str:
        return f"VectorMemory(index={self.index!r}, endpoint={self.endpoint!r}, api={self.api!r})"


def _check_conversation(conversation_id: Any) -> None:
    if not isinstance(conversation_id, str) or not conversation_id.strip():
        raise InvalidRequestError(f"conversation_id must be a non-empty string, not {conversation_id!r}")


def _metadata_json(metadata: Mapping[str, Any] | None) -> str:
    if metadata is None:
        return "{}"
    if not isinstance(metadata, Mapping):
        raise InvalidRequestError(f"metadata must be a dict, not {type(metadata).__name__}")
    try:
        return json.dumps(dict(metadata), separators=(",", ":"), sort_keys=True)
    except (TypeError, ValueError) as err:
        raise InvalidRequestError(f"metadata must be JSON-serialisable: {err}") from None
