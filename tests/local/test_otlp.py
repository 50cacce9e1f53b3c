"""The local workspace OTLP traces route: OTLP/JSON and protobuf bodies, the table header, errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from canary import CANARY
from dbx_native.local import LocalWorkspace
from dbx_native.local._otlp import TRACE_SCHEMA

URL_PATH = "/api/2.0/otel/v1/traces"
SPAN = {
    "traceId": "5B8EFFF798038103D269B633813FC60C",
    "spanId": "EEE19B7EC3C1B174",
    "name": "chat fraud-llm",
    "kind": 3,
    "startTimeUnixNano": "1800000000000000000",
    "endTimeUnixNano": "1800000000250000000",
    "status": {"code": 2, "message": "rate limited"},
    "attributes": [
        {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "12"}},
        {"key": "dbx_native.fallback_used", "value": {"boolValue": True}},
        {"key": "cost", "value": {"doubleValue": 0.5}},
    ],
}
BODY = {
    "resourceSpans": [
        {
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "agent"}}]},
            "scopeSpans": [{"scope": {"name": "dbx_native"}, "spans": [SPAN]}],
        }
    ]
}


@pytest.fixture
def ws() -> Iterator[LocalWorkspace]:
    workspace = LocalWorkspace(token=CANARY)
    with workspace.intercept():
        yield workspace


def post(ws: LocalWorkspace, body: bytes, headers: dict[str, str]) -> requests.Response:
    return requests.post(ws.host + URL_PATH, data=body, headers={"Authorization": f"Bearer {CANARY}", **headers})


def test_otlp_json_spans_become_rows_of_the_named_table(ws: LocalWorkspace) -> None:
    import json

    answer = post(
        ws,
        json.dumps(BODY).encode(),
        {"Content-Type": "application/json", "X-Databricks-UC-Table-Name": "main.obs.spans"},
    )
    assert answer.status_code == 200 and answer.json() == {}
    (row,) = ws.traces.spans("main.obs.spans")
    assert row["trace_id"] == "5b8efff798038103d269b633813fc60c" and row["span_id"] == "eee19b7ec3c1b174"
    assert (row["kind"], row["status_code"], row["status_message"]) == ("CLIENT", "ERROR", "rate limited")
    assert row["duration_ms"] == pytest.approx(250.0)
    assert row["attributes"] == {"gen_ai.usage.input_tokens": "12", "dbx_native.fallback_used": "true", "cost": "0.5"}
    assert row["service_name"] == "agent" and row["scope_name"] == "dbx_native"
    assert [c["name"] for c in ws.catalog.table_info("main.obs.spans")["columns"]] == list(TRACE_SCHEMA)
    assert (ws.traces.requests_received, ws.traces.spans_written) == (1, 1)


def test_otlp_protobuf_body_is_decoded(ws: LocalWorkspace) -> None:
    import base64

    from google.protobuf.json_format import ParseDict
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    span = {
        **SPAN,
        "traceId": base64.b64encode(bytes.fromhex(SPAN["traceId"])).decode(),
        "spanId": base64.b64encode(bytes.fromhex(SPAN["spanId"])).decode(),
    }
    message = ParseDict(
        {"resourceSpans": [{**BODY["resourceSpans"][0], "scopeSpans": [{"spans": [span]}]}]},
        ExportTraceServiceRequest(),
    )
    answer = post(
        ws,
        message.SerializeToString(),
        {"Content-Type": "application/x-protobuf", "X-Databricks-UC-Table-Name": "main.obs.spans"},
    )
    assert answer.status_code == 200 and answer.content == b""
    (row,) = ws.traces.spans("main.obs.spans")
    assert row["trace_id"] == SPAN["traceId"].lower() and row["attributes"]["gen_ai.usage.input_tokens"] == "12"


@pytest.mark.parametrize(
    ("headers", "body", "status", "message"),
    [
        ({"Content-Type": "application/json"}, b"{}", 400, "X-Databricks-UC-Table-Name"),
        ({"Content-Type": "text/plain", "X-Databricks-UC-Table-Name": "main.o.s"}, b"x", 415, "not supported"),
        (
            {"Content-Type": "application/x-protobuf", "X-Databricks-UC-Table-Name": "main.o.s"},
            b"\xff\xff",
            400,
            "not an OTLP",
        ),
        ({"Content-Type": "application/json", "X-Databricks-UC-Table-Name": "bad"}, b"{}", 400, "3-part"),
    ],
)
def test_otlp_route_errors_are_databricks_error_bodies(
    ws: LocalWorkspace, headers: dict[str, str], body: bytes, status: int, message: str
) -> None:
    answer = post(ws, body, headers)
    assert answer.status_code == status
    assert message in answer.json()["message"] and answer.json()["error_code"]


def test_traces_written_to_a_rooted_workspace_are_a_delta_table(tmp_path: object) -> None:
    import json

    from deltalake import DeltaTable

    workspace = LocalWorkspace(root=tmp_path, token=CANARY)  # type: ignore[arg-type]
    with workspace.intercept():
        post(
            workspace,
            json.dumps(BODY).encode(),
            {"Content-Type": "application/json", "X-Databricks-UC-Table-Name": "main.obs.spans"},
        )
    location = workspace.catalog.table_info("main.obs.spans")["storage_location"]
    assert DeltaTable(location).to_pyarrow_table().num_rows == 1
    workspace.catalog.close()
