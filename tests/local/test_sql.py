"""The SQL Statement Execution API of the local workspace, through the router."""

from __future__ import annotations

import datetime as dt
import json
import threading
from decimal import Decimal
from typing import Any

import pytest

from dbx_native.local._catalog import LocalCatalog
from dbx_native.local._router import Router
from dbx_native.local._sql import SqlStatementsBackend
from dbx_native.local._wire import LocalRequest

STATEMENTS = "/api/2.0/sql/statements"
UTC = dt.timezone.utc


class Api:
    def __init__(self, **options: Any) -> None:
        self.catalog = LocalCatalog()
        self.sql = SqlStatementsBackend(self.catalog, **options)
        self.router = Router()
        for route in [*self.catalog.routes(), *self.sql.routes()]:
            self.router.add(route)

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        raw = json.dumps(body).encode() if body is not None else b""
        response = self.router.dispatch(LocalRequest.build(method, path, "", {}, raw))
        return response.status, response.json_body()

    def run(self, statement: str, **fields: Any) -> dict[str, Any]:
        status, body = self.call("POST", STATEMENTS, {"statement": statement, "warehouse_id": "wh-1", **fields})
        assert status == 200, body
        return body


@pytest.fixture
def api() -> Api:
    a = Api()
    a.catalog.create_table(
        "main.fraud.tx",
        [
            {
                "id": 1,
                "merchant": "m_1",
                "amount": 12.5,
                "flagged": False,
                "seen_at": dt.datetime(2026, 1, 1, tzinfo=UTC),
            },
            {
                "id": 2,
                "merchant": "m_2",
                "amount": 99.0,
                "flagged": True,
                "seen_at": dt.datetime(2026, 1, 2, tzinfo=UTC),
            },
            {"id": 3, "merchant": "m_1", "amount": 7.25, "flagged": False, "seen_at": None},
        ],
    )
    return a


def test_select_returns_manifest_and_string_values(api):
    body = api.run("SELECT id, merchant, amount, flagged, seen_at FROM main.fraud.tx ORDER BY id")

    assert body["status"] == {"state": "SUCCEEDED"}
    manifest = body["manifest"]
    assert manifest["format"] == "JSON_ARRAY"
    assert manifest["schema"]["column_count"] == 5
    assert [(c["name"], c["type_name"], c["type_text"]) for c in manifest["schema"]["columns"]] == [
        ("id", "LONG", "BIGINT"),
        ("merchant", "STRING", "STRING"),
        ("amount", "DOUBLE", "DOUBLE"),
        ("flagged", "BOOLEAN", "BOOLEAN"),
        ("seen_at", "TIMESTAMP", "TIMESTAMP"),
    ]
    assert (manifest["total_row_count"], manifest["total_chunk_count"], manifest["truncated"]) == (3, 1, False)
    assert body["result"]["data_array"] == [
        ["1", "m_1", "12.5", "false", "2026-01-01T00:00:00.000Z"],
        ["2", "m_2", "99.0", "true", "2026-01-02T00:00:00.000Z"],
        ["3", "m_1", "7.25", "false", None],
    ]
    assert (body["result"]["chunk_index"], body["result"]["row_offset"], body["result"]["row_count"]) == (0, 0, 3)


def test_response_parses_with_the_sdk_types(api):
    from databricks.sdk.service.sql import StatementResponse, StatementState

    response = StatementResponse.from_dict(api.run("SELECT count(*) AS n FROM main.fraud.tx"))

    assert response.status is not None and response.status.state == StatementState.SUCCEEDED
    assert response.result is not None and response.result.data_array == [["3"]]


def test_catalog_and_schema_fields_resolve_unqualified_names(api):
    body = api.run("SELECT count(*) FROM tx", catalog="main", schema="fraud")
    two_part = api.run("SELECT count(*) FROM fraud.tx", catalog="main")

    assert body["result"]["data_array"] == two_part["result"]["data_array"] == [["3"]]


