"""The local Zerobus Ingest gRPC server: the official SDK streams into it; raw messages check the refusals.

Two independent clients: Databricks' own SDK (`zerobus`, Rust core) proves the protocol end to end, and a raw
grpcio channel with protobuf classes built here from the field numbers of `zerobus_service.proto` sends what the
SDK never would (ingest before create, protobuf records, offsets going back).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from canary import CANARY
from dbx_native.errors import ConfigurationError
from dbx_native.local import LocalWorkspace
from dbx_native.local._zerobus_grpc import ZEROBUS_GRPC_METHOD, ZerobusGrpcServer
from dbx_native.local._zerobus_proto import decode_request, encode_ack, encode_close_signal, encode_create_response

grpc = pytest.importorskip("grpc")  # the emulator needs grpcio (extra zerobus)
zerobus = pytest.importorskip("zerobus")

TABLE = "main.obs.events"
SCHEMA = {"name": "string", "n": "bigint", "at": "timestamp", "tags": "map<string,string>"}
AT_US = 1_800_000_000_000_000  # 2027-01-15T08:00:00Z


@pytest.fixture
def ws() -> LocalWorkspace:
    workspace = LocalWorkspace(token=CANARY)
    workspace.create_table(TABLE, [], schema=SCHEMA)
    return workspace


@pytest.fixture
def server(ws: LocalWorkspace) -> Iterator[ZerobusGrpcServer]:
    with ws.serve_zerobus_grpc() as running:
        yield running


# --- the official SDK --------------------------------------------------------------------------------------------


def sdk_for(server: ZerobusGrpcServer, workspace_url: str = "http://127.0.0.1:9") -> Any:
    sdk = zerobus.ZerobusSdk(server.host, workspace_url)
    sdk._inner.set_use_tls(False)  # the emulator is plaintext
    return sdk


def headers(token: str = CANARY, table: str = TABLE) -> Any:
    class Headers(zerobus.HeadersProvider):  # type: ignore[misc]
        def get_headers(self) -> list[tuple[str, str]]:
            return [("authorization", f"Bearer {token}"), ("x-databricks-zerobus-table-name", table)]

    return Headers()


def options(**changes: Any) -> Any:
    changes.setdefault("recovery", False)
    changes.setdefault("server_lack_of_ack_timeout_ms", 5000)
    changes.setdefault("flush_timeout_ms", 5000)
    return zerobus.StreamConfigurationOptions(**changes)


def open_stream(server: ZerobusGrpcServer, table: str = TABLE, token: str = CANARY) -> Any:
    props = zerobus.TableProperties(table)
    return sdk_for(server).create_stream(
        table_properties=props, options=options(), headers_provider=headers(token, table)
    )


def test_the_official_sdk_streams_json_records_into_the_local_table(
    ws: LocalWorkspace, server: ZerobusGrpcServer
) -> None:
    stream = open_stream(server)
    first = stream.ingest_records_offset(
        ['{"name": "a", "n": 1, "at": ' + str(AT_US) + ', "tags": {"k": "v"}}', '{"name": "b", "n": 2}']
    )
    stream.wait_for_offset(first)
    last = stream.ingest_record_offset('{"name": "c"}')
    stream.flush()
    stream.close()
    assert last > first
    rows = {r["name"]: r for r in ws.read_table(TABLE)}
    assert sorted(rows) == ["a", "b", "c"]
    assert rows["a"]["n"] == 1 and rows["a"]["tags"] == {"k": "v"}
    assert int(rows["a"]["at"].timestamp() * 1_000_000) == AT_US
    assert rows["c"]["n"] is None
    (call,) = ws.requests.filter(path="Zerobus/EphemeralStream")
    assert call.token == CANARY and call.status == 200
    assert call.headers["x-databricks-zerobus-table-name"] == TABLE
    assert call.headers["authorization"] == "Bearer ***"
    assert server.streams_opened == 1 and ws.zerobus.rows_written == 3


def test_the_sdk_oauth_client_credentials_flow_works_against_the_served_workspace(ws: LocalWorkspace) -> None:
    with ws.serve() as rest, ws.serve_zerobus_grpc() as server:
        stream = sdk_for(server, rest.host).create_stream("sp-client-id", "sp-secret", zerobus.TableProperties(TABLE))
        stream.wait_for_offset(stream.ingest_record_offset('{"name": "oauth"}'))
        stream.close()
    assert [r["name"] for r in ws.read_table(TABLE)] == ["oauth"]
    token_call, stream_call = ws.requests.filter(path="oidc/v1/token|EphemeralStream")
    assert token_call.path == "/oidc/v1/token" and stream_call.status == 200
    assert stream_call.token is not None and stream_call.token.startswith("dapi")  # the token the route issued


def test_an_unknown_table_is_refused_with_not_found_and_never_created(
    ws: LocalWorkspace, server: ZerobusGrpcServer
) -> None:
    with pytest.raises(zerobus.NonRetriableException, match=r'Table \\?"main.obs.missing\\?" cannot be found'):
        open_stream(server, table="main.obs.missing")
    assert not ws.catalog.table_exists("main.obs.missing")
    assert ws.requests.last.status == 404 and server.streams_opened == 0


def test_a_token_the_workspace_does_not_accept_is_refused_as_unauthenticated(server: ZerobusGrpcServer) -> None:
    with pytest.raises(zerobus.NonRetriableException, match="Invalid access token"):
        open_stream(server, token="dapi-not-this-one")


def test_a_batch_with_a_row_that_does_not_fit_is_refused_whole(ws: LocalWorkspace, server: ZerobusGrpcServer) -> None:
    stream = open_stream(server)
    offset = stream.ingest_records_offset(['{"name": "fine"}', '{"name": "bad", "latency": 3}'])
    with pytest.raises(zerobus.NonRetriableException, match="does not have"):
        stream.wait_for_offset(offset)
    stream.close()
    assert ws.read_table(TABLE) == []  # all or none, as on the REST route


def test_injected_unavailable_ends_the_stream_and_a_new_stream_succeeds(
    ws: LocalWorkspace, server: ZerobusGrpcServer
) -> None:
    stream = open_stream(server)
    stream.wait_for_offset(stream.ingest_record_offset('{"name": "before"}'))
    fault = ws.faults.add(status=503, times=2, path="Zerobus")
    offset = stream.ingest_record_offset('{"name": "lost"}')
    with pytest.raises(zerobus.ZerobusException, match="currently unavailable") as failure:
        stream.wait_for_offset(offset)
    assert not isinstance(failure.value, zerobus.NonRetriableException)
    stream.close()
    with pytest.raises(zerobus.ZerobusException, match="Injected fault"):
        open_stream(server)  # the second hit: stream creation itself
    retry = open_stream(server)
    retry.wait_for_offset(retry.ingest_record_offset('{"name": "after"}'))
    retry.close()
    assert fault.hits == 2 and fault.remaining == 0
    assert sorted(r["name"] for r in ws.read_table(TABLE)) == ["after", "before"]
    assert [r.status for r in ws.requests.filter(path="EphemeralStream")] == [503, 503, 200]


# --- raw messages ------------------------------------------------------------------------------------------------


def _message_classes() -> dict[str, Any]:
    """Protobuf classes for the service's messages, declared here from the public field numbers."""
    proto = descriptor_pb2.FileDescriptorProto(name="zerobus_emulator_test.proto", package="zbtest", syntax="proto2")
    f = descriptor_pb2.FieldDescriptorProto
    shapes: dict[str, list[tuple[str, int, int, str | None, bool]]] = {
        "JsonRecordBatch": [("records", 1, f.TYPE_STRING, None, True)],
        "ProtoEncodedRecordBatch": [("records", 1, f.TYPE_BYTES, None, True)],
        "Create": [
            ("table_name", 1, f.TYPE_STRING, None, False),
            ("descriptor_proto", 3, f.TYPE_BYTES, None, False),
            ("record_type", 4, f.TYPE_INT32, None, False),
        ],
        "Record": [
            ("offset_id", 1, f.TYPE_INT64, None, False),
            ("proto_encoded_record", 2, f.TYPE_BYTES, None, False),
            ("json_record", 3, f.TYPE_STRING, None, False),
        ],
        "Batch": [
            ("offset_id", 1, f.TYPE_INT64, None, False),
            ("proto_encoded_batch", 2, f.TYPE_MESSAGE, ".zbtest.ProtoEncodedRecordBatch", False),
            ("json_batch", 3, f.TYPE_MESSAGE, ".zbtest.JsonRecordBatch", False),
        ],
        "Request": [
            ("create_stream", 1, f.TYPE_MESSAGE, ".zbtest.Create", False),
            ("ingest_record", 2, f.TYPE_MESSAGE, ".zbtest.Record", False),
            ("ingest_record_batch", 3, f.TYPE_MESSAGE, ".zbtest.Batch", False),
        ],
        "Ack": [("durability_ack_up_to_offset", 1, f.TYPE_INT64, None, False)],
        "Created": [("stream_id", 1, f.TYPE_STRING, None, False)],
        "Duration": [("seconds", 1, f.TYPE_INT64, None, False)],
        "Close": [("duration", 1, f.TYPE_MESSAGE, ".zbtest.Duration", False)],
        "Response": [
            ("create_stream_response", 1, f.TYPE_MESSAGE, ".zbtest.Created", False),
            ("ingest_record_response", 2, f.TYPE_MESSAGE, ".zbtest.Ack", False),
            ("close_stream_signal", 3, f.TYPE_MESSAGE, ".zbtest.Close", False),
        ],
    }
    for name, fields in shapes.items():
        message = proto.message_type.add(name=name)
        for field_name, number, kind, type_name, repeated in fields:
            label = f.LABEL_REPEATED if repeated else f.LABEL_OPTIONAL
            message.field.add(name=field_name, number=number, type=kind, label=label, type_name=type_name)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return {name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"zbtest.{name}")) for name in shapes}


