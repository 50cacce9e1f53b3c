"""Turning an HTTP error response (or a databricks-sdk error) into a `dbx_native.errors` exception."""

from __future__ import annotations

import email.utils
import json
import math
from typing import Any

from dbx_native import errors

__all__ = ["error_from_response", "parse_retry_after", "translate_sdk_error"]

_BY_STATUS: dict[int, type[errors.APIStatusError]] = {
    400: errors.BadRequestError,
    401: errors.AuthenticationError,
    403: errors.PermissionDeniedError,
    404: errors.NotFoundError,
    409: errors.ConflictError,
    429: errors.RateLimitError,
    503: errors.ServiceUnavailableError,
}

# Databricks error_code -> class; the code is more precise than the status (e.g. a 400 REQUEST_LIMIT_EXCEEDED).
_BY_ERROR_CODE: dict[str, type[errors.APIStatusError]] = {
    "INVALID_PARAMETER_VALUE": errors.BadRequestError,
    "INVALID_STATE": errors.BadRequestError,
    "MALFORMED_REQUEST": errors.BadRequestError,
    "BAD_REQUEST": errors.BadRequestError,
    "UNAUTHENTICATED": errors.AuthenticationError,
    "PERMISSION_DENIED": errors.PermissionDeniedError,
    "RESOURCE_DOES_NOT_EXIST": errors.NotFoundError,
    "NOT_FOUND": errors.NotFoundError,
    "ENDPOINT_NOT_FOUND": errors.NotFoundError,
    "TABLE_DOES_NOT_EXIST": errors.NotFoundError,
    "SCHEMA_DOES_NOT_EXIST": errors.NotFoundError,
    "CATALOG_DOES_NOT_EXIST": errors.NotFoundError,
    "RESOURCE_ALREADY_EXISTS": errors.ConflictError,
    "ALREADY_EXISTS": errors.ConflictError,
    "RESOURCE_CONFLICT": errors.ConflictError,
    "ABORTED": errors.ConflictError,
    "REQUEST_LIMIT_EXCEEDED": errors.RateLimitError,
    "RESOURCE_EXHAUSTED": errors.RateLimitError,
    "TOO_MANY_REQUESTS": errors.RateLimitError,
    "TEMPORARILY_UNAVAILABLE": errors.ServiceUnavailableError,
    "INTERNAL_ERROR": errors.ServerError,
}

_HINTS: dict[type[errors.APIStatusError], str] = {
    errors.AuthenticationError: (
        "Check the token or credentials (`dbx-native doctor` shows which auth method is in use)."
    ),
    errors.PermissionDeniedError: (
        "The identity is authenticated but lacks a permission on this resource: ask for a grant."
    ),
    errors.NotFoundError: "Check the name and that it exists in this workspace.",
    errors.ConflictError: "The resource exists already or is changing; get its state and retry if it is transient.",
    errors.RateLimitError: (
        "Slow down or raise the limit; for a pay-per-token serving endpoint under steady load, "
        "consider provisioned throughput."
    ),
    errors.ServiceUnavailableError: "The service is temporarily unavailable; try again later.",
    errors.ServerError: "The service failed; retry later, and report the request id if it persists.",
    errors.BadRequestError: "The request was refused as invalid: check the arguments.",
}


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a `Retry-After` header: delta-seconds or an HTTP-date; `None` when absent or garbled.

    Args:
        value: The header value.
        now: The current wall time (seconds since the epoch), for HTTP dates.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # RFC 7231 dates are GMT; a naive parse means the zone was left out
            return None
        seconds = when.timestamp() - now
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)


def _decode_body(content: bytes) -> Any:
    if not content:
        return None
    try:
        return json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return None


def _message_and_code(body: Any, content: bytes, reason: str) -> tuple[str, str | None]:
    if isinstance(body, dict):
        code = body.get("error_code") or body.get("errorCode")
        message = body.get("message") or body.get("detail") or body.get("error")
        if isinstance(message, dict):  # OpenAI-style {"error": {"message": ..., "code": ...}}
            code = code or message.get("code")
            message = message.get("message")
        if message:
            return str(message), str(code) if code else None
        if code:
            return reason or "error", str(code)
    text = content[:500].decode("utf-8", errors="replace").strip() if content else ""
    return (text or reason or "no error message"), None


def error_from_response(
    *,
    status: int,
    content: bytes,
    reason: str = "",
    method: str | None = None,
    url: str | None = None,
    request_id: str | None = None,
    retry_after: float | None = None,
) -> errors.APIStatusError:
    """The `APIStatusError` subclass for an HTTP error answer, with a message that says what to do."""
    body = _decode_body(content)
    message, error_code = _message_and_code(body, content, reason)
    cls = _BY_ERROR_CODE.get(error_code or "") or _BY_STATUS.get(status)
    if cls is None:
        cls = errors.ServerError if status >= 500 else errors.APIStatusError
    hint = _HINTS.get(cls, "")
    if cls is errors.RateLimitError and retry_after is not None:
        hint = f"The server asked to wait {retry_after:g} s. " + hint
    where = f" ({method} {_path_of(url)})" if method and url else ""
    label = f"{status} {error_code}" if error_code else str(status)
    text = f"{label}{where}: {message.rstrip('.')}." + (f" {hint}" if hint else "")
    return cls(
        text,
        status_code=status,
        error_code=error_code,
        method=method,
        url=url,
        request_id=request_id,
        retry_after=retry_after,
        body=body,
    )


def _path_of(url: str) -> str:
    rest = url.split("://", 1)[-1]
    path = "/" + rest.split("/", 1)[1] if "/" in rest else "/"
    return path.split("?", 1)[0]


def translate_sdk_error(err: BaseException) -> errors.DbxNativeError:
    """Our error for a databricks-sdk `DatabricksError` (raise it `from err`).

    Imports nothing from the SDK: the caller already holds an SDK error, so matching is by attributes and
    class names, which keeps this module cheap to import.
    """
    status = _sdk_status(err)
    code = getattr(err, "error_code", None)
    message = str(err) or type(err).__name__
    if status is None and code is None:
        return errors.APIError(f"Databricks SDK call failed: {message}")
    retry_after = getattr(err, "retry_after_secs", None)
    content = json.dumps({"error_code": code, "message": message}).encode()
    return error_from_response(
        status=status or 500, content=content, retry_after=float(retry_after) if retry_after else None
    )


_SDK_STATUS_BY_CLASS = {
    "BadRequest": 400,
    "Unauthenticated": 401,
    "PermissionDenied": 403,
    "NotFound": 404,
    "ResourceConflict": 409,
    "Aborted": 409,
    "AlreadyExists": 409,
    "TooManyRequests": 429,
    "RequestLimitExceeded": 429,
    "ResourceExhausted": 429,
    "Cancelled": 499,
    "InternalError": 500,
    "NotImplemented": 501,
    "TemporarilyUnavailable": 503,
    "DeadlineExceeded": 504,
}


def _sdk_status(err: BaseException) -> int | None:
    for klass in type(err).__mro__:
        status = _SDK_STATUS_BY_CLASS.get(klass.__name__)
        if status is not None:
            return status
    return None
