"""The rapidyaml fast path gives exactly the values of the libyaml path, or declines (issue #6).

The differential tests write YAML documents as text in many styles (plain, quoted and block scalars, flow and
block collections, odd spacing, comments, escapes, core-schema look-alikes), valid or not, and check that both
paths agree: the same value with the same types all the way down, or the fast path declines and the libyaml
path answers (with its errors, lines and columns). The repository's example bundles, the YAML written by the
bundle tests and the benchmark's bundle are compared the same way.
"""

from __future__ import annotations

import ast
import importlib.util
import itertools
import math
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dbx_native.bundles import BundleInspector, _fastyaml, _yaml
from dbx_native.bundles._yaml import load_yaml
from dbx_native.errors import BundleError

REPO = Path(__file__).resolve().parents[2]

# Plain scalars where YAML schemas disagree, and strings that need care in JSON or YAML.
# fmt: off
TRICKY = [
    "~", "null", "Null", "NULL", "nULL", "true", "True", "TRUE", "tRUE", "false", "False", "FALSE", "yes", "No", "on",
    "OFF", "y", "n", "0", "-0", "+0", "+1", "1", "-1", "007", "09", "-01", "0x1F", "0X1F", "0x", "0o17", "0o8", "0b101",
    "1_000", ".5", "-.5", "+.5", "1.", "-1.", "1e3", "1E3", "1.5e-3", "-1e+3", "1.e3", ".5e3", "0e0", "00", "1e400",
    "123456789012345678901234567890", ".inf", "-.inf", "+.inf", ".Inf", ".INF", "-.Inf", "-.INF", "inf", "-inf",
    "Infinity", "infinity", ".nan", ".NaN", ".NAN", "nan", "NaN", "1.2.3", "12:30", "1:20:30", "2024-01-01",
    "2024-01-01T00:00:00Z", "${var.x}", "${bundle.target}-x", "${var.a}${var.b}", "a b", "x#y", "a-b", "-a", "a:b",
    "http://x.y/z?q=1&r=2", "../src/**", "*.yml", "0 0 2 * * ?", "é", "naïve ☃", "😀", "a\\b", "a\"b", "a'b", "%x",
    "@x", "`x", "=", "<x", ">x", "|x", "!x", "&x", "*x", "?x", ":x", ",x", "[x", "]x", "{x", "}x", "#x", " ",
]
_MILD = st.text(alphabet=st.sampled_from(list("abcxyz019 .-+_:#,[]{}'\"\\/?|>%@`~\néü☃😀\u00a0")), max_size=12)
_HOSTILE = st.text(alphabet=st.sampled_from(list("ab &*!?<\t\u0085\u2028\x01\x7f\r\ufeff")), max_size=6)
_TEXT = st.one_of(_MILD, _MILD, _MILD, _MILD, _MILD, _MILD, _MILD, _HOSTILE)
_KEY_TEXT = st.text(alphabet=st.sampled_from(list("abkXY01_-.~")), min_size=1, max_size=6)
_ESCAPES = ["\\n", "\\t", "\\\\", '\\"', "\\/", "\\ ", "\\0", "\\a", "\\e", "\\N", "\\_", "\\L", "\\P", "\\x41",
            "\\xe9", "\\u00e9", "\\u263a", "\\U0001F600", "\\ud800", "\\b", "\\r", "\\x01", "\\q"]
# fmt: on


