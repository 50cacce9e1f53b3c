"""Python-defined resources go through `python -m databricks.bundles.build`, as in the CLI.

A stand-in `databricks.bundles.build` (same command line and JSON files as the real one) is put first on
PYTHONPATH, so these tests check the protocol without installing `databricks-bundles`.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from dbx_native.bundles import BundleInspector

MakeBundle = Callable[[dict[str, str]], Path]

STUB_BUILD = """
import argparse, importlib, json, os, sys

parser = argparse.ArgumentParser()
for name in ("--phase", "--input", "--output", "--diagnostics", "--locations"):
    parser.add_argument(name)
args = parser.parse_args()
config = json.load(open(args.input))
sys.path.insert(0, os.getcwd())
resources = config.setdefault("resources", {})
for ref in config["python"]["resources"]:
    module, _, fn = ref.partition(":")
    added = getattr(importlib.import_module(module), fn)(config["bundle"]["target"], config["variables"])
    for rtype, items in added.items():
        for key, value in items.items():
            resources.setdefault(rtype, {}).setdefault(key, value)
json.dump(config, open(args.output, "w"))
open(args.diagnostics, "w").close()
"""

BUNDLE = """
bundle: {name: py}
python:
  resources: ["project_resources:load"]
variables:
  catalog: {default: main}
resources:
  jobs:
    yaml_job: {name: from yaml}
targets:
  dev: {mode: development, default: true}
"""

RESOURCES = """
import pathlib

def load(target, variables):
    pathlib.Path("ran.marker").write_text("yes")
    return {
        "jobs": {
            "py_job": {"name": f"from python {target} ${{var.catalog}}", "tasks": [{"task_key": "a"}]},
            "yaml_job": {"name": "must not replace the YAML one"},
        }
    }
"""


@pytest.fixture
def stub_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    stub = tmp_path / "stub"
    (stub / "databricks" / "bundles").mkdir(parents=True)
    (stub / "databricks" / "__init__.py").write_text("", encoding="utf-8")
    monkeypatch.setenv("PYTHONPATH", str(stub))
    return stub


def test_python_resources_are_added_then_resolved_like_yaml_ones(make_bundle: MakeBundle, stub_path: Path) -> None:
    (stub_path / "databricks" / "bundles" / "__init__.py").write_text("", encoding="utf-8")
    (stub_path / "databricks" / "bundles" / "build.py").write_text(textwrap.dedent(STUB_BUILD), encoding="utf-8")
    root = make_bundle({"databricks.yml": BUNDLE, "project_resources.py": RESOURCES})
    inv = BundleInspector.load(root).inventory()
    assert inv.python_status == "loaded"
    jobs = inv.resources["jobs"]
    assert jobs["yaml_job"]["name"].endswith("from yaml")
    # presets and interpolation apply to Python resources too
    assert jobs["py_job"]["name"] == "[dev ${workspace.current_user.short_name}] from python dev main"


def test_without_databricks_bundles_the_section_is_reported_not_loaded(
    make_bundle: MakeBundle, stub_path: Path
) -> None:
    root = make_bundle({"databricks.yml": BUNDLE, "project_resources.py": RESOURCES})
    inv = BundleInspector.load(root).inventory()
    assert inv.python_status is not None and "databricks-bundles is not installed" in inv.python_status
    assert set(inv.resources["jobs"]) == {"yaml_job"}
    assert inv.python == {"resources": ["project_resources:load"]}


def test_load_python_false_never_runs_project_code(make_bundle: MakeBundle, stub_path: Path) -> None:
    (stub_path / "databricks" / "bundles" / "__init__.py").write_text("", encoding="utf-8")
    (stub_path / "databricks" / "bundles" / "build.py").write_text(textwrap.dedent(STUB_BUILD), encoding="utf-8")
    root = make_bundle({"databricks.yml": BUNDLE, "project_resources.py": RESOURCES})
    inv = BundleInspector.load(root, load_python=False).inventory()
    assert inv.python_status == "not loaded: running project code was turned off"
    assert not (root / "ran.marker").exists()
    assert set(inv.resources["jobs"]) == {"yaml_job"}
