"""The local Zerobus Ingest REST insert route: rows into existing tables, Zerobus's JSON encoding, refusals."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import requests

from canary import CANARY
from dbx_native.local import LocalWorkspace
from dbx_native.local._otlp import TRACE_SCHEMA

TABLE = "main.obs.spans"
START_US = 1_800_000_000_000_000  # 2027-01-15T08:00:00Z in microseconds
ROW = {
    "trace_id": "5b8efff798038103d269b633813fc60c",
    "span_id": "eee19b7ec3c1b174",
    "name": "chat fraud-llm",
    "kind": "CLIENT",
    "start_time": START_US,
    "end_time": START_US + 250_000,
    "duration_ms": 250.0,
    "status_code": "OK",
    "service_name": "agent",
    "attributes": {"gen_ai.usage.input_tokens": "12"},
    "resource_attributes": {"service.name": "agent"},
}


@pytest.fixture
def ws() -> Iterator[LocalWorkspace]:
    workspace = LocalWorkspace(token=CANARY)
    workspace.create_table(TABLE, [], schema=TRACE_SCHEMA)
    with workspace.intercept():
        yield workspace


def insert(ws: LocalWorkspace, body: Any, table: str = TABLE, token: str = CANARY) -> requests.Response:
    return requests.post(
        f"{ws.host}/zerobus/v1/tables/{table}/insert", json=body, headers={"Authorization": f"Bearer {token}"}
    )


def test_a_batch_of_rows_is_committed_with_an_empty_object(ws: LocalWorkspace) -> None:
    answer = insert(ws, [ROW, {**ROW, "span_id": "00000000000000ff", "parent_span_id": ROW["span_id"]}])
    assert answer.status_code == 200 and answer.json() == {}
    first, second = ws.zerobus.rows(TABLE)
    assert first["start_time"] == dt.datetime.fromtimestamp(START_US / 1e6, tz=dt.timezone.utc)
    assert (first["end_time"] - first["start_time"]).total_seconds() == pytest.approx(0.25)
    assert first["attributes"] == {"gen_ai.usage.input_tokens": "12"} and first["parent_span_id"] is None
    assert second["parent_span_id"] == ROW["span_id"]
    assert (ws.zerobus.requests_received, ws.zerobus.rows_written) == (1, 2)


def test_a_missing_table_is_a_404_and_is_never_created(ws: LocalWorkspace) -> None:
    answer = insert(ws, [ROW], table="main.obs.missing")
    assert answer.status_code == 404
    assert answer.json()["error_code"] == "TABLE_DOES_NOT_EXIST"
    assert "never creates tables" in answer.json()["message"]
    assert not ws.catalog.table_exists("main.obs.missing")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([{**ROW, "latency": 3}], "does not have"),
        ([{**ROW, "start_time": "2027-01-15T08:00:00Z"}], "microseconds since the epoch"),
        ([{**ROW, "duration_ms": "250"}], "expected a number"),
        ([{**ROW, "name": 7}], "expected a string"),
        ([{**ROW, "attributes": ["a"]}], "expected a JSON object"),
        ([{**ROW, "attributes": {"n": 12}}], "expected a string"),
        ([ROW, "not a row"], "Row 1 is a str"),
        ({"rows": [ROW]}, "JSON array"),
    ],
)
def test_rows_that_do_not_fit_the_table_are_refused_and_nothing_is_written(
    ws: LocalWorkspace, body: Any, message: str
) -> None:
    answer = insert(ws, body)
    assert answer.status_code == 400
    assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert message in answer.json()["message"]
    assert ws.zerobus.rows(TABLE) == []  # all rows of a batch or none
    assert ws.zerobus.requests_received == 0


def test_zerobus_json_encoding_of_other_column_types(ws: LocalWorkspace) -> None:
    ws.create_table(
        "main.obs.kinds",
        [],
        schema={
            "n": "bigint",
            "small": "tinyint",
            "ok": "boolean",
            "day": "date",
            "blob": "binary",
            "tags": "array<string>",
            "price": "decimal(10,2)",
            "point": "struct<x:double,y:double>",
            "counts": "map<int,bigint>",
        },
    )
    row = {
        "n": 2**40,
        "small": -3,
        "ok": True,
        "day": 20_000,
        "blob": base64.b64encode(b"\x00\x01").decode(),
        "tags": ["a", "b"],
        "price": "12.50",
        "point": {"x": 1, "y": 2.5},
        "counts": {"7": 3},
    }
    assert insert(ws, [row], table="main.obs.kinds").status_code == 200
    (stored,) = ws.read_table("main.obs.kinds")
    assert stored["day"] == dt.date(1970, 1, 1) + dt.timedelta(days=20_000)
    assert bytes(stored["blob"]) == b"\x00\x01" and stored["price"] == Decimal("12.50")
    assert stored["point"] == {"x": 1.0, "y": 2.5} and stored["counts"] == {7: 3}
    assert (stored["n"], stored["small"], stored["ok"], stored["tags"]) == (2**40, -3, True, ["a", "b"])
    for bad in ({"small": 300}, {"ok": 1}, {"n": True}, {"blob": "***"}, {"point": {"z": 1}}, {"counts": {"x": 1}}):
        assert insert(ws, [bad], table="main.obs.kinds").status_code == 400, bad


def test_bad_table_names_and_missing_tokens_are_refused(ws: LocalWorkspace) -> None:
    assert insert(ws, [ROW], table="spans").status_code == 400
    assert insert(ws, [ROW], token="wrong").status_code == 401
    assert ws.zerobus.rows(TABLE) == []


def test_an_empty_batch_commits_nothing_and_reset_zeroes_the_counters(ws: LocalWorkspace) -> None:
    assert insert(ws, []).status_code == 200
    assert insert(ws, [ROW]).status_code == 200
    assert (ws.zerobus.requests_received, ws.zerobus.rows_written) == (2, 1)
    ws.reset()
    assert (ws.zerobus.requests_received, ws.zerobus.rows_written) == (0, 0)


def test_the_route_is_served_over_loopback() -> None:
    workspace = LocalWorkspace(token=CANARY)
    workspace.create_table(TABLE, [], schema=TRACE_SCHEMA)
    with workspace.serve() as server:
        answer = requests.post(
            f"{server.host}/zerobus/v1/tables/{TABLE}/insert",
            json=[ROW],
            headers={"Authorization": f"Bearer {CANARY}"},
            timeout=5,
        )
    assert answer.status_code == 200
    assert [r["name"] for r in workspace.zerobus.rows(TABLE)] == ["chat fraud-llm"]


def test_a_batch_mixing_spans_with_and_without_attributes_is_written(ws: LocalWorkspace) -> None:
    assert insert(ws, [ROW, {**ROW, "span_id": "00000000000000ff", "attributes": {}}]).status_code == 200
    assert len(ws.zerobus.rows(TABLE)) == 2


def test_maps_in_one_batch_keep_only_their_own_keys(ws: LocalWorkspace) -> None:
    other = {**ROW, "span_id": "00000000000000ff", "attributes": {"dbx_native.route": "features"}}
    assert insert(ws, [ROW, other]).status_code == 200
    assert [r["attributes"] for r in ws.zerobus.rows(TABLE)] == [ROW["attributes"], other["attributes"]]
