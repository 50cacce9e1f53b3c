"""Trace export over Zerobus Ingest's gRPC stream (official SDK), against the local workspace's gRPC emulator."""

from __future__ import annotations

import logging
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

from canary import CANARY
from dbx_native import DbxConfig
from dbx_native.errors import ConfigurationError, InvalidRequestError
from dbx_native.local import LocalWorkspace
from dbx_native.local._zerobus_grpc import ZerobusGrpcServer
from dbx_native.telemetry import TRACE_TABLE_SCHEMA, TraceExport, export_to_unity_catalog

pytest.importorskip("zerobus")

TABLE = "main.agent.traces"


@pytest.fixture
def ws() -> LocalWorkspace:
    workspace = LocalWorkspace(token=CANARY)
    workspace.create_table(TABLE, [], schema=TRACE_TABLE_SCHEMA)  # Zerobus never creates tables
    return workspace


@pytest.fixture
def server(ws: LocalWorkspace) -> Iterator[ZerobusGrpcServer]:
    with ws.serve_zerobus_grpc() as running:
        yield running


def start(zerobus_host: str, table: str = TABLE, **options: Any) -> tuple[TraceExport, Any]:
    provider = TracerProvider(resource=Resource.create({"service.name": "fraud-agent"}))
    # The workspace host is never called: the static token needs no OAuth round trip.
    options.setdefault("config", DbxConfig(host="http://127.0.0.1:9", token=CANARY))
    options.setdefault("schedule_delay", 0.005)
    options.setdefault("initial_backoff", 0.001)
    options.setdefault("max_backoff", 0.004)
    options.setdefault("timeout", 5.0)
    export = export_to_unity_catalog(
        table, tracer_provider=provider, transport="zerobus-grpc", zerobus_host=zerobus_host, **options
    )
    return export, provider.get_tracer("test")


def streams(ws: LocalWorkspace) -> list[Any]:
    return ws.requests.filter(path="EphemeralStream")


def test_spans_arrive_as_rows_of_the_trace_table(ws: LocalWorkspace, server: ZerobusGrpcServer) -> None:
    export, tracer = start(server.host)
    with tracer.start_as_current_span("chat fraud-llm", attributes={"gen_ai.usage.input_tokens": 12}) as parent:
        tracer.start_span("lookup").end()
    assert export.flush(timeout=5)
    rows = {r["name"]: r for r in ws.read_table(TABLE)}
    chat, lookup = rows["chat fraud-llm"], rows["lookup"]
    assert chat["attributes"]["gen_ai.usage.input_tokens"] == "12"
    assert chat["span_id"] == format(parent.get_span_context().span_id, "016x")
    assert lookup["parent_span_id"] == chat["span_id"] and chat["service_name"] == "fraud-agent"
    assert chat["end_time"] >= lookup["end_time"] >= lookup["start_time"] >= chat["start_time"]
    (call,) = streams(ws)
    assert call.token == CANARY and call.headers["x-databricks-zerobus-table-name"] == TABLE
    assert not ws.requests.filter(path="^/zerobus/")  # the gRPC path, not the REST route
    counters = export.counters
    assert (counters.exported, counters.failed, counters.dropped, counters.retries) == (2, 0, 0, 0)
    assert export.transport == "zerobus-grpc" and "zerobus-grpc" in repr(export)
    export.shutdown()


def test_one_stream_carries_every_batch_and_asks_for_headers_once(
    ws: LocalWorkspace, server: ZerobusGrpcServer
) -> None:
    calls: list[int] = []

    def token() -> str:
        calls.append(1)
        return str(CANARY)

    export, tracer = start(server.host, config=DbxConfig(host="http://127.0.0.1:9", token_provider=token))
    for i in range(3):
        tracer.start_span(f"call-{i}").end()
        assert export.flush(timeout=5)
    assert export.counters.exported == 3 and len(ws.read_table(TABLE)) == 3
    assert server.streams_opened == 1 and len(streams(ws)) == 1
    assert len(calls) == 1  # fresh headers per stream, not per batch
    assert ws.zerobus.requests_received == 3  # one ingest message per batch
    export.shutdown()


def test_unavailable_for_a_while_then_recovery_loses_no_span_within_the_queue_bound(
    ws: LocalWorkspace, server: ZerobusGrpcServer
) -> None:
    export, tracer = start(server.host, max_queue_size=100, max_batch_size=10)
    tracer.start_span("warm-up").end()
    assert export.flush(timeout=5)
    fault = ws.faults.add(status=503, times=4, path="EphemeralStream")  # the open stream's next batch, then 3 opens
    for i in range(60):
        tracer.start_span(f"call-{i}").end()
    assert export.flush(timeout=10)
    assert fault.hits == 4
    counters = export.counters
    assert (counters.exported, counters.dropped, counters.failed, counters.retries) == (61, 0, 0, 4)
    names = sorted(r["name"] for r in ws.read_table(TABLE))
    assert names == sorted(["warm-up", *(f"call-{i}" for i in range(60))])  # none lost, none twice
    assert server.streams_opened == 2  # the failed stream was replaced once the service came back
    export.shutdown()


def test_no_connection_is_retried_until_the_service_listens(ws: LocalWorkspace) -> None:
    with socket.socket() as probe:  # a port nothing listens on yet
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    export, tracer = start(f"http://127.0.0.1:{port}", max_queue_size=50, max_batch_size=5)
    for i in range(20):
        tracer.start_span(f"call-{i}").end()
    assert not export.flush(timeout=0.2)
    assert export.counters.retries >= 1 and export.counters.exported == 0
    with ws.serve_zerobus_grpc(port=port):
        assert export.flush(timeout=10)
        export.shutdown()
    assert export.counters.exported == 20 and export.counters.dropped == 0
    assert len(ws.read_table(TABLE)) == 20