def test_backticks_and_double_quoted_strings_follow_databricks(api):
    body = api.run('SELECT `id` FROM `main`.`fraud`.`tx` WHERE merchant = "m_2"')

    assert body["result"]["data_array"] == [["2"]]


@pytest.mark.parametrize(
    ("type_", "value", "sql", "expected"),
    [
        ("STRING", "m_1", "SELECT count(*) FROM main.fraud.tx WHERE merchant = :p", "2"),
        ("INT", "2", "SELECT merchant FROM main.fraud.tx WHERE id = :p", "m_2"),
        ("BIGINT", "3", "SELECT merchant FROM main.fraud.tx WHERE id = :p", "m_1"),
        ("DOUBLE", "50.5", "SELECT count(*) FROM main.fraud.tx WHERE amount > :p", "1"),
        ("BOOLEAN", "true", "SELECT id FROM main.fraud.tx WHERE flagged = :p", "2"),
        ("DATE", "2026-01-02", "SELECT id FROM main.fraud.tx WHERE CAST(seen_at AS DATE) = :p", "2"),
        ("TIMESTAMP", "2026-01-01T12:00:00Z", "SELECT id FROM main.fraud.tx WHERE seen_at > :p", "2"),
        ("DECIMAL(10,2)", "7.25", "SELECT id FROM main.fraud.tx WHERE amount = :p", "3"),
    ],
)
def test_parameters_are_cast_by_their_type(api, type_, value, sql, expected):
    body = api.run(sql, parameters=[{"name": "p", "value": value, "type": type_}])

    assert body["status"]["state"] == "SUCCEEDED", body
    assert body["result"]["data_array"] == [[expected]]


def test_parameter_type_shows_in_the_result_type(api):
    body = api.run(
        "SELECT :n AS n, :s AS s",
        parameters=[{"name": "n", "value": "5", "type": "BIGINT"}, {"name": "s", "value": "5"}],
    )

    assert [c["type_name"] for c in body["manifest"]["schema"]["columns"]] == ["LONG", "STRING"]
    assert body["result"]["data_array"] == [["5", "5"]]


def test_null_parameter_values_are_sql_null(api):
    body = api.run("SELECT :x IS NULL", parameters=[{"name": "x", "value": None, "type": "INT"}])

    assert body["result"]["data_array"] == [["true"]]


def test_injection_shaped_values_are_only_strings(api):
    body = api.run(
        "SELECT count(*) FROM main.fraud.tx WHERE merchant = :m",
        parameters=[{"name": "m", "value": "x' OR 1=1 --"}],
    )
    echoed = api.run("SELECT :m", parameters=[{"name": "m", "value": "'; DROP TABLE main.fraud.tx; --"}])

    assert body["result"]["data_array"] == [["0"]]
    assert echoed["result"]["data_array"] == [["'; DROP TABLE main.fraud.tx; --"]]
    assert api.catalog.table_exists("main.fraud.tx")


def test_markers_inside_strings_comments_and_casts_are_not_parameters(api):
    body = api.run("SELECT ':p' AS a, 1::BIGINT AS b, :p AS c -- :q", parameters=[{"name": "p", "value": "v"}])

    assert body["result"]["data_array"] == [[":p", "1", "v"]]


def test_unbound_marker_fails_the_statement(api):
    body = api.run("SELECT :missing")

    assert body["status"]["state"] == "FAILED"
    assert body["status"]["error"]["error_code"] == "BAD_REQUEST"
    assert "UNBOUND_SQL_PARAMETER" in body["status"]["error"]["message"]


def test_bad_cast_of_a_parameter_fails_the_statement(api):
    body = api.run("SELECT :n + 1", parameters=[{"name": "n", "value": "abc", "type": "INT"}])

    assert body["status"]["state"] == "FAILED"
    assert body["status"]["sql_state"] == "22018"
    assert body["status"]["error"]["message"].startswith("[CAST_INVALID_INPUT]")


