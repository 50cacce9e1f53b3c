"""Interpolation's fast paths (issue #6): no copy of what holds no reference, and each distinct string resolved once.

``CopyingResolver`` below is the resolver as it was before: it copies every container and resolves every string
again. Generated configurations must resolve to the same values, report the same unresolved references with the
same paths in the same order, and raise on the same cycles, with either resolver.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dbx_native.bundles._interp import REFERENCE, Resolver, Unresolved, VariableState, _text
from dbx_native.errors import BundleError


class CopyingResolver(Resolver):
    """The previous algorithm: a full copy of every container, every string substituted on each visit."""

    def _tree(self, value: Any) -> Any:
        kind = type(value)
        if kind is str:
            return self._string(value) if "${" in value else value
        path = self._path
        if kind is dict:
            out = {}
            for key, item in value.items():
                path.append(key)
                out[key] = self._tree(item)
                path.pop()
            return out
        if kind is list:
            items = []
            for index, item in enumerate(value):
                path.append(index)
                items.append(self._tree(item))
                path.pop()
            return items
        return value

    def _dict(self, value: dict[Any, Any]) -> dict[Any, Any]:
        return self._tree(value)  # type: ignore[no-any-return]

    def _list(self, value: list[Any]) -> list[Any]:
        return self._tree(value)  # type: ignore[no-any-return]

    def _string(self, text: str) -> Any:
        matches = list(REFERENCE.finditer(text))
        if not matches:
            return text
        if len(matches) == 1 and matches[0].span() == (0, len(text)):
            value = self.lookup(matches[0].group(1))
            if isinstance(value, Unresolved):
                self._record(text, value.reason)
                return text
            return value
        pieces, last = [], 0
        for match in matches:
            pieces.append(text[last : match.start()])
            value = self.lookup(match.group(1))
            if isinstance(value, Unresolved):
                self._record(match.group(0), value.reason)
                pieces.append(match.group(0))
            else:
                pieces.append(_text(value))
            last = match.end()
        pieces.append(text[last:])
        return "".join(pieces)


def same(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


_REFS = [
    "${var.a}",
    "${var.b}",
    "${var.c}",
    "${var.cx}",
    "${var.cx.n}",
    "${var.cx.list[1]}",
    "${var.unset}",
    "${var.lookup}",
    "${var.nope}",
    "${bundle.name}",
    "${bundle.target}",
    "${bundle.git.branch}",
    "${workspace.current_user.userName}",
    "${workspace.root_path}",
    "${resources.jobs.j0.name}",
    "${resources.jobs.j1.tasks[0].task_key}",
    "${resources.jobs.j0.id}",
    "${resources.jobs.j0.missing}",
    "${resources.jobs.zz.name}",
    "${nothing.here}",
    "${bad ref}",
    "$var.a",
]
_LEAF = st.one_of(
    st.sampled_from(["x", "", "plain text", "a-b"]),
    st.sampled_from(_REFS),
    st.builds(lambda a, b, c: f"{a}-{b} {c}", st.sampled_from(_REFS), st.sampled_from(_REFS), st.sampled_from("xy")),
    st.integers(-3, 3),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False, width=16),
)
_TREE = st.recursive(
    _LEAF,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["k", "n", "name", "x", "y"]), inner, max_size=3)
    ),
    max_leaves=12,
)


@st.composite
def configs(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, VariableState]]:
    """A merged configuration with a few jobs and variables whose values may refer to each other."""
    jobs = {
        f"j{i}": {"name": draw(_LEAF), "tasks": [{"task_key": draw(_LEAF), "p": draw(_TREE)}], "more": draw(_TREE)}
        for i in range(draw(st.integers(1, 3)))
    }
    config = {
        "bundle": {"name": draw(_LEAF), "target": "dev"},
        "workspace": {"root_path": draw(_LEAF), "host": "https://x"},
        "resources": {"jobs": jobs},
    }
    variables = {
        "a": VariableState(draw(_LEAF)),
        "b": VariableState(draw(_LEAF)),
        "c": VariableState("${var.a}/c"),
        "cx": VariableState({"n": draw(_LEAF), "list": [1, draw(_LEAF)]}),
        "unset": VariableState(reason="unset"),
        "lookup": VariableState(reason="lookup"),
    }
    return config, variables


def _resolve_all(resolver_type: type[Resolver], config: dict[str, Any], states: dict[str, VariableState]) -> Any:
    resolver = resolver_type(config, states)
    try:
        out = {
            section: resolver.resolve(config[section], [section]) for section in ("bundle", "workspace", "resources")
        }
    except BundleError as err:
        return "cycle", str(err)
    return out, resolver.unresolved


@settings(max_examples=120, deadline=None)
@given(configs())
def test_generated_configurations_resolve_as_the_copying_resolver_did(
    generated: tuple[dict[str, Any], dict[str, VariableState]],
) -> None:
    config, states = generated
    before = copy.deepcopy(config)
    expected = _resolve_all(CopyingResolver, copy.deepcopy(config), states)
    got = _resolve_all(Resolver, config, states)
    assert same(config, before)  # nothing changed in place
    if expected[0] == "cycle":
        assert got == expected
        return
    assert same(got[0], expected[0])
    assert got[1] == expected[1]  # unresolved: same expressions, reasons, paths, order


def test_subtrees_without_a_reference_are_returned_as_they_are() -> None:
    tasks = [{"task_key": "a", "cluster": {"workers": 2}}, {"task_key": "b", "name": "${var.x}"}]
    job = {"schedule": {"cron": "0 0 2 * * ?"}, "tasks": tasks, "tags": ["t"]}
    resolver = Resolver({}, {"x": VariableState("X")})
    out = resolver.resolve(job, ["resources", "jobs", "j"])
    assert out == {**job, "tasks": [tasks[0], {"task_key": "b", "name": "X"}]}
    assert out is not job and out["tasks"] is not tasks and out["tasks"][1] is not tasks[1]  # the changed path
    assert out["schedule"] is job["schedule"] and out["tags"] is job["tags"] and out["tasks"][0] is tasks[0]
    assert tasks[1]["name"] == "${var.x}"  # the input is not changed
    untouched = {"a": [1, {"b": "c"}], "d": None}
    assert resolver.resolve(untouched, ["x"]) is untouched


def test_an_unresolved_reference_repeated_everywhere_keeps_its_first_paths() -> None:
    config = {"jobs": {f"j{i}": {"owner": "${var.owner}", "n": f"job ${{var.owner}} {i % 2}"} for i in range(8)}}
    resolver = Resolver(config, {"owner": VariableState(reason="unset")})
    out = resolver.resolve(config["jobs"], ["resources", "jobs"])
    assert out is config["jobs"]  # nothing resolved, nothing copied
    (ref,) = resolver.unresolved  # whole-string and embedded uses are one expression
    assert ref.expression == "${var.owner}" and ref.reason == "unset"
    assert ref.paths == (
        "resources.jobs.j0.owner",
        "resources.jobs.j0.n",
        "resources.jobs.j1.owner",
        "resources.jobs.j1.n",
        "resources.jobs.j2.owner",
    )  # the first five, in order


def test_the_same_string_in_many_places_resolves_each_time_to_its_value() -> None:
    config = {"bundle": {"name": "b"}, "items": [{"n": "${bundle.name}-x", "v": "${var.cx}"} for _ in range(50)]}
    resolver = Resolver(config, {"cx": VariableState({"k": 1})})
    out = resolver.resolve(config["items"], ["items"])
    assert all(item == {"n": "b-x", "v": {"k": 1}} for item in out)
    assert not resolver.unresolved


def test_a_cycle_raises_even_when_its_strings_were_resolved_before() -> None:
    states = {"a": VariableState("${var.b}"), "b": VariableState("${var.a}")}
    resolver = Resolver({}, states)
    with pytest.raises(BundleError, match="cycle"):
        resolver.resolve({"x": "${var.a}"}, ["x"])
    with pytest.raises(BundleError, match="cycle"):
        Resolver({}, states).resolve(["${var.b}", "${var.a}"], ["y"])
