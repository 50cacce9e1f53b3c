"""Loopback transport: a threaded HTTP/1.1 server in front of `LocalWorkspace.handle`."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from dbx_native.local._faults import DroppedConnection
from dbx_native.local._wire import LocalRequest, LocalResponse

if TYPE_CHECKING:
    from dbx_native.config import DbxConfig
    from dbx_native.local._workspace import LocalWorkspace

__all__ = ["ServerHandle"]

logger = logging.getLogger("dbx_native.local.server")


class _Handler(BaseHTTPRequestHandler):
    """One connection; answers every method through the workspace, keeping the connection alive."""

    protocol_version = "HTTP/1.1"  # keep-alive: requires a Content-Length on every response
    server_version = "dbx-native-local"
    sys_version = ""
    disable_nagle_algorithm = True  # headers and body go out in two writes: do not wait for an ACK between
    server: _Server

    def do_GET(self) -> None:
        self._answer()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _answer(self) -> None:
        parts = urlsplit(self.path)
        body = self._read_body()
        request = LocalRequest.build(
            self.command,
            unquote(parts.path) or "/",
            parts.query,
            dict(self.headers.items()),
            body,
            base_url=self.server.base_url,
        )
        try:
            response = self.server.workspace.handle(request)
        except DroppedConnection:
            # Close without a byte of answer: the client sees a reset / remote disconnect.
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if response.stream is not None and self.command != "HEAD":
            self._send_stream(response)
            return
        self.send_response(response.status)
        for name, value in response.headers.items():
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD" and response.body:
            self.wfile.write(response.body)

    def _send_stream(self, response: LocalResponse) -> None:
        """Send a streamed answer with chunked transfer coding, one flushed chunk per piece."""
        assert response.stream is not None
        self.send_response(response.status)
        for name, value in response.headers.items():
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for piece in response.stream:
                if piece:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                    self.wfile.flush()
        except DroppedConnection:
            # No terminating chunk: the client sees the body end early, as when an upstream dies mid-stream.
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
                    pass
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()  # the CRLF after each chunk

    def address_string(self) -> str:
        return str(self.client_address[0])  # never a reverse DNS look-up

    def log_message(self, format: str, *args: Any) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s %s", self.address_string(), format % args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # idle keep-alive connections would block server_close(); `close_connections` ends them
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], workspace: LocalWorkspace) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)
        self.workspace = workspace
        host = f"[{address[0]}]" if ":" in address[0] else address[0]
        self.base_url = f"http://{host}:{self.server_address[1]}"
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client hanging up mid-answer is routine for a test server; the base class prints to stderr.
        logger.debug("connection from %s ended with an error", client_address, exc_info=True)

    def close_connections(self) -> None:
        """Shut every open connection down so its handler thread ends."""
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                conn.shutdown(socket.SHUT_RDWR)


class ServerHandle:
    """A running loopback server over a `LocalWorkspace` (from `LocalWorkspace.serve()`).

    Attributes:
        workspace: The workspace it serves.
        host: Base URL, `http://127.0.0.1:<port>`.
        url: Same as `host`.
        port: The TCP port.
        token: A token the workspace accepts (the fixed one, or one issued for this server).

    Example:
        >>> import requests
        >>> from dbx_native.local import LocalWorkspace
        >>> with LocalWorkspace().serve() as server:
        ...     requests.get(f"{server.host}/.well-known/databricks-config").status_code
        200
    """

    def __init__(self, workspace: LocalWorkspace, server: _Server, thread: threading.Thread) -> None:
        self.workspace = workspace
        self._server = server
        self._thread = thread
        self.host = server.base_url
        self.url = server.base_url
        self.port = int(server.server_address[1])
        self.token = workspace.client_token()

    @classmethod
    def start(cls, workspace: LocalWorkspace, *, host: str = "127.0.0.1", port: int = 0) -> ServerHandle:
        """Bind `host:port` (0 picks a free port) and serve `workspace` from a background thread."""
        server = _Server((host, port), workspace)
        # A short poll interval keeps stop() fast; the loop costs nothing measurable while idle.
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"dbx-native-local:{server.server_address[1]}",
            daemon=True,
        )
        thread.start()
        handle = cls(workspace, server, thread)
        logger.info("local workspace serving on %s", handle.host)
        return handle

    @property
    def config(self) -> DbxConfig:
        """A `DbxConfig` pointing at this server with `token`."""
        from dbx_native.config import DbxConfig

        return DbxConfig(host=self.host, token=self.token)

    @property
    def running(self) -> bool:
        """Whether the server still accepts connections."""
        return self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the server stops (or `timeout` passes); returns whether it stopped."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def stop(self) -> None:
        """Stop accepting, close open connections and wait for the serving thread. Safe to call twice."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.close_connections()
        self._server.server_close()

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"ServerHandle(host={self.host!r}, {state})"
