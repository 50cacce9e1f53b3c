"""One span per operation with safe attributes; none when telemetry is off."""

from __future__ import annotations

from typing import Any

import pytest

from canary import CANARY
from dbx_native import DbxConfig, RestClient
from dbx_native._core.clock import FakeClock
from dbx_native.errors import NotFoundError
from dbx_native.local import LocalWorkspace


def test_each_call_is_one_span_with_http_attributes(span_exporter: Any) -> None:
    ws = LocalWorkspace(token=CANARY)
    with ws.intercept():
        client = RestClient(config=DbxConfig(host=ws.host, token=CANARY), clock=FakeClock())
        ws.faults.add(status=503, times=1, path="databricks-config")
        client.get("/.well-known/databricks-config")
    spans = span_exporter.get_finished_spans()
    assert [s.name for s in spans] == ["rest.get"]
    attrs = dict(spans[0].attributes)
    assert attrs["http.request.method"] == "GET"
    assert attrs["url.path"] == "/.well-known/databricks-config"
    assert attrs["http.response.status_code"] == 200
    assert attrs["dbx_native.attempts"] == 2
    assert attrs["dbx_native.client"] == "rest"
    assert not any("authorization" in k.lower() for k in attrs)


def test_a_failed_call_marks_the_span_with_the_error_type(span_exporter: Any) -> None:
    ws = LocalWorkspace()
    with ws.intercept(), pytest.raises(NotFoundError):
        RestClient(config=DbxConfig(host=ws.host, token=CANARY)).get("/api/2.0/missing")
    (span,) = span_exporter.get_finished_spans()
    assert span.attributes["error.type"] == "NotFoundError"
    assert span.status.status_code.name == "ERROR"


def test_telemetry_off_records_no_span(span_exporter: Any) -> None:
    ws = LocalWorkspace()
    with ws.intercept():
        RestClient(config=DbxConfig(host=ws.host, token=CANARY, telemetry=False)).get("/.well-known/databricks-config")
    assert span_exporter.get_finished_spans() == ()
