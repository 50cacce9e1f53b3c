"""``python.mutators`` run through ``python -m databricks.bundles.build --phase apply_mutators``, as in the CLI.

The tests marked with the real library need ``databricks-bundles`` (each spawns one interpreter, about a second);
the others use a stand-in ``databricks.bundles.build`` put first on PYTHONPATH, or check nothing is spawned.
"""

from __future__ import annotations

import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dbx_native.bundles import BundleInspector

MakeBundle = Callable[[dict[str, str]], Path]
SHORT = "${workspace.current_user.short_name}"

BUNDLE = """
bundle: {name: mb}
python:
  mutators: MUTATORS
variables:
  catalog: {default: main}
resources:
  jobs:
    nightly:
      name: nightly ${var.catalog}
      tasks:
        - task_key: ingest
          notebook_task: {notebook_path: ./nb.py}
          libraries: []
    reader:
      name: reader
      description: reads ${resources.jobs.nightly.name}
targets:
  dev: {mode: development, default: true}
  prod: {mode: production}
"""

MUTATORS = """
from dataclasses import replace

from databricks.bundles.core import Bundle, job_mutator
from databricks.bundles.jobs import Job


@job_mutator
def rename(bundle: Bundle, job: Job) -> Job:
    if "nightly" in str(job.name):
        return replace(job, name=f"{job.name} ({bundle.target}, {bundle.variables['catalog']})")
    return job


@job_mutator
def add_tag(job: Job) -> Job:
    return replace(job, tags={**job.tags, "owner": "data"})


@job_mutator
def retries(job: Job) -> Job:
    return replace(job, tasks=[replace(task, max_retries=3) for task in job.tasks])


@job_mutator
def seen(job: Job) -> Job:
    return replace(job, description=f"saw {job.name}") if job.name and "nightly" in job.name else job


@job_mutator
def unchanged(job: Job) -> Job:
    return job


@job_mutator
def explode(job: Job) -> Job:
    raise ValueError("boom: no cluster for " + str(job.name))
"""


def _bundle(make_bundle: MakeBundle, mutators: list[str]) -> Path:
    names = "[" + ", ".join(f'"mutators:{name}"' for name in mutators) + "]"
    return make_bundle({"databricks.yml": BUNDLE.replace("MUTATORS", names, 1), "mutators.py": MUTATORS})


@pytest.fixture
def bundles_library() -> None:
    pytest.importorskip("databricks.bundles")


@pytest.mark.usefixtures("bundles_library")
def test_mutators_rename_add_tags_and_change_tasks_and_say_what_changed(make_bundle: MakeBundle) -> None:
    inv = BundleInspector.load(_bundle(make_bundle, ["rename", "add_tag", "retries"])).inventory()
    assert inv.mutators_status == "applied"
    nightly = inv.resources["jobs"]["nightly"]
    # mutators run after presets, on resolved variables, and presets do not run again on their output
    assert nightly["name"] == f"[dev {SHORT}] nightly main (dev, main)"
    assert nightly["tags"] == {"dev": SHORT, "owner": "data"}
    assert nightly["tasks"][0]["max_retries"] == 3
    # references to resources see the mutated values
    assert inv.resources["jobs"]["reader"]["description"] == f"reads [dev {SHORT}] nightly main (dev, main)"
    changes = {(c.resource_type, c.key): {f.path: f.after for f in c.changes} for c in inv.python_changes}
    assert changes[("jobs", "nightly")] == {
        "name": f"[dev {SHORT}] nightly main (dev, main)",
        "tags.owner": "data",
        "tasks[ingest].max_retries": 3,
    }
    assert changes[("jobs", "reader")] == {"tags.owner": "data"}
    assert inv.to_dict()["python_changes"][0]["key"] in {"nightly", "reader"}


@pytest.mark.usefixtures("bundles_library")
def test_mutators_see_the_resource_as_the_target_resolves_it(make_bundle: MakeBundle) -> None:
    root = _bundle(make_bundle, ["seen"])
    bi = BundleInspector.load(root)
    assert bi.inventory("prod").resources["jobs"]["nightly"]["description"] == "saw nightly main"
    assert bi.inventory("dev").resources["jobs"]["nightly"]["description"] == f"saw [dev {SHORT}] nightly main"


@pytest.mark.usefixtures("bundles_library")
def test_a_mutator_that_returns_the_resource_unchanged_changes_nothing(make_bundle: MakeBundle) -> None:
    inv = BundleInspector.load(_bundle(make_bundle, ["unchanged"])).inventory()
    assert inv.mutators_status == "applied"
    assert inv.python_changes == ()
    # the resource is kept as written, even what the library's models would drop (an empty list)
    assert inv.resources["jobs"]["nightly"]["tasks"][0]["libraries"] == []


