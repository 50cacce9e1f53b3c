"""The filter semantics of AI Search standard endpoints, evaluated over a local index.

A filter is a JSON object (or a list of them, all ANDed) whose keys name a column and an operator:

| key            | value   | matches rows where                                              |
|----------------|---------|-----------------------------------------------------------------|
| `"col"`        | scalar  | `col == value`                                                  |
| `"col"`        | list    | `col` is one of the values                                      |
| `"col NOT"`    | scalar  | `col != value` (rows without a value match)                     |
| `"col NOT"`    | list    | `col` is none of the values                                     |
| `"col <"` ...  | scalar  | `col < value` (also `<=`, `>`, `>=`; rows without a value never) |
| `"col LIKE"`   | string  | `value` is a whole token of `col` (case-insensitive); with a `%` |
|                |         | in it, a SQL LIKE pattern (`%`, `_`) over the whole value       |
| `"a OR b"`     | list    | any part matches its value (`["x", "y"]`: `a == x` or `b == y`)  |

Parsing is written independently of the client's `Filter` builder on purpose: a shared bug would hide itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from dbx_native.local._wire import LocalApiError

__all__ = ["Condition", "compile_filters", "evaluate"]

_OPERATORS = ("NOT", "<", "<=", ">", ">=", "LIKE", "=", "!=")
_TOKEN = re.compile(r"\w+")

Columns = Callable[[str], npt.NDArray[Any]]


@dataclass(frozen=True)
class Condition:
    """One clause: a column, an operator (`""` for equality) and the value."""

    column: str
    op: str
    value: Any


@dataclass(frozen=True)
class _AnyOf:
    parts: tuple[Condition, ...]


Clause = Condition | _AnyOf


def compile_filters(filters: Any, known_columns: Sequence[str]) -> list[Clause]:
    """Parse `filters` (a dict, a list of dicts, or a JSON string of either) into clauses.

    Raises:
        LocalApiError: 400 for a malformed filter or an unknown column.
    """
    if filters is None or filters == "" or filters == {}:
        return []
    if isinstance(filters, str):
        import json

        try:
            filters = json.loads(filters)
        except ValueError as err:
            raise LocalApiError(400, f"filters_json is not valid JSON: {err}") from err
    groups = filters if isinstance(filters, list) else [filters]
    clauses: list[Clause] = []
    for group in groups:
        if not isinstance(group, Mapping):
            raise LocalApiError(400, f"Filters must be a JSON object or a list of objects, not {group!r}")
        for key, value in group.items():
            clauses.append(_clause(str(key), value, known_columns))
    return clauses


def _clause(key: str, value: Any, known: Sequence[str]) -> Clause:
    if " OR " in key:
        parts = [p.strip() for p in key.split(" OR ")]
        if not isinstance(value, list) or len(value) != len(parts):
            raise LocalApiError(400, f"Filter {key!r} needs a list of {len(parts)} values, one per column")
        return _AnyOf(tuple(_condition(p, v, known) for p, v in zip(parts, value, strict=True)))
    return _condition(key, value, known)


def _condition(key: str, value: Any, known: Sequence[str]) -> Condition:
    column, _, op = key.strip().partition(" ")
    op = op.strip().upper()
    if op not in ("", *_OPERATORS):
        raise LocalApiError(400, f"Unsupported filter operator {op!r} in {key!r}")
    if column not in known:
        raise LocalApiError(400, f"Filter column {column!r} does not exist in the index; columns: {sorted(known)}")
    if op in ("<", "<=", ">", ">=", "LIKE") and isinstance(value, list):
        raise LocalApiError(400, f"Filter {key!r} takes one value, not a list")
    if op == "LIKE" and not isinstance(value, str):
        raise LocalApiError(400, f"Filter {key!r} takes a string")
    return Condition(column, {"=": "", "!=": "NOT"}.get(op, op), value)


def evaluate(clauses: Sequence[Clause], n: int, column: Columns) -> npt.NDArray[np.bool_]:
    """A boolean mask of the `n` rows that pass every clause; `column(name)` gives a column's values."""
    mask = np.ones(n, dtype=bool)
    for clause in clauses:
        if isinstance(clause, _AnyOf):
            part = np.zeros(n, dtype=bool)
            for cond in clause.parts:
                part |= _match(cond, column(cond.column))
            mask &= part
        else:
            mask &= _match(clause, column(clause.column))
    return mask


def _match(cond: Condition, values: npt.NDArray[Any]) -> npt.NDArray[np.bool_]:
    op, value = cond.op, cond.value
    if op in ("", "NOT"):
        wanted = value if isinstance(value, list) else [value]
        hit = np.zeros(len(values), dtype=bool)
        for w in wanted:
            if isinstance(w, str):
                hit |= np.asarray(values == w, dtype=bool)  # vectorised: strings compare only to strings
            else:
                hit |= np.fromiter((_equal(v, w) for v in values), dtype=bool, count=len(values))
        return ~hit if op == "NOT" else hit
    if op == "LIKE":
        return np.fromiter((_like(v, value) for v in values), dtype=bool, count=len(values))
    return np.fromiter((_compare(v, op, value) for v in values), dtype=bool, count=len(values))


def _equal(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b or (isinstance(a, bool) and isinstance(b, bool) and a == b)
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    return bool(a == b)


def _compare(a: Any, op: str, b: Any) -> bool:
    if a is None or b is None:
        return False
    try:
        if op == "<":
            return bool(a < b)
        if op == "<=":
            return bool(a <= b)
        if op == ">":
            return bool(a > b)
        return bool(a >= b)
    except TypeError:
        return False


def _like(value: Any, pattern: str) -> bool:
    if value is None:
        return False
    text = str(value)
    if "%" in pattern:
        regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
        return re.fullmatch(regex, text, flags=re.IGNORECASE | re.DOTALL) is not None
    return pattern.lower() in {t.lower() for t in _TOKEN.findall(text)}
