"""`Filter`: builds AI Search filter dictionaries (`{"seq >=": 3, "role": ["user", "assistant"]}`) from values.

Column names are checked (identifiers only), so a value can never smuggle an operator into a key, and values
must be JSON scalars (or lists of them for "one of"). `validate()` rejects columns the index does not have.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from dbx_native.errors import InvalidRequestError

__all__ = ["Filter", "filter_columns", "normalize_filters"]

_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_OPS = {"==": "", "=": "", "!=": "NOT", "NOT": "NOT", "<": "<", "<=": "<=", ">": ">", ">=": ">=", "LIKE": "LIKE"}
_KEY_OPS = frozenset({"", "NOT", "<", "<=", ">", ">=", "LIKE"})
Scalar = str | int | float | bool


class Filter:
    """An AND of conditions, in Databricks AI Search filter syntax (standard endpoints).

    Build it with keyword equalities and chained methods; every method returns a new `Filter`.

    Example:
        >>> Filter(role="user").where("seq", ">=", 3).like("text", "refund").to_dict()
        {'role': 'user', 'seq >=': 3, 'text LIKE': 'refund'}
        >>> Filter().one_of("role", ["user", "tool"]).not_("conversation_id", "c-9").to_dict()
        {'role': ['user', 'tool'], 'conversation_id NOT': 'c-9'}
        >>> Filter().any_of(role="tool", conversation_id="c-1").to_dict()
        {'role OR conversation_id': ['tool', 'c-1']}
    """

    __slots__ = ("_items",)

    def __init__(self, **equals: Scalar) -> None:
        self._items: dict[str, Any] = {}
        for column, value in equals.items():
            self._put(column, "", _scalar(column, value))

    # --- builders -------------------------------------------------------------------------------

    def where(self, column: str, op: str, value: Scalar | Iterable[Scalar]) -> Filter:
        """`column op value`; `op` is one of `==`, `!=`, `<`, `<=`, `>`, `>=`, `LIKE` (or `NOT`).

        Raises:
            InvalidRequestError: An unknown operator, a bad column name or a value that is not a JSON scalar.
        """
        key_op = _OPS.get(op.strip().upper())
        if key_op is None:
            raise InvalidRequestError(f"unknown filter operator {op!r}; use one of {sorted(_OPS)}")
        if key_op in ("", "NOT") and _is_list(value):
            return self._with(column, key_op, [_scalar(column, v) for v in value])  # type: ignore[union-attr]
        if key_op == "LIKE" and not isinstance(value, str):
            raise InvalidRequestError(f"LIKE on {column!r} takes a string, not {type(value).__name__}")
        return self._with(column, key_op, _scalar(column, value))

    def eq(self, column: str, value: Scalar) -> Filter:
        """`column == value`."""
        return self.where(column, "==", value)

    def not_(self, column: str, value: Scalar | Iterable[Scalar]) -> Filter:
        """`column != value` (or not one of the values)."""
        return self.where(column, "!=", value)

    def one_of(self, column: str, values: Iterable[Scalar]) -> Filter:
        """`column` is one of `values`."""
        values = list(values)
        if not values:
            raise InvalidRequestError(f"one_of({column!r}) needs at least one value")
        return self._with(column, "", [_scalar(column, v) for v in values])

    def lt(self, column: str, value: Scalar) -> Filter:
        """`column < value`."""
        return self.where(column, "<", value)

    def le(self, column: str, value: Scalar) -> Filter:
        """`column <= value`."""
        return self.where(column, "<=", value)

    def gt(self, column: str, value: Scalar) -> Filter:
        """`column > value`."""
        return self.where(column, ">", value)

    def ge(self, column: str, value: Scalar) -> Filter:
        """`column >= value`."""
        return self.where(column, ">=", value)

    def like(self, column: str, token: str) -> Filter:
        """`token` is a word of `column` (token-based LIKE); with `%` in it, a LIKE pattern."""
        return self.where(column, "LIKE", token)

    def any_of(self, **equals: Scalar) -> Filter:
        """At least one of the equalities holds (`{"a OR b": [x, y]}`).

        Raises:
            InvalidRequestError: Fewer than two columns.
        """
        if len(equals) < 2:
            raise InvalidRequestError("any_of() needs at least two column=value pairs")
        for column in equals:
            _check_column(column)
        key = " OR ".join(equals)
        return self._copy_with(key, [_scalar(c, v) for c, v in equals.items()])

    # --- output ---------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The filter as the service takes it (a copy)."""
        return {k: list(v) if isinstance(v, list) else v for k, v in self._items.items()}

    def to_json(self) -> str:
        """The filter as the `filters_json` string of a query."""
        return json.dumps(self._items, separators=(",", ":"))

    @property
    def columns(self) -> set[str]:
        """The columns this filter reads."""
        return filter_columns(self._items)

    def __and__(self, other: Filter) -> Filter:
        merged = Filter()
        merged._items = dict(self._items)
        for key, value in other._items.items():
            if key in merged._items and merged._items[key] != value:
                raise InvalidRequestError(f"both filters set {key!r} to different values; combine them with one_of")
            merged._items[key] = value
        return merged

    def __bool__(self) -> bool:
        return bool(self._items)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Filter) and other._items == self._items

    def __hash__(self) -> int:
        return hash(self.to_json())

    def __repr__(self) -> str:
        return f"Filter({self._items!r})"

    # --- internals ------------------------------------------------------------------------------

    def _with(self, column: str, op: str, value: Any) -> Filter:
        _check_column(column)
        return self._copy_with(f"{column} {op}" if op else column, value)

    def _copy_with(self, key: str, value: Any) -> Filter:
        if key in self._items:
            raise InvalidRequestError(f"the filter already has a condition {key!r}; use one_of() for several values")
        clone = Filter()
        clone._items = {**self._items, key: value}
        return clone

    def _put(self, column: str, op: str, value: Any) -> None:
        self._items = self._with(column, op, value)._items


