"""Trace export through Zerobus Ingest's REST insert route, against the local workspace's Zerobus emulation."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Status, StatusCode

from canary import CANARY
from dbx_native import DbxConfig
from dbx_native.errors import InvalidRequestError
from dbx_native.local import LocalWorkspace
from dbx_native.local._otlp import TRACE_SCHEMA
from dbx_native.telemetry import TRACE_TABLE_SCHEMA, TraceExport, export_to_unity_catalog, trace_table_ddl

TABLE = "main.agent.traces"
INSERT_PATH = f"/zerobus/v1/tables/{TABLE}/insert"


@pytest.fixture
def ws() -> Iterator[LocalWorkspace]:
    workspace = LocalWorkspace(token=CANARY)
    workspace.create_table(TABLE, [], schema=TRACE_TABLE_SCHEMA)  # Zerobus never creates tables
    with workspace.intercept():
        yield workspace


def config(ws: LocalWorkspace, **changes: Any) -> DbxConfig:
    return DbxConfig(host=ws.host, token=CANARY, **changes)


def start(ws: LocalWorkspace, table: str = TABLE, **options: Any) -> tuple[TraceExport, Any]:
    provider = TracerProvider(resource=Resource.create({"service.name": "fraud-agent"}))
    options.setdefault("config", config(ws))
    options.setdefault("zerobus_host", ws.host)
    options.setdefault("schedule_delay", 0.005)
    options.setdefault("initial_backoff", 0.001)
    options.setdefault("max_backoff", 0.004)
    export = export_to_unity_catalog(table, tracer_provider=provider, transport="zerobus", **options)
    return export, provider.get_tracer("test")


def inserts(ws: LocalWorkspace) -> list[Any]:
    return [r for r in ws.requests if r.path.startswith("/zerobus/")]


def test_spans_land_as_rows_through_the_zerobus_insert_route(ws: LocalWorkspace) -> None:
    export, tracer = start(ws)
    attributes = {"gen_ai.usage.input_tokens": 12, "cached": True, "cost": 0.25, "tags": ["a", "b"]}
    with (
        tracer.start_as_current_span("chat fraud-llm", attributes=attributes) as parent,
        tracer.start_as_current_span("lookup", attributes={"dbx_native.route": "features"}) as child,
    ):
        child.set_status(Status(StatusCode.ERROR, "feature store down"))
    assert export.flush(timeout=5)
    rows = {r["name"]: r for r in ws.zerobus.rows(TABLE)}
    chat, lookup = rows["chat fraud-llm"], rows["lookup"]
    expected = {"gen_ai.usage.input_tokens": "12", "cached": "true", "cost": "0.25", "tags": '["a", "b"]'}
    # Key by key: the local catalog pads maps of one batch with the other rows' keys (see tests/local/test_zerobus.py).
    assert {k: chat["attributes"][k] for k in expected} == expected
    assert chat["span_id"] == format(parent.get_span_context().span_id, "016x") and chat["parent_span_id"] is None
    assert lookup["parent_span_id"] == chat["span_id"] and lookup["trace_id"] == chat["trace_id"]
    assert (lookup["status_code"], lookup["status_message"]) == ("ERROR", "feature store down")
    assert chat["service_name"] == "fraud-agent" and chat["scope_name"] == "test" and chat["kind"] == "INTERNAL"
    assert chat["end_time"] >= lookup["end_time"] >= lookup["start_time"] >= chat["start_time"]
    post = inserts(ws)[-1]
    assert post.method == "POST" and post.token == CANARY
    body = json.loads(post.body)
    assert isinstance(body, list) and isinstance(body[0]["start_time"], int)  # Zerobus JSON: epoch microseconds
    assert not [r for r in ws.requests if r.path.startswith("/api/2.0/otel")]
    counters = export.counters
    assert (counters.exported, counters.failed, counters.dropped) == (2, 0, 0)
    assert export.transport == "zerobus" and "zerobus" in repr(export)
    export.shutdown()


def test_both_transports_write_the_same_row_shape(ws: LocalWorkspace) -> None:
    assert TRACE_TABLE_SCHEMA == TRACE_SCHEMA  # the client's columns are the emulated OTLP route's columns
    provider = TracerProvider(resource=Resource.create({"service.name": "fraud-agent"}))
    common: dict[str, Any] = {"config": config(ws), "tracer_provider": provider, "schedule_delay": 0.005}
    via_otlp = export_to_unity_catalog("main.agent.otlp", **common)
    via_zerobus = export_to_unity_catalog(TABLE, transport="zerobus", zerobus_host=ws.host, **common)
    attributes: dict[str, Any] = {"n": 3, "ratio": 0.1, "ok": False, "names": ["x"], "text": "hi"}
    with provider.get_tracer("test").start_as_current_span("parent", attributes=attributes):
        provider.get_tracer("other").start_span("child", attributes={"n": 4}).end()
    assert via_otlp.flush(timeout=5) and via_zerobus.flush(timeout=5)
    otlp_rows = sorted(ws.traces.spans("main.agent.otlp"), key=lambda r: r["name"])
    zerobus_rows = sorted(ws.zerobus.rows(TABLE), key=lambda r: r["name"])
    assert len(otlp_rows) == len(zerobus_rows) == 2
    for a, b in zip(otlp_rows, zerobus_rows, strict=True):
        times = ("start_time", "end_time", "duration_ms")
        assert {k: v for k, v in a.items() if k not in times} == {k: v for k, v in b.items() if k not in times}
        assert abs((a["start_time"] - b["start_time"]).total_seconds()) < 2e-6  # float vs integer microseconds
        assert a["duration_ms"] == pytest.approx(b["duration_ms"], abs=0.01)
    via_otlp.shutdown()
    via_zerobus.shutdown()


def test_transient_503s_then_recovery_lose_no_span_within_the_queue_bound(ws: LocalWorkspace) -> None:
    fault = ws.faults.add(status=503, times=5, path="/zerobus/")
    export, tracer = start(ws, max_queue_size=100, max_batch_size=10)
    for i in range(80):
        tracer.start_span(f"call-{i}").end()
    assert export.flush(timeout=10)
    assert fault.hits == 5
    counters = export.counters
    assert counters.retries == 5
    assert (counters.exported, counters.dropped, counters.failed) == (80, 0, 0)
    assert sorted(r["name"] for r in ws.zerobus.rows(TABLE)) == sorted(f"call-{i}" for i in range(80))
    export.shutdown()


def test_spans_beyond_the_queue_bound_are_dropped_and_counted_while_zerobus_is_down(ws: LocalWorkspace) -> None:
    fault = ws.faults.add(status=503, times=None, path="/zerobus/")
    export, tracer = start(ws, max_queue_size=30, max_batch_size=10)
    for i in range(75):
        tracer.start_span(f"call-{i}").end()
    assert export.counters.dropped == 45 and export.counters.queued == 30
    fault.cancel()
    assert export.flush(timeout=10)
    assert export.counters.exported == 30 and len(ws.zerobus.rows(TABLE)) == 30
    export.shutdown()


def test_a_missing_table_is_counted_failed_with_a_clear_log_line_and_not_retried(
    ws: LocalWorkspace, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="dbx_native.telemetry")
    # A long schedule delay: the batch goes when it is full, so the 5 spans are one request.
    export, tracer = start(ws, table="main.agent.missing", max_batch_size=5, schedule_delay=30)
    for i in range(5):
        tracer.start_span(f"call-{i}").end()
    assert export.flush(timeout=5)
    counters = export.counters
    assert (counters.failed, counters.exported, counters.retries) == (5, 0, 0)
    assert len(inserts(ws)) == 1  # one attempt, not a retry loop
    (line,) = [r.getMessage() for r in caplog.records if "main.agent.missing" in r.getMessage()]
    assert "does not exist" in line and "trace_table_ddl" in line and "5 spans dropped" in line
    assert not ws.catalog.table_exists("main.agent.missing")
    export.shutdown()


def test_rows_the_table_refuses_are_counted_failed(ws: LocalWorkspace) -> None:
    ws.create_table("main.agent.narrow", [], schema={"trace_id": "string", "name": "string"})
    export, tracer = start(ws, table="main.agent.narrow")
    tracer.start_span("call").end()
    assert export.flush(timeout=5)
    assert (export.counters.failed, export.counters.exported) == (1, 0)
    assert inserts(ws)[-1].status == 400
    assert ws.read_table("main.agent.narrow") == []
    export.shutdown()


def test_the_zerobus_host_may_differ_from_the_workspace_host(ws: LocalWorkspace) -> None:
    zerobus = LocalWorkspace(token=CANARY)
    zerobus.create_table(TABLE, [], schema=TRACE_TABLE_SCHEMA)
    with zerobus.serve() as server:
        export, tracer = start(ws, zerobus_host=server.host)
        tracer.start_span("call").end()
        assert export.flush(timeout=5)
        export.shutdown()
    assert [r["name"] for r in zerobus.zerobus.rows(TABLE)] == ["call"]
    assert ws.zerobus.rows(TABLE) == [] and inserts(ws) == []
    assert inserts(zerobus)[0].token == CANARY  # the workspace config's credentials, sent to the Zerobus host


def test_each_insert_asks_the_credentials_for_fresh_headers(ws: LocalWorkspace) -> None:
    calls: list[int] = []

    def token() -> str:
        calls.append(1)
        return str(CANARY)

    export, tracer = start(ws, config=DbxConfig(host=ws.host, token_provider=token), max_batch_size=1)
    for i in range(3):
        tracer.start_span(f"call-{i}").end()
        assert export.flush(timeout=5)
    assert export.counters.exported == 3
    assert len(calls) == len(inserts(ws)) == 3
    export.shutdown()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"transport": "zerobus"}, "zerobus_host is required"),
        ({"transport": "zerobus", "zerobus_host": "ftp://zerobus.example"}, "not a usable URL"),
        ({"zerobus_host": "https://1.zerobus.example"}, "only used with transport='zerobus'"),
        ({"transport": "kafka"}, "'otlp' or 'zerobus'"),
    ],
)
def test_bad_transport_options_are_refused(options: dict[str, Any], message: str) -> None:
    provider = TracerProvider()
    cfg = DbxConfig(host="http://127.0.0.1:9", token=CANARY)
    with pytest.raises(InvalidRequestError, match=message):
        export_to_unity_catalog(TABLE, config=cfg, tracer_provider=provider, **options)


def test_the_ddl_names_every_trace_column_in_order() -> None:
    ddl = trace_table_ddl(TABLE)
    assert ddl.startswith(f"CREATE TABLE IF NOT EXISTS {TABLE} (")
    lines = [line.strip().rstrip(",") for line in ddl.splitlines()[1:-1]]
    assert lines == [f"{name} {kind.upper()}" for name, kind in TRACE_TABLE_SCHEMA.items()]


def test_the_local_zerobus_example_in_the_monitoring_page_runs() -> None:
    import re
    from pathlib import Path

    page = (Path(__file__).resolve().parents[2] / "docs" / "monitoring.md").read_text("utf-8")
    blocks = re.findall(r"^```python\n(.*?)^```", page, re.MULTILINE | re.DOTALL)
    (code,) = [b for b in blocks if "ws.zerobus.rows" in b]
    namespace: dict[str, Any] = {"__name__": "docs_monitoring_zerobus"}
    exec(compile(code, "monitoring.md#zerobus-local", "exec"), namespace)
    assert [r["name"] for r in namespace["rows"]] == ["chat fraud-llm"]
    assert namespace["export"].counters.exported == 1
