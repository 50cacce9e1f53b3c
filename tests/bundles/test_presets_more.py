"""Presets applied the way the Databricks CLI applies them (ApplyTargetMode, ApplyPresets, source-linked, artifacts)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dbx_native.bundles import BundleInspector, _target
from dbx_native.bundles._merge import normalize_prefix, normalize_tag

MakeBundle = Callable[[dict[str, str]], Path]
SHORT = "${workspace.current_user.short_name}"


def _inventory(make_bundle: MakeBundle, text: str, target: str | None = None) -> Any:
    return BundleInspector.load(make_bundle({"databricks.yml": text})).inventory(target)


EVERY_TYPE = """
bundle: {name: b}
presets: {name_prefix: "[dev jane] "}
resources:
  jobs: {j: {name: job}}
  pipelines: {p: {name: pipe}}
  clusters: {c: {cluster_name: cluster, spark_version: 15.4.x-scala2.12}}
  dashboards: {d: {display_name: dash}}
  sql_warehouses: {w: {name: wh}}
  models: {m: {name: model}}
  experiments: {e: {name: /Users/jane@x.com/exp}, top: {name: exp}}
  model_serving_endpoints: {s: {name: scoring}}
  registered_models: {r: {name: reg}}
  schemas: {sc: {name: sch, catalog_name: main}}
  volumes: {v: {name: vol, catalog_name: main, schema_name: s}}
  apps: {a: {name: app}}
"""


def test_name_prefix_goes_on_the_name_field_of_each_resource_type(make_bundle: MakeBundle) -> None:
    res = _inventory(make_bundle, EVERY_TYPE).resources
    assert res["jobs"]["j"]["name"] == "[dev jane] job"
    assert res["pipelines"]["p"]["name"] == "[dev jane] pipe"
    assert res["clusters"]["c"]["cluster_name"] == "[dev jane] cluster"
    assert res["dashboards"]["d"]["display_name"] == "[dev jane] dash"
    assert res["sql_warehouses"]["w"]["name"] == "[dev jane] wh"
    assert res["models"]["m"]["name"] == "[dev jane] model"
    # experiment names are paths: the prefix goes on the last part
    assert res["experiments"]["e"]["name"] == "/Users/jane@x.com/[dev jane] exp"
    assert res["experiments"]["top"]["name"] == "[dev jane] exp"
    # names that allow no spaces or brackets get the normalized prefix
    assert res["model_serving_endpoints"]["s"]["name"] == "dev_jane_scoring"
    assert res["registered_models"]["r"]["name"] == "dev_jane_reg"
    assert res["schemas"]["sc"]["name"] == "dev_jane_sch"
    # the CLI leaves volumes and apps alone
    assert res["volumes"]["v"]["name"] == "vol"
    assert res["apps"]["a"]["name"] == "app"


def test_schemas_keep_their_name_when_experimental_skip_name_prefix_for_schema_is_set(make_bundle: MakeBundle) -> None:
    text = EVERY_TYPE + "experimental: {skip_name_prefix_for_schema: true}\n"
    res = _inventory(make_bundle, text).resources
    assert res["schemas"]["sc"]["name"] == "sch"
    assert res["registered_models"]["r"]["name"] == "dev_jane_reg"


@pytest.mark.parametrize(
    ("prefix", "normalized"),
    [
        ("[dev jane] ", "dev_jane_"),
        ("[dev Jane.Doe] ", "dev_jane_doe_"),
        ("test_", "test"),  # the CLI trims the trailing `_` and adds one only after a `]`
        ("Team-A ", "team_a"),
        (f"[dev {SHORT}] ", f"dev_{SHORT}_"),  # references stay intact for later resolution
        ("", ""),
    ],
)
def test_normalized_prefix_follows_the_cli(prefix: str, normalized: str) -> None:
    assert normalize_prefix(prefix) == normalized


def test_without_presets_or_mode_resources_are_left_as_written(make_bundle: MakeBundle) -> None:
    inv = _inventory(make_bundle, EVERY_TYPE.replace('presets: {name_prefix: "[dev jane] "}', ""))
    assert inv.presets == {}
    assert inv.resources["clusters"]["c"] == {"cluster_name": "cluster", "spark_version": "15.4.x-scala2.12"}
    assert inv.resources["experiments"]["e"] == {"name": "/Users/jane@x.com/exp"}


TAGS = """
bundle: {name: b}
workspace: {host: HOST}
presets: {tags: {team: data eng/ü, dev: jane}}
resources:
  jobs:
    j: {name: j, tags: {team: mine, empty: ""}}
  models:
    m: {name: m, tags: [{key: team, value: kept}]}
  experiments:
    e: {name: /e}
  clusters:
    c: {cluster_name: c, custom_tags: {dev: kept}}
  sql_warehouses:
    w: {name: w, tags: {custom_tags: [{key: other, value: x}]}}
  pipelines:
    p: {name: p}
