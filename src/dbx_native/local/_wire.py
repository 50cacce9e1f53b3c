"""The wire format the local workspace speaks: requests in, Databricks-shaped responses out.

This module and the rest of `dbx_native.local` never import client code (`dbx_native.gateway`,
`dbx_native._core.http`, ...): the emulator must not share parsing with the clients it tests.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

__all__ = ["LocalApiError", "LocalRequest", "LocalResponse"]

# HTTP status -> the error_code Databricks sends with it when a handler does not name one.
_DEFAULT_ERROR_CODES: dict[int, str] = {
    400: "INVALID_PARAMETER_VALUE",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "RESOURCE_DOES_NOT_EXIST",
    405: "BAD_REQUEST",
    409: "RESOURCE_ALREADY_EXISTS",
    413: "REQUEST_LIMIT_EXCEEDED",
    429: "REQUEST_LIMIT_EXCEEDED",
    500: "INTERNAL_ERROR",
    501: "NOT_IMPLEMENTED",
    502: "BAD_GATEWAY",
    503: "TEMPORARILY_UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


class LocalApiError(Exception):
    """Raised by a handler to answer with a Databricks error body `{"error_code", "message"}`."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        error_code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_code = error_code or _DEFAULT_ERROR_CODES.get(status, "UNKNOWN")
        self.headers = dict(headers or {})

    def to_response(self) -> LocalResponse:
        return LocalResponse.json(
            {"error_code": self.error_code, "message": self.message}, status=self.status, headers=self.headers
        )


@dataclass
class LocalRequest:
    """One HTTP request as a handler sees it.

    Attributes:
        method: Upper-case HTTP method.
        path: The URL path, without the query string, percent-decoded.
        query: Query parameters; each name maps to all its values.
        headers: Header names in lower case.
        body: The raw body (empty bytes when none).
        path_params: Filled by the router from the route pattern.
        base_url: Scheme and authority the client used (`http://127.0.0.1:8765`), for URLs a handler
            sends back; empty when the transport does not know it.
    """

    method: str
    path: str
    query: dict[str, list[str]] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    path_params: dict[str, str] = field(default_factory=dict)
    base_url: str = ""

    @classmethod
    def build(
        cls,
        method: str,
        path: str,
        query_string: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        base_url: str = "",
    ) -> LocalRequest:
        """A request from its raw parts (`path` already percent-decoded, `query_string` not)."""
        return cls(
            method=method.upper(),
            path=path,
            query=parse_qs(query_string, keep_blank_values=True),
            headers={k.lower(): v for k, v in headers.items()},
            body=body or b"",
            base_url=base_url,
        )

    def json(self) -> Any:
        """The body decoded as JSON (`{}` for an empty body); a bad body is a 400 like the real service."""
        if not self.body:
            return {}
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as err:
            raise LocalApiError(400, f"Malformed JSON request body: {err}", error_code="MALFORMED_REQUEST") from err

    def arg(self, name: str, default: str | None = None) -> str | None:
        """The first value of query parameter `name`."""
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class LocalResponse:
    """One HTTP response produced by a handler.

    Attributes:
        status: The HTTP status.
        body: The whole body (ignored when `stream` is set).
        headers: Response headers.
        stream: A body produced piece by piece (Server-Sent Events): the loopback server sends each piece
            as one flushed chunk of a `Transfer-Encoding: chunked` answer, the in-process transport as a
            chunked body `requests` reads lazily. The iterator may raise `DroppedConnection` to cut the
            answer short, as a connection dying mid-stream would.
    """

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    stream: Iterable[bytes] | None = None

    @classmethod
    def json(cls, obj: Any, *, status: int = 200, headers: Mapping[str, str] | None = None) -> LocalResponse:
        merged = {"Content-Type": "application/json"}
        merged.update(headers or {})
        return cls(status=status, body=json.dumps(obj, separators=(",", ":")).encode(), headers=merged)

    def json_body(self) -> Any:
        return json.loads(self.body) if self.body else None
