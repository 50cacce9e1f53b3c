"""Zerobus Ingest's gRPC service in the local workspace: `ws.serve_zerobus_grpc()`.

A plaintext gRPC server on a loopback address speaking `databricks.zerobus.Zerobus/EphemeralStream` (the service
the official SDKs use) in JSON record mode: the first message creates a stream for a table that must exist, each
`ingest_record` / `ingest_record_batch` is written to the local catalog all or none (through `ws.zerobus.write`,
the code the REST insert route uses) and acknowledged with `durability_ack_up_to_offset` = its `offset_id`.
Refusals are gRPC statuses carrying the messages the service documents (`NOT_FOUND`: `Table "c.s.t" cannot be
found.`; `INVALID_ARGUMENT` for rows that do not fit; `UNAUTHENTICATED` for a bad token). Each message is a
"request" for `ws.faults`: an HTTP-status fault ends the stream with the matching gRPC status (503 ->
`UNAVAILABLE`), so a client's recovery can be tested. Served with grpcio's generic handlers: bytes in and out,
decoded by `_zerobus_proto` (no generated code). Needs `grpcio`.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from types import TracebackType
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from dbx_native.errors import ConfigurationError, DbxNativeError
from dbx_native.local._wire import LocalApiError, LocalRequest
from dbx_native.local._zerobus_proto import (
    RECORD_TYPE_JSON,
    ProtoDecodeError,
    StreamRequest,
    decode_request,
    encode_ack,
    encode_create_response,
)

if TYPE_CHECKING:
    from dbx_native.local._capture import RequestLog
    from dbx_native.local._clock import Clock
    from dbx_native.local._faults import FaultInjector
    from dbx_native.local._zerobus import ZerobusBackend

__all__ = ["ZEROBUS_GRPC_METHOD", "ZerobusGrpcServer"]

_log = logging.getLogger("dbx_native.local.zerobus")

ZEROBUS_GRPC_METHOD = "/databricks.zerobus.Zerobus/EphemeralStream"
_TABLE_HEADER = "x-databricks-zerobus-table-name"

# An injected HTTP-status fault -> the gRPC status Zerobus documents for it (zerobus-errors page).
_HTTP_TO_GRPC = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_MALFORMED = b"\xff"  # a truncated varint: not an EphemeralStreamResponse

_P = ParamSpec("_P")
_T = TypeVar("_T")


class _DaemonThreads(Executor):
    """Runs each task on a daemon thread of its own.

    A `ThreadPoolExecutor` joins its threads at interpreter exit, and a stream handler waits for the client's next
    message: a stream left open (an exporter never shut down) would hang the exit. Streams are few and long-lived,
    and `maximum_concurrent_rpcs` bounds them, so a thread each is cheap.
    """

    def submit(self, fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> Future[_T]:
        future: Future[_T] = Future()

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as err:  # handed to whoever waits on the future, as an executor does
                future.set_exception(err)

        threading.Thread(target=run, name="dbx-native-zerobus-grpc", daemon=True).start()
        return future


class _StreamError(Exception):
    """Ends the stream with a gRPC status (`code` is a `grpc.StatusCode` name)."""

    def __init__(self, code: str, message: str, http_status: int) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status  # what the captured request shows as its status


def _invalid(message: str) -> _StreamError:
    return _StreamError("INVALID_ARGUMENT", message, 400)


class ZerobusGrpcServer:
    """A running local Zerobus Ingest gRPC server (from `LocalWorkspace.serve_zerobus_grpc()`).

    Point the official SDK at it with `ZerobusSdk(server.host, <workspace url>)` and plaintext
    (`sdk._inner.set_use_tls(False)`), or export traces with `transport="zerobus-grpc", zerobus_host=server.host`.

    Attributes:
        host: `http://127.0.0.1:<port>`, the Zerobus endpoint to give clients.
        port: The TCP port.
        target: `127.0.0.1:<port>`, for a raw gRPC channel.
        streams_opened: Streams created so far.

    Example:
        >>> from dbx_native.local import LocalWorkspace
        >>> with LocalWorkspace().serve_zerobus_grpc() as server:
        ...     server.host.startswith("http://127.0.0.1:")
        True
    """

    def __init__(
        self,
        backend: ZerobusBackend,
        *,
        check_token: Callable[[LocalRequest], None],
        faults: FaultInjector,
        requests: RequestLog,
        clock: Clock,
    ) -> None:
        self._backend = backend
        self._check_token = check_token
        self._faults = faults
        self._requests = requests
        self._clock = clock
        self._lock = threading.Lock()
        self.streams_opened = 0
        self.host = self.target = ""
        self.port = 0
        self._server: Any = None

    @classmethod
    def start(
        cls,
        backend: ZerobusBackend,
        *,
        check_token: Callable[[LocalRequest], None],
        faults: FaultInjector,
        requests: RequestLog,
        clock: Clock,
        host: str = "127.0.0.1",
        port: int = 0,
        max_streams: int = 32,
    ) -> ZerobusGrpcServer:
        """Bind `host:port` (0 picks a free port) and serve in background (daemon) threads, one per open stream.

        Raises:
            ConfigurationError: grpcio is not installed, or the address cannot be bound.
        """
        try:
            import grpc  # type: ignore[import-untyped,unused-ignore]
        except ImportError as err:
            raise ConfigurationError(
                "The local Zerobus gRPC server needs grpcio: pip install 'dbx-native[zerobus]' (or grpcio)."
            ) from err
        handle = cls(backend, check_token=check_token, faults=faults, requests=requests, clock=clock)
        handler = grpc.method_handlers_generic_handler(
            "databricks.zerobus.Zerobus", {"EphemeralStream": grpc.stream_stream_rpc_method_handler(handle._stream)}
        )
        # No SO_REUSEPORT: two servers must never share a port by accident.
        server = grpc.server(
            _DaemonThreads(),
            handlers=[handler],
            maximum_concurrent_rpcs=max_streams,
            options=[("grpc.so_reuseport", 0)],
        )
        address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        try:
            bound = server.add_insecure_port(address)
        except RuntimeError as err:
            raise ConfigurationError(f"The local Zerobus gRPC server cannot bind {address}: {err}") from err
        server.start()
        handle._server, handle.port = server, bound
        handle.target = f"[{host}]:{bound}" if ":" in host else f"{host}:{bound}"
        handle.host = f"http://{handle.target}"
        _log.info("local Zerobus gRPC server on %s", handle.host)
        return handle

    @property
    def running(self) -> bool:
        """Whether the server still accepts streams."""
        return self._server is not None

    def stop(self, grace: float | None = None) -> None:
        """Stop accepting, end open streams (after `grace` seconds) and release the threads. Safe twice."""
        server, self._server = self._server, None
        if server is not None:
            server.stop(grace).wait()

    def __enter__(self) -> ZerobusGrpcServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"ZerobusGrpcServer(host={self.host!r}, {state}, streams_opened={self.streams_opened})"

    # --- one stream ----------------------------------------------------------------------------------

    def _stream(self, messages: Iterator[bytes], context: Any) -> Iterator[bytes]:
        metadata = {str(k).lower(): v for k, v in context.invocation_metadata() if isinstance(v, str)}
        probe = LocalRequest.build("POST", ZEROBUS_GRPC_METHOD, "", metadata, b"", base_url=self.host)
        captured = self._requests.record(probe)
        try:
            yield from self._serve(probe, messages, context)
        except _StreamError as err:
            captured.status = err.http_status
            _log.debug("zerobus grpc: stream ended with %s: %s", err.code, err.message)
            import grpc

            context.abort(grpc.StatusCode[err.code], err.message)
        captured.status = 200

    def _serve(self, probe: LocalRequest, messages: Iterator[bytes], context: Any) -> Iterator[bytes]:
        try:
            self._check_token(probe)
        except LocalApiError as err:
            raise _StreamError("UNAUTHENTICATED", err.message, 401) from None
        # The official SDK waits for the response headers before it sends create_stream: send them now.
        context.send_initial_metadata(())
        table: str | None = None
        last_offset = -1
        for raw in messages:
            injected = self._fault(probe)
            if injected is not None:
                yield injected
                continue
            message = _decode(raw)
            if table is None:
                table = self._open(message, probe.headers)
                yield encode_create_response(uuid.uuid4().hex)
                continue
            last_offset = self._ingest(table, message, last_offset)
            yield encode_ack(last_offset)

    def _fault(self, probe: LocalRequest) -> bytes | None:
        """Apply the first matching `ws.faults` fault to this message: raise its status, or return bad bytes."""
        fault = self._faults.take(probe)
        if fault is None:
            return None
        if fault.latency > 0:
            self._clock.sleep(fault.latency)
        if fault.read_timeout:
            raise _StreamError("DEADLINE_EXCEEDED", "Simulated timeout (injected fault).", 504)
        if fault.drop_connection:
            raise _StreamError("UNAVAILABLE", "Connection dropped (injected fault).", 503)
        if fault.malformed_body:
            return _MALFORMED
        if fault.status is None:
            return None  # latency only
        code = _HTTP_TO_GRPC.get(fault.status, "UNKNOWN")
        raise _StreamError(code, fault.message or f"Injected fault: {code}.", fault.status)

    def _open(self, message: StreamRequest, headers: dict[str, str]) -> str:
        if message.kind != "create":
            raise _invalid("The first message of an EphemeralStream must be create_stream.")
        table = message.table_name or ""
        if len(table.split(".")) != 3 or not all(table.split(".")):
            raise _invalid(f"Table name '{table}' is not a three-part name catalog.schema.table.")
        header = headers.get(_TABLE_HEADER)
        if header is None:
            raise _invalid(f"Missing header {_TABLE_HEADER}: name the table the stream writes to.")
        if header != table:
            raise _invalid(f"Header {_TABLE_HEADER} names '{header}' but create_stream names '{table}'.")
        if message.record_type == 0:
            raise _invalid("create_stream.record_type is RECORD_TYPE_UNSPECIFIED: set JSON or PROTO.")
        if message.record_type != RECORD_TYPE_JSON:
            raise _StreamError(
                "UNIMPLEMENTED",
                "The local Zerobus gRPC server takes JSON records only: create the stream with "
                "TableProperties(table_name) and no descriptor.",
                501,
            )
        if not self._backend.catalog.table_exists(table):
            raise _StreamError("NOT_FOUND", f'Table "{table}" cannot be found.', 404)
        with self._lock:
            self.streams_opened += 1
        return table

    def _ingest(self, table: str, message: StreamRequest, last_offset: int) -> int:
        if message.kind not in ("record", "batch"):
            raise _invalid("After create_stream, send ingest_record or ingest_record_batch messages only.")
        if message.offset_id is None or message.offset_id <= last_offset:
            raise _invalid(f"offset_id must increase along the stream (last {last_offset}, got {message.offset_id}).")
        if message.proto_records:
            raise _invalid("This stream was created for JSON records; protobuf-encoded records were sent.")
        rows: list[Any] = []
        for index, record in enumerate(message.json_records):
            try:
                rows.append(json.loads(record))
            except ValueError as err:
                raise _invalid(f"Record {index} at offset {message.offset_id} is not valid JSON: {err}") from None
        try:
            self._backend.write(table, rows)
        except LocalApiError as err:
            raise _StreamError(_HTTP_TO_GRPC.get(err.status, "INTERNAL"), err.message, err.status) from None
        except DbxNativeError as err:  # e.g. the table was dropped while the stream was open
            raise _StreamError("NOT_FOUND", f'Table "{table}" cannot be found: {err}', 404) from None
        return message.offset_id


def _decode(raw: bytes) -> StreamRequest:
    try:
        return decode_request(raw)
    except ProtoDecodeError as err:
        raise _invalid(f"The message is not an EphemeralStreamRequest: {err}") from None