def normalize_filters(
    filters: Filter | Mapping[str, Any] | None, known: Collection[str] | None = None
) -> dict[str, Any]:
    """A filter dict from a `Filter` or a plain dict, checked; columns checked against `known` when given.

    Raises:
        InvalidRequestError: A malformed key or value, or a column the index does not have.
    """
    if filters is None:
        return {}
    if isinstance(filters, Filter):
        items = filters.to_dict()
    elif isinstance(filters, Mapping):
        items = {}
        for key, value in filters.items():
            parts = [_parse_key(str(p)) for p in str(key).split(" OR ")]
            if len(parts) > 1 and (not isinstance(value, list) or len(value) != len(parts)):
                raise InvalidRequestError(f"filter {key!r} needs a list of {len(parts)} values, one per column")
            values = value if len(parts) > 1 else [value]
            for (column, _), v in zip(parts, values, strict=True):
                if _is_list(v):
                    [_scalar(column, x) for x in v]
                else:
                    _scalar(column, v)
            items[str(key)] = value
    else:
        raise InvalidRequestError(f"filters must be a Filter or a dict, not {type(filters).__name__}")
    if known is not None:
        unknown = sorted(filter_columns(items) - set(known))
        if unknown:
            raise InvalidRequestError(
                f"filter column(s) {unknown} are not in the index; its columns are {sorted(known)}"
            )
    return items


def filter_columns(items: Mapping[str, Any]) -> set[str]:
    """The column names a filter dict reads."""
    return {_parse_key(part)[0] for key in items for part in str(key).split(" OR ")}


def _parse_key(key: str) -> tuple[str, str]:
    column, _, op = key.strip().partition(" ")
    op = op.strip().upper()
    _check_column(column)
    if op not in _KEY_OPS:
        raise InvalidRequestError(f"unknown filter operator {op!r} in {key!r}; use NOT, <, <=, >, >= or LIKE")
    return column, op


def _check_column(column: str) -> None:
    if not isinstance(column, str) or not _COLUMN.match(column):
        raise InvalidRequestError(f"filter column {column!r} must be a plain identifier (letters, digits, '_')")


def _is_list(value: Any) -> bool:
    return isinstance(value, list | tuple | set | frozenset)


def _scalar(column: str, value: Any) -> Scalar:
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidRequestError(f"filter value for {column!r} must be a finite number, not {value!r}")
        return value
    raise InvalidRequestError(
        f"filter value for {column!r} must be a string, number or boolean, not {type(value).__name__}"
    )
