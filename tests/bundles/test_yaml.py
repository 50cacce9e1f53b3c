from __future__ import annotations

import time

import pytest

from dbx_native.bundles import _yaml
from dbx_native.bundles._yaml import load_yaml
from dbx_native.errors import BundleError


def test_plain_scalars_follow_the_yaml_1_2_core_schema_like_the_cli() -> None:
    doc = load_yaml(
        "a: true\nb: yes\nc: 42\nd: 0x1F\ne: 1.5\nf: ~\ng:\nh: '42'\ni: off\nj: 1e3\nk: 0o17\nl: -7\nm: .inf\n", "f.yml"
    )
    assert doc.data == {
        "a": True,
        "b": "yes",
        "c": 42,
        "d": 31,
        "e": 1.5,
        "f": None,
        "g": None,
        "h": "42",
        "i": "off",
        "j": 1000.0,
        "k": 15,
        "l": -7,
        "m": float("inf"),
    }


def test_mapping_keys_are_kept_as_their_source_text() -> None:
    assert load_yaml("1: a\ntrue: b\n", "f.yml").data == {"1": "a", "true": "b"}


def test_explicit_tags_convert_scalars() -> None:
    assert load_yaml("a: !!int '7'\nb: !!str 7\nc: !!float '2'\n", "f.yml").data == {"a": 7, "b": "7", "c": 2.0}


def test_merge_keys_insert_missing_keys_and_explicit_keys_win() -> None:
    text = """
base: &base {spark_version: "15.4", num_workers: 2}
extra: &extra {num_workers: 9, autoscale: false}
cluster:
  <<: [*base, *extra]
  num_workers: 4
"""
    data = load_yaml(text, "f.yml").data
    assert data["cluster"] == {"spark_version": "15.4", "num_workers": 4, "autoscale": False}


def test_earlier_merge_sources_win_over_later_ones() -> None:
    data = load_yaml("a: &a {x: 1}\nb: &b {x: 2, y: 3}\nc:\n  <<: [*a, *b]\n", "f.yml").data
    assert data["c"] == {"x": 1, "y": 3}


def test_aliases_are_copied_not_shared() -> None:
    data = load_yaml("a: &a {x: 1}\nb: *a\n", "f.yml").data
    assert data["a"] == data["b"]
    assert data["a"] is not data["b"]


def test_malformed_yaml_reports_line_and_column() -> None:
    with pytest.raises(BundleError) as info:
        load_yaml("bundle:\n  name: x\n  bad: [1, 2\nother: 3\n", "databricks.yml")
    err = info.value
    assert err.path == "databricks.yml"
    assert err.line is not None and err.line >= 3
    assert err.column is not None
    assert f"databricks.yml:{err.line}:{err.column}" in str(err)


def test_duplicate_keys_are_an_error_pointing_at_the_second_one() -> None:
    with pytest.raises(BundleError) as info:
        load_yaml("a: 1\nb: 2\na: 3\n", "f.yml")
    assert info.value.line == 3
    assert "line 1" in str(info.value)


def test_alias_expansion_bomb_fails_fast() -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 12):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    start = time.perf_counter()
    with pytest.raises(BundleError, match="alias"):
        load_yaml("\n".join(lines) + "\n", "bomb.yml")
    assert time.perf_counter() - start < 10


def test_alias_to_itself_is_an_error_not_a_hang() -> None:
    with pytest.raises(BundleError, match=r"alias refers to itself|nests too deeply"):
        load_yaml("a: &a [1, *a]\n", "f.yml")


def test_deep_nesting_is_an_error() -> None:
    with pytest.raises(BundleError):
        load_yaml("a: " + "[" * 3000 + "]" * 3000 + "\n", "f.yml")


def test_undefined_alias_is_reported_with_its_line() -> None:
    with pytest.raises(BundleError) as info:
        load_yaml("a: 1\nb: *missing\n", "f.yml")
    assert info.value.line == 2


def test_more_than_one_document_is_an_error() -> None:
    with pytest.raises(BundleError, match="single document"):
        load_yaml("a: 1\n---\nb: 2\n", "f.yml")


def test_empty_file_has_no_data() -> None:
    doc = load_yaml("# only a comment\n", "f.yml")
    assert doc.data is None
    assert doc.compose() is None


def test_files_over_the_size_limit_are_refused_before_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_yaml, "MAX_FILE_BYTES", 1024)
    with pytest.raises(BundleError, match="split it with `include`"):
        load_yaml("a: " + "x" * 2000 + "\n", "big.yml")


def test_a_ten_megabyte_file_with_an_error_at_the_end_fails_with_its_line_in_bounded_time() -> None:
    block = "".join(f"  key_{i}: value number {i} with some padding text\n" for i in range(200_000))
    text = "items:\n" + block + "  broken: [unclosed\n"
    assert len(text) > 10_000_000
    start = time.perf_counter()
    with pytest.raises(BundleError) as info:
        load_yaml(text, "huge.yml")
    assert info.value.line is not None and info.value.line > 200_000
    assert time.perf_counter() - start < 30
