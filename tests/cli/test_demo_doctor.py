"""The `demo` and `doctor` commands, run in-process against the local workspace."""

from __future__ import annotations

import json

import pytest

from canary import CANARY
from dbx_native.cli import main
from dbx_native.local import LocalWorkspace


def test_demo_runs_every_step(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    for marker in ("[1] Local workspace", "[3] SQL statement", "3 attempts", "NotFoundError: 404", "[8] GatewayClient"):
        assert marker in out
    assert "ensured again: v1, 0 writes" in out and "second load came from the cache (0 requests)" in out
    assert "created, then unchanged" in out and "QUEUED -> PENDING -> RUNNING -> TERMINATED, SUCCESS" in out
    assert "m_004" in out and "m_001" not in out  # the parameterised filter kept only risky merchants


def test_doctor_reports_method_and_host_but_never_the_token(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = LocalWorkspace(token=CANARY)
    with ws.serve() as server:
        monkeypatch.setenv("DATABRICKS_HOST", server.host)
        monkeypatch.setenv("DATABRICKS_TOKEN", CANARY)
        code = main(["doctor", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report
    assert report["auth_method"] == "pat"
    assert report["host"] == server.host
    assert all(check["ok"] for check in report["checks"])
    assert CANARY not in json.dumps(report)


def test_doctor_fails_cleanly_on_a_wrong_token(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = LocalWorkspace(token=CANARY)
    with ws.serve() as server:
        monkeypatch.setenv("DATABRICKS_HOST", server.host)
        monkeypatch.setenv("DATABRICKS_TOKEN", "not-the-right-token")
        code = main(["doctor"])
    out = capsys.readouterr().out
    assert code == 1
    assert "[FAIL] authenticated call" in out
    assert "AuthenticationError" in out
    assert "not-the-right-token" not in out


def test_doctor_reports_a_bad_config_value(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBX_NATIVE_TIMEOUTS__READ", "-1")
    assert main(["doctor"]) == 1
    assert "timeouts.read" in capsys.readouterr().out


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "demo" in capsys.readouterr().out


def test_demo_gateway_step_shows_fallback_cost_and_masking(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out.split("[8] GatewayClient", 1)[1]
    assert "model saw Card [CREDIT_CARD] (holder [EMAIL])" in out
    assert "endpoint fraud-llm-backup after ['fraud-llm'] failed" in out
    assert "cost $0.0000" in out or "cost $0.000" in out
    assert "4111" not in out.split("model saw", 1)[1]