M = _message_classes()
JSON, PROTO = 2, 1


def create(table: str = TABLE, record_type: int | None = JSON, descriptor: bytes | None = None) -> Any:
    message = M["Create"](table_name=table)
    if record_type is not None:
        message.record_type = record_type
    if descriptor is not None:
        message.descriptor_proto = descriptor
    return M["Request"](create_stream=message)


def batch(offset: int, *records: str) -> Any:
    return M["Request"](
        ingest_record_batch=M["Batch"](offset_id=offset, json_batch=M["JsonRecordBatch"](records=records))
    )


def record(offset: int, text: str) -> Any:
    return M["Request"](ingest_record=M["Record"](offset_id=offset, json_record=text))


def exchange(
    server: ZerobusGrpcServer, messages: list[Any], *, token: str = CANARY, table_header: str | None = TABLE
) -> list[Any]:
    """Send `messages` on one stream and read every answer (raises `grpc.RpcError` when the stream fails)."""
    metadata = [("authorization", f"Bearer {token}")]
    if table_header is not None:
        metadata.append(("x-databricks-zerobus-table-name", table_header))
    with grpc.insecure_channel(server.target) as channel:
        call = channel.stream_stream(
            ZEROBUS_GRPC_METHOD,
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=M["Response"].FromString,
        )
        return list(call(iter(messages), metadata=metadata, timeout=10))