"""


def test_tags_are_added_where_the_resource_has_none_and_its_own_values_win(make_bundle: MakeBundle) -> None:
    inv = _inventory(make_bundle, TAGS.replace("HOST", "https://x.cloud.databricks.com"))
    res = inv.resources
    assert res["jobs"]["j"]["tags"] == {"team": "mine", "empty": "", "dev": "jane"}
    assert res["models"]["m"]["tags"] == [{"key": "team", "value": "kept"}, {"key": "dev", "value": "jane"}]
    assert res["experiments"]["e"]["tags"] == [{"key": "dev", "value": "jane"}, {"key": "team", "value": "data eng/ü"}]
    assert "tags" not in res["pipelines"]["p"]  # pipelines take no tags
    # clusters and warehouses get tags normalized for the cloud (AWS keeps spaces and `/`, drops accents)
    assert res["clusters"]["c"]["custom_tags"] == {"dev": "kept", "team": "data eng/u"}
    assert res["sql_warehouses"]["w"]["tags"]["custom_tags"] == [
        {"key": "other", "value": "x"},
        {"key": "dev", "value": "jane"},
        {"key": "team", "value": "data eng/u"},
    ]
    assert inv.notes == ()


def test_a_job_tag_written_empty_is_filled_by_the_preset(make_bundle: MakeBundle) -> None:
    text = TAGS.replace('team: mine, empty: ""', 'team: ""').replace("HOST", "https://x.cloud.databricks.com")
    assert _inventory(make_bundle, text).resources["jobs"]["j"]["tags"]["team"] == "data eng/ü"


@pytest.mark.parametrize(
    ("host", "tag"),
    [
        ("https://adb-1.2.azuredatabricks.net", "data eng/ü"),  # Azure values allow any Latin-1 character
        ("https://1.2.gcp.databricks.com", "data_eng_u"),
    ],
)
def test_cluster_tags_are_normalized_for_the_cloud_of_the_workspace_host(
    make_bundle: MakeBundle, host: str, tag: str
) -> None:
    res = _inventory(make_bundle, TAGS.replace("HOST", host)).resources
    assert res["clusters"]["c"]["custom_tags"]["team"] == tag


def test_cluster_tags_are_kept_as_written_with_a_note_when_the_cloud_is_unknown(make_bundle: MakeBundle) -> None:
    inv = _inventory(make_bundle, TAGS.replace("workspace: {host: HOST}\n", ""))
    assert inv.resources["clusters"]["c"]["custom_tags"]["team"] == "data eng/ü"
    assert any(note.startswith("presets.tags:") for note in inv.notes)


def test_tag_normalization_leaves_references_intact() -> None:
    assert normalize_tag(f"[{SHORT}]!", "gcp", key=False) == SHORT
    assert normalize_tag("a/b", "azure", key=True) == "a_b"
    assert normalize_tag("a/b", "azure", key=False) == "a/b"


PAUSE = """
bundle: {name: b}
resources:
  jobs:
    j:
      name: j
      schedule: {quartz_cron_expression: "0 0 2 * * ?"}
      trigger: {periodic: {interval: 1, unit: HOURS}}
      continuous: {}
    explicit:
      name: e
      schedule: {quartz_cron_expression: "0 0 2 * * ?", pause_status: UNPAUSED}
  pipelines:
    live: {name: live, continuous: true}
    batch: {name: batch}
  quality_monitors:
    m:
      table_name: main.s.t
      assets_dir: /a
      output_schema_name: main.s
      schedule: {quartz_cron_expression: "0 0 * * * ?"}
    kept:
      table_name: main.s.u
      assets_dir: /a
      output_schema_name: main.s
      schedule: {quartz_cron_expression: "0 0 * * * ?", pause_status: UNPAUSED}