def test_an_unknown_table_is_a_permanent_failure_counted_and_not_retried(
    ws: LocalWorkspace, server: ZerobusGrpcServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="dbx_native.telemetry")
    export, tracer = start(server.host, table="main.agent.missing", max_batch_size=5, schedule_delay=30)
    for i in range(5):
        tracer.start_span(f"call-{i}").end()
    assert export.flush(timeout=5)
    counters = export.counters
    assert (counters.failed, counters.exported, counters.retries) == (5, 0, 0)
    assert [r.status for r in streams(ws)] == [404]  # one attempt, not a retry loop
    (line,) = [r.getMessage() for r in caplog.records if "main.agent.missing" in r.getMessage()]
    assert "does not exist" in line and "trace_table_ddl" in line and "5 spans dropped" in line
    assert not ws.catalog.table_exists("main.agent.missing")
    export.shutdown()


def test_rows_the_table_refuses_are_counted_failed_and_the_next_batch_gets_a_new_stream(
    ws: LocalWorkspace, server: ZerobusGrpcServer
) -> None:
    ws.create_table("main.agent.narrow", [], schema={"trace_id": "string", "name": "string"})
    export, tracer = start(server.host, table="main.agent.narrow")
    tracer.start_span("first").end()
    assert export.flush(timeout=5)
    tracer.start_span("second").end()
    assert export.flush(timeout=5)
    assert (export.counters.failed, export.counters.exported, export.counters.retries) == (2, 0, 0)
    assert [r.status for r in streams(ws)] == [400, 400]
    assert ws.read_table("main.agent.narrow") == []
    export.shutdown()


def test_refused_credentials_are_a_permanent_failure(
    ws: LocalWorkspace, server: ZerobusGrpcServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="dbx_native.telemetry")
    ws.expire_token(CANARY)
    export, tracer = start(server.host)
    tracer.start_span("call").end()
    assert export.flush(timeout=5)
    assert (export.counters.failed, export.counters.retries) == (1, 0)
    (line,) = [r.getMessage() for r in caplog.records if "refused the credentials" in r.getMessage()]
    assert "MODIFY" in line and "The access token has expired" in line
    export.shutdown()


_SDK_LOG_SCRIPT = """
from opentelemetry.sdk.trace import TracerProvider
from dbx_native import DbxConfig
from dbx_native.local import LocalWorkspace
from dbx_native.telemetry import TRACE_TABLE_SCHEMA, export_to_unity_catalog

ws = LocalWorkspace(token=TOKEN)
ws.create_table("main.agent.traces", [], schema=TRACE_TABLE_SCHEMA)
with ws.serve_zerobus_grpc() as server:
    provider = TracerProvider()
    export = export_to_unity_catalog(
        "main.agent.traces", config=DbxConfig(host="http://127.0.0.1:9", token=TOKEN), tracer_provider=provider,
        transport="zerobus-grpc", zerobus_host=server.host, schedule_delay=0.005, initial_backoff=0.001,
    )
    provider.get_tracer("t").start_span("delivered").end()
    assert export.flush(5)
    ws.faults.add(status=503, path="Zerobus")
    ws.expire_token(TOKEN)
    provider.get_tracer("t").start_span("refused").end()
    assert export.flush(5)
    export.shutdown()
    print("exported", export.counters.exported, "failed", export.counters.failed)
"""


def test_the_sdk_never_prints_the_token_even_at_its_most_verbose() -> None:
    # The SDK's Rust core logs by itself (RUST_LOG), outside Python logging: check it in a process of its
    # own, at trace level (every HTTP/2 frame), through a stream, a failure, a new stream and a refusal.
    env = {**os.environ, "RUST_LOG": "trace"}
    code = f"TOKEN = {CANARY!r}\n{_SDK_LOG_SCRIPT}"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    output = done.stdout + done.stderr  # the SDK 1.10 logs to stdout, not stderr
    assert "exported 1 failed 1" in done.stdout
    assert "Successfully opened stream" in output and "The access token has expired" in output  # it did log
    assert CANARY not in output


def test_a_missing_sdk_is_a_configuration_error_naming_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "zerobus", None)
    with pytest.raises(ConfigurationError, match=r"dbx-native\[zerobus\]"):
        start("http://127.0.0.1:9")


@pytest.mark.parametrize(
    ("host", "message"),
    [("", "zerobus_host is required for transport='zerobus-grpc'"), ("ftp://zerobus.example", "not a usable URL")],
)
def test_a_bad_zerobus_host_is_refused(host: str, message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        start(host)


def test_the_local_zerobus_grpc_example_in_the_telemetry_page_runs() -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "telemetry.md").read_text("utf-8")
    blocks = re.findall(r"^```python\n(.*?)^```", page, re.MULTILINE | re.DOTALL)
    (code,) = [b for b in blocks if "serve_zerobus_grpc" in b]
    namespace: dict[str, Any] = {"__name__": "docs_telemetry_zerobus_grpc"}
    exec(compile(code, "telemetry.md#zerobus-grpc", "exec"), namespace)
    assert [r["name"] for r in namespace["rows"]] == ["chat fraud-llm"]
    assert namespace["export"].counters.exported == 1
