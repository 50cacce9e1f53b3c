from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from dbx_native.cli import main

BUNDLE = """
bundle: {name: cli}
variables:
  catalog: {default: main}
resources:
  jobs:
    etl:
      name: "etl ${var.catalog}"
      tasks: [{task_key: a, max_retries: 1}]
targets:
  dev: {default: true, mode: development}
  prod:
    mode: production
    variables: {catalog: prod}
"""


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    (tmp_path / "databricks.yml").write_text(textwrap.dedent(BUNDLE), encoding="utf-8")
    return tmp_path


def test_inspect_json_prints_the_resolved_inventory(bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bundle", "inspect", str(bundle), "--target", "prod", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["target"] == "prod"
    assert data["resources"]["jobs"]["etl"]["name"] == "etl prod"


def test_inspect_table_lists_resources_and_variables(bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bundle", "inspect", str(bundle), "--var", "catalog=cli_cat"]) == 0
    out = capsys.readouterr().out
    assert "target 'dev'" in out
    assert "etl cli_cat" in out
    assert "1 resources" in out


def test_diff_markdown_shows_changed_fields(bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bundle", "diff", str(bundle), "dev", "prod", "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("## Differences from 'dev' to 'prod'")
    assert "| changed | variables.catalog | main | prod |" in out


def test_validate_exits_one_on_errors_and_prints_locations(bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bundle", "validate", str(bundle), "-t", "prod", "--format", "json"]) == 0  # warnings only
    findings = json.loads(capsys.readouterr().out)["findings"]
    assert {f["code"] for f in findings} >= {"production-without-run-as", "job-without-timeout"}
    assert all(f["location"].startswith("databricks.yml:") for f in findings)
    broken = bundle / "databricks.yml"
    broken.write_text(broken.read_text() + "    resources: {jobs: {x: {name: '${var.nope}'}}}\n", encoding="utf-8")
    assert main(["bundle", "validate", str(bundle), "-t", "prod"]) == 1
    assert "dangling-reference" in capsys.readouterr().out


def test_load_errors_exit_one_with_the_location_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "databricks.yml").write_text("bundle:\n  name: [oops\n", encoding="utf-8")
    assert main(["bundle", "inspect", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: databricks.yml:")


def test_bad_var_syntax_is_refused(bundle: Path) -> None:
    with pytest.raises(SystemExit, match="NAME=VALUE"):
        main(["bundle", "inspect", str(bundle), "--var", "novalue"])


def test_inspect_table_ends_with_python_status_and_loader_notes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = textwrap.dedent(BUNDLE).replace("  dev: {default: true, mode: development}", "  dev: {default: true}")
    text += "presets:\n  source_linked_deployment: true\n"
    (tmp_path / "databricks.yml").write_text(text, encoding="utf-8")
    assert main(["bundle", "inspect", str(tmp_path), "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    notes = [line for line in out.splitlines() if line.startswith("- note: presets.source_linked_deployment:")]
    assert len(notes) == 1
