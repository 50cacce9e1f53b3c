"""In-process transport: `requests` calls to an intercepted workspace's host are answered by `handle()`.

One `responses.RequestsMock` is active while at least one workspace intercepts, whatever the nesting,
so several workspaces (on different hosts) can be intercepted at once: the most recent one that owns a
URL answers it. Loopback URLs that no workspace owns go to the network (a `serve()`d workspace keeps
working); every other URL is refused with `requests.ConnectionError`, so a test never reaches a real host.
"""

from __future__ import annotations

import functools
import http.client
import io
import re
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from dbx_native.local._faults import DroppedConnection, SimulatedReadTimeout
from dbx_native.local._wire import LocalRequest

if TYPE_CHECKING:
    from dbx_native.local._workspace import LocalWorkspace

__all__ = ["intercept"]

_CALL_LOG_LIMIT = 1024
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
_LOOPBACK = re.compile(r"^https?://(?:127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|\[::1\])(?::\d+)?(?:[/?#]|$)", re.I)


class _Interceptor:
    """The process-wide `responses` mock shared by every intercepting workspace."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._workspaces: list[LocalWorkspace] = []
        self._mock: Any = None

    def push(self, workspace: LocalWorkspace) -> None:
        with self._lock:
            if self._mock is None:
                self._mock = self._start()
            self._workspaces.append(workspace)

    def pop(self, workspace: LocalWorkspace) -> None:
        with self._lock:
            # Remove the most recent entry for this workspace (the same one may intercept twice, nested).
            for i in range(len(self._workspaces) - 1, -1, -1):
                if self._workspaces[i] is workspace:
                    del self._workspaces[i]
                    break
            if not self._workspaces and self._mock is not None:
                mock, self._mock = self._mock, None
                mock.stop(allow_assert=False)
                mock.reset()

    def _start(self) -> Any:
        import responses

        mock = responses.RequestsMock(assert_all_requests_are_fired=False)
        everything = re.compile(r"^.*$", re.DOTALL)
        for method in _METHODS:
            mock.add(
                _callback_response_class()(
                    method, everything, callback=self._callback, content_type=None, match=[self._claims]
                )
            )
        mock.add_passthru(_LOOPBACK)
        mock.start()
        return mock

    def _owner(self, url: str) -> LocalWorkspace | None:
        lowered = url.lower()
        for workspace in reversed(self._workspaces):
            host = workspace.host.lower()
            if lowered.startswith(host) and lowered[len(host) : len(host) + 1] in ("", "/", "?", "#"):
                return workspace
        return None

    def _claims(self, request: Any) -> tuple[bool, str]:
        # Not claiming a loopback URL lets `responses` pass it through to the network.
        url = str(request.url)
        if self._owner(url) is not None or _LOOPBACK.match(url) is None:
            return True, ""
        return False, "loopback address not owned by an intercepted workspace"

    def _callback(self, request: Any) -> tuple[int, dict[str, str], bytes | io.BufferedReader]:
        import requests

        url = str(request.url)
        workspace = self._owner(url)
        parts = urlsplit(url)
        if workspace is None:
            hosts = ", ".join(w.host for w in self._workspaces) or "none"
            raise requests.ConnectionError(
                f"dbx_native.testing blocked a request to non-local host {parts.hostname!r} "
                f"({request.method} {parts.scheme}://{parts.netloc}{parts.path}): while the local workspace "
                f"intercepts requests only its host ({hosts}) and loopback addresses are reachable. Point the "
                "client at the local workspace (DATABRICKS_HOST, DbxConfig(host=...)).",
                request=request,
            )
        local = LocalRequest.build(
            request.method or "GET",
            unquote(parts.path) or "/",
            parts.query,
            dict(request.headers),
            _body_bytes(request.body),
            base_url=f"{parts.scheme}://{parts.netloc}",
        )
        try:
            response = workspace.handle(local)
        except SimulatedReadTimeout as err:
            raise requests.ReadTimeout(f"{err} on {request.method} {parts.path}", request=request) from None
        except DroppedConnection as err:
            raise requests.ConnectionError(f"{err} on {request.method} {parts.path}", request=request) from None
        self._trim_call_log()
        headers = {
            k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "transfer-encoding")
        }
        if response.stream is not None:
            headers["Transfer-Encoding"] = "chunked"
            return response.status, headers, _ChunkedBody(response.stream)
        headers["Content-Length"] = str(len(response.body))
        return response.status, headers, response.body

    def _trim_call_log(self) -> None:
        # `responses` keeps every call (request and response objects) for its own assertions, which we
        # never make; a long in-process loop would grow without bound. `ws.requests` is the record.
        mock = self._mock
        if mock is not None and len(mock.calls) >= _CALL_LOG_LIMIT:
            mock.calls.reset()
            for registered in mock.registered():
                registered.calls.reset()


_INTERCEPTOR = _Interceptor()


@functools.cache
def _callback_response_class() -> Any:
    """`responses.CallbackResponse`, made able to hand urllib3 a chunked body (streamed answers)."""
    import responses

    class _CallbackResponse(responses.CallbackResponse):
        def get_response(self, request: Any) -> Any:
            response = super().get_response(request)
            # urllib3 reads a chunked body the http.client way and asks the original response for the request
            # method (`_method`, to skip HEAD bodies); the stand-in `responses` builds does not have it.
            original = getattr(response, "_original_response", None)
            if response.chunked and original is not None and not hasattr(original, "_method"):
                original._method = request.method
            return response

    return _CallbackResponse


class _StreamSource(io.RawIOBase):
    """The pieces of a streamed answer in chunked transfer coding, produced only as the client reads.

    A `DroppedConnection` from the producer becomes `ConnectionResetError`, which urllib3 reports as a
    broken connection and `requests` as `ChunkedEncodingError`, as with a real connection dying mid-body.
    """

    def __init__(self, pieces: Iterable[bytes]) -> None:
        self._pieces: Iterator[bytes] | None = iter(pieces)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending and self._pieces is not None:
            try:
                piece = next(self._pieces)
            except StopIteration:
                self._pieces, self._pending = None, b"0\r\n\r\n"
                break
            except DroppedConnection as err:
                self._pieces = None
                raise ConnectionResetError(str(err)) from None
            if piece:
                self._pending = b"%x\r\n%s\r\n" % (len(piece), piece)
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


class _ChunkedBody(io.BufferedReader):
    """A body urllib3 reads chunk by chunk (it looks like `http.client.HTTPResponse`: `fp`, `_safe_read`),
    so each streamed event reaches the client as soon as it is read, before any later failure."""

    def __init__(self, pieces: Iterable[bytes]) -> None:
        super().__init__(_StreamSource(pieces))
        self.fp = self

    def _safe_read(self, amt: int) -> bytes:
        data = self.read(amt)
        if len(data) < amt:
            raise http.client.IncompleteRead(data, amt - len(data))
        return data


def _body_bytes(body: object) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, Iterable):  # a generator body, sent chunked by requests
        return b"".join(chunk.encode("utf-8") if isinstance(chunk, str) else bytes(chunk) for chunk in body)
    raise TypeError(f"cannot read a request body of type {type(body).__name__}")


@contextmanager
def intercept(workspace: LocalWorkspace) -> Iterator[LocalWorkspace]:
    """Route `requests` calls for `workspace.host` to `workspace.handle` while the context is active."""
    _INTERCEPTOR.push(workspace)
    try:
        yield workspace
    finally:
        _INTERCEPTOR.pop(workspace)
