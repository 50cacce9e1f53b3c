"""One error tree for every dbx-native client.

```
DbxNativeError
├── ConfigurationError                 bad or missing configuration (also a ValueError)
├── InvalidRequestError                input refused before anything was sent (also a ValueError)
├── APIError                           something went wrong talking to Databricks
│   ├── APIConnectionError             no HTTP response (refused, reset, DNS)
│   │   ├── APITimeoutError            connect or read timeout
│   │   └── StreamInterruptedError     a stream broke off (.partial_text holds what arrived)
│   ├── APIResponseError               a 2xx answer that is not what the API promises
│   └── APIStatusError                 an HTTP error status: status_code, error_code, request_id, retry_after
│       ├── BadRequestError            400
│       ├── AuthenticationError        401
│       ├── PermissionDeniedError      403
│       ├── NotFoundError              404
│       ├── ConflictError              409
│       ├── RateLimitError             429 (also raised client-side by rate limiters)
│       └── ServerError                5xx
│           └── ServiceUnavailableError    503
├── GuardrailError                     a guardrail blocked the input or output
├── BudgetExceededError                a call would exceed a configured budget
├── OperationTimeoutError              a long-running operation did not finish in time (carries the last state)
├── JobRunFailedError                  a Lakeflow Jobs run ended without success (run id, state, server message)
└── BundleError                        a bundle could not be loaded or resolved
```

The status class is chosen by HTTP status and refined by the Databricks `error_code`. Messages
say what to do next, and never contain a token, secret or `Authorization` value.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "BudgetExceededError",
    "BundleError",
    "ConfigurationError",
    "ConflictError",
    "DbxNativeError",
    "GuardrailError",
    "InvalidRequestError",
    "JobRunFailedError",
    "NotFoundError",
    "OperationTimeoutError",
    "PermissionDeniedError",
    "RateLimitError",
    "ServerError",
    "ServiceUnavailableError",
    "StreamInterruptedError",
]


class DbxNativeError(Exception):
    """The root of every error dbx-native raises on purpose."""


class ConfigurationError(DbxNativeError, ValueError):
    """The configuration is missing a value or holds a bad one.

    Attributes:
        field: The configuration field at fault, when one is known.
        source: Where the bad value came from (``keyword argument``, ``environment variable X``, ...).
    """

    def __init__(self, message: str, *, field: str | None = None, source: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.source = source


class InvalidRequestError(DbxNativeError, ValueError):
    """Input refused before anything was sent: fix the arguments, retrying will not help."""


class APIError(DbxNativeError):
    """Talking to Databricks failed.

    Attributes:
        message: What happened and, where we know, what to do next.
        method: The HTTP method of the failed request.
        url: The URL of the failed request (never with credentials in it).
        request_id: The server's request id, when the server sent one.
    """

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        url: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.url = url
        self.request_id = request_id

    def __str__(self) -> str:
        if self.request_id:
            return f"{self.message} (request id {self.request_id})"
        return self.message


class APIConnectionError(APIError):
    """No HTTP response arrived: the connection was refused, reset or could not be made.

    Attributes:
        request_sent: False when the request certainly never reached the server (connection refused,
            connect timeout), so repeating it is safe even for a non-idempotent call.
    """

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        url: str | None = None,
        request_id: str | None = None,
        request_sent: bool = True,
    ) -> None:
        super().__init__(message, method=method, url=url, request_id=request_id)
        self.request_sent = request_sent


class APITimeoutError(APIConnectionError):
    """The connect or read timeout passed before a response arrived."""


class StreamInterruptedError(APIConnectionError):
    """A streamed reply broke off before its end.

    Attributes:
        partial_text: The text received before the break.
        chunks_received: How many chunks arrived.
    """

    def __init__(
        self,
        message: str,
        *,
        partial_text: str = "",
        chunks_received: int = 0,
        method: str | None = None,
        url: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, method=method, url=url, request_id=request_id, request_sent=True)
        self.partial_text = partial_text
        self.chunks_received = chunks_received


class APIResponseError(APIError):
    """The server answered with a success status but a body the API does not promise."""


class APIStatusError(APIError):
    """The server answered with an HTTP error status.

    Attributes:
        status_code: The HTTP status.
        error_code: The Databricks ``error_code`` from the body (e.g. ``RESOURCE_DOES_NOT_EXIST``), if any.
        retry_after: Seconds the server asked us to wait (``Retry-After``), if it said.
        body: The decoded error body, if it was JSON.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        error_code: str | None = None,
        method: str | None = None,
        url: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message, method=method, url=url, request_id=request_id)
        self.status_code = status_code
        self.error_code = error_code
        self.retry_after = retry_after
        self.body = body

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status_code={self.status_code!r}, error_code={self.error_code!r}, "
            f"message={self.message!r}, request_id={self.request_id!r})"
        )


