"""The monitoring example runs on the local workspace and prints the drift it promises."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "monitoring_drift.py"


def test_monitoring_example_creates_then_keeps_the_monitor_and_reports_drift() -> None:
    out = subprocess.run([sys.executable, str(EXAMPLE)], check=True, capture_output=True, text=True, timeout=120).stdout
    assert "monitor on main.fraud.predictions: created" in out
    assert "second ensure: unchanged" in out
    assert "refresh 1: SUCCESS" in out
    assert "(BASELINE, window 2026-11-24 00:00): DRIFTED" in out
