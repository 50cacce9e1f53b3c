"""`LocalWorkspace`: the embedded Databricks workspace every transport answers from."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from dbx_native.errors import ConfigurationError
from dbx_native.local._capture import RequestLog
from dbx_native.local._catalog import LocalCatalog
from dbx_native.local._clock import Clock, SystemClock
from dbx_native.local._faults import FaultInjector
from dbx_native.local._features import FeatureSpecsBackend
from dbx_native.local._jobs import JobsBackend
from dbx_native.local._meta import MetaBackend, TokenAuthority, is_public_path
from dbx_native.local._monitors import MonitorsBackend
from dbx_native.local._otlp import OtlpTracesBackend
from dbx_native.local._prompts import PromptsBackend
from dbx_native.local._router import Backend, Router
from dbx_native.local._serving import ServingBackend
from dbx_native.local._sql import SqlStatementsBackend
from dbx_native.local._states import StateMachine
from dbx_native.local._vector import VectorSearchBackend
from dbx_native.local._vector_specs import workspace_embedder
from dbx_native.local._wire import LocalApiError, LocalRequest, LocalResponse
from dbx_native.local._zerobus import ZerobusBackend

if TYPE_CHECKING:
    from dbx_native.config import DbxConfig
    from dbx_native.local._server import ServerHandle
    from dbx_native.local._zerobus_grpc import ZerobusGrpcServer

__all__ = ["DEFAULT_HOST", "DEFAULT_WORKSPACE_ID", "LocalWorkspace"]

logger = logging.getLogger("dbx_native.local")

DEFAULT_HOST = "https://workspace.dbx-native.invalid"
"""The in-process host: `.invalid` never resolves, so a request that escapes interception fails at once."""

DEFAULT_WORKSPACE_ID = 1234567890123456
"""A workspace id shaped like a real one (16 digits)."""


class LocalWorkspace:
    """An embedded Databricks workspace that speaks the REST protocol, for development and tests.

    One instance holds the state of every service (one backend each) plus the test controls: fault
    injection (`faults`), request capture (`requests`), scripted state transitions (`states`) and
    tokens. Both transports, in-process interception (`intercept()`) and the loopback server
    (`serve()`), answer through `handle()`.

    Args:
        root: Directory for persisted tables; `None` keeps everything in memory.
        host: The URL clients use in-process (`intercept()`); the default never resolves.
        token: When given, only this token (and the ones from `issue_token()`) is accepted;
            otherwise any bearer token is.
        workspace_id: The id the workspace reports (`/.well-known/databricks-config`,
            `X-Databricks-Org-Id`).
        clock: Sleeps for injected latency go through it (anything with `time()` and `sleep()`).

    Raises:
        ConfigurationError: `host` is not an `http://` or `https://` URL.

    Example:
        >>> import requests
        >>> from dbx_native.local import LocalWorkspace
        >>> ws = LocalWorkspace()
        >>> with ws.intercept():
        ...     requests.get(f"{ws.host}/api/2.0/nothing-here", headers={"Authorization": "Bearer t"}).status_code
        404
    """

    def __init__(
        self,
        *,
        root: str | os.PathLike[str] | None = None,
        host: str = DEFAULT_HOST,
        token: str | None = None,
        workspace_id: int = DEFAULT_WORKSPACE_ID,
        clock: Clock | None = None,
    ) -> None:
        self.host = _normalise_host(host)
        self.root = Path(root) if root is not None else None
        self.workspace_id = workspace_id
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.router = Router()
        self.backends: list[Backend] = []
        self.faults = FaultInjector()
        self.requests = RequestLog()
        self.states = StateMachine()
        self._tokens = TokenAuthority(token)
        self._org_id = str(workspace_id)
        account_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"dbx-native-local/{workspace_id}"))
        self.register(MetaBackend(tokens=self._tokens, workspace_id=workspace_id, account_id=account_id))
        self.catalog = LocalCatalog(root=root)
        self.sql = SqlStatementsBackend(self.catalog)
        self.register(self.catalog)
        self.register(self.sql)
        self.features = FeatureSpecsBackend(self.catalog, root=root)
        self.register(self.features)
        # Rate-limit windows read the clock through the attribute, so a clock swapped in later is used too.
        self.serving = ServingBackend(
            states=self.states,
            time=lambda: self.clock.time(),
            # Feature Serving: an endpoint serving a feature spec answers `dataframe_records` from `ws.features`.
            custom=lambda entity, body: self.features.invoke(entity, body) if self.features.has_spec(entity) else None,
        )
        self.register(self.serving)
        self.vector = VectorSearchBackend(
            states=self.states,
            time=self.clock.time,
            read_table=self.catalog.read_table,
            embedder_for=workspace_embedder(lambda: getattr(self, "serving", None)),
        )
        self.register(self.vector)
        self.monitors = MonitorsBackend(self.catalog, self.states, self.clock)
        self.register(self.monitors)
        self.jobs = JobsBackend(self.states, self.clock, host=self.host)
        self.register(self.jobs)
        self.prompts = PromptsBackend(self.catalog, self.clock)
        self.register(self.prompts)
        self.traces = OtlpTracesBackend(self.catalog)
        self.register(self.traces)
        self.zerobus = ZerobusBackend(self.catalog)  # real Zerobus Ingest has its own host; here it shares ours
        self.register(self.zerobus)

    # --- backends -------------------------------------------------------------------------------

    def register(self, backend: Backend) -> None:
        """Add a service: its routes are answered from now on, after those registered before.

        Args:
            backend: Anything with `routes()` and `reset()` (the `Backend` protocol).
        """
        for route in backend.routes():
            self.router.add(route)
        self.backends.append(backend)

    def create_table(
        self,
        full_name: str,
        rows: Sequence[Mapping[str, Any]] | Any,
        *,
        schema: Mapping[str, str] | None = None,
        primary_key: str | Sequence[str] | None = None,
        mode: Literal["error", "overwrite", "append"] = "error",
        comment: str | None = None,
    ) -> dict[str, Any]:
        """Create Unity Catalog table `catalog.schema.table` holding `rows` (see `LocalCatalog.create_table`).

        Args:
            full_name: Three-level table name; the catalog and schema are created when missing.
            rows: The rows, as mappings of column name to value.
            schema: Column name -> Databricks type text, for columns the rows cannot type.
            primary_key: Column(s) making up the primary key, if any.
            mode: `"error"` if the table exists, `"overwrite"` or `"append"`.
            comment: The table comment.

        Returns:
            The table as `GET /api/2.1/unity-catalog/tables/{full_name}` answers it.
        """
        return self.catalog.create_table(
            full_name, rows, schema=schema, primary_key=primary_key, mode=mode, comment=comment
        )

    def read_table(self, full_name: str) -> list[dict[str, Any]]:
        """The rows of table `catalog.schema.table` (see `LocalCatalog.read_table`)."""
        return self.catalog.read_table(full_name)

    def reset(self) -> None:
        """Forget everything: every backend's resources, faults, captured requests, state scripts and
        token expirations. The fixed and issued tokens stay valid."""
        for backend in self.backends:
            backend.reset()
        self.faults.clear()
        self.requests.clear()
        self.states.reset()
        self._tokens.reset()

    # --- tokens ---------------------------------------------------------------------------------

    @property
    def token(self) -> str | None:
        """The token fixed at construction (`None`: any bearer token is accepted)."""
        return self._tokens.required

    def issue_token(self) -> str:
        """A new token this workspace accepts, also when a fixed `token` was given."""
        return self._tokens.issue()

    def expire_token(self, token: str) -> None:
        """Make `token` answer 401 `UNAUTHENTICATED` ("expired") from now on, to test credential refresh."""
        self._tokens.expire(token)

    @property
    def config(self) -> DbxConfig:
        """A `DbxConfig` for in-process use (`intercept()`): this workspace's host and a token it accepts.

        Each access issues a fresh token when no fixed token was given; keep the config you use.
        """
        from dbx_native.config import DbxConfig

        return DbxConfig(host=self.host, token=self.client_token())

    def client_token(self) -> str:
        """A token a client can use: the fixed one if given, otherwise a freshly issued one."""
        return self._tokens.required or self._tokens.issue()

    # --- the single entry point -------------------------------------------------------------------

    def handle(self, request: LocalRequest) -> LocalResponse:
        """Answer one request: capture it, apply faults, check the token, dispatch to a backend.

        Args:
            request: The request, as a transport decoded it.

        Returns:
            The response to send.

        Raises:
            DroppedConnection: A fault asks the transport to close the connection without answering
                (`SimulatedReadTimeout` for a simulated read timeout).
        """
        captured = self.requests.record(request)
        response = self._answer(request)
        response.headers.setdefault("X-Databricks-Org-Id", self._org_id)
        # Every real workspace response carries a request id; clients keep it on results and errors.
        response.headers.setdefault("x-request-id", uuid.uuid4().hex)
        captured.status = response.status
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s %s -> %d", request.method, request.path, response.status)
        return response

    def _answer(self, request: LocalRequest) -> LocalResponse:
        fault = self.faults.take(request)
        if fault is not None:
            logger.debug("injected fault on %s %s: %r", request.method, request.path, fault)
            faulted = fault.apply(self.clock)
            if faulted is not None:
                return faulted
        try:
            if not is_public_path(request.path):
                self._tokens.check(request)
            response = self.router.dispatch(request)
        except LocalApiError as err:
            return err.to_response()
        except Exception as err:
            # A backend bug: answer as the service would (500) but keep the traceback in the log.
            logger.exception("local workspace handler failed on %s %s", request.method, request.path)
            return LocalApiError(
                500, f"The local workspace failed on {request.method} {request.path}: {type(err).__name__}: {err}"
            ).to_response()
        return response if fault is None else fault.cut(response)

    # --- transports -----------------------------------------------------------------------------

    def intercept(self) -> AbstractContextManager[LocalWorkspace]:
        """Answer `requests` calls to `self.host` in-process while the context is active.

        Loopback URLs (127.0.0.1, localhost, ::1) go through to the network, so a `serve()`d workspace
        still works; any other host fails with `requests.ConnectionError`. This also catches
        databricks-sdk traffic.

        Returns:
            A context manager yielding this workspace.
        """
        from dbx_native.local._transport import intercept

        return intercept(self)

    def serve(self, port: int = 0, host: str = "127.0.0.1") -> ServerHandle:
        """Serve this workspace over HTTP on a loopback address, in background threads.

        Args:
            port: TCP port; 0 picks a free one.
            host: Address to bind.

        Returns:
            A running server handle (`.host`, `.port`, `.token`, `.config`, `.stop()`; a context manager).
        """
        from dbx_native.local._server import ServerHandle

        return ServerHandle.start(self, host=host, port=port)

    def serve_zerobus_grpc(self, port: int = 0, host: str = "127.0.0.1") -> ZerobusGrpcServer:
        """Serve Zerobus Ingest's gRPC stream service (plaintext) over this workspace's tables, in background threads.

        Real Zerobus has its own host; so does this server (gRPC needs HTTP/2, `serve()` speaks HTTP/1.1). Streams
        write through `ws.zerobus` (JSON records, into existing tables), check tokens like every route, and count
        each message as a request for `ws.faults` (an injected 503 ends the stream with `UNAVAILABLE`). Needs grpcio.

        Args:
            port: TCP port; 0 picks a free one.
            host: Address to bind.

        Returns:
            A running server (`.host` is the Zerobus endpoint URL, `.stop()`; a context manager).

        Raises:
            ConfigurationError: grpcio is not installed, or the address cannot be bound.
        """
        from dbx_native.local._zerobus_grpc import ZerobusGrpcServer

        return ZerobusGrpcServer.start(
            self.zerobus,
            check_token=self._tokens.check,
            faults=self.faults,
            requests=self.requests,
            clock=self.clock,
            host=host,
            port=port,
        )

    def __repr__(self) -> str:
        names = [type(b).__name__ for b in self.backends]
        return f"LocalWorkspace(host={self.host!r}, workspace_id={self.workspace_id}, backends={names!r})"


def _normalise_host(host: str) -> str:
    if not host.startswith(("http://", "https://")):
        raise ConfigurationError(
            f"LocalWorkspace host must be an http:// or https:// URL, not {host!r}",
            field="host",
            source="keyword argument",
        )
    return host.rstrip("/")
