"""The one HTTP path every client takes: pooled session, auth per request, retries, error mapping, spans.

Proxy and CA settings are read from the environment once, when the session is made: requests would
otherwise scan `os.environ` on every call (about a third of its per-call time).
"""

from __future__ import annotations

import json
import os
import platform
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
import requests.adapters
import requests.utils

from dbx_native._core.auth import CredentialProvider, resolve_credentials
from dbx_native._core.clock import SYSTEM_CLOCK, Clock
from dbx_native._core.logs import get_logger, redact, register_secret
from dbx_native._core.retry import retry_call
from dbx_native._core.status import error_from_response, parse_retry_after
from dbx_native._core.telemetry import Telemetry
from dbx_native._version import __version__
from dbx_native.config import DbxConfig
from dbx_native.errors import (
    APIConnectionError,
    APIResponseError,
    APITimeoutError,
    ConfigurationError,
    InvalidRequestError,
)

__all__ = ["HttpClient", "HttpResponse"]

_log = get_logger("dbx_native.http")

_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
_REQUEST_ID_HEADERS = ("x-request-id", "x-databricks-request-id", "x-databricks-org-id-request-id")
_BODY_LOG_LIMIT = 2048


@dataclass
class HttpResponse:
    """A successful response.

    Attributes:
        status: HTTP status (2xx).
        headers: Response headers (case-insensitive mapping).
        content: The body (empty for a streamed response until read).
        request_id: The server's request id, if it sent one.
        attempts: How many attempts the call took.
        elapsed_s: Seconds from the first attempt to the response headers.
        raw: The `requests.Response`, open for reading when the call was made with `stream=True`.
    """

    status: int
    headers: Mapping[str, str]
    content: bytes
    request_id: str | None
    attempts: int
    elapsed_s: float
    raw: requests.Response | None = field(default=None, repr=False)
    _json: Any = field(default=None, repr=False)
    _decoded: bool = field(default=False, repr=False)

    def json(self) -> Any:
        """The body decoded as JSON (`None` for an empty body)."""
        if not self._decoded:
            self._json = _decode_json(self.content, self.status, self.request_id)
            self._decoded = True
        return self._json

    def iter_lines(self) -> Iterator[bytes]:
        """Lines of a streamed body (for server-sent events)."""
        if self.raw is None:
            yield from self.content.splitlines()
            return
        yield from self.raw.iter_lines()

    def close(self) -> None:
        if self.raw is not None:
            self.raw.close()


