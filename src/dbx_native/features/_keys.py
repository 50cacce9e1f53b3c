"""Lookup keys: one column (`"merchant_id"`) or several (`["merchant_id", "region"]`), checked before sending.

A key is a `str` or an `int` per column. For one column the caller passes the bare value; for several, a
tuple (or list) in column order or a mapping of column -> value. Results are keyed the way the caller
can hash them: the bare value for one column, a tuple for several.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

from dbx_native.errors import InvalidRequestError

__all__ = ["KeySpec", "canonical"]


def canonical(values: Sequence[Any]) -> tuple[str, ...]:
    """A form of key values that matches whatever type the store sends back (SQL sends strings)."""
    return tuple(str(v) for v in values)


class KeySpec:
    """The key column(s) of a lookup and how caller keys map to them.

    Args:
        key: One column name, or the column names of a composite key.

    Raises:
        InvalidRequestError: No column, an empty or repeated name.
    """

    def __init__(self, key: str | Sequence[str]) -> None:
        columns = (key,) if isinstance(key, str) else tuple(key)
        if not columns:
            raise InvalidRequestError("key= needs at least one column name, e.g. key='merchant_id'.")
        for column in columns:
            if not isinstance(column, str) or not column.strip():
                raise InvalidRequestError(f"Each key column must be a non-empty string, got {column!r}.")
        if len(set(columns)) != len(columns):
            raise InvalidRequestError(f"Key columns must be distinct, got {list(columns)}.")
        self.columns: tuple[str, ...] = columns
        self.composite = len(columns) > 1

    def normalize(self, key: object) -> Hashable:
        """The caller's key in its hashable form (bare value, or tuple in column order), checked.

        Raises:
            InvalidRequestError: Wrong type, wrong number of parts, or a missing key column; the message
                names the key and the column.
        """
        if not self.composite:
            kind = type(key)
            if kind is str or kind is int:  # the fast path: no further checks needed
                return key
            single: Hashable = self._check(key, self._from_mapping(key) if isinstance(key, Mapping) else (key,))[0]
            return single
        if isinstance(key, Mapping):
            return self._check(key, self._from_mapping(key))
        if isinstance(key, (tuple, list)):
            if len(key) != len(self.columns):
                raise InvalidRequestError(
                    f"Key {key!r} has {len(key)} part(s); the lookup key is {list(self.columns)} "
                    f"({len(self.columns)} parts, in that order)."
                )
            return self._check(key, tuple(key))
        raise InvalidRequestError(
            f"Key {key!r} must be a tuple in the order {list(self.columns)} or a mapping of those columns "
            f"to values, not {type(key).__name__}."
        )

    def values(self, key: Hashable) -> tuple[Any, ...]:
        """The column values of a normalized key."""
        if self.composite:
            return key  # type: ignore[return-value]
        return (key,)

    def record(self, key: Hashable) -> dict[str, Any]:
        """A `dataframe_records` entry for a normalized key."""
        return dict(zip(self.columns, self.values(key), strict=True))

    def of_row(self, row: Mapping[str, Any]) -> tuple[str, ...] | None:
        """The canonical key of a row the store sent back (`None` when a key column is absent)."""
        try:
            return canonical([row[c] for c in self.columns])
        except KeyError:
            return None

    def _from_mapping(self, key: Mapping[Any, Any]) -> tuple[Any, ...]:
        missing = [c for c in self.columns if c not in key]
        if missing:
            raise InvalidRequestError(
                f"Key {dict(key)!r} is missing key column(s) {missing}: the lookup key is {list(self.columns)}."
            )
        extra = [c for c in key if c not in self.columns]
        if extra:
            raise InvalidRequestError(
                f"Key {dict(key)!r} has column(s) {extra} that are not part of the lookup key {list(self.columns)}."
            )
        return tuple(key[c] for c in self.columns)

    def _check(self, original: object, values: tuple[Any, ...]) -> tuple[Any, ...]:
        for column, value in zip(self.columns, values, strict=True):
            if isinstance(value, bool) or not isinstance(value, (str, int)):
                raise InvalidRequestError(
                    f"Key {original!r}: key column '{column}' must be a str or an int, "
                    f"not {type(value).__name__} ({value!r})."
                )
        return values

    def __repr__(self) -> str:
        return f"KeySpec({list(self.columns)!r})"
