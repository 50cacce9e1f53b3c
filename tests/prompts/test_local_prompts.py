"""The local prompt registry speaks MLflow's Unity Catalog prompt protocol: routes, JSON fields, errors, paging."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from canary import CANARY
from dbx_native.local import LocalWorkspace
from dbx_native.prompts import PromptRegistry

BASE = "/api/2.0/mlflow/unity-catalog/prompts"
NAME = "main.agents.triage"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture
def ws() -> Iterator[LocalWorkspace]:
    workspace = LocalWorkspace(token=CANARY)
    workspace.catalog.create_schema("main.agents")
    with workspace.intercept():
        yield workspace


def call(ws: LocalWorkspace, method: str, path: str, body: Any = None) -> requests.Response:
    return requests.request(
        method, f"{ws.host}{BASE}{path}", json=body, headers={"Authorization": f"Bearer {CANARY}"}, timeout=5
    )


def new_version(ws: LocalWorkspace, template: str, name: str = NAME) -> dict[str, Any]:
    body = {"name": name, "prompt_version": {"name": name, "template": json.dumps(template)}}
    answer = call(ws, "POST", f"/{name}/versions", body)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_create_prompt_answers_the_prompt_message_with_rfc3339_timestamps(ws: LocalWorkspace) -> None:
    body = {"name": NAME, "prompt": {"name": NAME, "description": "d", "tags": [{"key": "team", "value": "fraud"}]}}
    created = call(ws, "POST", "", body).json()
    assert created["name"] == NAME and created["description"] == "d"
    assert created["tags"] == [{"key": "team", "value": "fraud"}] and created["aliases"] == []
    assert RFC3339.match(created["creation_timestamp"]) and RFC3339.match(created["last_updated_timestamp"])
    assert call(ws, "GET", f"/{NAME}").json() == created


def test_creating_an_existing_prompt_is_a_409_mlflow_tolerates(ws: LocalWorkspace) -> None:
    body = {"name": NAME, "prompt": {"name": NAME}}
    call(ws, "POST", "", body)
    again = call(ws, "POST", "", body)
    assert again.status_code == 409 and again.json()["error_code"] == "ALREADY_EXISTS"


def test_a_prompt_needs_its_catalog_and_schema(ws: LocalWorkspace) -> None:
    missing_catalog = call(ws, "POST", "", {"name": "nope.agents.p", "prompt": {"name": "nope.agents.p"}})
    assert missing_catalog.status_code == 404 and missing_catalog.json()["error_code"] == "CATALOG_DOES_NOT_EXIST"
    missing_schema = call(ws, "POST", "", {"name": "main.nope.p", "prompt": {"name": "main.nope.p"}})
    assert missing_schema.status_code == 404 and missing_schema.json()["error_code"] == "SCHEMA_DOES_NOT_EXIST"
    bad = call(ws, "POST", "", {"name": "p", "prompt": {"name": "p"}})
    assert bad.status_code == 400 and bad.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_versions_are_numbered_per_prompt_and_never_reused(ws: LocalWorkspace) -> None:
    ws.prompts.create(NAME, "one")
    assert new_version(ws, "two")["version"] == "2"
    assert call(ws, "DELETE", f"/{NAME}/versions/2").status_code == 200
    assert new_version(ws, "three")["version"] == "3"
    missing = call(ws, "GET", f"/{NAME}/versions/2")
    assert missing.status_code == 404 and missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_a_versions_template_cannot_change_but_its_description_can(ws: LocalWorkspace) -> None:
    ws.prompts.create(NAME, "one")
    refused = call(ws, "PATCH", f"/{NAME}/versions/1", {"prompt_version": {"template": json.dumps("other")}})
    assert refused.status_code == 400
    updated = call(ws, "PATCH", f"/{NAME}/versions/1", {"prompt_version": {"description": "why"}}).json()
    assert updated["description"] == "why" and updated["template"] == json.dumps("one")


def test_an_empty_template_is_refused(ws: LocalWorkspace) -> None:
    ws.prompts.create(NAME, "one")
    answer = call(ws, "POST", f"/{NAME}/versions", {"name": NAME, "prompt_version": {"template": ""}})
    assert answer.status_code == 400 and "template" in answer.json()["message"]


def test_aliases_set_read_and_delete(ws: LocalWorkspace) -> None:
    ws.prompts.create(NAME, "one")
    ws.prompts.create(NAME, "two")
    assert call(ws, "POST", f"/{NAME}/aliases/production", {"name": NAME, "version": "1"}).json() == {}
    by_alias = call(ws, "GET", f"/{NAME}/versions/by-alias/production").json()
    assert by_alias["version"] == "1" and by_alias["aliases"] == [{"alias": "production", "version": "1"}]
    assert call(ws, "GET", f"/{NAME}/versions/by-alias/latest").json()["version"] == "2"
    assert call(ws, "GET", f"/{NAME}").json()["aliases"] == [{"alias": "production", "version": "1"}]
    assert call(ws, "DELETE", f"/{NAME}/aliases/production").status_code == 200
    gone = call(ws, "GET", f"/{NAME}/versions/by-alias/production")
    assert gone.status_code == 404 and gone.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


@pytest.mark.parametrize("alias", ["latest", "Latest", "v1", "bad alias"])
def test_reserved_or_malformed_aliases_are_refused(ws: LocalWorkspace, alias: str) -> None:
    ws.prompts.create(NAME, "one")
    answer = call(ws, "POST", f"/{NAME}/aliases/{alias}", {"version": "1"})
    assert answer.status_code == 400 and answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_deleting_a_version_drops_its_aliases(ws: LocalWorkspace) -> None:
    ws.prompts.create(NAME, "one", alias="production")
    call(ws, "DELETE", f"/{NAME}/versions/1")
    assert call(ws, "GET", f"/{NAME}").json()["aliases"] == []


def test_a_prompt_with_versions_cannot_be_deleted(ws: LocalWorkspace) -> None:
    ws.prompts.create(NAME, "one")
    refused = call(ws, "DELETE", f"/{NAME}")
    assert refused.status_code == 400 and "delete them first" in refused.json()["message"]
    call(ws, "DELETE", f"/{NAME}/versions/1")
    assert call(ws, "DELETE", f"/{NAME}").status_code == 200
    assert call(ws, "GET", f"/{NAME}").status_code == 404


def test_tags_on_prompts_and_versions(ws: LocalWorkspace) -> None:
    ws.prompts.create(NAME, "one")
    call(ws, "POST", f"/{NAME}/tags", {"name": NAME, "key": "owner", "value": "ada"})
    call(ws, "POST", f"/{NAME}/versions/1/tags", {"name": NAME, "version": "1", "key": "k", "value": "v"})
    assert call(ws, "GET", f"/{NAME}").json()["tags"] == [{"key": "owner", "value": "ada"}]
    assert call(ws, "GET", f"/{NAME}/versions/1").json()["tags"] == [{"key": "k", "value": "v"}]
    assert call(ws, "DELETE", f"/{NAME}/tags/owner").status_code == 200
    assert call(ws, "DELETE", f"/{NAME}/versions/1/tags/k").status_code == 200
    assert call(ws, "DELETE", f"/{NAME}/versions/1/tags/k").status_code == 404


def test_search_needs_a_catalog_schema_and_pages_with_tokens(ws: LocalWorkspace) -> None:
    for short in ("a", "b", "c"):
        ws.prompts.create(f"main.agents.{short}", "x")
    assert call(ws, "POST", "/search", {}).status_code == 400
    location = {"catalog_name": "main", "schema_name": "agents"}
    first = call(ws, "POST", "/search", {"catalog_schema": location, "max_results": 2}).json()
    assert [p["name"] for p in first["prompts"]] == ["main.agents.a", "main.agents.b"]
    body = {"catalog_schema": location, "max_results": 2, "page_token": first["next_page_token"]}
    second = call(ws, "POST", "/search", body).json()
    assert [p["name"] for p in second["prompts"]] == ["main.agents.c"] and "next_page_token" not in second
    bad = call(ws, "POST", "/search", {"catalog_schema": location, "filter": "tag.x = 'y'"})
    assert bad.status_code == 400


def test_search_versions_pages_newest_first(ws: LocalWorkspace) -> None:
    for i in range(3):
        ws.prompts.create(NAME, f"v{i}")
    first = call(ws, "POST", f"/{NAME}/versions/search", {"name": NAME, "max_results": 2}).json()
    assert [v["version"] for v in first["prompt_versions"]] == ["3", "2"]
    body = {"name": NAME, "max_results": 2, "page_token": first["next_page_token"]}
    assert [v["version"] for v in call(ws, "POST", f"/{NAME}/versions/search", body).json()["prompt_versions"]] == ["1"]


def test_lineage_link_routes_are_accepted(ws: LocalWorkspace) -> None:
    body = {"prompt_versions": [{"name": NAME, "version": "1"}], "trace_ids": ["t"]}
    answer = requests.post(
        f"{ws.host}/api/2.0/mlflow/unity-catalog/prompt-versions/links-to-traces",
        json=body,
        headers={"Authorization": f"Bearer {CANARY}"},
        timeout=5,
    )
    assert answer.status_code == 200 and answer.json() == {}


def test_reset_forgets_every_prompt(ws: LocalWorkspace) -> None:
    ws.prompts.create(NAME, "one")
    ws.reset()
    assert ws.prompts.names() == []


def test_the_registry_works_over_the_loopback_server() -> None:
    ws = LocalWorkspace(token=CANARY)
    ws.catalog.create_schema("main.agents")
    with ws.serve() as server, PromptRegistry(server.config) as reg:
        reg.register(NAME, [{"role": "user", "content": "Hi {{name}}"}], alias="production")
        loaded = reg.load(f"prompts:/{NAME}@production")
        assert loaded.format(name="Ada") == [{"role": "user", "content": "Hi Ada"}]
        assert [v.version for v in reg.versions(NAME)] == [1]
        assert [p.name for p in reg.search("main", "agents")] == [NAME]