targets:
  dev: {mode: development}
  paused: {presets: {trigger_pause_status: PAUSED}}
  unpaused: {presets: {trigger_pause_status: UNPAUSED}}
  odd: {presets: {trigger_pause_status: paused}}
  prod: {mode: production}
"""


def test_paused_preset_pauses_triggers_stops_continuous_pipelines_and_drops_monitor_schedules(
    make_bundle: MakeBundle,
) -> None:
    for target in ("dev", "paused"):
        res = _inventory(make_bundle, PAUSE, target).resources
        job = res["jobs"]["j"]
        assert [job[t]["pause_status"] for t in ("schedule", "trigger", "continuous")] == ["PAUSED"] * 3
        assert res["jobs"]["explicit"]["schedule"]["pause_status"] == "UNPAUSED"  # the user's status wins
        assert res["pipelines"]["live"]["continuous"] is False
        assert "continuous" not in res["pipelines"]["batch"]
        assert "schedule" not in res["quality_monitors"]["m"]
        assert res["quality_monitors"]["kept"]["schedule"]["pause_status"] == "UNPAUSED"


def test_unpaused_preset_unpauses_triggers_and_leaves_pipelines_and_monitors(make_bundle: MakeBundle) -> None:
    res = _inventory(make_bundle, PAUSE, "unpaused").resources
    assert res["jobs"]["j"]["schedule"]["pause_status"] == "UNPAUSED"
    assert res["pipelines"]["live"]["continuous"] is True
    assert "schedule" in res["quality_monitors"]["m"]


def test_an_invalid_pause_status_pauses_like_the_cli_and_says_so(make_bundle: MakeBundle) -> None:
    inv = _inventory(make_bundle, PAUSE, "odd")
    assert inv.resources["jobs"]["j"]["schedule"]["pause_status"] == "PAUSED"
    assert "schedule" in inv.resources["quality_monitors"]["m"]  # only exactly PAUSED drops schedules
    assert any(note.startswith("presets.trigger_pause_status:") for note in inv.notes)


def test_production_mode_sets_no_preset(make_bundle: MakeBundle) -> None:
    inv = _inventory(make_bundle, PAUSE, "prod")
    assert inv.presets == {}
    assert "pause_status" not in inv.resources["jobs"]["j"]["schedule"]
    assert inv.resources["pipelines"]["live"]["continuous"] is True


RUNS = """
bundle: {name: b}
resources:
  jobs:
    j: {name: j}
    own: {name: own, max_concurrent_runs: 2}
  pipelines:
    p: {name: p}
    off: {name: off, development: false}
targets:
  dev: {mode: development}
  dev_no_pipelines: {mode: development, presets: {pipelines_development: false}}
  prod: {mode: production, presets: {jobs_max_concurrent_runs: 7, pipelines_development: true}}