class BadRequestError(APIStatusError):
    """HTTP 400: the server refused the request as malformed or invalid."""


class AuthenticationError(APIStatusError):
    """HTTP 401: the credential is missing, wrong or expired."""


class PermissionDeniedError(APIStatusError):
    """HTTP 403: the identity is known but lacks a permission."""


class NotFoundError(APIStatusError):
    """HTTP 404: the resource or route does not exist."""


class ConflictError(APIStatusError):
    """HTTP 409: the resource already exists or is in a conflicting state."""


class RateLimitError(APIStatusError):
    """HTTP 429 from the server, or a client-side rate limit that was told to raise instead of wait."""


class ServerError(APIStatusError):
    """HTTP 5xx: the service failed."""


class ServiceUnavailableError(ServerError):
    """HTTP 503: the service is temporarily unavailable."""


class GuardrailError(DbxNativeError):
    """A guardrail (client-side or AI Gateway) blocked the input or the output.

    Attributes:
        reason: Why it was blocked, without the offending content.
        stage: ``"input"`` or ``"output"``.
    """

    def __init__(self, message: str, *, reason: str | None = None, stage: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.stage = stage


class BudgetExceededError(DbxNativeError):
    """A call would take spending past a configured budget; it was not sent."""


class OperationTimeoutError(DbxNativeError):
    """A long-running operation did not reach the wanted state in time.

    Attributes:
        last_state: The last state seen before giving up (an object, a dict or a string).
        timeout: The timeout in seconds that passed.
    """

    def __init__(self, message: str, *, last_state: Any = None, timeout: float | None = None) -> None:
        super().__init__(message)
        self.last_state = last_state
        self.timeout = timeout


class JobRunFailedError(DbxNativeError):
    """A Lakeflow Jobs run ended without success (failed, canceled, timed out or skipped).

    Raised by `JobRun.raise_for_failure()` and by `JobRunner` methods called with `check=True`; the run itself
    finished on the server, so retrying the call will not help: read the message, fix the job, run it again.

    Attributes:
        run_id: The run's id.
        job_id: Its job's id (`None` for a one-off `submit`).
        state: Its final `status.state` (`TERMINATED`).
        termination_code: Why it ended (`RUN_EXECUTION_ERROR`, `USER_CANCELED`, `DRIVER_ERROR`, ...).
        termination_type: `CLIENT_ERROR`, `INTERNAL_ERROR`, `CLOUD_FAILURE` or `SUCCESS`.
        server_message: What the service said about it.
        run: The `JobRun`, with its task runs.
    """

    def __init__(
        self,
        message: str,
        *,
        run_id: int,
        job_id: int | None = None,
        state: str | None = None,
        termination_code: str | None = None,
        termination_type: str | None = None,
        server_message: str | None = None,
        run: Any = None,
    ) -> None:
        super().__init__(message)
        self.run_id = run_id
        self.job_id = job_id
        self.state = state
        self.termination_code = termination_code
        self.termination_type = termination_type
        self.server_message = server_message
        self.run = run


class BundleError(DbxNativeError):
    """A bundle could not be loaded, parsed or resolved.

    Attributes:
        path: The file at fault, when one is known.
        line: 1-based line in that file, when known.
        column: 1-based column, when known.
    """

    def __init__(
        self, message: str, *, path: str | None = None, line: int | None = None, column: int | None = None
    ) -> None:
        super().__init__(message)
        self.path = path
        self.line = line
        self.column = column


# Tracebacks read `dbx_native.errors.NotFoundError`; nothing to rewrite since the classes live here.
