from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from dbx_native.bundles import BundleInspector, Finding

MakeBundle = Callable[[dict[str, str]], Path]

BUNDLE = """
bundle: {name: checks}
include: [resources/*.yml]
variables:
  owner: {description: nobody sets it}
targets:
  dev:
    default: true
  prod:
    mode: development
  staging:
    mode: production
    run_as: {service_principal_name: sp}
    permissions: [{level: CAN_VIEW, group_name: users}]
"""

JOBS = """
resources:
  jobs:
    bare:
      name: bare
      schedule: {quartz_cron_expression: "0 0 2 * * ?"}
      tasks:
        - task_key: a
          notebook_task:
            notebook_path: ../src/a.py
            base_parameters: {host: "https://adb-123.4.azuredatabricks.net/api", who: "${var.owner}"}
        - task_key: b
          run_job_task: {job_id: "${resources.jobs.ghost.id}"}
    good:
      name: good
      timeout_seconds: 3600
      email_notifications: {on_failure: [ops@example.com]}
      tasks:
        - {task_key: a, max_retries: 2, notebook_task: {notebook_path: ../src/a.py}}
"""


def _findings(make_bundle: MakeBundle, target: str, **files: str) -> list[Finding]:
    root = make_bundle({"databricks.yml": BUNDLE, "resources/jobs.yml": JOBS, **files})
    return BundleInspector.load(root).validate(target)


def _codes(findings: list[Finding], key: str | None = None) -> set[str]:
    return {f.code for f in findings if key is None or key in f.path}


def test_jobs_without_timeout_retries_or_notifications_are_flagged_at_their_line(make_bundle: MakeBundle) -> None:
    findings = _findings(make_bundle, "staging")
    bare = [f for f in findings if f.path == "resources.jobs.bare"]
    assert {f.code for f in bare} == {"job-without-timeout", "job-without-retries", "job-without-notifications"}
    assert all(str(f.location) == "resources/jobs.yml:3:5" for f in bare)
    assert not [f for f in findings if f.path == "resources.jobs.good"]


def test_unset_variable_and_dangling_reference_are_errors_with_locations(make_bundle: MakeBundle) -> None:
    findings = _findings(make_bundle, "staging")
    unset = next(f for f in findings if f.code == "unresolved-variable")
    assert unset.severity == "error"
    assert str(unset.location) == "databricks.yml:4:3"
    assert "BUNDLE_VAR_owner" in unset.message
    dangling = next(f for f in findings if f.code == "dangling-reference")
    assert "${resources.jobs.ghost.id}" in dangling.message
    assert dangling.location is not None and dangling.location.file == "resources/jobs.yml"
    assert dangling.location.line == 12


def test_hard_coded_workspace_host_is_flagged(make_bundle: MakeBundle) -> None:
    host = next(f for f in _findings(make_bundle, "staging") if f.code == "hard-coded-host")
    assert host.path.endswith("base_parameters.host")
    assert host.location is not None and host.location.line == 10


def test_top_level_workspace_host_with_several_targets_is_flagged(make_bundle: MakeBundle) -> None:
    root = make_bundle(
        {
            "databricks.yml": "bundle: {name: b}\nworkspace:\n  host: https://x.cloud.databricks.com\n"
            "targets: {a: {default: true}, b: {}}\n"
        }
    )
    found = [f for f in BundleInspector.load(root).validate() if f.code == "hard-coded-host"]
    assert [str(f.location) for f in found] == ["databricks.yml:3:3"]


def test_production_target_in_development_mode_is_an_error(make_bundle: MakeBundle) -> None:
    findings = _findings(make_bundle, "prod")
    wrong = next(f for f in findings if f.code == "production-in-development-mode")
    assert wrong.severity == "error"
    assert str(wrong.location) == "databricks.yml:9:5"
    assert {"production-without-run-as", "production-without-permissions"} <= _codes(findings)


def test_production_with_run_as_and_permissions_is_clean(make_bundle: MakeBundle) -> None:
    codes = _codes(_findings(make_bundle, "staging"))
    assert not codes & {"production-without-run-as", "production-without-permissions", "production-in-development-mode"}


def test_unpaused_schedule_in_a_development_target_is_flagged(make_bundle: MakeBundle) -> None:
    dev = [f for f in _findings(make_bundle, "dev") if f.code == "schedule-unpaused-in-development"]
    assert [f.path for f in dev] == ["resources.jobs.bare.schedule"]
    assert dev[0].location is not None and dev[0].location.line == 5
    # mode: development pauses it, so the same job is fine there
    assert not [f for f in _findings(make_bundle, "prod") if f.code == "schedule-unpaused-in-development"]


