"""The vector memory example script and demo step run on the local workspace and print what they promise."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dbx_native.local import LocalWorkspace

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "vector_memory_agent.py"


def test_the_example_syncs_searches_recalls_and_forgets() -> None:
    out = subprocess.run([sys.executable, str(EXAMPLE)], check=True, capture_output=True, text=True, timeout=120).stdout
    assert "wrote ['conv-42:2', 'conv-42:3']" in out
    assert "user messages before seq 2: ['conv-42:0']" in out
    assert "forgot 4 messages" in out


def test_the_demo_step_shows_an_idempotent_sync(capsys: pytest.CaptureFixture[str]) -> None:
    from dbx_native.cli._demo_vector import _vector_step

    ws = LocalWorkspace()
    with ws.serve() as server:
        _vector_step(7, ws, server.config)
    out = capsys.readouterr().out
    assert "[7] Agent memory" in out
    assert "synced 3 messages, replayed sync wrote 0" in out
    assert "-> conv-42:2 [user]" in out
