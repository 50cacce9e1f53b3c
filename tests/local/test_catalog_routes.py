"""The Unity Catalog REST routes of LocalCatalog, through the router."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from dbx_native.local._catalog import LocalCatalog
from dbx_native.local._router import Router
from dbx_native.local._wire import LocalRequest

UC = "/api/2.1/unity-catalog"


class Api:
    def __init__(self) -> None:
        self.catalog = LocalCatalog()
        self.router = Router()
        for route in self.catalog.routes():
            self.router.add(route)

    def __call__(self, method: str, path: str, body: Any = None, query: str = "") -> tuple[int, Any]:
        raw = json.dumps(body).encode() if body is not None else b""
        response = self.router.dispatch(LocalRequest.build(method, path, query, {}, raw))
        return response.status, response.json_body()


@pytest.fixture
def api() -> Api:
    return Api()


def test_get_table_returns_the_uc_table_info_fields(api):
    api.catalog.create_table("main.fraud.tx", [{"id": 1, "amount": 2.5, "note": "x"}], comment="payments")

    status, body = api("GET", f"{UC}/tables/main.fraud.tx")

    assert status == 200
    assert {k: body[k] for k in ("name", "catalog_name", "schema_name", "full_name")} == {
        "name": "tx",
        "catalog_name": "main",
        "schema_name": "fraud",
        "full_name": "main.fraud.tx",
    }
    assert (body["table_type"], body["data_source_format"], body["comment"]) == ("MANAGED", "DELTA", "payments")
    assert uuid.UUID(body["table_id"])
    assert body["created_at"] <= body["updated_at"]
    assert body["owner"] and body["storage_location"]
    first = body["columns"][0]
    assert first == {
        "name": "id",
        "type_text": "bigint",
        "type_name": "LONG",
        "type_json": '{"name":"id","type":"long","nullable":true,"metadata":{}}',
        "position": 0,
        "nullable": True,
    }
    assert [c["position"] for c in body["columns"]] == [0, 1, 2]


def test_table_info_parses_with_the_sdk_types(api):
    from databricks.sdk.service.catalog import ColumnTypeName, TableInfo, TableType

    api.catalog.create_table("main.fraud.tx", [{"id": 1, "tags": ["a"]}])

    info = TableInfo.from_dict(api("GET", f"{UC}/tables/main.fraud.tx")[1])

    assert info.table_type == TableType.MANAGED
    assert [c.type_name for c in info.columns or []] == [ColumnTypeName.LONG, ColumnTypeName.ARRAY]


def test_unknown_table_is_404_table_does_not_exist(api):
    status, body = api("GET", f"{UC}/tables/main.fraud.nope")

    assert status == 404
    assert body["error_code"] == "TABLE_DOES_NOT_EXIST"
    assert "main.fraud.nope" in body["message"]


def test_bad_table_name_is_400(api):
    status, body = api("GET", f"{UC}/tables/just_a_name")

    assert (status, body["error_code"]) == (400, "INVALID_PARAMETER_VALUE")


def test_exists_route_answers_true_and_false(api):
    api.catalog.create_table("main.s.t", [{"a": 1}])

    assert api("GET", f"{UC}/tables/main.s.t/exists") == (200, {"table_exists": True})
    assert api("GET", f"{UC}/tables/main.s.other/exists") == (200, {"table_exists": False})


def test_list_tables_pages_with_max_results_and_next_page_token(api):
    for i in range(5):
        api.catalog.create_table(f"main.s.t{i}", [{"a": i}])

    names: list[str] = []
    query = "catalog_name=main&schema_name=s&max_results=2"
    pages = 0
    while True:
        status, body = api("GET", f"{UC}/tables", query=query)
        assert status == 200
        names += [t["full_name"] for t in body["tables"]]
        pages += 1
        if not body.get("next_page_token"):
            break
        query = f"catalog_name=main&schema_name=s&max_results=2&page_token={body['next_page_token']}"

    assert names == [f"main.s.t{i}" for i in range(5)]
    assert pages == 3


def test_list_tables_needs_catalog_and_schema_and_an_existing_schema(api):
    assert api("GET", f"{UC}/tables", query="catalog_name=main")[0] == 400
    api.catalog.create_catalog("main")

    status, body = api("GET", f"{UC}/tables", query="catalog_name=main&schema_name=nope")

    assert (status, body["error_code"]) == (404, "SCHEMA_DOES_NOT_EXIST")


def test_delete_table_removes_it_and_then_404s(api):
    api.catalog.create_table("main.s.t", [{"a": 1}])

    assert api("DELETE", f"{UC}/tables/main.s.t") == (200, {})
    status, body = api("DELETE", f"{UC}/tables/main.s.t")
    assert (status, body["error_code"]) == (404, "TABLE_DOES_NOT_EXIST")
    assert not api.catalog.table_exists("main.s.t")


def test_schemas_are_created_got_and_listed(api):
    status, catalog = api("POST", f"{UC}/catalogs", {"name": "dev", "comment": "sandbox"})
    assert (status, catalog["name"], catalog["comment"]) == (200, "dev", "sandbox")

    status, created = api("POST", f"{UC}/schemas", {"catalog_name": "dev", "name": "agents"})
    assert status == 200
    assert created["full_name"] == "dev.agents"
    assert uuid.UUID(created["schema_id"])

    assert api("GET", f"{UC}/schemas/dev.agents")[1]["schema_id"] == created["schema_id"]
    listed = api("GET", f"{UC}/schemas", query="catalog_name=dev")[1]
    assert [s["name"] for s in listed["schemas"]] == ["agents", "default"]


def test_existing_schema_and_catalog_are_409(api):
    api.catalog.create_schema("main.s")

    status, body = api("POST", f"{UC}/schemas", {"catalog_name": "main", "name": "s"})
    assert (status, body["error_code"]) == (409, "SCHEMA_ALREADY_EXISTS")
    status, body = api("POST", f"{UC}/catalogs", {"name": "main"})
    assert (status, body["error_code"]) == (409, "CATALOG_ALREADY_EXISTS")


def test_unknown_schema_and_catalog_are_404(api):
    status, body = api("GET", f"{UC}/schemas/main.nope")
    assert (status, body["error_code"]) == (404, "CATALOG_DOES_NOT_EXIST")
    api.catalog.create_catalog("main")
    status, body = api("GET", f"{UC}/schemas/main.nope")
    assert (status, body["error_code"]) == (404, "SCHEMA_DOES_NOT_EXIST")
    status, body = api("POST", f"{UC}/schemas", {"catalog_name": "ghost", "name": "s"})
    assert (status, body["error_code"]) == (404, "CATALOG_DOES_NOT_EXIST")
    status, body = api("GET", f"{UC}/catalogs/ghost")
    assert (status, body["error_code"]) == (404, "CATALOG_DOES_NOT_EXIST")


def test_get_catalog_and_list_catalogs(api):
    api.catalog.create_table("main.s.t", [{"a": 1}])
    api.catalog.create_catalog("dev")

    assert api("GET", f"{UC}/catalogs/main")[1]["name"] == "main"
    assert [c["name"] for c in api("GET", f"{UC}/catalogs")[1]["catalogs"]] == ["dev", "main"]


def test_table_by_id_matches_the_rest_table_id(api):
    api.catalog.create_table("main.s.t", [{"a": 1}])
    table_id = api("GET", f"{UC}/tables/main.s.t")[1]["table_id"]

    assert api.catalog.table_by_id(table_id) == "main.s.t"


def test_reset_empties_the_catalog(api):
    api.catalog.create_table("main.s.t", [{"a": 1}])

    api.catalog.reset()

    assert api("GET", f"{UC}/tables/main.s.t/exists")[1] == {"table_exists": False}
    assert api("GET", f"{UC}/catalogs")[1] == {"catalogs": []}