def test_findings_come_errors_first(make_bundle: MakeBundle) -> None:
    severities = [f.severity for f in _findings(make_bundle, "prod")]
    assert severities == sorted(severities, key=["error", "warning", "info"].index)


def test_unknown_keys_are_reported_with_the_schema(make_bundle: MakeBundle, schema_path: Path) -> None:
    root = make_bundle(
        {
            "databricks.yml": BUNDLE.replace("  dev:\n", "  dev:\n    colour: blue\n"),
            "resources/jobs.yml": JOBS.replace("      timeout_seconds: 3600\n", "      timeout_secs: 3600\n"),
            "resources/more.yml": (
                "resources:\n  jobs:\n    x:\n      tasks:\n        - task_key: a\n          max_retry: 1\n"
            ),
        }
    )
    bi = BundleInspector.load(root, schema=schema_path)
    unknown = {f.path: str(f.location) for f in bi.validate("dev") if f.code == "unknown-key"}
    assert unknown == {
        "targets.dev.colour": "databricks.yml:7:5",
        "resources.jobs.good.timeout_secs": "resources/jobs.yml:15:7",
        "resources.jobs.x.tasks.0.max_retry": "resources/more.yml:6:11",
    }
    # another target's unknown keys are not this target's business
    assert "targets.dev.colour" not in {f.path for f in bi.validate("staging") if f.code == "unknown-key"}


def test_a_clean_bundle_has_no_unknown_keys_under_the_real_schema(make_bundle: MakeBundle, schema_path: Path) -> None:
    root = make_bundle({"databricks.yml": BUNDLE, "resources/jobs.yml": JOBS})
    assert not [f for f in BundleInspector.load(root, schema=schema_path).validate("dev") if f.code == "unknown-key"]


def test_location_accessor_prefers_the_target_override(make_bundle: MakeBundle) -> None:
    bi = BundleInspector.load(make_bundle({"databricks.yml": BUNDLE, "resources/jobs.yml": JOBS}))
    assert str(bi.location("resources.jobs.bare.tasks[1].run_job_task")) == "resources/jobs.yml:12:11"
    assert str(bi.location(["targets", "staging", "run_as"])) == "databricks.yml:12:5"
    assert str(bi.location("run_as", target="staging")) == "databricks.yml:12:5"
    assert bi.location("nothing.here") is None


PRESETS = """
bundle: {name: presets}
resources:
  apps:
    ui: {name: ui, source_code_path: ../app}
targets:
  dev:
    default: true
    mode: development
    presets: {trigger_pause_status: UNPAUSED}
  odd:
    presets: {trigger_pause_status: SOMETIMES}
  fine:
    presets: {trigger_pause_status: UNPAUSED}
"""


def test_presets_the_cli_refuses_are_errors_at_their_line(make_bundle: MakeBundle) -> None:
    bi = BundleInspector.load(make_bundle({"databricks.yml": PRESETS}))
    dev = [f for f in bi.validate("dev") if f.code == "unpaused-in-development"]
    assert len(dev) == 1 and dev[0].severity == "error"
    assert dev[0].location is not None and dev[0].location.line == 9
    odd = [f for f in bi.validate("odd") if f.code == "invalid-pause-status"]
    assert len(odd) == 1 and "SOMETIMES" in odd[0].message and odd[0].location is not None
    assert odd[0].location.line == 11
    assert not {"invalid-pause-status", "unpaused-in-development"} & {f.code for f in bi.validate("fine")}


def test_a_source_linked_deployment_with_apps_is_an_error(
    make_bundle: MakeBundle, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dbx_native.bundles import _target

    monkeypatch.setattr(_target, "_on_databricks_runtime", lambda: True)
    monkeypatch.setattr(_target, "_sync_root", lambda root, sync: "/Workspace/Users/someone/presets")
    bi = BundleInspector.load(make_bundle({"databricks.yml": PRESETS}))
    assert bi.inventory("dev").presets["source_linked_deployment"] is True
    assert "source-linked-apps" in {f.code for f in bi.validate("dev")}
    monkeypatch.setattr(_target, "_on_databricks_runtime", lambda: False)
    assert "source-linked-apps" not in {f.code for f in BundleInspector.load(bi.root).validate("dev")}