@pytest.mark.usefixtures("bundles_library")
def test_a_mutator_that_raises_is_reported_and_the_load_does_not_fail(make_bundle: MakeBundle) -> None:
    inv = BundleInspector.load(_bundle(make_bundle, ["add_tag", "explode"])).inventory()
    assert inv.mutators_status is not None
    assert inv.mutators_status.startswith("python mutators not applied: Failed to apply 'explode' mutator")
    assert "ValueError: boom: no cluster for" in inv.mutators_status
    assert inv.python_changes == ()
    assert inv.resources["jobs"]["nightly"]["tags"] == {"dev": SHORT}  # nothing from the run is applied


STUB_BUILD = """
import argparse, json

parser = argparse.ArgumentParser()
for name in ("--phase", "--input", "--output", "--diagnostics", "--locations"):
    parser.add_argument(name)
args = parser.parse_args()
config = json.load(open(args.input))
assert args.phase == "apply_mutators", args.phase
jobs = config["resources"]["jobs"]
jobs["nightly"]["description"] = "target " + config["bundle"]["target"] + " " + config["variables"]["catalog"]["value"]
if config["python"]["mutators"] == ["adds"]:
    jobs["extra"] = {"name": "extra"}
json.dump(config, open(args.output, "w"))
open(args.diagnostics, "w").write(json.dumps({"severity": "warning", "summary": "job has no owner"}) + "\\n")
"""


@pytest.fixture
def stub_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    stub = tmp_path / "stub"
    (stub / "databricks" / "bundles").mkdir(parents=True)
    (stub / "databricks" / "__init__.py").write_text("", encoding="utf-8")
    monkeypatch.setenv("PYTHONPATH", str(stub))
    return stub


def _stub_bundle(make_bundle: MakeBundle, stub_path: Path, mutators: str) -> Path:
    (stub_path / "databricks" / "bundles" / "__init__.py").write_text("", encoding="utf-8")
    (stub_path / "databricks" / "bundles" / "build.py").write_text(textwrap.dedent(STUB_BUILD), encoding="utf-8")
    return make_bundle({"databricks.yml": BUNDLE.replace("MUTATORS", f"[{mutators}]", 1)})


def test_the_mutator_phase_gets_the_target_and_variables_and_its_warnings_become_notes(
    make_bundle: MakeBundle, stub_path: Path
) -> None:
    inv = BundleInspector.load(_stub_bundle(make_bundle, stub_path, "changes")).inventory("prod")
    assert inv.mutators_status == "applied"
    assert inv.resources["jobs"]["nightly"]["description"] == "target prod main"
    assert inv.notes == ("python: job has no owner",)


def test_mutators_that_add_resources_are_refused_like_the_cli(make_bundle: MakeBundle, stub_path: Path) -> None:
    inv = BundleInspector.load(_stub_bundle(make_bundle, stub_path, "adds")).inventory("prod")
    assert inv.mutators_status is not None and "not add or remove" in inv.mutators_status
    assert "resources.jobs.extra" in inv.mutators_status
    assert set(inv.resources["jobs"]) == {"nightly", "reader"}
    assert "description" not in inv.resources["jobs"]["nightly"]


def test_without_databricks_bundles_mutators_are_reported_not_applied(make_bundle: MakeBundle, stub_path: Path) -> None:
    root = make_bundle({"databricks.yml": BUNDLE.replace("MUTATORS", '["mutators:add_tag"]', 1)})
    inv = BundleInspector.load(root).inventory("prod")
    assert inv.mutators_status == "python mutators not applied: databricks-bundles is not installed"
    assert inv.resources["jobs"]["nightly"]["name"] == "nightly main"


@pytest.fixture
def spawned(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    calls: list[Any] = []

    def record(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        raise AssertionError("no process may be started")

    monkeypatch.setattr(subprocess, "run", record)
    monkeypatch.setattr(subprocess, "Popen", record)
    return calls


def test_inventory_of_a_bundle_without_python_never_spawns_a_process(
    make_bundle: MakeBundle, spawned: list[Any]
) -> None:
    text = BUNDLE.replace("python:\n  mutators: MUTATORS\n", "", 1)
    bi = BundleInspector.load(make_bundle({"databricks.yml": text}))
    assert bi.inventory("dev").mutators_status is None
    assert bi.inventory("prod").python_status is None
    assert spawned == []


def test_load_python_false_never_runs_mutators(make_bundle: MakeBundle, spawned: list[Any]) -> None:
    inv = BundleInspector.load(_bundle(make_bundle, ["add_tag"]), load_python=False).inventory()
    assert inv.mutators_status == "not applied: running project code was turned off"
    assert "owner" not in inv.resources["jobs"]["nightly"]["tags"]
    assert spawned == []
