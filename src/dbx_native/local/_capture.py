"""Request capture: every request the local workspace received, in order, with credentials redacted."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from dbx_native.local._wire import LocalRequest

__all__ = ["CapturedRequest", "RequestLog"]

# Headers whose values are credentials: shown redacted in `CapturedRequest.headers` and reprs.
_SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "x-databricks-azure-sp-management-token"}
)


def _redact(name: str, value: str) -> str:
    if name not in _SECRET_HEADERS:
        return value
    scheme, _, rest = value.partition(" ")
    # Keep the scheme ("Bearer", "Basic") so tests can still see which kind of credential was sent.
    return f"{scheme} ***" if rest else "***"


@dataclass(eq=False)
class CapturedRequest:
    """One request as the local workspace received it.

    Attributes:
        method: Upper-case HTTP method.
        path: The URL path, without the query string.
        query: Query parameters; each name maps to all its values.
        headers: Header names in lower case; credential headers are redacted (`"Bearer ***"`).
        body: The raw request body.
        status: The HTTP status answered, or `None` when no response was sent (a dropped connection or
            simulated read timeout), or while the request is still being handled.
        authorization: The real `Authorization` header value, unredacted, for tests that check which
            credential a client sent. Never shown in `repr()`.
    """

    method: str
    path: str
    query: dict[str, list[str]] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    status: int | None = None
    authorization: str | None = field(default=None, repr=False)

    @classmethod
    def from_request(cls, request: LocalRequest) -> CapturedRequest:
        """Capture `request`, redacting credential headers."""
        return cls(
            method=request.method,
            path=request.path,
            query={k: list(v) for k, v in request.query.items()},
            headers={k: _redact(k, v) for k, v in request.headers.items()},
            body=request.body,
            authorization=request.headers.get("authorization"),
        )

    @property
    def token(self) -> str | None:
        """The bearer token sent, unredacted (`None` without a bearer `Authorization` header)."""
        if self.authorization is None:
            return None
        scheme, _, value = self.authorization.partition(" ")
        if scheme.lower() != "bearer":
            return None
        return value.strip() or None

    def json(self) -> Any:
        """The body decoded as JSON, or `None` for an empty body.

        Raises:
            ValueError: The body is not JSON.
        """
        return json.loads(self.body) if self.body else None

    def arg(self, name: str, default: str | None = None) -> str | None:
        """The first value of query parameter `name`."""
        values = self.query.get(name)
        return values[0] if values else default


class RequestLog(list[CapturedRequest]):
    """The requests a workspace received, oldest first (a `list` with a few helpers).

    Appends are thread-safe, so the loopback server can record from its handler threads.

    Attributes:
        maxlen: Keep only this many most recent requests (`None`, the default: keep all). Set it for
            long benchmark runs so memory stays flat.
    """

    def __init__(self, *, maxlen: int | None = None) -> None:
        super().__init__()
        self.maxlen = maxlen
        self._lock = threading.Lock()

    def record(self, request: LocalRequest) -> CapturedRequest:
        """Capture `request` and return the record (its `status` is filled in once answered)."""
        captured = CapturedRequest.from_request(request)
        with self._lock:
            self.append(captured)
            if self.maxlen is not None and len(self) > self.maxlen:
                del self[: len(self) - self.maxlen]
        return captured

    def filter(self, *, method: str | None = None, path: str | None = None) -> list[CapturedRequest]:
        """The captured requests with this method and whose path matches the regex `path` (`re.search`)."""
        pattern = re.compile(path) if path is not None else None
        return [
            r
            for r in list(self)
            if (method is None or r.method == method.upper()) and (pattern is None or pattern.search(r.path))
        ]

    @property
    def last(self) -> CapturedRequest:
        """The most recent request.

        Raises:
            IndexError: Nothing was captured.
        """
        if not self:
            raise IndexError("no request was captured yet")
        return self[-1]

    def paths(self) -> list[str]:
        """`"METHOD /path"` for each captured request, handy in assertion messages."""
        return [f"{r.method} {r.path}" for r in list(self)]
