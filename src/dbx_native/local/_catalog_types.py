"""Column types of local Unity Catalog tables: Databricks type text <-> DuckDB <-> Spark JSON, and inference.

One small tree (`ColumnType`) is the meeting point: it is parsed from Databricks type text
(`"decimal(10,2)"`, `"array<string>"`, `"struct<a:bigint,b:string>"`), built from a DuckDB result type,
or inferred from Python values, and renders every form the REST API and DuckDB need.

Inference from Python values (documented in `docs/local-tables-and-sql.md`):
`bool` -> boolean, `int` -> bigint, `float` -> double (ints and floats in one column widen to double, as
Spark does), `str` -> string, `bytes` -> binary, `datetime` -> timestamp (an instant; naive values are read as
UTC), `date` -> date, `Decimal` -> decimal(38, largest scale seen), `list` -> array<element>,
`dict` -> struct<keys...> (the union of the keys seen, in first-seen order). Any other mix is an error.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from dbx_native.errors import InvalidRequestError

__all__ = ["ColumnType", "from_duckdb_type", "infer_type", "parse_type_text"]

# kind -> (Databricks type_text, UC/SQL type_name, DuckDB type, Spark JSON type)
_PRIMITIVES: dict[str, tuple[str, str, str, str]] = {
    "boolean": ("boolean", "BOOLEAN", "BOOLEAN", "boolean"),
    "tinyint": ("tinyint", "BYTE", "TINYINT", "byte"),
    "smallint": ("smallint", "SHORT", "SMALLINT", "short"),
    "int": ("int", "INT", "INTEGER", "integer"),
    "bigint": ("bigint", "LONG", "BIGINT", "long"),
    "float": ("float", "FLOAT", "FLOAT", "float"),
    "double": ("double", "DOUBLE", "DOUBLE", "double"),
    "string": ("string", "STRING", "VARCHAR", "string"),
    "binary": ("binary", "BINARY", "BLOB", "binary"),
    "date": ("date", "DATE", "DATE", "date"),
    "timestamp": ("timestamp", "TIMESTAMP", "TIMESTAMPTZ", "timestamp"),
    "timestamp_ntz": ("timestamp_ntz", "TIMESTAMP_NTZ", "TIMESTAMP", "timestamp_ntz"),
    "interval": ("interval", "INTERVAL", "INTERVAL", "string"),
    "void": ("void", "NULL", '"NULL"', "void"),
}

# Databricks spellings -> our kind.
_ALIASES: dict[str, str] = {
    "boolean": "boolean",
    "bool": "boolean",
    "tinyint": "tinyint",
    "byte": "tinyint",
    "smallint": "smallint",
    "short": "smallint",
    "int": "int",
    "integer": "int",
    "bigint": "bigint",
    "long": "bigint",
    "float": "float",
    "real": "float",
    "double": "double",
    "string": "string",
    "varchar": "string",
    "char": "string",
    "binary": "binary",
    "date": "date",
    "timestamp": "timestamp",
    "timestamp_ltz": "timestamp",
    "timestamp_ntz": "timestamp_ntz",
    "interval": "interval",
    "void": "void",
}

# DuckDB type ids -> our kind (types Databricks lacks map to the nearest one that holds every value).
_DUCKDB_IDS: dict[str, str] = {
    "boolean": "boolean",
    "tinyint": "tinyint",
    "smallint": "smallint",
    "integer": "int",
    "bigint": "bigint",
    "utinyint": "smallint",
    "usmallint": "int",
    "uinteger": "bigint",
    "float": "float",
    "double": "double",
    "varchar": "string",
    "uuid": "string",
    "json": "string",
    "enum": "string",
    "time": "string",
    "time with time zone": "string",
    "bit": "string",
    "union": "string",
    "blob": "binary",
    "date": "date",
    "timestamp with time zone": "timestamp",
    "timestamp": "timestamp_ntz",
    "timestamp_s": "timestamp_ntz",
    "timestamp_ms": "timestamp_ntz",
    "timestamp_ns": "timestamp_ntz",
    "interval": "interval",
    '"null"': "void",
    "null": "void",
}


@dataclass(frozen=True)
class ColumnType:
    """A Databricks column type.

    Attributes:
        kind: `bigint`, `string`, ..., or `decimal`, `array`, `map`, `struct`.
        precision: Decimal precision.
        scale: Decimal scale.
        children: Element type (array), key and value types (map), or the fields (struct).
        names: Struct field names, parallel to `children`.
    """

    kind: str
    precision: int = 0
    scale: int = 0
    children: tuple[ColumnType, ...] = ()
    names: tuple[str, ...] = field(default=())

    @property
    def type_text(self) -> str:
        """Databricks type text, lower case (`decimal(10,2)`, `array<string>`), as Unity Catalog shows it."""
        return self._text(upper=False)

    @property
    def sql_type_text(self) -> str:
        """Type text as the SQL Statement API shows it: keywords upper case (`ARRAY<STRING>`), field names as is."""
        return self._text(upper=True)

    def _text(self, *, upper: bool) -> str:
        if self.kind == "decimal":
            text = f"decimal({self.precision},{self.scale})"
        elif self.kind == "array":
            return f"{'ARRAY' if upper else 'array'}<{self.children[0]._text(upper=upper)}>"
        elif self.kind == "map":
            key, value = (c._text(upper=upper) for c in self.children)
            return f"{'MAP' if upper else 'map'}<{key},{value}>"
        elif self.kind == "struct":
            inner = ",".join(f"{n}:{c._text(upper=upper)}" for n, c in zip(self.names, self.children, strict=True))
            return f"{'STRUCT' if upper else 'struct'}<{inner}>"
        else:
            text = _PRIMITIVES[self.kind][0]
        return text.upper() if upper else text

    @property
    def type_name(self) -> str:
        """The `ColumnTypeName` enum value (`LONG`, `STRING`, `DECIMAL`, `ARRAY`, ...)."""
        if self.kind in ("decimal", "array", "map", "struct"):
            return self.kind.upper()
        return _PRIMITIVES[self.kind][1]

    @property
    def duckdb(self) -> str:
        """The DuckDB type used to store the column."""
        if self.kind == "decimal":
            return f"DECIMAL({self.precision},{self.scale})"
        if self.kind == "array":
            return f"{self.children[0].duckdb}[]"
        if self.kind == "map":
            return f"MAP({self.children[0].duckdb}, {self.children[1].duckdb})"
        if self.kind == "struct":
            inner = ", ".join(f"{quote_ident(n)} {c.duckdb}" for n, c in zip(self.names, self.children, strict=True))
            return f"STRUCT({inner})"
        return _PRIMITIVES[self.kind][2]

    def spark_json(self) -> Any:
        """The Spark JSON schema form of the type (a string for simple types, an object otherwise)."""
        if self.kind == "decimal":
            return f"decimal({self.precision},{self.scale})"
        if self.kind == "array":
            return {"type": "array", "elementType": self.children[0].spark_json(), "containsNull": True}
        if self.kind == "map":
            key, value = self.children
            return {
                "type": "map",
                "keyType": key.spark_json(),
                "valueType": value.spark_json(),
                "valueContainsNull": True,
            }
        if self.kind == "struct":
            fields = [
                {"name": n, "type": c.spark_json(), "nullable": True, "metadata": {}}
                for n, c in zip(self.names, self.children, strict=True)
            ]
            return {"type": "struct", "fields": fields}
        return _PRIMITIVES[self.kind][3]

    def type_json(self, name: str, *, nullable: bool) -> str:
        """The `type_json` string of a UC `ColumnInfo`: the Spark JSON of one struct field."""
        return json.dumps(
            {"name": name, "type": self.spark_json(), "nullable": nullable, "metadata": {}}, separators=(",", ":")
        )


def quote_ident(name: str) -> str:
    """Quote an identifier for DuckDB."""
    return '"' + name.replace('"', '""') + '"'


# ---------------------------------------------------------------------------------------------- parsing type text

_TOKEN = re.compile(r"\s*(?:(`(?:[^`]|``)*`)|([A-Za-z_][A-Za-z0-9_]*)|(\d+)|([<>(),:]))")


def parse_type_text(text: str) -> ColumnType:
    """Parse Databricks type text such as `bigint`, `decimal(10,2)`, `array<string>`, `struct<a:int,b:string>`.

    Args:
        text: The type, in any case.

    Returns:
        The parsed type.

    Raises:
        InvalidRequestError: The text is not a type we know.
    """
    tokens: list[str] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            if text[pos:].strip() == "":
                break
            raise InvalidRequestError(_type_error(text))
        tokens.append(next(g for g in m.groups() if g is not None))
        pos = m.end()
    parser = _TypeParser(tokens, text)
    result = parser.parse()
    if parser.pos != len(tokens):
        raise InvalidRequestError(_type_error(text))
    return result


def _type_error(text: str) -> str:
    return (
        f"Unknown column type {text!r}: use Databricks type text such as 'bigint', 'double', 'string', 'boolean', "
        "'date', 'timestamp', 'decimal(10,2)', 'array<string>', 'map<string,bigint>' or 'struct<a:bigint,b:string>'."
    )


class _TypeParser:
    def __init__(self, tokens: list[str], text: str) -> None:
        self.tokens = tokens
        self.text = text
        self.pos = 0

    def _next(self) -> str:
        if self.pos >= len(self.tokens):
            raise InvalidRequestError(_type_error(self.text))
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def _expect(self, tok: str) -> None:
        if self._next() != tok:
            raise InvalidRequestError(_type_error(self.text))

    def _peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def parse(self) -> ColumnType:
        word = self._next().lower()
        if word in ("decimal", "dec", "numeric"):
            precision, scale = 10, 0
            if self._peek() == "(":
                self._next()
                precision = int(self._next())
                if self._peek() == ",":
                    self._next()
                    scale = int(self._next())
                self._expect(")")
            if not 1 <= precision <= 38 or not 0 <= scale <= precision:
                raise InvalidRequestError(
                    f"Bad decimal type in {self.text!r}: precision 1..38 and 0 <= scale <= precision."
                )
            return ColumnType("decimal", precision=precision, scale=scale)
        if word == "array":
            self._expect("<")
            element = self.parse()
            self._expect(">")
            return ColumnType("array", children=(element,))
        if word == "map":
            self._expect("<")
            key = self.parse()
            self._expect(",")
            value = self.parse()
            self._expect(">")
            return ColumnType("map", children=(key, value))
        if word == "struct":
            return self._parse_struct()
        if word in ("varchar", "char") and self._peek() == "(":
            self._next()
            self._next()
            self._expect(")")
        kind = _ALIASES.get(word)
        if kind is None:
            raise InvalidRequestError(_type_error(self.text))
        return ColumnType(kind)

    def _parse_struct(self) -> ColumnType:
        self._expect("<")
        names: list[str] = []
        children: list[ColumnType] = []
        while self._peek() != ">":
            if names:
                self._expect(",")
            name = self._next()
            names.append(name[1:-1].replace("``", "`") if name.startswith("`") else name)
            self._expect(":")
            children.append(self.parse())
        self._next()
        return ColumnType("struct", children=tuple(children), names=tuple(names))


# ---------------------------------------------------------------------------------------------- DuckDB types


def from_duckdb_type(duck_type: Any) -> ColumnType:
    """The Databricks type of a DuckDB result type (a `duckdb.DuckDBPyType`).

    Types Databricks lacks map to the closest one that holds every value (`UUID`, `TIME`, `JSON` -> string,
    unsigned integers -> the next wider signed type, `HUGEINT` -> decimal(38,0)).
    """
    type_id = str(duck_type.id).lower()
    if type_id == "decimal":
        params = dict(duck_type.children)
        return ColumnType("decimal", precision=int(params["precision"]), scale=int(params["scale"]))
    if type_id in ("hugeint", "uhugeint", "ubigint", "varint", "bignum"):
        return ColumnType("decimal", precision=38, scale=0)
    if type_id in ("list", "array"):
        return ColumnType("array", children=(from_duckdb_type(duck_type.children[0][1]),))
    if type_id == "map":
        params = dict(duck_type.children)
        return ColumnType("map", children=(from_duckdb_type(params["key"]), from_duckdb_type(params["value"])))
    if type_id == "struct":
        pairs = list(duck_type.children)
        return ColumnType(
            "struct", children=tuple(from_duckdb_type(t) for _, t in pairs), names=tuple(str(n) for n, _ in pairs)
        )
    return ColumnType(_DUCKDB_IDS.get(type_id, "string"))


# ---------------------------------------------------------------------------------------------- inference

_SIMPLE: list[tuple[type, str]] = [
    (bool, "boolean"),
    (int, "bigint"),
    (float, "double"),
    (str, "string"),
    (bytes, "binary"),
    (dt.datetime, "timestamp"),  # before date: datetime is a date subclass
    (dt.date, "date"),
]


def infer_type(values: Iterable[Any], *, column: str) -> ColumnType | None:
    """Infer the type of one column from its values (`None` when every value is null).

    Raises:
        InvalidRequestError: The column mixes types that do not widen into one.
    """
    result: ColumnType | None = None
    for value in values:
        if value is None:
            continue
        result = _merge(result, _type_of(value, column), column)
    return result


def _type_of(value: Any, column: str) -> ColumnType:
    for py_type, kind in _SIMPLE:
        if isinstance(value, py_type):
            return ColumnType(kind)
    if isinstance(value, Decimal):
        exponent = value.as_tuple().exponent
        scale = -exponent if isinstance(exponent, int) and exponent < 0 else 0
        return ColumnType("decimal", precision=38, scale=min(scale, 38))
    if isinstance(value, (list, tuple)):
        element = infer_type(value, column=column)
        return ColumnType("array", children=(element or ColumnType("void"),))
    if isinstance(value, dict):
        names: list[str] = []
        children: list[ColumnType] = []
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidRequestError(
                    f"Column {column!r}: dict keys must be strings to make a struct, got {key!r}."
                )
            names.append(key)
            children.append(infer_type([item], column=column) or ColumnType("void"))
        return ColumnType("struct", children=tuple(children), names=tuple(names))
    raise InvalidRequestError(
        f"Column {column!r}: cannot store a value of type {type(value).__name__}; use bool, int, float, str, bytes, "
        "datetime, date, Decimal, list or dict, or convert it first."
    )


def _merge(a: ColumnType | None, b: ColumnType, column: str) -> ColumnType:
    if a is None or a.kind == "void":
        return b
    if b.kind == "void" or a == b:
        return a
    if {a.kind, b.kind} == {"bigint", "double"}:
        return ColumnType("double")
    if a.kind == b.kind == "decimal":
        return ColumnType("decimal", precision=38, scale=max(a.scale, b.scale))
    if a.kind == b.kind == "array":
        return ColumnType("array", children=(_merge(a.children[0], b.children[0], column),))
    if a.kind == b.kind == "struct":
        fields = dict(zip(a.names, a.children, strict=True))
        for name, child in zip(b.names, b.children, strict=True):
            fields[name] = _merge(fields.get(name), child, column)
        return ColumnType("struct", children=tuple(fields.values()), names=tuple(fields))
    raise InvalidRequestError(
        f"Column {column!r} mixes {a.type_text} and {b.type_text} values: make the values one type, "
        f"or pass schema={{{column!r}: '<type>'}} to create_table."
    )


def finalize(column_type: ColumnType) -> ColumnType:
    """Replace the placeholder type of all-null nested parts (empty lists, null struct fields) by string."""
    if column_type.kind == "void":
        return ColumnType("string")
    if column_type.children:
        return ColumnType(
            column_type.kind,
            column_type.precision,
            column_type.scale,
            tuple(finalize(c) for c in column_type.children),
            column_type.names,
        )
    return column_type