@pytest.mark.parametrize(
    ("sql", "error_class", "sql_state"),
    [
        ("SELEC 1", "PARSE_SYNTAX_ERROR", "42601"),
        ("SELECT * FROM main.fraud.nope", "TABLE_OR_VIEW_NOT_FOUND", "42P01"),
        ("SELECT nope FROM main.fraud.tx", "UNRESOLVED_COLUMN", "42703"),
        ("SELECT 1; SELECT 2", "PARSE_SYNTAX_ERROR", "42601"),
        ("SELECT 1 // 0", "DIVIDE_BY_ZERO", "22012"),
    ],
)
def test_sql_errors_are_failed_statements_with_error_class_and_sql_state(api, sql, error_class, sql_state):
    body = api.run(sql)

    assert body["status"]["state"] == "FAILED"
    assert body["status"]["error"]["error_code"] == "BAD_REQUEST"
    assert body["status"]["error"]["message"].startswith(f"[{error_class}")
    assert "uc__" not in body["status"]["error"]["message"]
    assert body["status"]["sql_state"] == sql_state
    assert "manifest" not in body and "result" not in body


def test_values_are_stringified_like_databricks(api):
    body = api.run(
        "SELECT 1.0E20::DOUBLE, 0.1::FLOAT, 1.50::DECIMAL(5,2), DATE '2026-03-04', "
        "TIMESTAMPTZ '2026-01-01 00:00:00.123456+00', [1, 2], {'a': 'x'}, NULL, 'NaN'::DOUBLE, 'abc'::BLOB"
    )

    assert body["result"]["data_array"] == [
        [
            "1.0E20",
            "0.1",
            "1.50",
            "2026-03-04",
            "2026-01-01T00:00:00.123456Z",
            "[1,2]",
            '{"a":"x"}',
            None,
            "NaN",
            "YWJj",
        ]
    ]
    decimal_column = body["manifest"]["schema"]["columns"][2]
    assert (decimal_column["type_text"], decimal_column["type_precision"], decimal_column["type_scale"]) == (
        "DECIMAL(5,2)",
        5,
        2,
    )


def test_results_are_chunked_and_chunks_can_be_fetched():
    api = Api(chunk_rows=4)
    api.catalog.create_table("main.s.nums", [{"n": i} for i in range(10)])

    body = api.run("SELECT n FROM main.s.nums ORDER BY n")

    manifest = body["manifest"]
    assert manifest["total_chunk_count"] == 3
    assert [c["row_count"] for c in manifest["chunks"]] == [4, 4, 2]
    assert [c["row_offset"] for c in manifest["chunks"]] == [0, 4, 8]
    rows = body["result"]["data_array"]
    link = body["result"]["next_chunk_internal_link"]
    while link:
        status, chunk = api.call("GET", link)
        assert status == 200
        rows += chunk["data_array"]
        link = chunk.get("next_chunk_internal_link")
    assert rows == [[str(i)] for i in range(10)]


def test_chunk_index_out_of_range_is_400():
    api = Api()
    statement_id = api.run("SELECT 1")["statement_id"]

    status, body = api.call("GET", f"{STATEMENTS}/{statement_id}/result/chunks/5")

    assert status == 400
    assert "out of range" in body["message"]


def test_row_limit_truncates(api):
    body = api.run("SELECT id FROM main.fraud.tx ORDER BY id", row_limit=2)

    assert body["result"]["data_array"] == [["1"], ["2"]]
    assert (body["manifest"]["total_row_count"], body["manifest"]["truncated"]) == (2, True)


def test_byte_limit_truncates(api):
    body = api.run("SELECT id FROM main.fraud.tx ORDER BY id", byte_limit=12)

    assert body["manifest"]["truncated"] is True
    assert body["manifest"]["total_byte_count"] <= 12
    assert len(body["result"]["data_array"]) < 3


def test_empty_results_have_a_manifest_and_no_rows(api):
    body = api.run("SELECT id FROM main.fraud.tx WHERE id < 0")

    assert body["manifest"]["total_row_count"] == 0
    assert body["result"]["row_count"] == 0
    assert body["result"].get("data_array") is None


