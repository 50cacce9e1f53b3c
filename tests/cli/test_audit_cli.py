from __future__ import annotations

import json
from pathlib import Path

import pytest

from dbx_native.cli import main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fraud-detection"


def test_audit_prints_the_score_and_exits_zero_whatever_it_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", str(tmp_path)]) == 0
    assert capsys.readouterr().out.startswith("Databricks-Native Score: 0% (0/12)")


def test_audit_json_of_the_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", str(EXAMPLE), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["score"] == 12
    assert all(c["evidence"] for c in data["components"])


def test_fail_under_turns_a_low_score_into_exit_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", str(tmp_path), "--fail-under", "6"]) == 1
    assert "under 6" in capsys.readouterr().err
    assert main(["audit", str(EXAMPLE), "--fail-under", "12"]) == 0


def test_audit_of_a_missing_directory_exits_two(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", str(tmp_path / "nope")]) == 2
    assert "not a directory" in capsys.readouterr().err
