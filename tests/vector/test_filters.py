"""The `Filter` builder: Databricks filter syntax from values, safely."""

from __future__ import annotations

import json
import math

import pytest

from dbx_native.errors import InvalidRequestError
from dbx_native.vector import Filter
from dbx_native.vector._filters import filter_columns, normalize_filters


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (lambda: Filter(role="user"), {"role": "user"}),
        (lambda: Filter().not_("role", "tool"), {"role NOT": "tool"}),
        (lambda: Filter().not_("role", ["tool", "system"]), {"role NOT": ["tool", "system"]}),
        (lambda: Filter().lt("seq", 3), {"seq <": 3}),
        (lambda: Filter().le("seq", 3), {"seq <=": 3}),
        (lambda: Filter().gt("score", 0.5), {"score >": 0.5}),
        (lambda: Filter().ge("seq", 3), {"seq >=": 3}),
        (lambda: Filter().like("text", "refund"), {"text LIKE": "refund"}),
        (lambda: Filter().one_of("role", ("user", "assistant")), {"role": ["user", "assistant"]}),
        (lambda: Filter().any_of(a="x", b=2), {"a OR b": ["x", 2]}),
        (lambda: Filter().where("seq", "==", 1).where("flag", "!=", True), {"seq": 1, "flag NOT": True}),
    ],
)
def test_each_operator_builds_the_service_syntax(build: object, expected: dict[str, object]) -> None:
    f = build()  # type: ignore[operator]
    assert f.to_dict() == expected
    assert json.loads(f.to_json()) == expected


def test_filters_combine_with_and_and_refuse_contradictions() -> None:
    assert (Filter(role="user") & Filter().gt("seq", 1)).to_dict() == {"role": "user", "seq >": 1}
    with pytest.raises(InvalidRequestError, match="different values"):
        Filter(role="user") & Filter(role="tool")
    with pytest.raises(InvalidRequestError, match="already has"):
        Filter(role="user").eq("role", "tool")


@pytest.mark.parametrize("column", ["text LIKE", 'a" OR "b', "seq; DROP", "", "1abc", "a-b"])
def test_column_names_cannot_carry_operators_or_junk(column: str) -> None:
    with pytest.raises(InvalidRequestError, match="identifier"):
        Filter().eq(column, "x")


@pytest.mark.parametrize("value", [None, {"a": 1}, object(), math.nan, math.inf])
def test_values_must_be_json_scalars(value: object) -> None:
    with pytest.raises(InvalidRequestError, match="filter value"):
        Filter().eq("role", value)  # type: ignore[arg-type]


def test_bad_operators_and_shapes_are_refused() -> None:
    with pytest.raises(InvalidRequestError, match="operator"):
        Filter().where("seq", "~", 1)
    with pytest.raises(InvalidRequestError, match="takes a string"):
        Filter().where("text", "LIKE", 3)
    with pytest.raises(InvalidRequestError, match="two"):
        Filter().any_of(a=1)
    with pytest.raises(InvalidRequestError, match="at least one"):
        Filter().one_of("role", [])


def test_normalize_checks_dicts_and_known_columns() -> None:
    assert normalize_filters({"seq >=": 2, "role": ["a", "b"]}) == {"seq >=": 2, "role": ["a", "b"]}
    assert normalize_filters(None) == {}
    with pytest.raises(InvalidRequestError, match=r"\['colour'\]"):
        normalize_filters(Filter(colour="red"), known={"role", "seq"})
    with pytest.raises(InvalidRequestError, match="one per column"):
        normalize_filters({"a OR b": ["x"]})
    with pytest.raises(InvalidRequestError, match="Filter or a dict"):
        normalize_filters("role = 'x'")  # type: ignore[arg-type]
    assert filter_columns({"a OR b NOT": [1, 2], "seq <": 3}) == {"a", "b", "seq"}


def test_filters_are_values() -> None:
    assert Filter(role="user") == Filter(role="user")
    assert len({Filter(role="user"), Filter(role="user")}) == 1
    assert not Filter() and Filter(role="x")
    assert Filter(role="x").columns == {"role"}