"""


def test_max_concurrent_runs_preset_keeps_a_job_own_value(make_bundle: MakeBundle) -> None:
    dev = _inventory(make_bundle, RUNS, "dev").resources["jobs"]
    prod = _inventory(make_bundle, RUNS, "prod").resources["jobs"]
    assert (dev["j"]["max_concurrent_runs"], dev["own"]["max_concurrent_runs"]) == (4, 2)  # mode default
    assert (prod["j"]["max_concurrent_runs"], prod["own"]["max_concurrent_runs"]) == (7, 2)  # explicit preset


def test_pipelines_development_preset_overrides_pipelines_unless_turned_off(make_bundle: MakeBundle) -> None:
    dev = _inventory(make_bundle, RUNS, "dev")
    assert dev.presets["pipelines_development"] is True
    # as in the CLI, an enabled preset wins over a pipeline's own `development: false`
    assert [dev.resources["pipelines"][k]["development"] for k in ("p", "off")] == [True, True]
    off = _inventory(make_bundle, RUNS, "dev_no_pipelines")
    assert off.presets["pipelines_development"] is False
    assert "development" not in off.resources["pipelines"]["p"]
    assert off.resources["pipelines"]["off"]["development"] is False
    assert _inventory(make_bundle, RUNS, "prod").resources["pipelines"]["p"]["development"] is True


def test_development_mode_fills_only_the_presets_left_unset(make_bundle: MakeBundle) -> None:
    text = RUNS.replace(
        "dev: {mode: development}", "dev: {mode: development, presets: {name_prefix: 'x_', tags: {dev: me}}}"
    )
    presets = _inventory(make_bundle, text, "dev").presets
    assert presets == {
        "name_prefix": "x_",
        "tags": {"dev": "me"},
        "jobs_max_concurrent_runs": 4,
        "trigger_pause_status": "PAUSED",
        "pipelines_development": True,
    }


def test_presets_take_variable_values_before_they_apply(make_bundle: MakeBundle) -> None:
    text = (
        "bundle: {name: b}\nvariables: {runs: {default: 3}, dev: {default: true}}\n"
        "presets: {jobs_max_concurrent_runs: '${var.runs}', pipelines_development: '${var.dev}'}\n"
        "resources: {jobs: {j: {name: j}}, pipelines: {p: {name: p}}}\n"
    )
    res = _inventory(make_bundle, text).resources
    assert res["jobs"]["j"]["max_concurrent_runs"] == 3
    assert res["pipelines"]["p"]["development"] is True


ARTIFACTS = """
bundle: {name: b}
artifacts:
  wheel: {type: whl, path: .}
  pinned: {type: whl, path: ./lib, dynamic_version: false}
  java: {type: jar, path: ./java}
targets:
  on: {presets: {artifacts_dynamic_version: true}}
  dev: {mode: development}
"""


def test_artifacts_dynamic_version_sets_dynamic_version_on_wheel_artifacts_only(make_bundle: MakeBundle) -> None:
    artifacts = _inventory(make_bundle, ARTIFACTS, "on").artifacts
    assert artifacts["wheel"]["dynamic_version"] is True
    assert artifacts["pinned"]["dynamic_version"] is True  # the CLI overrides an explicit false
    assert "dynamic_version" not in artifacts["java"]


def test_artifacts_dynamic_version_is_not_a_development_mode_default(make_bundle: MakeBundle) -> None:
    inv = _inventory(make_bundle, ARTIFACTS, "dev")
    assert "artifacts_dynamic_version" not in inv.presets
    assert "dynamic_version" not in inv.artifacts["wheel"]


def test_catalog_and_schema_presets_are_kept_but_change_nothing(make_bundle: MakeBundle) -> None:
    # The CLI's presets have no catalog/schema any more (the bundle schema lists none): nothing to apply.
    text = "bundle: {name: b}\npresets: {catalog: dev, schema: me}\nresources: {pipelines: {p: {name: p}}}\n"
    inv = _inventory(make_bundle, text)
    assert inv.presets == {"catalog": "dev", "schema": "me"}
    assert inv.resources["pipelines"]["p"] == {"name": "p"}


SOURCE_LINKED = """
bundle: {name: b}
resources:
  jobs:
    j:
      name: j
      tasks: [{task_key: t, notebook_task: {notebook_path: "${workspace.file_path}/nb"}}]
