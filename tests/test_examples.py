"""The example scripts run (on the local workspace) and print what they promise."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_gateway_chat_example_runs_a_tool_loop() -> None:
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / "gateway_chat.py")], check=True, capture_output=True, text=True, timeout=120
    ).stdout
    assert "hold the payment" in out
    assert "endpoint=fraud-llm" in out
