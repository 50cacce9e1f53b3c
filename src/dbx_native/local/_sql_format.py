"""Statement results as the SQL Statement Execution API sends them: every value a string, in chunks.

Stringification follows Databricks' `JSON_ARRAY` format: numbers `"1"`, `"1.5"` (doubles as Java prints them:
`"1.0E20"`), booleans `"true"`/`"false"`, decimals with their scale (`"1.50"`), dates `"2026-01-01"`,
timestamps ISO-8601 in UTC with milliseconds (`"2026-01-01T00:00:00.000Z"`; microseconds when present;
`timestamp_ntz` without the `Z`), arrays/structs/maps as JSON text, binary as base64, nulls as JSON null.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import struct
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from dbx_native.local._catalog_types import ColumnType

__all__ = ["Chunk", "format_value", "make_chunks", "manifest_columns"]


def format_value(value: Any, ctype: ColumnType) -> str | None:
    """One value as the API's `data_array` carries it."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float_text(value, single=ctype.kind == "float")
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        return _timestamp_text(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(_jsonable(value), separators=(",", ":"), ensure_ascii=False)
    return str(value)


def _float_text(value: float, *, single: bool) -> str:
    """Java's `Double.toString`/`Float.toString`, which is what Databricks prints."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    text = _shortest_single(value) if single else repr(value)
    digits = Decimal(text)
    if value == 0 or 1e-3 <= abs(value) < 1e7:
        plain = format(digits, "f")
        return plain if "." in plain else plain + ".0"
    sign, digit_tuple, exponent = digits.normalize().as_tuple()
    assert isinstance(exponent, int)
    mantissa = "".join(map(str, digit_tuple))
    power = exponent + len(mantissa) - 1
    fraction = mantissa[1:] or "0"
    return f"{'-' if sign else ''}{mantissa[0]}.{fraction}E{power}"


def _shortest_single(value: float) -> str:
    """The shortest decimal text that reads back as the same 32-bit float."""
    target = struct.unpack("f", struct.pack("f", value))[0]
    for precision in range(1, 10):
        text = f"{value:.{precision}g}"
        if struct.unpack("f", struct.pack("f", float(text)))[0] == target:
            return text
    return repr(value)


def _timestamp_text(value: dt.datetime) -> str:
    suffix = ""
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        suffix = "Z"
    fraction = f"{value.microsecond // 1000:03d}" if value.microsecond % 1000 == 0 else f"{value.microsecond:06d}"
    return f"{value.strftime('%Y-%m-%dT%H:%M:%S')}.{fraction}{suffix}"


def _jsonable(value: Any) -> Any:
    """Nested values as Spark's `to_json` writes them (timestamps and dates as strings, decimals as numbers)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and value.as_tuple().exponent == 0 else float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return _float_text(value, single=False)
    if isinstance(value, (dt.datetime, dt.date, bytes, bytearray, memoryview)):
        return format_value(value, ColumnType("string"))
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def manifest_columns(columns: Sequence[tuple[str, ColumnType]]) -> list[dict[str, Any]]:
    """The `manifest.schema.columns` entries (`type_text` upper case, as the SQL API sends it)."""
    out: list[dict[str, Any]] = []
    for position, (name, ctype) in enumerate(columns):
        entry: dict[str, Any] = {
            "name": name,
            "type_text": ctype.sql_type_text,
            # The SQL API's ColumnInfoTypeName has no TIMESTAMP_NTZ: such columns say TIMESTAMP.
            "type_name": "TIMESTAMP" if ctype.kind == "timestamp_ntz" else ctype.type_name,
            "position": position,
        }
        if ctype.kind == "decimal":
            entry["type_precision"] = ctype.precision
            entry["type_scale"] = ctype.scale
        out.append(entry)
    return out


class Chunk:
    """One chunk of a result: its offset and its rows as strings."""

    def __init__(self, index: int, row_offset: int, rows: list[list[str | None]], byte_count: int) -> None:
        self.index = index
        self.row_offset = row_offset
        self.rows = rows
        self.byte_count = byte_count

    def info(self) -> dict[str, Any]:
        """The `BaseChunkInfo` of the manifest."""
        return {
            "chunk_index": self.index,
            "row_offset": self.row_offset,
            "row_count": len(self.rows),
            "byte_count": self.byte_count,
        }


def make_chunks(
    columns: Sequence[tuple[str, ColumnType]],
    rows: Sequence[Sequence[Any]],
    *,
    chunk_rows: int,
    chunk_bytes: int,
    byte_limit: int,
) -> tuple[list[Chunk], bool]:
    """Stringify rows and cut them into chunks of at most `chunk_rows` rows and about `chunk_bytes` bytes.

    Returns:
        The chunks and whether the result was cut at `byte_limit` (`manifest.truncated`).
    """
    types = [ctype for _, ctype in columns]
    chunks: list[Chunk] = []
    current: list[list[str | None]] = []
    current_bytes = 0
    total = 0
    offset = 0
    for row in rows:
        text_row = [format_value(v, t) for v, t in zip(row, types, strict=True)]
        size = len(json.dumps(text_row, separators=(",", ":")).encode())
        if total + size > byte_limit:
            break
        if current and (len(current) >= chunk_rows or current_bytes + size > chunk_bytes):
            chunks.append(Chunk(len(chunks), offset, current, current_bytes))
            offset += len(current)
            current, current_bytes = [], 0
        current.append(text_row)
        current_bytes += size
        total += size
    else:
        if current:
            chunks.append(Chunk(len(chunks), offset, current, current_bytes))
        return chunks, False
    if current:
        chunks.append(Chunk(len(chunks), offset, current, current_bytes))
    return chunks, True
