"""The workspace OTLP traces endpoint of the local workspace (`ws.traces`): `POST /api/2.0/otel/v1/traces`.

As on Databricks, the body is an OTLP `ExportTraceServiceRequest` (`application/x-protobuf`; OTLP/JSON is accepted
too) and the target Unity Catalog table is named by the `X-Databricks-UC-Table-Name` header. Each span becomes
one row of that table (created with `TRACE_SCHEMA` on first use), so traces land in the local catalog: a real
Delta table when the workspace has a `root` and `deltalake` is installed.

Decoding protobuf needs `opentelemetry-proto`; without it the route answers 415 and OTLP/JSON still works.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import threading
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from dbx_native.errors import DbxNativeError
from dbx_native.local._router import Route
from dbx_native.local._wire import LocalApiError, LocalRequest, LocalResponse

if TYPE_CHECKING:
    from dbx_native.local._catalog import LocalCatalog

__all__ = ["OTLP_TRACES_PATH", "TRACE_SCHEMA", "OtlpTracesBackend"]

_log = logging.getLogger("dbx_native.local.otlp")

OTLP_TRACES_PATH = "/api/2.0/otel/v1/traces"
TRACE_SCHEMA: dict[str, str] = {
    "trace_id": "string",
    "span_id": "string",
    "parent_span_id": "string",
    "name": "string",
    "kind": "string",
    "start_time": "timestamp",
    "end_time": "timestamp",
    "duration_ms": "double",
    "status_code": "string",
    "status_message": "string",
    "service_name": "string",
    "scope_name": "string",
    "attributes": "map<string,string>",
    "resource_attributes": "map<string,string>",
}
"""Columns of a trace table: one row per span; attribute values as text (`gen_ai.usage.input_tokens` -> `"12"`)."""

_KINDS = ["UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER"]
_STATUS = ["UNSET", "OK", "ERROR"]
_TABLE_HEADER = "x-databricks-uc-table-name"


class OtlpTracesBackend:
    """Receives OTLP trace exports and appends the spans to Unity Catalog tables of the local catalog.

    Args:
        catalog: The workspace's catalog.

    Attributes:
        requests_received: Export requests answered with success.
        spans_written: Spans written, over all tables.
    """

    def __init__(self, catalog: LocalCatalog) -> None:
        self.catalog = catalog
        self.requests_received = 0
        self.spans_written = 0
        self._lock = threading.Lock()

    def routes(self) -> Iterable[Route]:
        """The OTLP/HTTP traces route."""
        return [Route("POST", OTLP_TRACES_PATH, self._export)]

    def reset(self) -> None:
        """Zero the counters (the trace tables belong to the catalog)."""
        with self._lock:
            self.requests_received = 0
            self.spans_written = 0

    def spans(self, table: str) -> list[dict[str, Any]]:
        """The rows of a trace table (see `TRACE_SCHEMA`)."""
        return self.catalog.read_table(table)

    def _export(self, request: LocalRequest) -> LocalResponse:
        table = request.headers.get(_TABLE_HEADER)
        if not table:
            raise LocalApiError(
                400, "Missing header X-Databricks-UC-Table-Name: name the Unity Catalog table to write the spans to."
            )
        content_type = request.headers.get("content-type", "application/x-protobuf").split(";")[0].strip().lower()
        if content_type == "application/json":
            rows = rows_from_json(request.json())
        elif content_type == "application/x-protobuf":
            rows = rows_from_protobuf(request.body)
        else:
            raise LocalApiError(415, f"Content-Type {content_type!r} is not supported: use application/x-protobuf.")
        try:
            with self._lock:
                if not self.catalog.table_exists(table):
                    self.catalog.create_table(table, [], schema=TRACE_SCHEMA)
                if rows:
                    self.catalog.insert_rows(table, rows)
                self.requests_received += 1
                self.spans_written += len(rows)
        except DbxNativeError as err:
            raise LocalApiError(400, f"Cannot write the spans to '{table}': {err}") from err
        _log.debug("wrote %d spans to %s", len(rows), table)
        if content_type == "application/json":
            return LocalResponse.json({})
        # An empty ExportTraceServiceResponse (no partial_success) encodes to zero bytes.
        return LocalResponse(status=200, body=b"", headers={"Content-Type": "application/x-protobuf"})


def rows_from_protobuf(body: bytes) -> list[dict[str, Any]]:
    """Rows from a protobuf `ExportTraceServiceRequest`."""
    try:
        from google.protobuf.json_format import MessageToDict  # type: ignore[import-untyped,unused-ignore]
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    except ImportError as err:
        raise LocalApiError(
            415,
            "Decoding OTLP protobuf needs opentelemetry-proto (pip install 'dbx-native[local]'); "
            "or send OTLP/JSON (Content-Type: application/json).",
        ) from err
    message = ExportTraceServiceRequest()
    try:
        message.ParseFromString(body)
    except Exception as err:  # google.protobuf.message.DecodeError
        raise LocalApiError(400, f"The body is not an OTLP ExportTraceServiceRequest: {err}") from err
    # MessageToDict gives the OTLP/JSON mapping, except that ids come out base64 instead of hex.
    return rows_from_json(MessageToDict(message), ids="base64")


def rows_from_json(body: Mapping[str, Any], *, ids: str = "hex") -> list[dict[str, Any]]:
    """Rows from an OTLP/JSON `ExportTraceServiceRequest` (camelCase fields, hex ids)."""
    if not isinstance(body, Mapping):
        raise LocalApiError(400, "The body must be an OTLP ExportTraceServiceRequest object.")
    rows: list[dict[str, Any]] = []
    for resource_spans in body.get("resourceSpans") or []:
        resource = _attributes((resource_spans.get("resource") or {}).get("attributes"))
        for scope_spans in resource_spans.get("scopeSpans") or []:
            scope = (scope_spans.get("scope") or {}).get("name")
            for span in scope_spans.get("spans") or []:
                rows.append(_row(span, resource, scope, ids))
    return rows


def _row(span: Mapping[str, Any], resource: dict[str, str], scope: str | None, ids: str) -> dict[str, Any]:
    start = int(span.get("startTimeUnixNano") or 0)
    end = int(span.get("endTimeUnixNano") or start)
    status = span.get("status") or {}
    return {
        "trace_id": _id(span.get("traceId"), ids),
        "span_id": _id(span.get("spanId"), ids),
        "parent_span_id": _id(span.get("parentSpanId"), ids),
        "name": span.get("name"),
        "kind": _enum(span.get("kind"), _KINDS, "SPAN_KIND_"),
        "start_time": _time(start),
        "end_time": _time(end),
        "duration_ms": (end - start) / 1e6,
        "status_code": _enum(status.get("code"), _STATUS, "STATUS_CODE_"),
        "status_message": status.get("message") or None,
        "service_name": resource.get("service.name"),
        "scope_name": scope,
        "attributes": _attributes(span.get("attributes")),
        "resource_attributes": resource,
    }


def _id(value: Any, ids: str) -> str | None:
    if not value:
        return None
    return base64.b64decode(value).hex() if ids == "base64" else str(value).lower()


def _enum(value: Any, names: list[str], prefix: str) -> str:
    if isinstance(value, int):
        return names[value] if 0 <= value < len(names) else str(value)
    text = str(value or names[0])
    return text.removeprefix(prefix)


def _time(nanos: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(nanos / 1e9, tz=dt.timezone.utc)


def _attributes(items: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        out[str(item.get("key"))] = _value(item.get("value") or {})
    return out


def _value(value: Mapping[str, Any]) -> str:
    if "stringValue" in value:
        return str(value["stringValue"])
    if "boolValue" in value:
        return "true" if value["boolValue"] else "false"
    if "intValue" in value:
        return str(int(value["intValue"]))
    if "doubleValue" in value:
        return repr(float(value["doubleValue"]))
    if "arrayValue" in value:
        return json.dumps([_value(v) for v in value["arrayValue"].get("values") or []])
    return json.dumps(value)
