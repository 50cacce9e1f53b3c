"""Index specs (`direct_access_index_spec`, `delta_sync_index_spec`) checked as the service checks them."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from dbx_native.local._vector_store import LocalVectorStore
from dbx_native.local._wire import LocalApiError

if TYPE_CHECKING:
    from dbx_native.local._vector import EmbedderFor, VectorIndex

__all__ = ["build_index", "workspace_embedder"]

_SUBTYPES = ("HYBRID", "FULL_TEXT", "VECTOR")


def build_index(body: Mapping[str, Any], *, metric: str, embedder_for: EmbedderFor | None, now_ms: int) -> VectorIndex:
    """A new index (empty store) from a create-index request body.

    Raises:
        LocalApiError: 400 for a spec the service would refuse.
    """
    from dbx_native.local._vector import VectorIndex

    index_type = str(body.get("index_type") or "")
    primary_key = body.get("primary_key")
    if not isinstance(primary_key, str) or not primary_key:
        raise LocalApiError(400, "primary_key is required")
    subtype = str(body.get("index_subtype") or "HYBRID")
    if subtype not in _SUBTYPES:
        raise LocalApiError(400, f"index_subtype must be HYBRID or FULL_TEXT, not {subtype!r}")
    if index_type == "DIRECT_ACCESS":
        spec = dict(body.get("direct_access_index_spec") or {})
        schema = _schema(spec, primary_key)
    elif index_type == "DELTA_SYNC":
        spec = dict(body.get("delta_sync_index_spec") or {})
        if not spec.get("source_table"):
            raise LocalApiError(400, "delta_sync_index_spec.source_table is required for a DELTA_SYNC index")
        spec.setdefault("pipeline_type", "TRIGGERED")
        spec.setdefault("pipeline_id", f"local-pipeline-{abs(hash(body.get('name'))) % 10**12}")
        schema = {}
    else:
        raise LocalApiError(400, f"index_type must be DIRECT_ACCESS or DELTA_SYNC, not {index_type!r}")
    vectors = spec.get("embedding_vector_columns") or []
    sources = spec.get("embedding_source_columns") or []
    if subtype != "FULL_TEXT" and not vectors and not sources:
        raise LocalApiError(400, "Give embedding_vector_columns (self-managed) or embedding_source_columns (managed)")
    dimension = None
    vector_column = "__embedding" if sources and not vectors else "embedding"
    if vectors:
        vector_column = str(vectors[0].get("name") or "embedding")
        dimension = vectors[0].get("embedding_dimension")
        if not isinstance(dimension, int) or dimension < 1:
            raise LocalApiError(400, "embedding_vector_columns[0].embedding_dimension must be a positive integer")
        if schema and vector_column not in schema:
            raise LocalApiError(400, f"Vector column {vector_column!r} is missing from schema_json")
    embed, source_column = None, None
    if sources:
        source_column = str(sources[0].get("name") or "")
        model = str(sources[0].get("embedding_model_endpoint_name") or sources[0].get("embedding_model_endpoint") or "")
        if not source_column or not model:
            raise LocalApiError(400, "embedding_source_columns needs a name and an embedding_model_endpoint_name")
        if embedder_for is None:
            raise LocalApiError(501, "This local workspace cannot compute managed embeddings")
        embed = embedder_for(model, dimension)
    store = LocalVectorStore(
        dimension=dimension,
        primary_key=primary_key,
        vector_column=vector_column,
        schema={k: v for k, v in schema.items()},
        metric=metric,
        embed=embed,
        source_column=source_column,
    )
    return VectorIndex(
        name=str(body["name"]),
        endpoint_name=str(body.get("endpoint_name") or body.get("endpoint") or ""),
        primary_key=primary_key,
        index_type=index_type,
        index_subtype=subtype,
        spec=spec,
        store=store,
        created_ms=now_ms,
    )


def _schema(spec: Mapping[str, Any], primary_key: str) -> dict[str, str]:
    raw = spec.get("schema_json")
    if not isinstance(raw, str):
        raise LocalApiError(400, "direct_access_index_spec.schema_json is required for a DIRECT_ACCESS index")
    try:
        schema = json.loads(raw)
    except ValueError as err:
        raise LocalApiError(400, f"schema_json is not valid JSON: {err}") from err
    if not isinstance(schema, dict) or not all(isinstance(v, str) for v in schema.values()):
        raise LocalApiError(400, 'schema_json must map column names to types, e.g. {"id": "string"}')
    if primary_key not in schema:
        raise LocalApiError(400, f"The primary key {primary_key!r} is missing from schema_json")
    return {str(k): str(v).lower() for k, v in schema.items()}


def workspace_embedder(serving: Callable[[], Any]) -> EmbedderFor:
    """Resolve managed-embedding endpoints through the workspace's serving backend when it has one.

    An endpoint the serving backend does not know gets the deterministic hashing embedder, so indexes with
    managed embeddings work in tests that never create the embedding endpoint.
    """

    def embedder_for(endpoint: str, dimension: int | None) -> Callable[[list[str]], list[list[float]]]:
        def embed(texts: list[str]) -> list[list[float]]:
            backend = serving()
            embedder = None
            if backend is not None:
                try:
                    embedder = backend.endpoint(endpoint).embedder
                except Exception:  # an unknown endpoint: fall back below
                    embedder = None
            if embedder is None:
                from dbx_native.local._serving_models import DEFAULT_EMBEDDING_DIMENSION, HashingEmbedder

                embedder = HashingEmbedder(dimension=dimension or DEFAULT_EMBEDDING_DIMENSION)
            return [list(map(float, v)) for v in embedder.embed(texts)]

        return embed

    return embedder_for
