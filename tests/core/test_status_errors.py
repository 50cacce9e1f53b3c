"""Error responses become the right dbx_native error, with a message that says what to do next."""

from __future__ import annotations

import json

import pytest

from dbx_native import errors
from dbx_native._core.status import error_from_response, translate_sdk_error


def body(code: str | None, message: str = "boom") -> bytes:
    return json.dumps({"error_code": code, "message": message} if code else {"message": message}).encode()


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (400, "INVALID_PARAMETER_VALUE", errors.BadRequestError),
        (400, None, errors.BadRequestError),
        (401, None, errors.AuthenticationError),
        (403, "PERMISSION_DENIED", errors.PermissionDeniedError),
        (404, "RESOURCE_DOES_NOT_EXIST", errors.NotFoundError),
        (404, "ENDPOINT_NOT_FOUND", errors.NotFoundError),
        (409, "RESOURCE_ALREADY_EXISTS", errors.ConflictError),
        (429, "REQUEST_LIMIT_EXCEEDED", errors.RateLimitError),
        (400, "REQUEST_LIMIT_EXCEEDED", errors.RateLimitError),
        (500, "INTERNAL_ERROR", errors.ServerError),
        (502, None, errors.ServerError),
        (503, "TEMPORARILY_UNAVAILABLE", errors.ServiceUnavailableError),
        (504, None, errors.ServerError),
        (418, None, errors.APIStatusError),
    ],
)
def test_status_and_error_code_choose_the_class(status: int, code: str | None, cls: type[Exception]) -> None:
    err = error_from_response(status=status, content=body(code), method="GET", url="https://h/api/2.0/x?a=1")
    assert type(err) is cls
    assert err.status_code == status
    assert err.error_code == code
    assert "boom" in str(err)
    assert "(GET /api/2.0/x)" in str(err)


def test_every_status_error_is_an_api_error_and_a_dbx_native_error() -> None:
    err = error_from_response(status=503, content=b"")
    assert isinstance(err, errors.ServerError)
    assert isinstance(err, errors.APIStatusError)
    assert isinstance(err, errors.APIError)
    assert isinstance(err, errors.DbxNativeError)


def test_rate_limit_message_suggests_provisioned_throughput_and_says_how_long() -> None:
    err = error_from_response(status=429, content=body("REQUEST_LIMIT_EXCEEDED"), retry_after=3.0)
    assert "provisioned throughput" in str(err)
    assert "3 s" in str(err)
    assert err.retry_after == 3.0


def test_request_id_is_in_str_and_attribute() -> None:
    err = error_from_response(status=404, content=body("NOT_FOUND"), request_id="req-123")
    assert err.request_id == "req-123"
    assert str(err).endswith("(request id req-123)")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"<html>gateway timeout</html>", "<html>gateway timeout</html>"),
        (b'{"error": "plain error field"}', "plain error field"),
        (b'{"error": {"message": "openai shaped", "code": "rate_limit"}}', "openai shaped"),
        (b'{"detail": "scim detail"}', "scim detail"),
        (b"", "Service Unavailable"),
    ],
)
def test_non_databricks_bodies_still_give_a_message(content: bytes, message: str) -> None:
    err = error_from_response(status=503, content=content, reason="Service Unavailable")
    assert message in str(err)


def test_sdk_errors_are_translated_by_class() -> None:
    from databricks.sdk.errors import NotFound, ResourceDoesNotExist, TemporarilyUnavailable, TooManyRequests

    cases = [
        (ResourceDoesNotExist("no table", error_code="RESOURCE_DOES_NOT_EXIST"), errors.NotFoundError),
        (NotFound("nope"), errors.NotFoundError),
        (TooManyRequests("slow down", error_code="REQUEST_LIMIT_EXCEEDED"), errors.RateLimitError),
        (TemporarilyUnavailable("later"), errors.ServiceUnavailableError),
    ]
    for sdk_err, cls in cases:
        ours = translate_sdk_error(sdk_err)
        assert isinstance(ours, cls), (sdk_err, ours)
        assert str(sdk_err) in str(ours)


def test_unknown_sdk_error_becomes_api_error() -> None:
    assert type(translate_sdk_error(RuntimeError("x"))) is errors.APIError
