"""The local AI Search backend through the official databricks-sdk, raw REST, and its Python API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import BadRequest, NotFound, ResourceAlreadyExists
from databricks.sdk.service import aisearch
from databricks.sdk.service.vectorsearch import (
    DirectAccessVectorIndexSpec,
    EmbeddingVectorColumn,
    EndpointStatusState,
    EndpointType,
    VectorIndexType,
)

from canary import CANARY
from dbx_native.errors import InvalidRequestError
from dbx_native.local import LocalWorkspace

INDEX = "main.agent.docs"
SCHEMA = {"id": "string", "text": "string", "kind": "string", "n": "int", "embedding": "array<float>"}
ROWS = [
    {"id": "a", "text": "card declined twice", "kind": "card", "n": 1, "embedding": [1.0, 0.0, 0.0]},
    {"id": "b", "text": "refund issued to card", "kind": "refund", "n": 2, "embedding": [0.8, 0.6, 0.0]},
    {"id": "c", "text": "address changed", "kind": "profile", "n": 3, "embedding": [0.0, 0.0, 1.0]},
    {"id": "d", "text": "red-flag merchant", "kind": "card", "n": 4, "embedding": [0.0, 1.0, 0.0]},
]


@pytest.fixture
def ws() -> Iterator[LocalWorkspace]:
    workspace = LocalWorkspace(token=CANARY)
    with workspace.intercept():
        yield workspace


@pytest.fixture
def w(ws: LocalWorkspace) -> WorkspaceClient:
    return WorkspaceClient(host=ws.host, token=CANARY, auth_type="pat")


def _index(ws: LocalWorkspace, metric: str = "cosine") -> None:
    ws.vector.create_endpoint("vs")
    ws.vector.create_index(INDEX, endpoint_name="vs", dimension=3, schema=SCHEMA, metric=metric)
    ws.vector.store(INDEX).upsert(ROWS)


def _query(ws: LocalWorkspace, body: dict[str, Any], method: str = "POST") -> Any:
    url = f"{ws.host}/api/2.0/vector-search/indexes/{INDEX}/query"
    r = requests.request(method, url, json=body, headers={"Authorization": f"Bearer {CANARY}"})
    return r


def _ids(response: Any) -> list[str]:
    return [row[0] for row in response.json()["result"]["data_array"]]


def test_sdk_creates_endpoint_and_index_and_waits_until_online(ws: LocalWorkspace, w: WorkspaceClient) -> None:
    ws.states.set("vector-search-endpoint", ["PROVISIONING", "PROVISIONING", "ONLINE"], after_reads=1)
    waiter = w.vector_search_endpoints.create_endpoint(name="vs", endpoint_type=EndpointType.STANDARD)
    assert waiter.response.endpoint_status.state == EndpointStatusState.PROVISIONING
    first = w.vector_search_endpoints.get_endpoint("vs").endpoint_status.state
    assert first == EndpointStatusState.PROVISIONING
    states = [w.vector_search_endpoints.get_endpoint("vs").endpoint_status.state for _ in range(2)]
    assert states[-1] == EndpointStatusState.ONLINE
    index = w.vector_search_indexes.create_index(
        name=INDEX,
        endpoint_name="vs",
        primary_key="id",
        index_type=VectorIndexType.DIRECT_ACCESS,
        direct_access_index_spec=DirectAccessVectorIndexSpec(
            schema_json=json.dumps(SCHEMA),
            embedding_vector_columns=[EmbeddingVectorColumn(name="embedding", embedding_dimension=3)],
        ),
    )
    assert index.name == INDEX and index.primary_key == "id"
    got = w.vector_search_indexes.get_index(INDEX)
    assert (
        got.status.ready is True and got.direct_access_index_spec.embedding_vector_columns[0].embedding_dimension == 3
    )
    assert [i.name for i in w.vector_search_indexes.list_indexes(endpoint_name="vs")] == [INDEX]


def test_sdk_upsert_query_scan_and_delete_round_trip(ws: LocalWorkspace, w: WorkspaceClient) -> None:
    ws.vector.create_endpoint("vs")
    ws.vector.create_index(INDEX, endpoint_name="vs", dimension=3, schema=SCHEMA)
    up = w.vector_search_indexes.upsert_data_vector_index(INDEX, json.dumps(ROWS))
    assert up.status.value == "SUCCESS" and up.result.success_row_count == 4
    res = w.vector_search_indexes.query_index(
        INDEX, columns=["id", "kind"], query_vector=[1.0, 0.1, 0.0], num_results=2, filters_json='{"kind": "card"}'
    )
    assert [c.name for c in res.manifest.columns] == ["id", "kind", "score"]
    assert [row[0] for row in res.result.data_array] == ["a", "d"]
    scan = w.vector_search_indexes.scan_index(INDEX, num_results=3)
    assert [f.value.string_value for r in scan.data for f in r.fields if f.key == "id"] == ["a", "b", "c"]
    assert scan.last_primary_key == "c"
    embedding = next(f for f in scan.data[0].fields if f.key == "embedding").value.list_value.values
    assert [v.number_value for v in embedding] == [1.0, 0.0, 0.0]  # scan returns every column, vector too
    rest = w.vector_search_indexes.scan_index(INDEX, num_results=3, last_primary_key="c")
    assert len(rest.data) == 1
    deleted = w.vector_search_indexes.delete_data_vector_index(INDEX, primary_keys=["a", "b"])
    assert deleted.status.value == "SUCCESS"
    assert sorted(r["id"] for r in ws.vector.rows(INDEX)) == ["c", "d"]


def test_sdk_errors_match_the_service(ws: LocalWorkspace, w: WorkspaceClient) -> None:
    ws.vector.create_endpoint("vs")
    with pytest.raises(NotFound):
        w.vector_search_indexes.get_index("main.agent.missing")
    ws.vector.create_index(INDEX, endpoint_name="vs", dimension=3, schema=SCHEMA)
    with pytest.raises(ResourceAlreadyExists):
        w.vector_search_endpoints.create_endpoint(name="vs", endpoint_type=EndpointType.STANDARD)
    with pytest.raises(BadRequest, match="dimension"):
        w.vector_search_indexes.query_index(INDEX, columns=["id"], query_vector=[1.0, 0.0])
    with pytest.raises(BadRequest, match="nope"):
        w.vector_search_indexes.query_index(INDEX, columns=["id"], query_vector=[1, 0, 0], filters_json='{"nope": 1}')


def test_upsert_reports_rows_that_do_not_fit_the_schema(ws: LocalWorkspace, w: WorkspaceClient) -> None:
    ws.vector.create_endpoint("vs")
    ws.vector.create_index(INDEX, endpoint_name="vs", dimension=3, schema=SCHEMA)
    bad = [ROWS[0], {"id": "x", "embedding": [1.0, 2.0]}, {"id": "y", "n": "three", "embedding": [1, 1, 1]}]
    up = w.vector_search_indexes.upsert_data_vector_index(INDEX, json.dumps(bad))
    assert up.status.value == "PARTIAL_SUCCESS"
    assert up.result.success_row_count == 1 and sorted(up.result.failed_primary_keys) == ["x", "y"]


def test_query_accepts_get_with_a_json_body_in_process_and_over_loopback(ws: LocalWorkspace) -> None:
    _index(ws)
    body = {"columns": ["id"], "query_vector": [0.0, 0.0, 1.0], "num_results": 1}
    assert _ids(_query(ws, body, "GET")) == ["c"]
    with ws.serve() as server:
        url = f"http://127.0.0.1:{server.port}/api/2.0/vector-search/indexes/{INDEX}/query"
        r = requests.get(url, json=body, headers={"Authorization": f"Bearer {CANARY}"}, timeout=10)
        assert r.status_code == 200 and _ids(r) == ["c"]


@pytest.mark.parametrize(
    ("metric", "expected"),
    [("cosine", (1.0, 0.5)), ("l2", (1.0, 1 / 3)), ("dot_product", (1.0, 0.0))],
)
def test_metrics_score_as_documented(ws: LocalWorkspace, metric: str, expected: tuple[float, float]) -> None:
    _index(ws, metric)
    r = _query(ws, {"columns": ["id"], "query_vector": [1.0, 0.0, 0.0], "num_results": 4})
    scores = {row[0]: row[-1] for row in r.json()["result"]["data_array"]}
    assert scores["a"] == pytest.approx(expected[0])
    assert scores["c"] == pytest.approx(expected[1])
    assert _ids(r)[0] == "a"


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"kind": "card"}, {"a", "d"}),
        ({"kind": ["refund", "profile"]}, {"b", "c"}),
        ({"kind NOT": "card"}, {"b", "c"}),
        ({"kind NOT": ["card", "refund"]}, {"c"}),
        ({"n <": 2}, {"a"}),
        ({"n <=": 2}, {"a", "b"}),
        ({"n >": 3}, {"d"}),
        ({"n >=": 3}, {"c", "d"}),
        ({"text LIKE": "card"}, {"a", "b"}),
        ({"text LIKE": "%flag%"}, {"d"}),
        ({"kind OR n": ["profile", 1]}, {"a", "c"}),
        ([{"kind": "card"}, {"n >": 1}], {"d"}),
    ],
)
def test_each_filter_operator_selects_the_documented_rows(ws: LocalWorkspace, filters: Any, expected: set[str]) -> None:
    _index(ws)
    body = {"columns": ["id"], "query_vector": [1.0, 0.0, 0.0], "num_results": 10, "filters_json": json.dumps(filters)}
    assert set(_ids(_query(ws, body))) == expected


def test_hybrid_fuses_keywords_and_vectors_and_full_text_needs_a_word_match(ws: LocalWorkspace) -> None:
    _index(ws)
    # The vector points at "a"; the words point at "c": hybrid puts both on top, full-text only "c".
    base = {"columns": ["id"], "query_vector": [1.0, 0.0, 0.0], "query_text": "address", "num_results": 2}
    assert set(_ids(_query(ws, {**base, "query_type": "HYBRID"}))) == {"a", "c"}
    full = _query(ws, {"columns": ["id"], "query_text": "address changed", "query_type": "FULL_TEXT"})
    assert _ids(full) == ["c"]
    ann = _query(ws, {**base, "query_type": "ANN"})
    assert _ids(ann) == ["a", "b"]


def test_query_pages_through_next_page_tokens(ws: LocalWorkspace, w: WorkspaceClient) -> None:
    _index(ws)
    ws.vector.page_size = 3
    first = w.vector_search_indexes.query_index(INDEX, columns=["id"], query_vector=[1, 0, 0], num_results=4)
    assert first.result.row_count == 3 and first.next_page_token
    rest = w.vector_search_indexes.query_next_page(INDEX, endpoint_name="vs", page_token=first.next_page_token)
    assert rest.result.row_count == 1 and not rest.next_page_token
    ids = [r[0] for r in first.result.data_array + rest.result.data_array]
    assert sorted(ids) == ["a", "b", "c", "d"]


def test_sort_columns_order_filtered_rows_by_value(ws: LocalWorkspace) -> None:
    _index(ws)
    body = {"columns": ["id"], "query_vector": [1.0, 0, 0], "num_results": 2, "sort_columns": ["n DESC"]}
    assert _ids(_query(ws, body)) == ["d", "c"]


def test_index_goes_from_provisioning_to_online(ws: LocalWorkspace, w: WorkspaceClient) -> None:
    ws.states.set("vector-index", ["PROVISIONING_INITIAL_SNAPSHOT", "ONLINE_NO_PENDING_UPDATE"], after_reads=1)
    ws.vector.create_endpoint("vs")
    ws.vector.create_index(INDEX, endpoint_name="vs", dimension=3, schema=SCHEMA)
    assert w.vector_search_indexes.get_index(INDEX).status.ready is False
    assert w.vector_search_indexes.get_index(INDEX).status.ready is True


def test_visibility_lag_hides_fresh_rows_for_a_number_of_reads(ws: LocalWorkspace) -> None:
    ws.vector.visibility_lag = 2
    _index(ws)
    body = {"columns": ["id"], "query_vector": [1.0, 0, 0], "num_results": 4}
    assert [len(_ids(_query(ws, body))) for _ in range(3)] == [0, 0, 4]


def test_delta_sync_index_reads_its_source_table_with_managed_embeddings(ws: LocalWorkspace) -> None:
    ws.create_table("main.agent.notes", [{"id": 1, "body": "card declined"}, {"id": 2, "body": "new address"}])
    ws.vector.create_endpoint("vs")
    ws.vector.create_index(
        "main.agent.notes_index", endpoint_name="vs", source_table="main.agent.notes",
        embedding_source_column="body", embedding_model_endpoint="embedder",
    )  # fmt: skip
    url = f"{ws.host}/api/2.0/vector-search/indexes/main.agent.notes_index"
    headers = {"Authorization": f"Bearer {CANARY}"}
    r = requests.post(url + "/query", json={"columns": ["id", "body"], "query_text": "declined card"}, headers=headers)
    assert r.json()["result"]["data_array"][0][:2] == [1, "card declined"]
    ws.catalog.insert_rows("main.agent.notes", [{"id": 3, "body": "card stolen"}])
    assert requests.post(url + "/sync", json={}, headers=headers).status_code == 200
    assert len(ws.vector.rows("main.agent.notes_index")) == 3
    refused = requests.post(url + "/upsert-data", json={"inputs_json": "[]"}, headers=headers)
    assert refused.status_code == 400 and "Delta Sync" in refused.json()["message"]


def test_delete_data_accepts_query_keys_and_a_json_body(ws: LocalWorkspace) -> None:
    _index(ws)
    url = f"{ws.host}/api/2.0/vector-search/indexes/{INDEX}/delete-data"
    headers = {"Authorization": f"Bearer {CANARY}"}
    assert requests.delete(url, params={"primary_keys": ["a"]}, headers=headers).status_code == 200
    assert requests.delete(url, json={"primary_keys": ["b"]}, headers=headers).status_code == 200
    assert sorted(r["id"] for r in ws.vector.rows(INDEX)) == ["c", "d"]


def test_ai_search_sdk_routes_share_the_state_of_the_legacy_ones(ws: LocalWorkspace, w: WorkspaceClient) -> None:
    parent = f"workspaces/{ws.workspace_id}"
    ep = w.ai_search.create_endpoint(
        parent, aisearch.Endpoint(endpoint_type=aisearch.EndpointType.STANDARD), endpoint_id="vs"
    )
    assert ep.name == f"{parent}/endpoints/vs"
    spec = aisearch.DirectAccessIndexSpec(
        schema_json=json.dumps(SCHEMA),
        embedding_vector_columns=[aisearch.EmbeddingVectorColumn(name="embedding", embedding_dimension=3)],
    )
    index = aisearch.Index(primary_key="id", index_type=aisearch.IndexType.DIRECT_ACCESS, direct_access_index_spec=spec)
    created = w.ai_search.create_index(ep.name, index, index_id=INDEX)
    assert created.name == f"{ep.name}/indexes/{INDEX}"
    w.ai_search.upsert_data(created.name, json.dumps(ROWS))
    res = w.ai_search.query_index(created.name, ["id"], query_vector=[0.0, 1.0, 0.0], max_results=1)
    assert res.result.data_array[0][0] == "d"
    page = w.ai_search.scan_index(created.name, page_size=3)
    assert [r["id"] for r in page.data] == ["a", "b", "c"] and page.next_page_token
    last = w.ai_search.scan_index(created.name, page_size=3, page_token=page.next_page_token)
    assert [r["id"] for r in last.data] == ["d"] and not last.next_page_token
    w.ai_search.remove_data(created.name, ["d"])
    legacy = w.vector_search_indexes.get_index(INDEX)
    assert legacy.status.indexed_row_count == 3


def test_python_api_refuses_bad_specs_with_clear_errors(ws: LocalWorkspace) -> None:
    with pytest.raises(InvalidRequestError, match="not found"):
        ws.vector.create_index(INDEX, endpoint_name="missing", dimension=3)
    ws.vector.create_endpoint("vs")
    with pytest.raises(InvalidRequestError, match="three-level"):
        ws.vector.create_index("memory", endpoint_name="vs", dimension=3)
    with pytest.raises(InvalidRequestError, match="already exists"):
        ws.vector.create_endpoint("vs")


def test_reset_forgets_endpoints_and_indexes(ws: LocalWorkspace) -> None:
    _index(ws)
    ws.reset()
    assert ws.vector.indexes == {} and ws.vector.endpoints == {}
