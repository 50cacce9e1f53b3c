from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from dbx_native.audit import COMPONENTS, AuditReport, audit_project, render

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fraud-detection"


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root


def _used(report: AuditReport) -> set[str]:
    return {c.key for c in (*report.components, *report.extras) if c.used}


def test_the_example_bundle_scores_twelve_out_of_twelve() -> None:
    report = audit_project(EXAMPLE)
    assert (report.score, report.total, report.percent) == (12, 12, 100)
    assert _used(report) == {c.key for c in COMPONENTS} | {"uc_prompts", "guardrails"}
    assert report.bundles == ("databricks.yml",)
    assert not report.problems


def test_an_empty_project_scores_zero(tmp_path: Path) -> None:
    report = audit_project(tmp_path)
    assert report.score == 0
    assert all(c.confidence == "none" and not c.evidence for c in report.components)


def test_code_evidence_carries_file_line_and_snippet(tmp_path: Path) -> None:
    _write(tmp_path, {"src/etl.py": "import os\n\nspark.sql('OPTIMIZE main.fraud.tx')\n"})
    delta = next(c for c in audit_project(tmp_path).components if c.key == "delta_lake")
    assert delta.used and delta.confidence == "high"
    assert (delta.evidence[0].file, delta.evidence[0].line) == ("src/etl.py", 3)
    assert delta.evidence[0].snippet == "spark.sql('OPTIMIZE main.fraud.tx')"


def test_commented_out_code_and_docstrings_do_not_count(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "a.py": '''
            """Someday: import mlflow and call mlflow.start_run()."""
            # import mlflow
            # mlflow.start_run()
            x = 1  # w.jobs.create(name="x")
            ''',
            "b.sql": "-- OPTIMIZE main.a.b\n/* CREATE STREAMING TABLE x\nAS SELECT 1 */\nSELECT 1;\n",
        },
    )
    assert _used(audit_project(tmp_path)) == set()


def test_sql_in_python_strings_and_sql_files_counts(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "a.py": 'spark.sql("""\n    CREATE OR REFRESH STREAMING TABLE bronze AS SELECT 1\n""")\n',
            "b.sql": "CREATE CATALOG IF NOT EXISTS fraud;\n",
        },
    )
    assert _used(audit_project(tmp_path)) == {"pipelines", "unity_catalog"}


def test_unrendered_templates_and_vendored_trees_do_not_count(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "template/{{.project_name}}/src/train.py": "import mlflow\nmlflow.start_run()\n",
            "gen/job.py.tmpl": "w.jobs.create(name='x')\n",
            "cookie/main.py": "# {{ cookiecutter.name }}\nfrom zerobus.sdk.sync import ZerobusSdk\nZerobusSdk(1, 2)\n",
            ".venv/lib/python3.11/site-packages/mlflow/x.py": "import mlflow\nmlflow.start_run()\n",
            "node_modules/x/y.py": "VectorSearchClient()\n",
            "vendor/lib.py": "FeatureEngineeringClient()\n",
        },
    )
    report = audit_project(tmp_path)
    assert _used(report) == set()
    assert report.files_scanned == 0


def test_notebooks_count_code_cells_not_markdown(tmp_path: Path) -> None:
    notebook = {
        "cells": [
            {"cell_type": "markdown", "source": ["We should use mlflow.start_run() later"]},
            {"cell_type": "code", "source": ["%md\n", "VectorSearchClient()"]},
            {"cell_type": "code", "source": ["%sql\n", "OPTIMIZE main.fraud.tx"]},
            {"cell_type": "code", "source": ["import x\n", "client = VectorSearchClient()\n"]},
        ]
    }
    (tmp_path / "nb.ipynb").write_text(json.dumps(notebook), encoding="utf-8")
    report = audit_project(tmp_path)
    assert _used(report) == {"delta_lake", "vector_search"}
    search = next(c for c in report.components if c.key == "vector_search")
    assert [(e.file, e.line, e.kind) for e in search.evidence] == [("nb.ipynb[cell 4]", 2, "notebook")]


def test_databricks_source_notebooks_read_magic_sql_and_skip_markdown(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "nb.py": """
            # Databricks notebook source
            # MAGIC %md
            # MAGIC Remember to mlflow.start_run() one day

            # COMMAND ----------

            # MAGIC %sql
            # MAGIC CREATE MATERIALIZED VIEW gold AS SELECT 1
            """
        },
    )
    report = audit_project(tmp_path)
    assert _used(report) == {"pipelines"}
    pipelines = next(c for c in report.components if c.key == "pipelines")
    assert pipelines.evidence[0].line == 8


def test_a_dependency_alone_is_low_confidence_and_not_counted(tmp_path: Path) -> None:
    _write(tmp_path, {"requirements.txt": "mlflow==3.1\n"})
    mlflow = next(c for c in audit_project(tmp_path).components if c.key == "mlflow")
    assert (mlflow.used, mlflow.confidence, mlflow.evidence[0].kind) == (False, "low", "dependency")


def test_bundle_resources_point_at_their_definition(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "proj/databricks.yml": "bundle:\n  name: p\ninclude: [resources/*.yml]\n",
            "proj/resources/mon.yml": "resources:\n  quality_monitors:\n    m:\n      table_name: a.b.c\n",
        },
    )
    report = audit_project(tmp_path)
    dq = next(c for c in report.components if c.key == "data_quality")
    assert (dq.evidence[0].file, dq.evidence[0].line, dq.evidence[0].snippet) == ("proj/resources/mon.yml", 3, "m:")
    bundles = next(c for c in report.components if c.key == "bundles")
    assert str(bundles.evidence[0]) == "proj/databricks.yml:2"


def test_a_broken_bundle_is_reported_and_still_counts_as_a_bundle(tmp_path: Path) -> None:
    _write(tmp_path, {"databricks.yml": "bundle: [unclosed\n"})
    report = audit_project(tmp_path)
    assert "bundles" in _used(report)
    assert report.problems and "databricks.yml" in report.problems[0]


def test_render_reads_like_the_checklist(tmp_path: Path) -> None:
    _write(tmp_path, {"a.py": "import mlflow\n"})
    report = audit_project(tmp_path)
    table = render(report, "table")
    assert table.splitlines()[0] == "Databricks-Native Score: 8% (1/12)"
    assert "[x] MLflow" in table
    assert "[ ] Zerobus" in table
    assert render(report, "markdown").startswith("## Databricks-Native Score: 8% (1/12)")
    data = json.loads(render(report, "json"))
    assert data["score"] == 1 and data["percent"] == 8 and len(data["components"]) == 12


def test_a_missing_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(NotADirectoryError):
        audit_project(tmp_path / "nope")
