"""Databricks SQL -> DuckDB translation, type text parsing and value stringification."""

from __future__ import annotations

import datetime as dt

import pytest

from dbx_native.errors import InvalidRequestError
from dbx_native.local._catalog_types import ColumnType, parse_type_text
from dbx_native.local._sql_format import format_value
from dbx_native.local._sql_translate import SqlError, translate

CATALOGS = {"main"}


def test_three_part_names_of_known_catalogs_map_to_their_database():
    out = translate("SELECT * FROM main.fraud.tx JOIN other.s.t ON true", catalogs=CATALOGS)

    assert out.sql == 'SELECT * FROM "uc__main".fraud.tx JOIN other.s.t ON true'
    assert out.is_query


def test_schema_names_after_create_schema_map_too():
    out = translate("CREATE SCHEMA IF NOT EXISTS main.agents", catalogs=CATALOGS)

    assert out.sql == 'CREATE SCHEMA IF NOT EXISTS "uc__main".agents'
    assert not out.is_query


def test_markers_become_typed_duckdb_parameters_outside_strings_and_comments():
    out = translate(
        "SELECT ':a', \":a\", `:a`, x::INT, :a /* :b */ -- :c", catalogs=CATALOGS, parameter_types={"a": "BIGINT"}
    )

    assert out.sql == "SELECT ':a', ':a', \":a\", x::INT, CAST($a AS BIGINT) /* :b */ -- :c"
    assert out.parameters == ["a"]


def test_backslash_escapes_and_raw_strings_follow_spark():
    out = translate(r"SELECT 'it\'s', 'a\nb', r'\d+', 'x\%'", catalogs=CATALOGS)

    assert out.sql == "SELECT 'it''s', 'a\nb', '\\d+', 'x\\%'"


def test_using_delta_is_dropped_and_spark_type_names_are_renamed():
    out = translate("CREATE TABLE main.s.t (a INT) USING DELTA", catalogs=CATALOGS)
    cast = translate("SELECT CAST(x AS TIMESTAMP_NTZ), y::byte", catalogs=CATALOGS)

    assert out.sql == 'CREATE TABLE "uc__main".s.t (a INT)'
    assert out.target == ["main", "s", "t"]
    assert cast.sql == "SELECT CAST(x AS TIMESTAMP), y::TINYINT"


@pytest.mark.parametrize(
    ("sql", "error_class"),
    [
        ("SELECT 1; DROP TABLE x", "PARSE_SYNTAX_ERROR"),
        ("SELECT 'open", "PARSE_SYNTAX_ERROR"),
        ("SELECT :nope", "UNBOUND_SQL_PARAMETER"),
        ("  ;", "PARSE_SYNTAX_ERROR"),
    ],
)
def test_bad_statements_raise_sql_errors(sql, error_class):
    with pytest.raises(SqlError) as excinfo:
        translate(sql, catalogs=CATALOGS)
    assert excinfo.value.error_class == error_class
    assert isinstance(excinfo.value, InvalidRequestError)


def test_a_trailing_semicolon_is_fine():
    assert translate("SELECT 1;  ", catalogs=CATALOGS).sql == "SELECT 1"


@pytest.mark.parametrize(
    ("text", "type_text", "duckdb"),
    [
        ("LONG", "bigint", "BIGINT"),
        ("Decimal(10, 2)", "decimal(10,2)", "DECIMAL(10,2)"),
        (
            "array<struct<a:int,`b c`:string>>",
            "array<struct<a:int,b c:string>>",
            'STRUCT("a" INTEGER, "b c" VARCHAR)[]',
        ),
        ("map<string,double>", "map<string,double>", "MAP(VARCHAR, DOUBLE)"),
        ("timestamp_ntz", "timestamp_ntz", "TIMESTAMP"),
        ("varchar(20)", "string", "VARCHAR"),
    ],
)
def test_type_text_parses_into_uc_and_duckdb_forms(text, type_text, duckdb):
    parsed = parse_type_text(text)

    assert (parsed.type_text, parsed.duckdb) == (type_text, duckdb)


@pytest.mark.parametrize("text", ["bigint<", "decimal(40,2)", "array<>", "struct<a>", "widget"])
def test_bad_type_text_is_refused(text):
    with pytest.raises(InvalidRequestError):
        parse_type_text(text)


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [
        (1.0, "double", "1.0"),
        (123456789.0, "double", "1.23456789E8"),
        (0.0001, "double", "1.0E-4"),
        (-2.5e-10, "double", "-2.5E-10"),
        (float("inf"), "double", "Infinity"),
        (0.30000001192092896, "float", "0.3"),
        (True, "boolean", "true"),
        (
            dt.datetime(2026, 1, 1, 5, 6, 7, 8000, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            "timestamp",
            "2026-01-01T03:06:07.008Z",
        ),
        (dt.datetime(2026, 1, 1), "timestamp_ntz", "2026-01-01T00:00:00.000"),
        ({"k": [1, None]}, "struct", '{"k":[1,null]}'),
        (None, "string", None),
    ],
)
def test_values_are_formatted_like_the_statement_api(value, kind, expected):
    assert format_value(value, ColumnType(kind)) == expected