def test_get_statement_returns_the_same_answer(api):
    body = api.run("SELECT count(*) FROM main.fraud.tx")

    status, again = api.call("GET", f"{STATEMENTS}/{body['statement_id']}")

    assert status == 200
    assert again == body


def test_cancel_is_accepted_and_unknown_statements_are_404(api):
    body = api.run("SELECT 1")

    assert api.call("POST", f"{STATEMENTS}/{body['statement_id']}/cancel") == (200, {})
    status, error = api.call("GET", f"{STATEMENTS}/nope")
    assert (status, error["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"warehouse_id": None}, "warehouse_id"),
        ({"statement": ""}, "statement"),
        ({"disposition": "EXTERNAL_LINKS"}, "EXTERNAL_LINKS is not supported"),
        ({"format": "ARROW_STREAM"}, "ARROW_STREAM is not supported"),
        ({"wait_timeout": "3s"}, "wait_timeout"),
        ({"on_wait_timeout": "LATER"}, "on_wait_timeout"),
        ({"row_limit": -1}, "row_limit"),
        ({"parameters": [{"value": "1"}]}, "name"),
        ({"parameters": [{"name": "p", "value": "1", "type": "WIDGET"}]}, "not supported"),
    ],
)
def test_malformed_requests_are_400(api, fields, fragment):
    body = {"statement": "SELECT 1", "warehouse_id": "wh-1", **fields}

    status, error = api.call("POST", STATEMENTS, {k: v for k, v in body.items() if v is not None})

    assert status == 400
    assert fragment in error["message"]


def test_dml_reports_affected_rows_and_changes_the_table(api):
    inserted = api.run(
        "INSERT INTO main.fraud.tx (id, merchant, amount) VALUES (:id, :m, 1.0)",
        parameters=[{"name": "id", "value": "4", "type": "BIGINT"}, {"name": "m", "value": "m_9"}],
    )
    updated = api.run("UPDATE main.fraud.tx SET flagged = true WHERE merchant = 'm_1'")
    deleted = api.run("DELETE FROM main.fraud.tx WHERE id = 4")

    assert [c["name"] for c in inserted["manifest"]["schema"]["columns"]] == ["num_affected_rows", "num_inserted_rows"]
    assert inserted["result"]["data_array"] == [["1", "1"]]
    assert updated["result"]["data_array"] == [["2"]]
    assert deleted["result"]["data_array"] == [["1"]]
    assert [r["flagged"] for r in api.catalog.read_table("main.fraud.tx")] == [True, True, True]


def test_create_table_through_sql_is_visible_to_unity_catalog(api):
    created = api.run("CREATE TABLE main.fraud.notes (id BIGINT, body STRING) USING DELTA")

    assert created["manifest"]["schema"]["column_count"] == 0
    status, info = api.call("GET", "/api/2.1/unity-catalog/tables/main.fraud.notes")
    assert status == 200
    assert [c["type_text"] for c in info["columns"]] == ["bigint", "string"]


def test_eight_threads_run_statements_concurrently(api):
    errors: list[BaseException] = []
    results: dict[int, Any] = {}

    def worker(n: int) -> None:
        try:
            for _ in range(10):
                api.run(
                    "INSERT INTO main.fraud.tx (id, merchant) VALUES (:id, :m)",
                    parameters=[
                        {"name": "id", "value": str(100 + n), "type": "BIGINT"},
                        {"name": "m", "value": f"t{n}"},
                    ],
                )
                body = api.run(
                    "SELECT count(*) FROM main.fraud.tx WHERE merchant = :m",
                    parameters=[{"name": "m", "value": f"t{n}"}],
                )
                results[n] = body["result"]["data_array"][0][0]
        except BaseException as err:  # surfaced below
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert results == {n: "10" for n in range(8)}
    assert len(api.catalog.read_table("main.fraud.tx")) == 3 + 80


def test_decimal_values_keep_their_scale(api):
    api.catalog.create_table("main.s.money", [{"v": Decimal("1.10")}, {"v": Decimal("2")}])

    body = api.run("SELECT v FROM main.s.money")

    assert body["result"]["data_array"] == [["1.10"], ["2.00"]]