def refusal(server: ZerobusGrpcServer, messages: list[Any], **kwargs: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as failure:
        exchange(server, messages, **kwargs)
    return failure.value


def test_acks_carry_each_messages_offset_and_the_stream_ends_ok(ws: LocalWorkspace, server: ZerobusGrpcServer) -> None:
    answers = exchange(server, [create(), batch(0, '{"name": "a"}', '{"name": "b"}'), record(5, '{"name": "c"}')])
    assert answers[0].create_stream_response.stream_id
    assert [a.ingest_record_response.durability_ack_up_to_offset for a in answers[1:]] == [0, 5]
    assert [r["name"] for r in ws.read_table(TABLE)] == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("messages", "code", "detail"),
    [
        ([record(0, "{}")], grpc.StatusCode.INVALID_ARGUMENT, "first message"),
        ([create(), create()], grpc.StatusCode.INVALID_ARGUMENT, "ingest_record or ingest_record_batch"),
        ([create(record_type=PROTO, descriptor=b"\x0a\x01x")], grpc.StatusCode.UNIMPLEMENTED, "JSON records only"),
        ([create(record_type=0)], grpc.StatusCode.INVALID_ARGUMENT, "RECORD_TYPE_UNSPECIFIED"),
        ([create(table="events")], grpc.StatusCode.INVALID_ARGUMENT, "three-part"),
        ([create(), record(3, "{}"), record(3, "{}")], grpc.StatusCode.INVALID_ARGUMENT, "must increase"),
        ([create(), record(0, "{not json")], grpc.StatusCode.INVALID_ARGUMENT, "not valid JSON"),
        ([create(), record(0, '{"n": "seven"}')], grpc.StatusCode.INVALID_ARGUMENT, "expected an integer"),
    ],
)
def test_messages_the_service_would_refuse_end_the_stream_with_its_status(
    server: ZerobusGrpcServer, messages: list[Any], code: grpc.StatusCode, detail: str
) -> None:
    error = refusal(server, messages)
    assert error.code() == code and detail in str(error.details())


