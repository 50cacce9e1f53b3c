"""`ZerobusGrpcSpanExporter`: streams spans as trace-table rows to Zerobus Ingest over gRPC (extra `zerobus`).

Uses Databricks' official SDK (`databricks-zerobus-ingest-sdk`, import `zerobus`) in JSON record mode: one
long-lived `EphemeralStream` per exporter, reused across batches; each batch is one `ingest_records_offset` call
(all rows or none) and `send` returns once the server has acknowledged its offset as durable. Auth goes through a
`HeadersProvider` fed by the config's credential provider, asked for fresh headers each time a stream is opened
(the SDK asks once per stream), with the `x-databricks-zerobus-table-name` header Zerobus requires.

Retrying stays the span processor's job, so the SDK's own stream recovery is off: after any failure the stream is
dropped and the next `send` opens a new one, and the processor resends the batch (delivery is at-least-once, as
on the REST path). SDK errors become `dbx_native.errors` by gRPC status: NOT_FOUND, UNAUTHENTICATED,
PERMISSION_DENIED and INVALID_ARGUMENT are permanent; UNAVAILABLE, RESOURCE_EXHAUSTED, lost connections and
missing acks are transient.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from dbx_native._core.auth import CredentialProvider, resolve_credentials
from dbx_native._core.logs import get_logger
from dbx_native._version import __version__
from dbx_native.config import DbxConfig
from dbx_native.errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    ServiceUnavailableError,
)
from dbx_native.telemetry._exporter import SpanExporterBase, check_table_name
from dbx_native.telemetry._rows import span_to_row
from dbx_native.telemetry._zerobus import zerobus_config

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan

__all__ = ["ZerobusGrpcSpanExporter"]

_log = get_logger("dbx_native.telemetry")

_TABLE_HEADER = "x-databricks-zerobus-table-name"
# One encoder for every record: json.dumps with options builds a new encoder per call (~15% of the encoding cost).
_encode_record = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode

# The SDK reports a gRPC status by tonic's description of its code, inside the exception text.
_BY_STATUS: list[tuple[str, type[APIStatusError], int, str]] = [
    ("requested entity was not found", NotFoundError, 404, "NOT_FOUND"),
    ("valid authentication credentials", AuthenticationError, 401, "UNAUTHENTICATED"),
    ("does not have permission", PermissionDeniedError, 403, "PERMISSION_DENIED"),
    ("resource has been exhausted", RateLimitError, 429, "RESOURCE_EXHAUSTED"),
    ("currently unavailable", ServiceUnavailableError, 503, "UNAVAILABLE"),
]


def _import_sdk() -> Any:
    try:
        import zerobus  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError as err:
        raise ConfigurationError(
            "transport='zerobus-grpc' needs the Zerobus Ingest SDK: pip install 'dbx-native[zerobus]' "
            "(or use transport='zerobus', the REST path, which needs nothing more)."
        ) from err
    return zerobus


class ZerobusGrpcSpanExporter(SpanExporterBase):
    """Flattens spans to trace-table rows and streams them to Zerobus Ingest with the official gRPC SDK.

    Args:
        table: The Unity Catalog table (`catalog.schema.table`); it must exist with the trace table's columns
            (`trace_table_ddl(table)`).
        zerobus_host: The Zerobus Ingest endpoint, `https://<workspace-id>.zerobus.<region>.cloud.databricks.com`
            (a bare host name gets `https://`); an `http://` URL is spoken to in plaintext (the local emulator).
        config: Workspace connection settings whose credentials are used (`DbxConfig()` when omitted).
        timeout: Seconds to open a stream, and to wait for a batch's acknowledgement.

    Raises:
        ConfigurationError: The SDK is not installed (extra `zerobus`).
        InvalidRequestError: `table` is not a three-part name, or `zerobus_host` is not a URL.
    """

    def __init__(
        self,
        table: str,
        *,
        zerobus_host: str,
        config: DbxConfig | None = None,
        timeout: float = 10.0,
        _credentials: CredentialProvider | None = None,
    ) -> None:
        self.table = check_table_name(table)
        self.timeout = timeout
        workspace = config or DbxConfig()
        self.zerobus_host = str(zerobus_config(workspace, zerobus_host, "zerobus-grpc").host)
        self._zerobus = _import_sdk()
        # Credentials come from the workspace config: OAuth tokens are minted by the workspace, not by Zerobus.
        self._credentials = _credentials or resolve_credentials(workspace)
        self._sdk = self._zerobus.ZerobusSdk(
            self.zerobus_host, str(workspace.host or self.zerobus_host), application_name=f"dbx-native/{__version__}"
        )
        if self.zerobus_host.startswith("http://"):
            self._sdk._inner.set_use_tls(False)  # documented on the SDK core "for local mock servers"
        millis = max(int(timeout * 1000), 1)
        self._options = self._zerobus.StreamConfigurationOptions(
            recovery=False,  # the span processor retries; SDK recovery would hide failures from its counters
            recovery_timeout_ms=millis,
            server_lack_of_ack_timeout_ms=millis,
            flush_timeout_ms=millis,
        )
        self._headers = _headers_provider(self._zerobus, self._credentials, self.table)
        self._stream: Any = None

    def send(self, spans: Sequence[ReadableSpan]) -> None:
        """Ingest one batch of rows on the open stream (opening one if needed) and wait for its durability ack.

        Raises:
            APIError: The batch was not acknowledged (`is_transient` says whether a later retry may pass); the
                stream is then dropped, and the next call opens a new one.
        """
        records = [_encode_record(span_to_row(span)) for span in spans]
        if not records:
            return
        try:
            stream = self._stream if self._stream is not None else self._open()
            offset = stream.ingest_records_offset(records)
            stream.wait_for_offset(offset)
        except self._zerobus.ZerobusException as err:
            self._discard()
            permanent = isinstance(err, self._zerobus.NonRetriableException)
            raise _translate(err, self.table, self.zerobus_host, permanent=permanent) from err

    def shutdown(self) -> None:
        """Close the stream (everything sent was already acknowledged)."""
        self._discard()

    def _open(self) -> Any:
        properties = self._zerobus.TableProperties(self.table)  # no descriptor: JSON records
        self._stream = self._sdk.create_stream(
            table_properties=properties, options=self._options, headers_provider=self._headers
        )
        _log.debug("zerobus grpc: opened a stream to %s for %s", self.zerobus_host, self.table)
        return self._stream

    def _discard(self) -> None:
        stream, self._stream = self._stream, None
        if stream is None:
            return
        try:
            stream.close()
        except Exception as err:  # closing a failed stream may fail again: nothing is left to deliver on it
            _log.debug("zerobus grpc: closing the stream failed (%s)", type(err).__name__)

    def __repr__(self) -> str:
        state = "open" if self._stream is not None else "closed"
        return f"ZerobusGrpcSpanExporter(table={self.table!r}, zerobus_host={self.zerobus_host!r}, stream={state})"


def _headers_provider(zerobus: Any, credentials: CredentialProvider, table: str) -> Any:
    """A `zerobus.HeadersProvider` (a class of the SDK's core, hence made here) over our credential provider."""

    class _Headers(zerobus.HeadersProvider):  # type: ignore[misc]
        def get_headers(self) -> list[tuple[str, str]]:
            headers = [(name.lower(), value) for name, value in credentials.headers().items()]
            return [*headers, (_TABLE_HEADER, table)]

        def invalidate(self) -> None:
            credentials.refresh()  # the SDK calls this after the server refused a token

    return _Headers()


def _translate(err: Exception, table: str, host: str, *, permanent: bool) -> APIError:
    """The `dbx_native.errors` class for an SDK exception, with what to do about it."""
    text = str(err)
    lowered = text.lower()
    url = f"{host}/databricks.zerobus.Zerobus/EphemeralStream"
    for phrase, cls, status, code in _BY_STATUS:
        if phrase in lowered:
            return cls(_advice(cls, table, text), status_code=status, error_code=code, method="STREAM", url=url)
    if permanent:
        return BadRequestError(
            f"Zerobus refused the rows for '{table}' (do they fit the table? trace_table_ddl({table!r}) gives its "
            f"columns). Zerobus said: {text}",
            status_code=400,
            error_code="INVALID_ARGUMENT",
            method="STREAM",
            url=url,
        )
    if "channel" in lowered or "timeout" in lowered or "deadline" in lowered or "transport" in lowered:
        return APIConnectionError(f"Zerobus Ingest at {host} could not be reached or did not answer: {text}", url=url)
    return ServerError(
        f"Zerobus Ingest failed; the batch will be retried. Zerobus said: {text}",
        status_code=500,
        error_code="INTERNAL",
        method="STREAM",
        url=url,
    )


def _advice(cls: type[APIStatusError], table: str, text: str) -> str:
    if cls is NotFoundError:
        return (
            f"Zerobus table '{table}' does not exist (Zerobus never creates tables): create it once with "
            f"dbx_native.telemetry.trace_table_ddl({table!r}); spans sent until then are counted failed. "
            f"Zerobus said: {text}"
        )
    if cls in (AuthenticationError, PermissionDeniedError):
        return (
            f"Zerobus refused the credentials for '{table}': it needs an OAuth token of a service principal with "
            f"USE CATALOG, USE SCHEMA and MODIFY, SELECT on the table. Zerobus said: {text}"
        )
    return f"Zerobus Ingest is busy or unavailable; the batch will be retried. Zerobus said: {text}"
