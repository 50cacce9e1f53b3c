"""The wire messages of Zerobus Ingest's gRPC service, decoded and encoded by hand (no generated code).

Service `databricks.zerobus.Zerobus`, one bidirectional RPC `EphemeralStream` (`sdk/zerobus_service.proto` in
`databricks/zerobus-sdk`, proto2). The client sends `EphemeralStreamRequest`s: first `create_stream` (field 1:
`table_name` = 1, `descriptor_proto` = 3, `record_type` = 4), then `ingest_record` (field 2: `offset_id` = 1,
`proto_encoded_record` = 2 or `json_record` = 3) or `ingest_record_batch` (field 3: `offset_id` = 1,
`proto_encoded_batch` = 2 or `json_batch` = 3, each a message of `repeated records = 1`). The server answers
`EphemeralStreamResponse`s: `create_stream_response` (field 1: `stream_id` = 1), `ingest_record_response`
(field 2: `durability_ack_up_to_offset` = 1) or `close_stream_signal` (field 3: `duration` = 1, a
`google.protobuf.Duration`).

The emulator decodes with this module and the client side uses the official SDK, so a misread field shows up as
a failing test instead of hiding behind a shared bug.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "RECORD_TYPE_JSON",
    "RECORD_TYPE_PROTO",
    "ProtoDecodeError",
    "StreamRequest",
    "decode_request",
    "encode_ack",
    "encode_close_signal",
    "encode_create_response",
]

RECORD_TYPE_PROTO = 1
RECORD_TYPE_JSON = 2

_VARINT, _FIXED64, _LEN, _FIXED32 = 0, 1, 2, 5


class ProtoDecodeError(ValueError):
    """The bytes are not a well-formed `EphemeralStreamRequest`."""


@dataclass
class StreamRequest:
    """One decoded `EphemeralStreamRequest`.

    Attributes:
        kind: `"create"` (`create_stream`), `"record"` (`ingest_record`), `"batch"` (`ingest_record_batch`) or
            `"empty"` (no payload set).
        table_name: `create_stream.table_name`.
        record_type: `create_stream.record_type` (`None` when absent: the proto says it then means PROTO).
        has_descriptor: Whether `create_stream.descriptor_proto` was sent.
        offset_id: The ingest message's `offset_id` (`None` when absent).
        json_records: The JSON records of an ingest message, in order.
        proto_records: How many protobuf-encoded records an ingest message holds.
    """

    kind: Literal["create", "record", "batch", "empty"]
    table_name: str | None = None
    record_type: int | None = None
    has_descriptor: bool = False
    offset_id: int | None = None
    json_records: list[str] = field(default_factory=list)
    proto_records: int = 0


def decode_request(data: bytes) -> StreamRequest:
    """Decode one `EphemeralStreamRequest` (the last payload field wins, as protobuf's oneof rules say).

    Raises:
        ProtoDecodeError: The bytes are truncated or not that message.
    """
    request = StreamRequest("empty")
    for number, value in _fields(data):
        if number == 1:
            request = _create(_bytes(value, "create_stream"))
        elif number in (2, 3):
            request = _ingest(_bytes(value, "ingest"), batch=number == 3)
    return request


def encode_create_response(stream_id: str) -> bytes:
    """An `EphemeralStreamResponse` holding `create_stream_response{stream_id}`."""
    return _len_field(1, _len_field(1, stream_id.encode("utf-8")))


def encode_ack(offset: int) -> bytes:
    """An `EphemeralStreamResponse` holding `ingest_record_response{durability_ack_up_to_offset}`."""
    return _len_field(2, _varint(1 << 3) + _varint(offset))


def encode_close_signal(seconds: int) -> bytes:
    """An `EphemeralStreamResponse` holding `close_stream_signal{duration{seconds}}`."""
    duration = _varint(1 << 3) + _varint(seconds) if seconds else b""
    return _len_field(3, _len_field(1, duration))


def _create(data: bytes) -> StreamRequest:
    request = StreamRequest("create")
    for number, value in _fields(data):
        if number == 1:
            request.table_name = _text(value, "table_name")
        elif number == 3:
            request.has_descriptor = True
        elif number == 4:
            request.record_type = _int(value, "record_type")
    return request


def _ingest(data: bytes, *, batch: bool) -> StreamRequest:
    request = StreamRequest("batch" if batch else "record")
    for number, value in _fields(data):
        if number == 1:
            request.offset_id = _int(value, "offset_id")
        elif number == 2:
            request.json_records, request.proto_records = [], len(_repeated(value)) if batch else 1
        elif number == 3:
            records = _repeated(value) if batch else [_bytes(value, "json_record")]
            request.json_records, request.proto_records = [_decode_text(r, "json record") for r in records], 0
    return request


def _repeated(value: int | bytes) -> list[bytes]:
    """The `repeated records = 1` of a record batch message."""
    return [_bytes(v, "records") for n, v in _fields(_bytes(value, "batch")) if n == 1]


def _fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) pairs; varints as int, length-delimited as bytes, fixed-width skipped as bytes."""
    i, end = 0, len(data)
    while i < end:
        key, i = _read_varint(data, i)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ProtoDecodeError("field number 0 is not valid")
        if wire == _VARINT:
            value, i = _read_varint(data, i)
            yield number, value
        elif wire == _LEN:
            size, i = _read_varint(data, i)
            if i + size > end:
                raise ProtoDecodeError("a length-delimited field runs past the end of the message")
            yield number, data[i : i + size]
            i += size
        elif wire in (_FIXED64, _FIXED32):
            width = 8 if wire == _FIXED64 else 4
            if i + width > end:
                raise ProtoDecodeError("a fixed-width field runs past the end of the message")
            yield number, data[i : i + width]
            i += width
        else:
            raise ProtoDecodeError(f"wire type {wire} is not supported")


def _read_varint(data: bytes, i: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if i >= len(data) or shift > 63:
            raise ProtoDecodeError("a varint is truncated or longer than 10 bytes")
        byte = data[i]
        i += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, i
        shift += 7


def _int(value: int | bytes, name: str) -> int:
    if not isinstance(value, int):
        raise ProtoDecodeError(f"{name} must be a varint")
    return value - (1 << 64) if value >= 1 << 63 else value  # int64 two's complement


def _bytes(value: int | bytes, name: str) -> bytes:
    if not isinstance(value, bytes):
        raise ProtoDecodeError(f"{name} must be length-delimited")
    return value


def _text(value: int | bytes, name: str) -> str:
    return _decode_text(_bytes(value, name), name)


def _decode_text(value: bytes, name: str) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ProtoDecodeError(f"{name} is not UTF-8 text: {err}") from None


def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _len_field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | _LEN) + _varint(len(payload)) + payload
