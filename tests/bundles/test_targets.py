from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from dbx_native.bundles import BundleInspector
from dbx_native.errors import BundleError

MakeBundle = Callable[[dict[str, str]], Path]


def _load(make_bundle: MakeBundle, text: str) -> BundleInspector:
    return BundleInspector.load(make_bundle({"databricks.yml": text}))


def test_no_targets_means_an_implicit_default_target(make_bundle: MakeBundle) -> None:
    bi = _load(make_bundle, "bundle: {name: b}\n")
    assert bi.targets == ["default"]
    assert bi.default_target == "default"
    assert bi.inventory().target == "default"


def test_empty_targets_section_means_an_implicit_default_target(make_bundle: MakeBundle) -> None:
    bi = _load(make_bundle, "bundle: {name: b}\ntargets:\nresources: {jobs: {j: {name: x}}}\n")
    assert bi.targets == ["default"]
    assert bi.inventory().resource("jobs", "j") == {"name": "x"}


def test_a_single_target_is_the_default(make_bundle: MakeBundle) -> None:
    assert _load(make_bundle, "bundle: {name: b}\ntargets: {only: {}}\n").default_target == "only"


def test_the_target_marked_default_is_chosen(make_bundle: MakeBundle) -> None:
    bi = _load(make_bundle, "bundle: {name: b}\ntargets: {a: {}, b: {default: true}, c: {}}\n")
    assert bi.targets == ["a", "b", "c"]
    assert bi.default_target == "b"


def test_two_default_targets_are_an_error(make_bundle: MakeBundle) -> None:
    bi = _load(make_bundle, "bundle: {name: b}\ntargets: {a: {default: true}, b: {default: true}}\n")
    with pytest.raises(BundleError, match="more than one target"):
        _ = bi.default_target


def test_without_a_default_the_target_must_be_named(make_bundle: MakeBundle) -> None:
    bi = _load(make_bundle, "bundle: {name: b}\ntargets: {a: {}, b: {}}\n")
    assert bi.default_target is None
    with pytest.raises(BundleError, match="none is marked"):
        bi.inventory()
    assert bi.inventory("b").target == "b"


def test_unknown_target_lists_the_known_ones(make_bundle: MakeBundle) -> None:
    bi = _load(make_bundle, "bundle: {name: b}\ntargets: {dev: {}, prod: {}}\n")
    with pytest.raises(BundleError, match="dev, prod"):
        bi.inventory("qa")


def test_legacy_environments_section_is_read_as_targets(make_bundle: MakeBundle) -> None:
    bi = _load(make_bundle, "bundle: {name: b}\nenvironments: {old: {workspace: {host: 'https://x'}}}\n")
    assert bi.targets == ["old"]
    assert bi.inventory().workspace["host"] == "https://x"


def test_target_maps_deep_merge_into_resources(make_bundle: MakeBundle) -> None:
    bi = _load(
        make_bundle,
        """
        bundle: {name: b}
        resources:
          jobs:
            j:
              name: n
              tags: {team: a, cost: "1"}
              email_notifications: {on_failure: [a@x.com]}
        targets:
          prod:
            resources:
              jobs:
                j:
                  tags: {cost: "2"}
                  email_notifications: {on_failure: [b@x.com]}
        """,
    )
    job = bi.inventory("prod").resource("jobs", "j")
    assert job is not None
    assert job["tags"] == {"team": "a", "cost": "2"}
    assert job["email_notifications"]["on_failure"] == ["a@x.com", "b@x.com"]  # lists append
    assert bi.resources["jobs"]["j"]["tags"] == {"team": "a", "cost": "1"}  # the top level is left alone


def test_tasks_job_clusters_and_parameters_merge_by_key(make_bundle: MakeBundle) -> None:
    bi = _load(
        make_bundle,
        """
        bundle: {name: b}
        resources:
          jobs:
            j:
              parameters: [{name: p, default: "1"}]
              job_clusters:
                - job_cluster_key: main
                  new_cluster: {spark_version: "15.4", num_workers: 2, node_type_id: small}
              tasks:
                - task_key: ingest
                  max_retries: 1
                  notebook_task: {notebook_path: a.py}
                - task_key: score
                  notebook_task: {notebook_path: b.py}
        targets:
          prod:
            resources:
              jobs:
                j:
                  parameters: [{name: p, default: "2"}]
                  job_clusters:
                    - job_cluster_key: main
                      new_cluster: {num_workers: 8}
                  tasks:
                    - task_key: ingest
                      max_retries: 3
                    - task_key: report
                      notebook_task: {notebook_path: c.py}
        """,
    )
    job = bi.inventory("prod").resource("jobs", "j")
    assert job is not None
    assert [t["task_key"] for t in job["tasks"]] == ["ingest", "score", "report"]
    assert job["tasks"][0] == {"task_key": "ingest", "max_retries": 3, "notebook_task": {"notebook_path": "a.py"}}
    assert job["job_clusters"] == [
        {"job_cluster_key": "main", "new_cluster": {"spark_version": "15.4", "num_workers": 8, "node_type_id": "small"}}
    ]
    assert job["parameters"] == [{"name": "p", "default": "2"}]