def _encode(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def _decode_json(content: bytes, status: int, request_id: str | None) -> Any:
    if not content:
        return None
    try:
        return json.loads(content)
    except (ValueError, UnicodeDecodeError):
        preview = content[:80].decode("utf-8", errors="replace")
        raise APIResponseError(
            f"The server answered {status} with a body that is not JSON (starts {preview!r}); "
            "a proxy or load balancer may be in the way: check the host.",
            request_id=request_id,
        ) from None


def _user_agent(client_name: str, extra: str | None) -> str:
    ua = f"dbx-native/{__version__} {client_name} python/{platform.python_version()} os/{platform.system().lower()}"
    return f"{ua} {extra}" if extra else ua


def _new_session(base_url: str) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no per-call environment scan; resolved once below instead
    session.proxies.update(requests.utils.get_environ_proxies(base_url))
    ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if ca_bundle:
        session.verify = ca_bundle
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=32, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


class HttpClient:
    """Sends requests to one workspace for one client (`gateway`, `features`, ...).

    Thread-safe: one pooled session, shared by copies made with `with_config`.

    Args:
        config: The configuration (host, credentials, retry policy, timeouts, telemetry).
        client_name: Names the client in the User-Agent and in spans.
        credentials: Use these instead of resolving them from `config` (e.g. from a WorkspaceClient).
        clock: Time source and sleeper (tests pass a `FakeClock`).
    """

    def __init__(
        self,
        config: DbxConfig,
        *,
        client_name: str = "core",
        credentials: CredentialProvider | None = None,
        clock: Clock | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.config = config
        self.client_name = client_name
        self.clock: Clock = clock or SYSTEM_CLOCK
        self.credentials: CredentialProvider = credentials or resolve_credentials(config)
        for secret in (config.token, config.client_secret):
            if secret is not None:
                register_secret(secret.get_secret_value())
        self._host = config.host
        self._session = session
        self._session_lock = threading.Lock()
        self.telemetry = Telemetry(enabled=config.telemetry, capture_content=config.capture_content)
        self._user_agent = _user_agent(client_name, config.user_agent_extra)

    @property
    def host(self) -> str:
        """The workspace URL; resolved through databricks-sdk auth when the config names no host."""
        if self._host is None:
            sdk_host = getattr(self.credentials, "host", None)
            if not sdk_host:
                raise ConfigurationError(
                    "No Databricks host configured: set DATABRICKS_HOST (or DBX_NATIVE_HOST), pass host=, "
                    "or use a profile that has one.",
                    field="host",
                )
            self._host = str(sdk_host).rstrip("/")
        return self._host

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            with self._session_lock:
                if self._session is None:
                    self._session = _new_session(self.host)
        return self._session

    def with_config(self, config: DbxConfig, *, client_name: str | None = None) -> HttpClient:
        """A copy with another config (same host) that shares this client's session and credentials."""
        copy = HttpClient(
            config,
            client_name=client_name or self.client_name,
            credentials=self.credentials,
            clock=self.clock,
            session=self._session,
        )
        copy._host = self._host if config.host in (None, self.config.host) else config.host
        return copy

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        timeout: float | None = None,
        stream: bool = False,
        operation: str | None = None,
        span_attributes: Mapping[str, str | int | float | bool | None] | None = None,
        attempts: int | None = None,
        traced: bool = True,
    ) -> HttpResponse:
        """Send one logical request (with retries) and return the successful response.

        Args:
            method: HTTP method.
            path: Path under the host, starting with `/`.
            params: Query parameters.
            json_body: Body, sent as JSON (encoded once, so every attempt sends the same bytes).
            content: An already-encoded JSON body (instead of `json_body`).
            headers: Extra headers.
            idempotent: Whether repeating the call is safe; defaults to True for GET/HEAD/PUT/DELETE.
            timeout: Seconds for the whole call, retries included; also caps each attempt's read timeout.
            stream: Leave the body unread (`HttpResponse.iter_lines`).
            operation: Span name (`gateway.chat`); defaults to `METHOD path`.
            span_attributes: Extra span attributes.
            attempts: Override the policy's `max_attempts` for this call (fallback chains use 1).
            traced: Open a span for this request (off when the caller owns the operation's span).

        Raises:
            APIStatusError: The server answered with an error status (a subclass per status / error code).
            APIConnectionError: No response (APITimeoutError for timeouts).
            APIResponseError: A 2xx body that is not JSON.
        """
        method = method.upper()
        if not path.startswith("/"):
            raise InvalidRequestError(f"path must start with '/': {path!r}")
        if timeout is not None and timeout <= 0:
            raise InvalidRequestError(f"timeout must be positive seconds, not {timeout!r}")
        url = self.host + path
        is_idempotent = method in _IDEMPOTENT_METHODS if idempotent is None else idempotent
        body = content if content is not None else None if json_body is None else _encode(json_body)
        all_headers = {"User-Agent": self._user_agent, "Accept": "application/json"}
        if body is not None:
            all_headers["Content-Type"] = "application/json"
        if headers:
            all_headers.update(headers)
        if not traced:
            return self._request_with_retries(
                method, url, path, params, body, all_headers, is_idempotent, timeout, stream, attempts
            )
        attrs = {
            "http.request.method": method,
            "url.path": path,
            "server.address": url.split("://", 1)[-1].split("/", 1)[0],
            "dbx_native.client": self.client_name,
            **(span_attributes or {}),
        }
        with self.telemetry.span(operation or f"{method} {path}", attrs) as span:
            response = self._request_with_retries(
                method, url, path, params, body, all_headers, is_idempotent, timeout, stream, attempts
            )
            if span.is_recording():
                span.set_attribute("http.response.status_code", response.status)
                span.set_attribute("dbx_native.attempts", response.attempts)
                if response.request_id:
                    span.set_attribute("dbx_native.request_id", response.request_id)
            return response

    def _request_with_retries(
        self,
        method: str,
        url: str,
        path: str,
        params: Mapping[str, Any] | None,
        body: bytes | None,
        headers: dict[str, str],
        idempotent: bool,
        timeout: float | None,
        stream: bool,
        max_attempts: int | None = None,
    ) -> HttpResponse:
        policy = self.config.retry
        if max_attempts is not None and max_attempts != policy.max_attempts:
            policy = policy.model_copy(update={"max_attempts": max(1, max_attempts)})
        budget = policy.deadline if timeout is None else min(timeout, policy.deadline)
        start = self.clock.monotonic()
        attempts = 0
        refreshed = False

        def attempt() -> HttpResponse:
            nonlocal attempts, refreshed
            attempts += 1
            remaining = max(0.001, budget - (self.clock.monotonic() - start))
            read_timeout = min(self.config.timeouts.read, remaining)
            resp = self._send(method, url, params, body, headers, read_timeout, stream)
            if resp.status_code == 401 and not refreshed and self.credentials.refresh():
                # A refreshable credential (OAuth, token_provider) gets one fresh try; a PAT does not.
                refreshed = True
                _log.info("credential refreshed after 401 on %s %s", method, path)
                resp.close()
                resp = self._send(method, url, params, body, headers, read_timeout, stream)
            return self._finish(resp, method, url, path, stream, attempts, start)

        return retry_call(
            attempt,
            policy=policy,
            idempotent=idempotent,
            clock=self.clock,
            deadline=budget,
            describe=f"{method} {path}",
        )

    def _send(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        body: bytes | None,
        headers: dict[str, str],
        read_timeout: float,
        stream: bool,
    ) -> requests.Response:
        send_headers = {**headers, **self.credentials.headers()}
        if _log.isEnabledFor(10):
            _log.debug("-> %s %s", method, url)
            if self.config.log_bodies and body:
                _log.debug("-> body %s", redact(body[:_BODY_LOG_LIMIT].decode("utf-8", errors="replace")))
        session = self.session
        # Prepare the request ourselves instead of `Session.request`: the session has no cookies, auth or
        # per-session headers to merge, and skipping that merge is a quarter of requests' client-side time.
        prepared = requests.PreparedRequest()
        try:
            prepared.prepare(method=method, url=url, headers=send_headers, data=body, params=params)
            return session.send(
                prepared,
                timeout=(self.config.timeouts.connect, read_timeout),
                stream=stream,
                verify=session.verify,
                proxies=session.proxies,
                allow_redirects=True,
            )
        except requests.RequestException as err:
            raise _connection_error(err, method, url) from err

    def _finish(
        self,
        resp: requests.Response,
        method: str,
        url: str,
        path: str,
        stream: bool,
        attempts: int,
        start: float,
    ) -> HttpResponse:
        request_id = next((resp.headers[h] for h in _REQUEST_ID_HEADERS if h in resp.headers), None)
        if resp.status_code >= 400:
            try:
                content = resp.content
            except requests.RequestException as err:
                raise _connection_error(err, method, url) from err
            retry_after = parse_retry_after(resp.headers.get("Retry-After"), now=self.clock.time())
            _log.debug("<- %s %s %s", resp.status_code, method, path)
            raise error_from_response(
                status=resp.status_code,
                content=content,
                reason=resp.reason or "",
                method=method,
                url=url,
                request_id=request_id,
                retry_after=retry_after,
            )
        content = b""
        if not stream:
            try:
                content = resp.content
            except requests.RequestException as err:
                raise _connection_error(err, method, url) from err
        _log.debug("<- %s %s %s", resp.status_code, method, path)
        if self.config.log_bodies and content:
            _log.debug("<- body %s", redact(content[:_BODY_LOG_LIMIT].decode("utf-8", errors="replace")))
        result = HttpResponse(
            status=resp.status_code,
            headers=resp.headers,
            content=content,
            request_id=request_id,
            attempts=attempts,
            elapsed_s=self.clock.monotonic() - start,
            raw=resp if stream else None,
        )
        if not stream:
            result.json()  # decode inside the attempt so a malformed body is reported as such
        return result


def _connection_error(err: requests.RequestException, method: str, url: str) -> APIConnectionError:
    where = url.split("?", 1)[0]
    if isinstance(err, requests.ConnectTimeout):
        return APITimeoutError(
            f"Timed out connecting to {where}: check the host and network, or raise timeouts.connect.",
            method=method,
            url=url,
            request_sent=False,
        )
    if isinstance(err, requests.ReadTimeout):
        return APITimeoutError(
            f"Timed out waiting for {method} {where}: the server may still be working; raise timeouts.read "
            "or the call's timeout= if it needs longer.",
            method=method,
            url=url,
            request_sent=True,
        )
    sent = not _is_connect_failure(err)
    what = "connection dropped before a response" if sent else "could not connect"
    return APIConnectionError(
        f"{what.capitalize()} ({method} {where}): {type(err).__name__}. Check the host and network.",
        method=method,
        url=url,
        request_sent=sent,
    )


def _is_connect_failure(err: BaseException) -> bool:
    """True when the request never left: refused, unresolvable host, connect timeout."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [err]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        name = type(current).__name__
        if isinstance(current, ConnectionRefusedError) or name in (
            "NewConnectionError",
            "NameResolutionError",
            "ConnectTimeoutError",
        ):
            return True
        stack.append(getattr(current, "reason", None))
        stack.extend(a for a in getattr(current, "args", ()) if isinstance(a, BaseException))
        stack.append(current.__cause__)
        stack.append(current.__context__)
    return False
