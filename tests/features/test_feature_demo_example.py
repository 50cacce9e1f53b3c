"""The features demo step and example script run on the local workspace and print what they promise."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from canary import CANARY
from dbx_native import DbxConfig
from dbx_native.cli._demo_features import _features_step
from dbx_native.local import LocalWorkspace

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "features_lookup.py"


def test_demo_step_shows_batching_a_cache_hit_and_a_stale_value(capsys: pytest.CaptureFixture[str]) -> None:
    ws = LocalWorkspace(token=CANARY)
    with ws.serve() as server:
        _features_step(9, ws, DbxConfig(host=server.host, token=CANARY))
    out = capsys.readouterr().out
    assert "[9] FeatureLookup" in out
    assert "m_002: 0.81, m_404: None, m_004: 0.97 in 1 round trip" in out
    assert "1 round trip in all" in out and "stale=True" in out
    assert len(out.strip().splitlines()) <= 5


def test_example_script_reviews_merchants_from_one_round_trip() -> None:
    out = subprocess.run([sys.executable, str(EXAMPLE)], check=True, capture_output=True, text=True, timeout=120).stdout
    assert "m_002: risk 0.81, 7 chargebacks -> hold the payment" in out
    assert "m_999: no features" in out
    assert "round trips 1, cache hits 1, misses 3" in out