def test_pipeline_clusters_merge_by_label_case_insensitively_with_default_label(make_bundle: MakeBundle) -> None:
    bi = _load(
        make_bundle,
        """
        bundle: {name: b}
        resources:
          pipelines:
            p:
              clusters:
                - {num_workers: 1}
                - {label: Maintenance, num_workers: 1}
        targets:
          prod:
            resources:
              pipelines:
                p:
                  clusters:
                    - {label: default, num_workers: 5}
                    - {label: maintenance, spark_conf: {a: b}}
        """,
    )
    pipeline = bi.inventory("prod").resource("pipelines", "p")
    assert pipeline is not None
    assert pipeline["clusters"] == [
        {"label": "default", "num_workers": 5},
        {"label": "maintenance", "num_workers": 1, "spark_conf": {"a": "b"}},
    ]


def test_run_as_in_a_target_replaces_the_top_level_one(make_bundle: MakeBundle) -> None:
    bi = _load(
        make_bundle,
        "bundle: {name: b}\nrun_as: {user_name: a@x.com}\ntargets:\n  prod: {run_as: {service_principal_name: sp}}\n",
    )
    assert bi.inventory("prod").run_as == {"service_principal_name": "sp"}


DEV = """
bundle: {name: b}
resources:
  jobs:
    j:
      name: nightly
      schedule: {quartz_cron_expression: "0 0 2 * * ?"}
    explicit:
      name: keep
      max_concurrent_runs: 2
      trigger: {pause_status: UNPAUSED, periodic: {interval: 1, unit: HOURS}}
  pipelines:
    p: {name: pipe}
  model_serving_endpoints:
    e: {name: scoring}
targets:
  dev: {mode: development, default: true}
  prod: {mode: production}
"""


def test_development_mode_prefixes_names_pauses_schedules_and_marks_pipelines(make_bundle: MakeBundle) -> None:
    bi = _load(make_bundle, DEV)
    inv = bi.inventory("dev")
    job = inv.resources["jobs"]["j"]
    assert job["name"] == "[dev ${workspace.current_user.short_name}] nightly"
    assert job["schedule"]["pause_status"] == "PAUSED"
    assert job["max_concurrent_runs"] == 4
    assert job["tags"] == {"dev": "${workspace.current_user.short_name}"}
    assert inv.resources["pipelines"]["p"]["development"] is True
    assert inv.resources["model_serving_endpoints"]["e"]["name"] == "dev_${workspace.current_user.short_name}_scoring"
    # explicit values win over the mode's presets
    assert inv.resources["jobs"]["explicit"]["trigger"]["pause_status"] == "UNPAUSED"
    assert inv.resources["jobs"]["explicit"]["max_concurrent_runs"] == 2
    assert any(r.expression == "${workspace.current_user.short_name}" and r.reason == "runtime" for r in inv.unresolved)


def test_production_mode_leaves_resources_as_written(make_bundle: MakeBundle) -> None:
    job = _load(make_bundle, DEV).inventory("prod").resources["jobs"]["j"]
    assert job == {"name": "nightly", "schedule": {"quartz_cron_expression": "0 0 2 * * ?"}}


def test_explicit_presets_override_the_mode(make_bundle: MakeBundle) -> None:
    text = DEV.replace(
        "dev: {mode: development, default: true}",
        "dev: {mode: development, default: true, presets: "
        "{name_prefix: 'test_', trigger_pause_status: UNPAUSED, tags: {x: y}}}",
    )
    inv = _load(make_bundle, text).inventory("dev")
    assert inv.resources["jobs"]["j"]["name"] == "test_nightly"
    assert inv.resources["jobs"]["j"]["schedule"]["pause_status"] == "UNPAUSED"
    assert inv.presets["tags"] == {"dev": "${workspace.current_user.short_name}", "x": "y"}


def test_workspace_paths_default_under_the_root_path(make_bundle: MakeBundle) -> None:
    inv = _load(make_bundle, "bundle: {name: b}\ntargets:\n  t: {workspace: {root_path: /Shared/b/t}}\n").inventory()
    assert inv.workspace["file_path"] == "/Shared/b/t/files"
    assert inv.workspace["artifact_path"] == "/Shared/b/t/artifacts"


def test_bundle_target_and_name_are_known_to_references(make_bundle: MakeBundle) -> None:
    inv = _load(
        make_bundle, "bundle: {name: b}\nresources: {jobs: {j: {name: '${bundle.name}-${bundle.target}'}}}\n"
    ).inventory()
    assert inv.resources["jobs"]["j"]["name"] == "b-default"


def test_inventory_is_cached_per_target(make_bundle: MakeBundle) -> None:
    bi = _load(make_bundle, DEV)
    assert bi.inventory("dev") is bi.inventory("dev")
    assert bi.inventory() is bi.inventory("dev")
