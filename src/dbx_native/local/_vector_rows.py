"""Row-level helpers of `LocalVectorStore`: column type checks, key order and crash-safe files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["INT_TYPES", "atomic_write", "coerce", "sort_key"]

INT_TYPES = frozenset({"int", "integer", "long", "bigint", "short", "smallint", "tinyint", "byte"})
_FLOAT_TYPES = frozenset({"float", "double", "decimal"})


def coerce(type_text: str | None, value: Any) -> Any:
    """A row value checked against (and converted to) the index column's declared type; raises `ValueError`."""
    if value is None or type_text is None:
        return value
    if type_text in INT_TYPES:
        if isinstance(value, bool) or not isinstance(value, int | float) or float(value) != int(value):
            raise ValueError("not an integer")
        return int(value)
    if type_text in _FLOAT_TYPES:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("not a number")
        return float(value)
    if type_text == "boolean":
        if not isinstance(value, bool):
            raise ValueError("not a boolean")
        return value
    if type_text.startswith("array"):
        if not isinstance(value, list):
            raise ValueError("not an array")
        return value
    if not isinstance(value, str):
        raise ValueError("not a string")
    return value


def sort_key(key: Any) -> tuple[int, Any]:
    """Primary keys in scan order: numbers first, then everything else as text."""
    return (0, key) if isinstance(key, int | float) else (1, str(key))


def atomic_write(path: Path, data: bytes) -> None:
    """Write a file so that a crash leaves the old or the new content, never half of it."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
