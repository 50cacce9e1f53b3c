"""Fault injection: error statuses with `Retry-After`, latency, dropped connections, timeouts, bad bodies."""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from dbx_native.errors import InvalidRequestError
from dbx_native.local._clock import Clock
from dbx_native.local._wire import LocalApiError, LocalRequest, LocalResponse

__all__ = ["DroppedConnection", "Fault", "FaultInjector", "SimulatedReadTimeout"]

# Discovery probes (`/.well-known/databricks-config`, OIDC metadata) that clients send on their own at
# construction. A fault without `path` skips them, so building a databricks-sdk client does not use it up.
_DISCOVERY = re.compile(r"^/(?:\.well-known|oidc)/")

# Not JSON: the start of an answer cut short, as a proxy or a dying upstream sends it.
_MALFORMED_BODY = b'{"error_code": "TEMPORARILY_UNAVAIL'


class DroppedConnection(Exception):
    """Raised by `LocalWorkspace.handle` when a fault drops the connection.

    The in-process transport turns it into `requests.ConnectionError`; the loopback server closes the
    socket without answering.
    """


class SimulatedReadTimeout(DroppedConnection):
    """Raised by `LocalWorkspace.handle` when a fault simulates a read timeout.

    The in-process transport turns it into `requests.ReadTimeout`; the loopback server closes the socket
    without answering after the fault's `latency`.
    """


