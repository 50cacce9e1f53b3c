"""Translate the Databricks SQL that agent code writes into DuckDB SQL.

A small tokenizer (strings, quoted identifiers and comments are never rewritten) handles the dialect bits:

- three-part names `catalog.schema.table`: the catalog part maps to the DuckDB database holding that catalog
  (`main` -> `"uc__main"`, since DuckDB reserves names such as `main` and `system`); after `SCHEMA`/`DATABASE`
  the two-part `catalog.schema` maps the same way;
- backtick identifiers -> double-quoted identifiers; double-quoted text -> a string literal (Spark reads
  `"bob"` as a string); backslash escapes in string literals (`'it\\'s'`) and raw strings (`r'\\d+'`);
- named parameter markers `:name` -> DuckDB `$name`, cast to the parameter's declared type;
  `::` casts and JSON paths (`raw:field`, no space before the colon) are left alone;
- `USING DELTA` in `CREATE TABLE` is dropped; Spark-only type names after `::`/`AS`
  (`timestamp_ntz`, `timestamp_ltz`, `byte`) are renamed.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from dbx_native.errors import InvalidRequestError

__all__ = ["SqlError", "Translated", "db_name", "translate"]

DB_PREFIX = "uc__"

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<comment>--[^\n]*|/\*.*?(?:\*/|\Z))
  | (?P<sstring>'(?:[^'\\]|\\.|'')*(?:'|\Z))
  | (?P<dstring>"(?:[^"\\]|\\.|"")*(?:"|\Z))
  | (?P<qident>`(?:[^`]|``)*(?:`|\Z))
  | (?P<param>:[A-Za-z_][A-Za-z0-9_]*)
  | (?P<cast>::)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+)
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)

_QUERY_KEYWORDS = frozenset({"SELECT", "WITH", "VALUES", "SHOW", "DESCRIBE", "DESC", "EXPLAIN", "FROM", "TABLE", "("})
_TYPE_RENAMES = {"TIMESTAMP_NTZ": "TIMESTAMP", "TIMESTAMP_LTZ": "TIMESTAMPTZ", "BYTE": "TINYINT"}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "0": "\0", "Z": "\x1a"}


class SqlError(InvalidRequestError):
    """A statement failed: bad syntax, an unknown table or column, a bad cast, a constraint.

    Attributes:
        error_class: The Databricks error class (`PARSE_SYNTAX_ERROR`, `TABLE_OR_VIEW_NOT_FOUND`, ...).
        sql_state: The five-character SQLSTATE.
    """

    def __init__(self, error_class: str, message: str, *, sql_state: str) -> None:
        super().__init__(f"[{error_class}] {message} SQLSTATE: {sql_state}")
        self.error_class = error_class
        self.sql_state = sql_state


@dataclass
class Translated:
    """One statement translated for DuckDB.

    Attributes:
        sql: The DuckDB SQL.
        parameters: Names of the parameter markers used, in order of first use.
        keyword: The statement's first keyword, upper case (`SELECT`, `INSERT`, ...).
        is_query: Whether the statement only reads.
        target: Name parts (unquoted, as written) of the first name in a writing statement: the table it changes.
    """

    sql: str
    parameters: list[str] = field(default_factory=list)
    keyword: str = ""
    is_query: bool = True
    target: list[str] = field(default_factory=list)


def db_name(catalog: str) -> str:
    """The DuckDB database name that holds a Unity Catalog catalog."""
    return DB_PREFIX + catalog.lower()


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _spark_string(text: str, *, raw: bool) -> str:
    """The value of a Spark string literal token (quotes included)."""
    quote, body = text[0], text[1:-1] if len(text) > 1 and text[-1] == text[0] else text[1:]
    body = body.replace(quote * 2, quote)
    if raw:
        return body
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt in "%_":  # Spark keeps these escapes for LIKE patterns
                out.append("\\" + nxt)
            elif nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", body[i + 2 : i + 6]):
                out.append(chr(int(body[i + 2 : i + 6], 16)))
                i += 4
            else:
                out.append(_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _ident_value(kind: str, text: str) -> str:
    if kind == "qident":
        return text[1:-1].replace("``", "`")
    return text


def _tokenize(sql: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    for m in _TOKEN.finditer(sql):
        kind = m.lastgroup or "other"
        tokens.append((kind, m.group()))
    return tokens


def _unterminated(kind: str, text: str) -> bool:
    if kind == "sstring" or kind == "dstring" or kind == "qident":
        return len(text) < 2 or text[-1] != text[0] or _ends_escaped(text)
    return kind == "comment" and text.startswith("/*") and not text.endswith("*/")


def _ends_escaped(text: str) -> bool:
    if text[0] == "`":
        return False
    backslashes = len(text[1:-1]) - len(text[1:-1].rstrip("\\"))
    return backslashes % 2 == 1


def translate(sql: str, *, catalogs: Collection[str], parameter_types: Mapping[str, str] | None = None) -> Translated:
    """Translate one Databricks SQL statement into DuckDB SQL.

    Args:
        sql: The statement (one; a trailing `;` is fine).
        catalogs: Names of the local catalogs (lower case): only their three-part names are mapped.
        parameter_types: DuckDB type of each bound parameter; markers are cast to it.

    Returns:
        The translation.

    Raises:
        SqlError: More than one statement, an unterminated string, or a marker with no parameter bound.
    """
    types = dict(parameter_types or {})
    tokens = _tokenize(sql)
    out: list[str] = []
    result = Translated(sql="")
    significant: list[tuple[str, str]] = []  # words/punctuation seen so far, for context
    i = 0
    while i < len(tokens):
        kind, text = tokens[i]
        if _unterminated(kind, text):
            raise SqlError("PARSE_SYNTAX_ERROR", "Unterminated string, identifier or comment.", sql_state="42601")
        if kind in ("ws", "comment"):
            out.append(text)
            i += 1
            continue
        if kind == "other" and text == ";":
            if any(k not in ("ws", "comment") and t != ";" for k, t in tokens[i + 1 :]):
                raise SqlError(
                    "PARSE_SYNTAX_ERROR",
                    "Only one statement per request is supported: send the statements one by one.",
                    sql_state="42601",
                )
            break
        if not result.keyword:
            result.keyword = text.upper() if kind in ("word", "other") else ""
        if kind in ("word", "qident"):
            i = _name_chain(tokens, i, out, catalogs, significant, result)
            continue
        if kind == "sstring":
            raw = bool(out and significant) and out[-1].lower() == "r" and significant[-1][1].lower() == "r"
            if raw:
                out.pop()
            out.append(_literal(_spark_string(text, raw=raw)))
        elif kind == "dstring":
            out.append(_literal(_spark_string(text, raw=False)))
        elif kind == "param":
            out.append(_marker(text[1:], types, result, glued=_glued(tokens, i)))
        else:
            out.append(text)
        significant.append((kind, text))
        i += 1
    result.sql = "".join(out).strip()
    result.is_query = result.keyword in _QUERY_KEYWORDS
    if not result.sql:
        raise SqlError("PARSE_SYNTAX_ERROR", "The statement is empty.", sql_state="42601")
    return result


def _glued(tokens: list[tuple[str, str]], i: int) -> bool:
    """A `:name` directly after a word, `)` or `]` is a JSON path (`raw:field`), not a parameter marker."""
    if i == 0:
        return False
    kind, text = tokens[i - 1]
    return kind in ("word", "qident", "number") or text in (")", "]")


def _marker(name: str, types: Mapping[str, str], result: Translated, *, glued: bool) -> str:
    if glued:
        return ":" + name
    if name not in types:
        raise SqlError(
            "UNBOUND_SQL_PARAMETER",
            f"Found the unbound parameter: {name}. Pass it in `parameters` as {{'name': '{name}', 'value': ...}}.",
            sql_state="42P02",
        )
    if name not in result.parameters:
        result.parameters.append(name)
    return f"CAST(${name} AS {types[name]})"


def _name_chain(
    tokens: list[tuple[str, str]],
    i: int,
    out: list[str],
    catalogs: Collection[str],
    significant: list[tuple[str, str]],
    result: Translated,
) -> int:
    """Emit a dotted name chain starting at token `i`; return the index after it."""
    parts: list[tuple[str, str]] = [tokens[i]]
    j = i + 1
    while (
        j + 1 < len(tokens)
        and tokens[j] == ("other", ".")
        and tokens[j + 1][0] in ("word", "qident")
        and not _unterminated(*tokens[j + 1])
    ):
        parts.append(tokens[j + 1])
        j += 2
    prev = significant[-1][1].upper() if significant else ""
    values = [_ident_value(k, t) for k, t in parts]
    first_upper = parts[0][1].upper()
    if len(parts) == 1 and parts[0][0] == "word":
        nxt = _next_significant(tokens, j)
        if first_upper == "USING" and nxt is not None and nxt[1].upper() == "DELTA":
            # `CREATE TABLE ... USING DELTA`: every local table is a Delta-shaped table already.
            k = tokens.index(nxt, j)
            significant.append(nxt)
            return k + 1
        if prev in ("::", "AS") and first_upper in _TYPE_RENAMES:
            out.append(_TYPE_RENAMES[first_upper])
            significant.append(parts[0])
            return j
    is_schema_name = prev in ("SCHEMA", "DATABASE", "EXISTS") and _after_schema_keyword(significant)
    maps = (len(parts) >= 3 or (len(parts) == 2 and is_schema_name)) and values[0].lower() in catalogs
    rendered: list[str] = []
    for n, (kind, text) in enumerate(parts):
        if n == 0 and maps:
            rendered.append(_quote(db_name(values[0])))
        elif kind == "qident":
            rendered.append(_quote(values[n]))
        else:
            rendered.append(text)
    out.append(".".join(rendered))
    named = len(parts) > 1 or parts[0][0] == "qident" or not _is_keyword_like(parts[0][1])
    if named and not result.target and result.keyword not in _QUERY_KEYWORDS:
        result.target = values
    significant.append(parts[-1])
    return j


def _after_schema_keyword(significant: list[tuple[str, str]]) -> bool:
    words = [t.upper() for _, t in significant[-5:]]
    return "SCHEMA" in words or "DATABASE" in words


def _next_significant(tokens: list[tuple[str, str]], j: int) -> tuple[str, str] | None:
    for kind, text in tokens[j:]:
        if kind not in ("ws", "comment"):
            return (kind, text)
    return None


_KEYWORDS = frozenset(
    {"INSERT", "INTO", "OVERWRITE", "UPDATE", "DELETE", "FROM", "MERGE", "CREATE", "OR", "REPLACE", "TABLE", "IF"}
    | {"NOT", "EXISTS", "DROP", "TRUNCATE", "ALTER", "SCHEMA", "DATABASE", "VIEW", "TEMP", "TEMPORARY", "CATALOG"}
)


def _is_keyword_like(word: str) -> bool:
    return word.upper() in _KEYWORDS