def test_a_missing_or_mismatched_table_header_is_refused(server: ZerobusGrpcServer) -> None:
    missing = refusal(server, [create()], table_header=None)
    other = refusal(server, [create()], table_header="main.obs.other")
    assert missing.code() == other.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "Missing header x-databricks-zerobus-table-name" in str(missing.details())
    assert "main.obs.other" in str(other.details())


def test_fault_injection_honours_latency_drop_and_status_codes(ws: LocalWorkspace, server: ZerobusGrpcServer) -> None:
    ws.faults.add(status=429, path="EphemeralStream")
    ws.faults.add(drop_connection=True, path="EphemeralStream")
    ws.faults.add(status=403, message="no MODIFY on the table", path="EphemeralStream")
    assert refusal(server, [create()]).code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert refusal(server, [create()]).code() == grpc.StatusCode.UNAVAILABLE
    denied = refusal(server, [create()])
    assert denied.code() == grpc.StatusCode.PERMISSION_DENIED and denied.details() == "no MODIFY on the table"
    assert exchange(server, [create()])[0].create_stream_response.stream_id  # faults used up
    assert len(ws.faults) == 0


def test_the_codec_matches_protobuf_for_every_message_it_handles() -> None:
    wire = batch(-2, '{"a": 1}', "{}").SerializeToString()
    decoded = decode_request(wire)
    assert (decoded.kind, decoded.offset_id, decoded.json_records) == ("batch", -2, ['{"a": 1}', "{}"])
    created = decode_request(create(descriptor=b"\x01").SerializeToString())
    assert (created.kind, created.table_name, created.record_type, created.has_descriptor) == ("create", TABLE, 2, True)
    assert M["Response"].FromString(encode_ack(2**40)).ingest_record_response.durability_ack_up_to_offset == 2**40
    assert M["Response"].FromString(encode_create_response("s-1")).create_stream_response.stream_id == "s-1"
    assert M["Response"].FromString(encode_close_signal(30)).close_stream_signal.duration.seconds == 30


def test_serving_grpc_without_grpcio_names_the_extra(ws: LocalWorkspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "grpc", None)
    with pytest.raises(ConfigurationError, match=r"dbx-native\[zerobus\]"):
        ws.serve_zerobus_grpc()


def test_stop_is_safe_twice_and_the_repr_says_the_state(ws: LocalWorkspace) -> None:
    server = ws.serve_zerobus_grpc()
    assert server.running and "running" in repr(server) and server.host == f"http://{server.target}"
    server.stop()
    server.stop()
    assert not server.running and "stopped" in repr(server)
    with pytest.raises(grpc.RpcError):
        exchange(server, [create()])