def _retry_after_text(value: str | float | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    number = float(value)
    return str(int(number)) if number.is_integer() else repr(number)


@dataclass(eq=False)
class Fault:
    """One injected fault; a handle returned by `FaultInjector.add`.

    Attributes:
        status: HTTP status to answer with, if any.
        error_code: Databricks `error_code` of the error body (defaults from the status).
        message: `message` of the error body.
        retry_after: The `Retry-After` header value, sent exactly as given.
        method: Only requests with this method match (`None`: any).
        path: Only requests whose path matches this regex (`re.search`) match (`None`: any but discovery probes).
        latency: Seconds to wait (through the workspace clock) before answering.
        drop_connection: Close the connection without an answer.
        read_timeout: Answer nothing, as when the client's read timeout passes.
        malformed_body: Answer with a body that is not JSON.
        drop_after_events: Let the request through, then drop the connection after this many pieces of a
            streamed answer (Server-Sent Events); a whole (not streamed) body counts as one piece.
        hits: How many requests this fault has answered so far.
    """

    status: int | None = None
    error_code: str | None = None
    message: str | None = None
    retry_after: str | None = None
    times: int | None = 1
    method: str | None = None
    path: str | None = None
    latency: float = 0.0
    drop_connection: bool = False
    read_timeout: bool = False
    malformed_body: bool = False
    drop_after_events: int | None = None
    hits: int = 0
    _pattern: re.Pattern[str] | None = field(default=None, repr=False)
    _cancelled: bool = field(default=False, repr=False)

    @property
    def remaining(self) -> int | None:
        """How many more requests this fault will answer (`None`: no limit; `0`: used up or cancelled)."""
        if self._cancelled:
            return 0
        return None if self.times is None else max(self.times - self.hits, 0)

    @property
    def active(self) -> bool:
        """Whether the fault can still match a request."""
        return self.remaining != 0

    def cancel(self) -> None:
        """Stop this fault from matching any further request."""
        self._cancelled = True

    def matches(self, request: LocalRequest) -> bool:
        """Whether `request` is one this fault applies to (ignoring how many times it has left)."""
        if self.method is not None and self.method != request.method:
            return False
        if self._pattern is None:
            return _DISCOVERY.match(request.path) is None
        return self._pattern.search(request.path) is not None

    def apply(self, clock: Clock) -> LocalResponse | None:
        """Wait the latency, then answer for the fault; `None` lets the request through (latency-only faults).

        Raises:
            SimulatedReadTimeout: For `read_timeout` faults.
            DroppedConnection: For `drop_connection` faults.
        """
        if self.latency > 0:
            clock.sleep(self.latency)
        if self.read_timeout:
            raise SimulatedReadTimeout("simulated read timeout (injected fault)")
        if self.drop_connection:
            raise DroppedConnection("connection dropped (injected fault)")
        if self.malformed_body:
            return LocalResponse(
                status=self.status or 200, body=_MALFORMED_BODY, headers={"Content-Type": "application/json"}
            )
        if self.status is None:
            return None
        headers = {"Retry-After": self.retry_after} if self.retry_after is not None else None
        message = self.message or f"Injected fault: HTTP {self.status}."
        return LocalApiError(self.status, message, error_code=self.error_code, headers=headers).to_response()

    def cut(self, response: LocalResponse) -> LocalResponse:
        """Apply `drop_after_events` to the answer a backend gave (other faults leave it alone).

        Raises:
            DroppedConnection: `drop_after_events=0` on an answer that is not streamed.
        """
        if self.drop_after_events is None:
            return response
        if response.stream is None:
            if self.drop_after_events == 0:
                raise DroppedConnection("connection dropped before the answer (injected fault)")
            return response
        response.stream = _cut(response.stream, self.drop_after_events)
        return response


class FaultInjector:
    """The faults of one workspace (`ws.faults`), matched in order of addition. Thread-safe."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(
        self,
        *,
        status: int | None = None,
        error_code: str | None = None,
        message: str | None = None,
        retry_after: str | float | None = None,
        times: int | None = 1,
        method: str | None = None,
        path: str | None = None,
        latency: float = 0.0,
        drop_connection: bool = False,
        read_timeout: bool = False,
        malformed_body: bool = False,
        drop_after_events: int | None = None,
    ) -> Fault:
        """Inject a fault into the next matching requests.

        Args:
            status: Answer with this HTTP status and a Databricks error body (`{"error_code", "message"}`).
            error_code: The body's `error_code` (default: the usual one for the status).
            message: The body's `message`.
            retry_after: Send this `Retry-After` header; a string is sent as given (an HTTP date works).
            times: How many matching requests the fault answers; `None` for every one.
            method: Only fault requests with this HTTP method.
            path: Only fault requests whose path matches this regex (`re.search`). Without it, every request
                matches except the discovery probes under `/.well-known/` and `/oidc/`.
            latency: Seconds to wait before answering, through the workspace clock. Alone, it only slows
                the request down.
            drop_connection: Close the connection without answering.
            read_timeout: Answer nothing: in-process raises `requests.ReadTimeout`; the loopback server waits
                `latency` (set it above the client's read timeout) and then closes the connection.
            malformed_body: Answer `status` (default 200) with a body that is not JSON.
            drop_after_events: Answer normally, but drop the connection after this many events of a streamed
                answer (`"stream": true` on a serving endpoint): in-process, reading the body raises
                `requests.exceptions.ChunkedEncodingError`; the loopback server closes the socket mid-body.

        Returns:
            A handle with `.hits`, `.remaining` and `.cancel()`.

        Raises:
            InvalidRequestError: The arguments do not describe a fault.

        Example:
            >>> from dbx_native.local import FaultInjector
            >>> fault = FaultInjector().add(status=429, retry_after="2", path="/serving-endpoints/")
            >>> fault.remaining
            1
        """
        method = method.upper() if method is not None else None
        fault = Fault(
            status=status,
            error_code=error_code,
            message=message,
            retry_after=_retry_after_text(retry_after),
            times=times,
            method=method,
            path=path,
            latency=latency,
            drop_connection=drop_connection,
            read_timeout=read_timeout,
            malformed_body=malformed_body,
            drop_after_events=drop_after_events,
            _pattern=_compile(path),
        )
        _validate(fault)
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, request: LocalRequest) -> Fault | None:
        """The first active fault matching `request`, counting the hit; `None` when none matches."""
        with self._lock:
            for fault in self._faults:
                if fault.active and fault.matches(request):
                    fault.hits += 1
                    return fault
            return None

    def clear(self) -> None:
        """Remove every fault."""
        with self._lock:
            for fault in self._faults:
                fault.cancel()
            self._faults.clear()

    def __iter__(self) -> Iterator[Fault]:
        """The faults that can still match, in order."""
        with self._lock:
            return iter([f for f in self._faults if f.active])

    def __len__(self) -> int:
        with self._lock:
            return sum(1 for f in self._faults if f.active)

    def __repr__(self) -> str:
        return f"FaultInjector(active={len(self)})"


def _cut(events: Iterable[bytes], limit: int) -> Iterator[bytes]:
    yield from itertools.islice(events, limit)
    raise DroppedConnection(f"connection dropped after {limit} streamed events (injected fault)")


def _compile(path: str | None) -> re.Pattern[str] | None:
    if path is None:
        return None
    try:
        return re.compile(path)
    except re.error as err:
        raise InvalidRequestError(f"fault path {path!r} is not a valid regular expression: {err}") from err


def _validate(fault: Fault) -> None:
    if fault.status is not None and not 100 <= fault.status <= 599:
        raise InvalidRequestError(f"fault status must be an HTTP status between 100 and 599, not {fault.status}")
    if fault.times is not None and fault.times < 1:
        raise InvalidRequestError(f"fault times must be at least 1 (or None for every request), not {fault.times}")
    if fault.latency < 0:
        raise InvalidRequestError(f"fault latency must be zero or more seconds, not {fault.latency}")
    if fault.drop_connection and fault.read_timeout:
        raise InvalidRequestError("choose one of drop_connection and read_timeout for a fault, not both")
    if fault.status is not None and fault.status < 400 and not fault.malformed_body:
        raise InvalidRequestError(f"a fault status below 400 ({fault.status}) needs malformed_body=True")
    if fault.status is None and (fault.error_code or fault.message or fault.retry_after is not None):
        raise InvalidRequestError("error_code, message and retry_after need a fault status (e.g. status=503)")
    if fault.drop_after_events is not None:
        if fault.drop_after_events < 0:
            raise InvalidRequestError(f"drop_after_events must be 0 or more, not {fault.drop_after_events}")
        if fault.status is not None or fault.drop_connection or fault.read_timeout or fault.malformed_body:
            raise InvalidRequestError(
                "drop_after_events lets the request through: do not combine it with status=, drop_connection=, "
                "read_timeout= or malformed_body="
            )
        return
    effects = (fault.status, fault.latency or None, fault.drop_connection or None, fault.read_timeout or None)
    if all(e is None for e in effects) and not fault.malformed_body:
        raise InvalidRequestError(
            "a fault needs an effect: status=, latency=, drop_connection=, read_timeout= or malformed_body="
        )
