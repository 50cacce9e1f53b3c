from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from dbx_native.bundles import BundleInspector
from dbx_native.errors import BundleError

MakeBundle = Callable[[dict[str, str]], Path]


def test_include_globs_are_relative_to_the_root_and_sorted(make_bundle: MakeBundle) -> None:
    root = make_bundle(
        {
            "databricks.yml": "bundle: {name: b}\ninclude: [resources/*.yml]\n",
            "resources/b.yml": "resources: {jobs: {b: {name: b}}}\n",
            "resources/a.yml": "resources: {jobs: {a: {name: a}}}\n",
        }
    )
    bi = BundleInspector.load(root)
    assert bi.files == ["databricks.yml", "resources/a.yml", "resources/b.yml"]
    assert set(bi.resources["jobs"]) == {"a", "b"}


def test_double_star_is_not_recursive(make_bundle: MakeBundle) -> None:
    root = make_bundle(
        {
            "databricks.yml": "bundle: {name: b}\ninclude: ['resources/**/*.yml']\n",
            "resources/top.yml": "resources: {jobs: {top: {name: t}}}\n",
            "resources/one/a.yml": "resources: {jobs: {one: {name: a}}}\n",
            "resources/one/two/b.yml": "resources: {jobs: {two: {name: b}}}\n",
        }
    )
    bi = BundleInspector.load(root)
    # `**` matches exactly one directory level, like `*`: neither resources/top.yml nor one/two/b.yml.
    assert bi.files == ["databricks.yml", "resources/one/a.yml"]
    assert list(bi.resources["jobs"]) == ["one"]


def test_include_in_an_included_file_is_ignored_and_reported(make_bundle: MakeBundle) -> None:
    root = make_bundle(
        {
            "databricks.yml": "bundle: {name: b}\ninclude: [first.yml]\n",
            "first.yml": "include: [second.yml]\nresources: {jobs: {a: {name: a}}}\n",
            "second.yml": "resources: {jobs: {b: {name: b}}}\n",
        }
    )
    bi = BundleInspector.load(root)
    assert bi.files == ["databricks.yml", "first.yml"]
    assert "b" not in bi.resources["jobs"]
    ignored = [f for f in bi.validate() if f.code == "ignored-include"]
    assert len(ignored) == 1
    assert str(ignored[0].location) == "first.yml:1:1"


def test_includes_may_leave_the_root_with_dot_dot(make_bundle: MakeBundle) -> None:
    root = make_bundle(
        {
            "bundle/databricks.yml": "bundle: {name: b}\ninclude: [../shared/*.yml]\n",
            "shared/common.yml": "resources: {jobs: {shared: {name: s}}}\n",
        }
    )
    bi = BundleInspector.load(root / "bundle")
    assert bi.files == ["databricks.yml", "../shared/common.yml"]
    assert "shared" in bi.resources["jobs"]


def test_each_file_is_read_once_even_if_several_globs_match_it(make_bundle: MakeBundle) -> None:
    root = make_bundle(
        {
            "databricks.yml": "bundle: {name: b}\ninclude: ['*.yml', a.yml, databricks.yml]\n",
            "a.yml": "resources: {jobs: {a: {name: a}}}\n",
        }
    )
    assert BundleInspector.load(root).files == ["databricks.yml", "a.yml"]


def test_absolute_include_is_refused(make_bundle: MakeBundle) -> None:
    root = make_bundle({"databricks.yml": "bundle: {name: b}\ninclude: [/etc/x.yml]\n"})
    with pytest.raises(BundleError, match="relative"):
        BundleInspector.load(root)


def test_literal_include_that_matches_nothing_is_an_error(make_bundle: MakeBundle) -> None:
    root = make_bundle({"databricks.yml": "bundle: {name: b}\ninclude: [missing.yml]\n"})
    with pytest.raises(BundleError, match="does not match any files"):
        BundleInspector.load(root)


def test_glob_that_matches_nothing_is_fine(make_bundle: MakeBundle) -> None:
    root = make_bundle({"databricks.yml": "bundle: {name: b}\ninclude: ['nothing/*.yml']\n"})
    assert BundleInspector.load(root).files == ["databricks.yml"]


def test_included_files_must_be_yaml_or_json(make_bundle: MakeBundle) -> None:
    root = make_bundle({"databricks.yml": "bundle: {name: b}\ninclude: ['src/*']\n", "src/job.py": "print(1)\n"})
    with pytest.raises(BundleError, match="YAML or JSON"):
        BundleInspector.load(root)


def test_json_includes_are_read(make_bundle: MakeBundle) -> None:
    root = make_bundle(
        {"databricks.yml": "bundle: {name: b}\ninclude: [r.json]\n", "r.json": '{"resources": {"jobs": {"j": {}}}}'}
    )
    assert "j" in BundleInspector.load(root).resources["jobs"]


def test_the_same_resource_in_two_files_is_an_error_with_location(make_bundle: MakeBundle) -> None:
    root = make_bundle(
        {
            "databricks.yml": "bundle: {name: b}\ninclude: [a.yml]\nresources:\n  jobs:\n    j: {name: one}\n",
            "a.yml": "resources:\n  jobs:\n    j: {name: two}\n",
        }
    )
    with pytest.raises(BundleError, match=r"also defined in databricks\.yml") as info:
        BundleInspector.load(root)
    assert info.value.path == "a.yml"
    assert info.value.line == 3


def test_missing_root_file_is_a_clear_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(BundleError, match=r"expected one of databricks\.yml"):
        BundleInspector.load(tmp_path)


def test_two_root_files_are_an_error(make_bundle: MakeBundle) -> None:
    root = make_bundle({"databricks.yml": "bundle: {name: a}\n", "bundle.yml": "bundle: {name: b}\n"})
    with pytest.raises(BundleError, match="more than one"):
        BundleInspector.load(root)


def test_a_root_file_path_is_accepted(make_bundle: MakeBundle) -> None:
    root = make_bundle({"databricks.yaml": "bundle: {name: yaml_ext}\n"})
    assert BundleInspector.load(root / "databricks.yaml").name == "yaml_ext"


def test_a_top_level_list_is_refused(make_bundle: MakeBundle) -> None:
    root = make_bundle({"databricks.yml": "- a\n- b\n"})
    with pytest.raises(BundleError, match="mapping of sections"):
        BundleInspector.load(root)


def test_accessors_report_name_variables_and_top_level_resources(make_bundle: MakeBundle) -> None:
    root = make_bundle(
        {
            "databricks.yml": """
            bundle: {name: acc}
            variables:
              catalog: {default: main, description: the catalog}
              wh: {lookup: {warehouse: Shared}}
              cfg: {type: complex, default: {a: 1}}
            resources:
              jobs: {j: {name: "${var.catalog}"}}
            targets:
              dev: {resources: {jobs: {only_dev: {name: d}}}}
            """
        }
    )
    bi = BundleInspector.load(root)
    assert bi.name == "acc"
    assert bi.variables["catalog"].default == "main"
    assert bi.variables["catalog"].description == "the catalog"
    assert bi.variables["wh"].lookup == {"warehouse": "Shared"}
    assert bi.variables["cfg"].type == "complex"
    # before any target: as written, and without target-only resources
    assert bi.resources == {"jobs": {"j": {"name": "${var.catalog}"}}}
