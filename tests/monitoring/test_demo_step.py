"""The monitoring demo step: traces exported, a monitor refreshed, a drift report printed."""

from __future__ import annotations

import pytest

from dbx_native.cli._demo_monitoring import TRACES, _monitoring_step
from dbx_native.local import LocalWorkspace


def test_demo_step_prints_trace_export_monitor_and_drift(capsys: pytest.CaptureFixture[str]) -> None:
    ws = LocalWorkspace()
    with ws.serve() as server:
        _monitoring_step(9, ws, server.config)
    out = capsys.readouterr().out
    assert "[9] Agent traces" in out
    assert "12 baseline spans, then 12 spans (4 failed calls)" in out
    assert "refresh SUCCESS" in out and "DRIFTED" in out
    assert len(ws.traces.spans(TRACES)) == 12