targets:
  dev: {mode: development}
  off: {mode: development, presets: {source_linked_deployment: false}}
  explicit: {presets: {source_linked_deployment: true}}
"""


def test_source_linked_deployment_is_turned_off_outside_a_workspace_with_a_note(make_bundle: MakeBundle) -> None:
    inv = _inventory(make_bundle, SOURCE_LINKED, "explicit")
    assert inv.presets["source_linked_deployment"] is False
    assert any(note.startswith("presets.source_linked_deployment:") for note in inv.notes)
    dev = _inventory(make_bundle, SOURCE_LINKED, "dev")
    assert "source_linked_deployment" not in dev.presets and dev.notes == ()
    path = dev.resources["jobs"]["j"]["tasks"][0]["notebook_task"]["notebook_path"]
    assert path == "/Workspace/Users/${workspace.current_user.userName}/.bundle/b/dev/files/nb"


@pytest.fixture
def in_workspace(monkeypatch: pytest.MonkeyPatch) -> str:
    # Stand for the CLI running on Databricks Runtime with the bundle under /Workspace/ (the two facts it checks).
    sync_root = "/Workspace/Users/jane@x.com/b"
    monkeypatch.setattr(_target, "_on_databricks_runtime", lambda: True)
    monkeypatch.setattr(_target, "_sync_root", lambda root, sync: sync_root)
    return sync_root


def test_in_a_workspace_development_mode_links_resources_to_the_source_files(
    make_bundle: MakeBundle, in_workspace: str
) -> None:
    inv = _inventory(make_bundle, SOURCE_LINKED, "dev")
    assert inv.presets["source_linked_deployment"] is True
    assert inv.resources["jobs"]["j"]["tasks"][0]["notebook_task"]["notebook_path"] == f"{in_workspace}/nb"
    # the workspace section keeps its file path, as in the CLI
    assert inv.workspace["file_path"] == "/Workspace/Users/${workspace.current_user.userName}/.bundle/b/dev/files"
    off = _inventory(make_bundle, SOURCE_LINKED, "off")
    assert off.presets["source_linked_deployment"] is False
    assert off.resources["jobs"]["j"]["tasks"][0]["notebook_task"]["notebook_path"].endswith("/off/files/nb")


EXPLICIT_LINKED = """
bundle: {name: b}
workspace: {file_path: /Shared/files}
presets: {source_linked_deployment: true}
resources:
  apps: {a: {name: app, source_code_path: ./app}}
"""


def test_in_a_workspace_an_explicit_source_linked_deployment_outside_development_is_noted(
    make_bundle: MakeBundle, in_workspace: str
) -> None:
    inv = _inventory(make_bundle, EXPLICIT_LINKED)
    assert inv.presets["source_linked_deployment"] is True
    assert any("deprecated" in note for note in inv.notes)
    assert any("not supported for apps" in note for note in inv.notes)
    assert any(note.startswith("workspace.file_path:") for note in inv.notes)
    assert inv.workspace["file_path"] == "/Shared/files"


def test_the_sync_root_is_the_common_folder_of_the_root_and_the_sync_paths(tmp_path: Path) -> None:
    root = tmp_path / "repo" / "bundle"
    assert _target._sync_root(root, None) == str(root)
    assert _target._sync_root(root, {"paths": ["..", "."]}) == str(tmp_path / "repo")


LOCKS = """
bundle:
  name: locks
targets:
  dev: {default: true, mode: development}
  dev_locked: {mode: development, bundle: {deployment: {lock: {enabled: true}}}}
  prod: {mode: production}
"""


def test_development_mode_turns_the_deployment_lock_off_unless_explicitly_enabled(make_bundle: MakeBundle) -> None:
    bi = BundleInspector.load(make_bundle({"databricks.yml": LOCKS}))
    assert bi.inventory("dev").bundle["deployment"]["lock"]["enabled"] is False
    assert bi.inventory("dev_locked").bundle["deployment"]["lock"]["enabled"] is True
    assert "deployment" not in bi.inventory("prod").bundle
