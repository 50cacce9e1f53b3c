from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from dbx_native.bundles import BundleInspector
from dbx_native.errors import BundleError

MakeBundle = Callable[[dict[str, str]], Path]

BASE = """
bundle: {name: vars}
variables:
  catalog: {default: main}
  schema: {default: "${var.catalog}_fraud"}
  warehouse: {lookup: {warehouse: Shared}}
  owner: {description: required, nobody sets it}
  cluster:
    type: complex
    default: {spark_version: "15.4", num_workers: 2}
  flag: {default: true}
resources:
  jobs:
    j:
      name: "load ${var.schema} ${var.flag}"
      job_clusters: [{job_cluster_key: main, new_cluster: "${var.cluster}"}]
      tasks:
        - task_key: t
          sql_task: {warehouse_id: "${var.warehouse}"}
          run_as_owner: "${var.owner}"
          workers: "${var.cluster.num_workers}"
targets:
  dev: {default: true}
  prod:
    variables:
      catalog: prod
      cluster: {default: {spark_version: "16.0", num_workers: 8}}
"""


def _load(make_bundle: MakeBundle, **kwargs: object) -> BundleInspector:
    return BundleInspector.load(make_bundle({"databricks.yml": BASE}), **kwargs)  # type: ignore[arg-type]


def test_defaults_resolve_and_variables_may_use_other_variables(make_bundle: MakeBundle) -> None:
    inv = _load(make_bundle).inventory("dev")
    assert inv.variables["schema"] == "main_fraud"
    assert inv.resources["jobs"]["j"]["name"] == "load main_fraud true"  # booleans written as the CLI does


def test_a_whole_string_reference_keeps_the_value_type(make_bundle: MakeBundle) -> None:
    job = _load(make_bundle).inventory("dev").resources["jobs"]["j"]
    assert job["job_clusters"][0]["new_cluster"] == {"spark_version": "15.4", "num_workers": 2}
    assert job["tasks"][0]["workers"] == 2  # a field of a complex variable


def test_target_values_override_defaults_in_shorthand_and_full_form(make_bundle: MakeBundle) -> None:
    inv = _load(make_bundle).inventory("prod")
    assert inv.variables["schema"] == "prod_fraud"
    assert inv.variables["cluster"] == {"spark_version": "16.0", "num_workers": 8}


def test_environment_overrides_the_target_and_arguments_override_everything(make_bundle: MakeBundle) -> None:
    root = make_bundle({"databricks.yml": BASE})
    from_env = BundleInspector(
        BundleInspector.load(root)._loaded, environ={"BUNDLE_VAR_catalog": "envcat", "BUNDLE_VAR_cluster": "x"}
    )
    assert from_env.inventory("prod").variables["catalog"] == "envcat"
    # complex variables cannot be set from the environment (the CLI refuses too)
    assert from_env.inventory("prod").variables["cluster"] == {"spark_version": "16.0", "num_workers": 8}
    explicit = BundleInspector.load(root, variables={"catalog": "argcat"})
    assert explicit.inventory("prod").variables["catalog"] == "argcat"