def _single(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _double(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'


@st.composite
def scalars(draw: st.DrawFn, indent: int) -> str:
    """One scalar as written after ``key: `` or ``- ``, in any style (block scalars span lines)."""
    text = draw(st.one_of(st.sampled_from(TRICKY), _TEXT))
    style = draw(
        st.sampled_from(
            ["plain", "plain", "plain", "single", "double", "escapes", "literal", "folded", "multiline", "empty"]
        )
    )
    pad = " " * (indent + draw(st.integers(1, 3)))
    if style == "plain":
        return text
    if style == "single":
        return _single(text)
    if style == "double":
        return _double(text)
    if style == "escapes":
        parts = draw(st.lists(st.one_of(st.sampled_from(_ESCAPES), _KEY_TEXT), max_size=4))
        return '"' + "".join(parts) + '"'
    if style == "empty":
        return ""
    lines = draw(st.lists(st.one_of(st.sampled_from(TRICKY), _KEY_TEXT, st.just("")), min_size=1, max_size=4))
    if style == "multiline":
        return ("\n" + pad).join(line for line in lines if line) or "x"
    header = ("|" if style == "literal" else ">") + draw(st.sampled_from(["", "-", "+", "2", "1-", "+2"]))
    extra = draw(st.sampled_from(["", " ", "  "]))
    return header + "".join("\n" + (pad + extra + line if line else "") for line in lines)


def keys() -> st.SearchStrategy[str]:
    plain = st.one_of(_KEY_TEXT, st.sampled_from(TRICKY[:60]))
    return st.one_of(plain, plain.map(_single), plain.map(_double))


def _flow(draw: st.DrawFn, depth: int) -> str:
    space = draw(st.sampled_from(["", " ", "  "]))
    if depth <= 0 or draw(st.booleans()):
        return draw(st.one_of(st.sampled_from(TRICKY), _KEY_TEXT.map(_single), _TEXT.map(_double), _KEY_TEXT))
    if draw(st.booleans()):
        body = ("," + space).join(_flow(draw, depth - 1) for _ in range(draw(st.integers(0, 3))))
        return "[" + space + body + space + "]"
    pairs = draw(st.lists(keys(), max_size=3, unique=True))
    body = ("," + space).join(f"{k}:{draw(st.sampled_from([' ', '  ']))}{_flow(draw, depth - 1)}" for k in pairs)
    return "{" + space + body + space + "}"


@st.composite
def _block(draw: st.DrawFn, indent: int, depth: int) -> str:
    pad = " " * indent
    out = []
    if depth > 0 and draw(st.integers(0, 3)) == 0:  # a block sequence
        for _ in range(draw(st.integers(1, 3))):
            out.append(pad + "- " + _value(draw, indent + 2, depth - 1, in_seq=True))
        return "\n".join(out)
    for key in draw(st.lists(keys(), min_size=1, max_size=4, unique=True)):
        out.append(pad + key + ":" + _value(draw, indent, depth - 1, in_seq=False, after_key=True))
        if draw(st.integers(0, 9)) == 0:
            out.append(pad + "# a comment: with - things")
    return "\n".join(out)


def _value(draw: st.DrawFn, indent: int, depth: int, *, in_seq: bool, after_key: bool = False) -> str:
    step = draw(st.sampled_from([2, 4, 1]))
    choice = draw(st.integers(0, 5)) if depth > 0 else 0
    lead = " " if after_key else ""
    if choice == 0:
        return lead + draw(scalars(indent)) + draw(st.sampled_from(["", "", " # note", "  "]))
    if choice == 1:
        return lead + _flow(draw, 2)
    if choice == 2 and in_seq:  # compact nested mapping: `- a: 1\n  b: 2`
        inner = draw(_block(indent, depth))
        return inner.lstrip(" ")
    nested_indent = indent + step
    if choice == 3 and after_key and draw(st.booleans()):  # `key:\n- item` (sequence at the key's indentation)
        nested_indent = indent
    return "\n" + draw(_block(nested_indent, depth))


@st.composite
def documents(draw: st.DrawFn) -> str:
    """A YAML document (text), usually a mapping at the top."""
    body = draw(_block(0, draw(st.integers(1, 4))))
    if draw(st.integers(0, 9)) == 0:
        body = draw(st.sampled_from(["---\n", "%YAML 1.2\n---\n", "# c\n"])) + body
    return body + draw(st.sampled_from(["\n", "\n", "\n", "\n\n", "\n# end\n", "", "\n...\n"]))


def same(a: Any, b: Any) -> bool:
    """Equal values of identical types all the way down (``1``, ``1.0`` and ``True`` differ; NaN equals NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


ryml = pytest.importorskip("ryml", reason="rapidyaml is not installed: the fast path is off and nothing to compare")


@pytest.fixture(autouse=True)
def _fast_path_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DBX_NATIVE_FAST_YAML", raising=False)
    monkeypatch.setattr(_fastyaml, "_checked", False)
    monkeypatch.setattr(_fastyaml, "_module", None)


def reference(text: str) -> tuple[str, Any]:
    """The libyaml path's answer: ``("ok", value)`` or ``("error", (message, line, column))``."""
    try:
        return "ok", _yaml._reference_value(text, "f.yml")
    except BundleError as err:
        return "error", (str(err), err.line, err.column)


def fast(text: str) -> Any:
    return _fastyaml.load(text, _yaml._check_syntax, _yaml._plain_scalar)


def assert_agree(text: str) -> bool:
    """Both paths give the same value, or the fast path declines; returns whether the fast path answered."""
    answer = fast(text)
    if answer is None:
        return False
    kind, expected = reference(text)
    assert kind == "ok", f"the fast path read text libyaml refuses: {text!r} -> {expected}"
    assert same(answer, expected), f"{text!r}: fast {answer!r} != reference {expected!r}"
    return True


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_generated_documents_load_to_identical_values_through_both_paths(text: str) -> None:
    assert_agree(text)
    # And through the public entry point: the same value, or the same error.
    kind, expected = reference(text)
    if kind == "ok":
        assert same(load_yaml(text, "f.yml").data, expected)
    else:
        with pytest.raises(BundleError) as info:
            load_yaml(text, "f.yml")
        assert (str(info.value), info.value.line, info.value.column) == expected


@pytest.mark.parametrize("style", ["{t}", "'{t}'", '"{t}"', "[{t}]", "{{{t}: k}}", "\n  - {t}"])
def test_every_tricky_scalar_types_as_the_core_schema_says_in_every_position(style: str) -> None:
    answered = 0
    for token in TRICKY:
        text = f"a: 1\nk: {style.format(t=token)}\n{token}: v\n"
        answered += assert_agree(text)
    assert answered > len(TRICKY) // 3  # the comparison is not vacuous: the fast path answers most of them


def test_short_number_like_tokens_agree_exhaustively() -> None:
    tokens = ["".join(p) for n in (1, 2, 3) for p in itertools.product("09.eE+-xo_", repeat=n)]
    plain = "".join(f"k{i}: {t}\n" for i, t in enumerate(tokens) if not t.startswith("-") or len(t) > 1)
    quoted = "".join(f"k{i}: '{t}'\n" for i, t in enumerate(tokens))
    keyed = "".join(f"'{t}{i}': {t}\n" if t[0] == "-" else f"{t}{i}: {t}\n" for i, t in enumerate(tokens))
    for text in (plain, quoted, keyed):
        assert_agree(text)
    # Fast answers for big documents in pieces: each must agree on its own, and most must be answered.
    lines = plain.splitlines(keepends=True)
    chunks = ["".join(lines[i : i + 20]) for i in range(0, len(lines), 20)]
    assert sum(assert_agree(chunk) for chunk in chunks) > len(chunks) // 2


def _literal_yaml_in_tests() -> list[str]:
    """String literals of the bundle tests that read as YAML mappings (the fixtures they write)."""
    found = []
    for path in sorted((REPO / "tests" / "bundles").glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and ":" in node.value:
                text = textwrap.dedent(node.value).lstrip("\n")
                if "\n" in text and reference(text)[0] == "ok":
                    found.append(text)
    return found


def _benchmark_bundle(tmp_path: Path) -> Path:
    spec = importlib.util.spec_from_file_location("bench_bundle_load", REPO / "benchmarks" / "bench_bundle_load.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.write_bundle(tmp_path / "big", 200)
    return tmp_path / "big"


def test_example_bundles_test_fixtures_and_the_benchmark_bundle_agree(tmp_path: Path) -> None:
    files = sorted((REPO / "examples").rglob("*.yml")) + sorted(_benchmark_bundle(tmp_path).rglob("*.yml"))
    texts = [path.read_text(encoding="utf-8") for path in files] + _literal_yaml_in_tests()
    answered = sum(assert_agree(text) for text in texts)
    assert len(texts) > 50
    assert answered > len(texts) // 2


def test_typical_bundle_files_take_the_fast_path(tmp_path: Path) -> None:
    root = _benchmark_bundle(tmp_path)
    for path in sorted(root.rglob("*.yml")):
        assert fast(path.read_text(encoding="utf-8")) is not None, path


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("a: &x 1\nb: *x\n", "anchors and aliases keep the expansion budget"),
        ("a: {x: 1}\nb:\n  <<: {y: 2}\n", "merge keys"),
        ("a: !!str 1\n", "tags"),
        ("? a\n: b\n", "complex keys"),
        ("a: 1\n---\nb: 2\n", "several documents"),
        ("%YAML 1.2\n---\na: 1\n", "directives"),
        ("a:\tb\n", "tabs"),
        ("a: b\r\n", "carriage returns"),
        ("\ufeffa: b\n", "byte order mark"),
        ("a: 1", "no final line break"),
        ("a: ~\n", "plain ~ is null for the core schema, a string for rapidyaml"),
        ("a: True\n", "True"),
        ("a: 0o17\n", "octal"),
        ("a: .Inf\n", "inf spellings"),
        ("inf: 1\n", "inf spellings in keys"),
        ("a: 1\na: 2\n", "duplicate keys"),
        ("- a\n", "not a mapping"),
        ("a: [1, 2\n", "invalid YAML"),
        ("a: {: x}\n", "invalid YAML rapidyaml accepts (an empty flow key)"),
        ('a: "\\ud800"\n', "invalid YAML rapidyaml accepts (a lone surrogate)"),
        ("a: +1\n", "not a JSON number"),
    ],
)
def test_the_fast_path_declines_what_it_cannot_vouch_for(text: str, why: str) -> None:
    assert fast(text) is None, why
    kind, expected = reference(text)
    if kind == "ok":
        assert same(load_yaml(text, "f.yml").data, expected)
    else:
        with pytest.raises(BundleError):
            load_yaml(text, "f.yml")


def test_quoted_look_alikes_stay_on_the_fast_path_with_their_string_values() -> None:
    text = "a: '~'\nb: \"True\"\nc: '0o17'\nd: '007'\ne: 7\nf: true\n"
    assert fast(text) == {"a": "~", "b": "True", "c": "0o17", "d": "007", "e": 7, "f": True}


def test_a_cron_expression_and_globs_do_not_look_like_aliases() -> None:
    text = "s: 0 0 2 * * ?\nlibs: [{glob: {include: ../src/**}}]\ninclude: resources/*.yml\n"
    assert fast(text) == {
        "s": "0 0 2 * * ?",
        "libs": [{"glob": {"include": "../src/**"}}],
        "include": "resources/*.yml",
    }


def test_errors_keep_libyaml_lines_and_columns_with_the_fast_path_installed() -> None:
    with pytest.raises(BundleError) as info:
        load_yaml("bundle:\n  name: x\n  bad: [1, 2\nother: 3\n", "databricks.yml")
    assert info.value.line is not None and info.value.line >= 3 and info.value.column is not None
    with pytest.raises(BundleError) as dup:
        load_yaml("a: 1\nb: 2\na: 3\n", "f.yml")
    assert dup.value.line == 3


def test_turning_the_fast_path_off_or_an_untested_rapidyaml_version_uses_libyaml(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = "a: 1\nb: [x, y]\n"
    assert fast(text) == {"a": 1, "b": ["x", "y"]}
    monkeypatch.setenv("DBX_NATIVE_FAST_YAML", "0")
    monkeypatch.setattr(_fastyaml, "_checked", False)
    assert not _fastyaml.available()
    assert fast(text) is None
    assert load_yaml(text, "f.yml").data == {"a": 1, "b": ["x", "y"]}
    monkeypatch.delenv("DBX_NATIVE_FAST_YAML")
    monkeypatch.setattr(_fastyaml, "_checked", False)
    monkeypatch.setattr(ryml, "__version__", "0.16.0")
    assert not _fastyaml.available()


def test_a_bundle_loads_the_same_with_and_without_the_fast_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _benchmark_bundle(tmp_path)
    with_fast = BundleInspector.load(root).inventory("prod")
    monkeypatch.setenv("DBX_NATIVE_FAST_YAML", "0")
    monkeypatch.setattr(_fastyaml, "_checked", False)
    without = BundleInspector.load(root).inventory("prod")
    assert same(with_fast.resources, without.resources)
    assert with_fast.unresolved == without.unresolved


def test_the_json_prefilter_matches_every_string_the_core_schema_would_type() -> None:
    tokens = ["".join(p) for n in (1, 2, 3, 4) for p in itertools.product("0179.eE+-xoa_", repeat=n)]
    tokens += TRICKY + list(_yaml._SPECIAL)
    typed = [t for t in tokens if not isinstance(_yaml._plain_scalar(t), str)]
    assert len(typed) > 1000
    missed = [t for t in typed if not _fastyaml._TYPEABLE.fullmatch(f'"{t}"')]
    assert missed == []
