from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from dbx_native.bundles import BundleInspector, FieldChange

MakeBundle = Callable[[dict[str, str]], Path]

TEXT = """
bundle: {name: d}
variables:
  catalog: {default: dev_cat}
resources:
  jobs:
    etl:
      name: "etl ${var.catalog}"
      tasks:
        - {task_key: a, max_retries: 1}
        - {task_key: b}
targets:
  dev: {default: true}
  prod:
    variables: {catalog: prod_cat}
    workspace: {root_path: /Shared/d}
    resources:
      jobs:
        etl:
          tasks: [{task_key: a, max_retries: 3}, {task_key: c}]
        prod_only: {name: audit}
"""


def test_diff_lists_added_and_changed_resources_field_by_field(make_bundle: MakeBundle) -> None:
    diff = BundleInspector.load(make_bundle({"databricks.yml": TEXT})).diff("dev", "prod")
    assert diff
    kinds = {(c.kind, c.key) for c in diff.resources}
    assert kinds == {("changed", "etl"), ("added", "prod_only")}
    etl = next(c for c in diff.resources if c.key == "etl")
    assert FieldChange("name", "etl dev_cat", "etl prod_cat") in etl.changes
    assert FieldChange("tasks[a].max_retries", 1, 3) in etl.changes
    assert FieldChange("tasks[c]", None, {"task_key": "c"}) in etl.changes
    assert diff.variables == (FieldChange("catalog", "dev_cat", "prod_cat"),)
    assert any(c.path == "root_path" and c.after == "/Shared/d" for c in diff.workspace)


def test_diff_the_other_way_reports_removals(make_bundle: MakeBundle) -> None:
    diff = BundleInspector.load(make_bundle({"databricks.yml": TEXT})).diff("prod", "dev")
    assert ("removed", "prod_only") in {(c.kind, c.key) for c in diff.resources}


def test_a_target_compared_with_itself_has_no_differences(make_bundle: MakeBundle) -> None:
    diff = BundleInspector.load(make_bundle({"databricks.yml": TEXT})).diff("prod", "prod")
    assert not diff
    assert diff.to_dict()["resources"] == ()