def test_environment_variables_are_read_from_os_environ(
    make_bundle: MakeBundle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BUNDLE_VAR_owner", "team@x.com")
    inv = _load(make_bundle).inventory("dev")
    assert inv.resources["jobs"]["j"]["tasks"][0]["run_as_owner"] == "team@x.com"


def test_unset_required_variable_and_lookup_are_reported_not_raised(make_bundle: MakeBundle) -> None:
    inv = _load(make_bundle).inventory("dev")
    task = inv.resources["jobs"]["j"]["tasks"][0]
    assert task["run_as_owner"] == "${var.owner}"
    assert task["sql_task"]["warehouse_id"] == "${var.warehouse}"
    reasons = {r.expression: r.reason for r in inv.unresolved}
    assert reasons["${var.owner}"] == "unset"
    assert reasons["${var.warehouse}"] == "lookup"
    owner = next(r for r in inv.unresolved if r.expression == "${var.owner}")
    assert owner.paths == ("resources.jobs.j.tasks[0].run_as_owner",)
    assert inv.variables["owner"] is None


def test_an_unused_unset_variable_is_still_reported(make_bundle: MakeBundle) -> None:
    root = make_bundle({"databricks.yml": "bundle: {name: b}\nvariables: {lonely: {description: x}}\n"})
    inv = BundleInspector.load(root).inventory()
    assert [(r.expression, r.reason, r.paths) for r in inv.unresolved if r.reason != "runtime"] == [
        ("${var.lonely}", "unset", ("variables.lonely",))
    ]


def test_cycles_in_variable_references_raise_a_clear_error(make_bundle: MakeBundle) -> None:
    root = make_bundle(
        {
            "databricks.yml": """
            bundle: {name: b}
            variables:
              a: {default: "${var.b}-x"}
              b: {default: "${var.c}"}
              c: {default: "${var.a}"}
            resources: {jobs: {j: {name: "${var.a}"}}}
            """
        }
    )
    with pytest.raises(BundleError, match=r"cycle: var\.a -> var\.b -> var\.c -> var\.a"):
        BundleInspector.load(root).inventory()


def test_resource_references_resolve_configuration_and_keep_deploy_time_fields(make_bundle: MakeBundle) -> None:
    root = make_bundle(
        {
            "databricks.yml": """
            bundle: {name: b}
            resources:
              pipelines:
                features: {name: merchant-features, catalog: main}
              jobs:
                refresh:
                  name: "refresh ${resources.pipelines.features.name}"
                  tasks:
                    - task_key: run
                      pipeline_task: {pipeline_id: "${resources.pipelines.features.id}"}
                    - task_key: broken
                      pipeline_task: {pipeline_id: "${resources.pipelines.nope.id}"}
                    - task_key: typo
                      notebook_task: {notebook_path: "${resources.pipelines.features.nmae}"}
            """
        }
    )
    inv = BundleInspector.load(root).inventory()
    job = inv.resources["jobs"]["refresh"]
    assert job["name"] == "refresh merchant-features"
    assert job["tasks"][0]["pipeline_task"]["pipeline_id"] == "${resources.pipelines.features.id}"
    reasons = {r.expression: r.reason for r in inv.unresolved}
    assert reasons["${resources.pipelines.features.id}"] == "runtime"
    assert reasons["${resources.pipelines.nope.id}"] == "undefined"
    assert reasons["${resources.pipelines.features.nmae}"] == "undefined"


def test_undefined_variables_and_unknown_roots_are_dangling(make_bundle: MakeBundle) -> None:
    root = make_bundle(
        {"databricks.yml": "bundle: {name: b}\nresources: {jobs: {j: {name: '${var.nope} ${foo.bar}'}}}\n"}
    )
    inv = BundleInspector.load(root).inventory()
    dangling = {r.expression: r.reason for r in inv.unresolved if r.reason != "runtime"}
    assert dangling == {"${var.nope}": "undefined", "${foo.bar}": "undefined"}


def test_workspace_references_resolve_and_current_user_stays_symbolic(make_bundle: MakeBundle) -> None:
    root = make_bundle(
        {
            "databricks.yml": """
            bundle: {name: b}
            workspace: {host: "https://example.cloud.databricks.com"}
            resources:
              jobs:
                j:
                  tasks: [{task_key: t, notebook_task: {notebook_path: "${workspace.file_path}/nb"}}]
                  description: "${workspace.host} by ${workspace.current_user.userName}"
            """
        }
    )
    job = BundleInspector.load(root).inventory().resources["jobs"]["j"]
    assert job["tasks"][0]["notebook_task"]["notebook_path"] == (
        "/Workspace/Users/${workspace.current_user.userName}/.bundle/b/default/files/nb"
    )
    assert job["description"] == "https://example.cloud.databricks.com by ${workspace.current_user.userName}"


def test_python_section_is_reported(make_bundle: MakeBundle) -> None:
    root = make_bundle(
        {
            "databricks.yml": "bundle: {name: b}\npython:\n  venv_path: .venv\n"
            "  resources: ['resources:load_resources']\n"
        }
    )
    bi = BundleInspector.load(root)
    assert bi.python == {"venv_path": ".venv", "resources": ["resources:load_resources"]}
    assert bi.inventory().python == bi.python
