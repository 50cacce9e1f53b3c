"""`import dbx_native` stays cheap: no databricks-sdk, no pydantic, no OpenTelemetry until needed."""

from __future__ import annotations

import json
import subprocess
import sys


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
        check=True,
        capture_output=True,
        text=True,
        env={"PATH": "", "PYTHONDONTWRITEBYTECODE": "1"},
    ).stdout
    return set(json.loads(out.strip().splitlines()[-1]))


def test_import_dbx_native_loads_no_sdk_no_pydantic_no_otel() -> None:
    modules = _modules_after("import dbx_native")
    assert "databricks.sdk" not in modules
    assert "pydantic" not in modules
    assert "opentelemetry" not in modules
    assert "requests" not in modules


def test_static_token_client_does_not_import_the_sdk() -> None:
    code = (
        "from dbx_native import RestClient, DbxConfig\n"
        "c = RestClient(config=DbxConfig(host='https://h.example.com', token='tok-123456'))\n"
        "assert c._http.credentials.method == 'pat'\n"
    )
    modules = _modules_after(code)
    assert "dbx_native.rest" in modules
    assert "databricks.sdk" not in modules


def test_public_names_resolve_lazily() -> None:
    import dbx_native

    for name in dbx_native.__all__:
        assert getattr(dbx_native, name) is not None
