"""LocalCatalog's Python API: create/read round trips, inference, modes, names, persistence."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest

from dbx_native.errors import ConflictError, InvalidRequestError, NotFoundError
from dbx_native.local._catalog import LocalCatalog

UTC = dt.timezone.utc


@pytest.fixture
def cat() -> LocalCatalog:
    return LocalCatalog()


@pytest.mark.parametrize(
    ("value", "type_text", "type_name", "expected"),
    [
        (7, "bigint", "LONG", 7),
        (1.25, "double", "DOUBLE", 1.25),
        (True, "boolean", "BOOLEAN", True),
        ("héllo", "string", "STRING", "héllo"),
        (b"\x00\xff", "binary", "BINARY", b"\x00\xff"),
        (dt.date(2026, 2, 3), "date", "DATE", dt.date(2026, 2, 3)),
        (
            dt.datetime(2026, 1, 1, 12, 30, tzinfo=UTC),
            "timestamp",
            "TIMESTAMP",
            dt.datetime(2026, 1, 1, 12, 30, tzinfo=UTC),
        ),
        (Decimal("12.50"), "decimal(38,2)", "DECIMAL", Decimal("12.50")),
        (["a", "b"], "array<string>", "ARRAY", ["a", "b"]),
        ({"x": 1, "y": "z"}, "struct<x:bigint,y:string>", "STRUCT", {"x": 1, "y": "z"}),
    ],
)
def test_each_python_type_round_trips_with_its_unity_catalog_type(cat, value, type_text, type_name, expected):
    info = cat.create_table("main.types.t", [{"v": value}])

    column = info["columns"][0]
    assert (column["type_text"], column["type_name"]) == (type_text, type_name)
    assert cat.read_table("main.types.t") == [{"v": expected}]


def test_naive_datetimes_are_stored_as_utc_instants(cat):
    cat.create_table("main.s.t", [{"ts": dt.datetime(2026, 1, 1, 8, 0)}])

    (row,) = cat.read_table("main.s.t")
    assert row["ts"] == dt.datetime(2026, 1, 1, 8, 0, tzinfo=UTC)
    assert row["ts"].utcoffset() == dt.timedelta(0)


def test_ints_and_floats_in_one_column_widen_to_double(cat):
    info = cat.create_table("main.s.t", [{"x": 1}, {"x": 2.5}])

    assert info["columns"][0]["type_text"] == "double"
    assert [r["x"] for r in cat.read_table("main.s.t")] == [1.0, 2.5]


def test_mixed_types_in_a_column_are_refused_with_a_hint(cat):
    with pytest.raises(InvalidRequestError, match=r"Column 'x' mixes bigint and string.*schema="):
        cat.create_table("main.s.t", [{"x": 1}, {"x": "one"}])
    assert cat.table_names() == []


def test_structs_take_the_union_of_keys_and_missing_fields_are_null(cat):
    cat.create_table("main.s.t", [{"p": {"a": 1}}, {"p": {"b": "x"}}])

    assert [r["p"] for r in cat.read_table("main.s.t")] == [{"a": 1, "b": None}, {"a": None, "b": "x"}]


def test_missing_columns_in_some_rows_are_null(cat):
    cat.create_table("main.s.t", [{"a": 1, "b": "x"}, {"a": 2}])

    assert cat.read_table("main.s.t") == [{"a": 1, "b": "x"}, {"a": 2, "b": None}]


def test_empty_rows_need_an_explicit_schema(cat):
    with pytest.raises(InvalidRequestError, match="schema="):
        cat.create_table("main.s.t", [])

    info = cat.create_table("main.s.t", [], schema={"id": "bigint", "amount": "decimal(10,2)", "tags": "array<string>"})
    assert [(c["name"], c["type_text"]) for c in info["columns"]] == [
        ("id", "bigint"),
        ("amount", "decimal(10,2)"),
        ("tags", "array<string>"),
    ]
    assert cat.read_table("main.s.t") == []


def test_an_all_null_column_needs_a_declared_type(cat):
    with pytest.raises(InvalidRequestError, match=r"Column 'note' holds only nulls"):
        cat.create_table("main.s.t", [{"id": 1, "note": None}])

    cat.create_table("main.s.t", [{"id": 1, "note": None}], schema={"note": "string"})
    assert cat.read_table("main.s.t") == [{"id": 1, "note": None}]


def test_unknown_declared_types_are_refused(cat):
    with pytest.raises(InvalidRequestError, match="Unknown column type 'bignumber'"):
        cat.create_table("main.s.t", [], schema={"id": "bignumber"})


@pytest.mark.parametrize("name", ["tx", "main.tx", "a.b.c.d", "main..tx", "main.fraud.t x", "main.fr$aud.tx"])
def test_names_must_have_three_valid_parts(cat, name):
    with pytest.raises(InvalidRequestError):
        cat.create_table(name, [{"a": 1}])


def test_names_are_case_insensitive_and_stored_lower_case(cat):
    info = cat.create_table("Main.Fraud.TX", [{"a": 1}])

    assert info["full_name"] == "main.fraud.tx"
    assert cat.read_table("MAIN.fraud.Tx") == [{"a": 1}]


def test_creating_an_existing_table_is_a_conflict_unless_mode_says_otherwise(cat):
    first = cat.create_table("main.s.t", [{"a": 1}])

    with pytest.raises(ConflictError) as excinfo:
        cat.create_table("main.s.t", [{"a": 2}])
    assert excinfo.value.error_code == "TABLE_ALREADY_EXISTS"

    appended = cat.create_table("main.s.t", [{"a": 2}], mode="append")
    assert cat.read_table("main.s.t") == [{"a": 1}, {"a": 2}]

    replaced = cat.create_table("main.s.t", [{"b": "x"}], mode="overwrite")
    assert cat.read_table("main.s.t") == [{"b": "x"}]
    assert first["table_id"] == appended["table_id"] == replaced["table_id"]


def test_unknown_mode_is_refused(cat):
    with pytest.raises(InvalidRequestError, match="Unknown mode"):
        cat.create_table("main.s.t", [{"a": 1}], mode="upsert")  # type: ignore[arg-type]


def test_primary_key_columns_are_not_null_and_reported_as_a_constraint(cat):
    info = cat.create_table("main.s.t", [{"id": "m1", "v": 1}], primary_key="id")

    assert info["table_constraints"] == [{"primary_key_constraint": {"name": "t_pk", "child_columns": ["id"]}}]
    assert [c["nullable"] for c in info["columns"]] == [False, True]
    with pytest.raises(InvalidRequestError, match="primary key"):
        cat.insert_rows("main.s.t", [{"id": None, "v": 2}])


def test_primary_key_must_name_columns(cat):
    with pytest.raises(InvalidRequestError, match=r"Primary key column\(s\) \['nope'\]"):
        cat.create_table("main.s.t", [{"id": 1}], primary_key=["nope"])


def test_insert_rows_appends_and_counts(cat):
    cat.create_table("main.s.t", [{"id": 1, "name": "a"}])

    assert cat.insert_rows("main.s.t", [{"id": 2, "name": "b"}, {"id": 3}]) == 2
    assert cat.read_table("main.s.t") == [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}, {"id": 3, "name": None}]


def test_insert_rows_refuses_unknown_columns_and_bad_values(cat):
    cat.create_table("main.s.t", [{"id": 1}])

    with pytest.raises(InvalidRequestError, match=r"no column\(s\) \['extra'\]"):
        cat.insert_rows("main.s.t", [{"id": 2, "extra": True}])
    with pytest.raises(InvalidRequestError, match="Cannot insert"):
        cat.insert_rows("main.s.t", [{"id": "not a number"}])
    assert cat.read_table("main.s.t") == [{"id": 1}]


def test_missing_tables_raise_not_found_with_the_uc_error_code(cat):
    for call in (lambda: cat.read_table("main.s.nope"), lambda: cat.drop_table("main.s.nope")):
        with pytest.raises(NotFoundError) as excinfo:
            call()
        assert excinfo.value.error_code == "TABLE_DOES_NOT_EXIST"
        assert excinfo.value.status_code == 404


def test_drop_table_removes_it(cat):
    cat.create_table("main.s.t", [{"a": 1}])

    cat.drop_table("main.s.t")

    assert not cat.table_exists("main.s.t")
    assert cat.table_names() == []


def test_table_names_filter_by_catalog_and_schema(cat):
    for name in ("main.a.t1", "main.b.t2", "dev.a.t3"):
        cat.create_table(name, [{"x": 1}])

    assert cat.table_names() == ["dev.a.t3", "main.a.t1", "main.b.t2"]
    assert cat.table_names("main") == ["main.a.t1", "main.b.t2"]
    assert cat.table_names("main", "b") == ["main.b.t2"]


def test_table_by_id_finds_the_table_and_ids_are_stable(cat):
    info = cat.create_table("main.s.t", [{"x": 1}])
    cat.insert_rows("main.s.t", [{"x": 2}])

    assert cat.table_by_id(info["table_id"]) == "main.s.t"
    assert cat.table_info("main.s.t")["table_id"] == info["table_id"]
    with pytest.raises(NotFoundError):
        cat.table_by_id("00000000-0000-0000-0000-000000000000")


def test_pyarrow_tables_are_accepted(cat):
    pa = pytest.importorskip("pyarrow")
    data = pa.table({"id": [1, 2], "name": ["a", "b"]})

    info = cat.create_table("main.s.t", data, primary_key="id")
    cat.insert_rows("main.s.t", pa.table({"id": [3], "name": ["c"]}))

    assert [c["type_text"] for c in info["columns"]] == ["bigint", "string"]
    assert [r["id"] for r in cat.read_table("main.s.t")] == [1, 2, 3]


def test_execute_runs_databricks_sql_with_named_parameters(cat):
    cat.create_table("main.fraud.tx", [{"id": i, "amount": i * 10.0} for i in range(5)])

    columns, rows = cat.execute("SELECT id, amount FROM main.fraud.tx WHERE id >= :low ORDER BY id", {"low": 3})

    assert [c["name"] for c in columns] == ["id", "amount"]
    assert [c["type_name"] for c in columns] == ["LONG", "DOUBLE"]
    assert rows == [(3, 30.0), (4, 40.0)]


def test_tables_created_through_sql_get_metadata(cat):
    cat.create_schema("main.s")

    cat.execute("CREATE TABLE main.s.made (id BIGINT, name STRING) USING DELTA")
    cat.execute("INSERT INTO main.s.made VALUES (1, 'a')")

    info = cat.table_info("main.s.made")
    assert info["table_id"] == cat.table_info("main.s.made")["table_id"]
    assert [c["type_text"] for c in info["columns"]] == ["bigint", "string"]
    assert cat.read_table("main.s.made") == [{"id": 1, "name": "a"}]


def test_tables_survive_a_new_catalog_on_the_same_root(tmp_path: Path):
    first = LocalCatalog(root=tmp_path)
    info = first.create_table("main.fraud.tx", [{"id": 1, "ts": dt.datetime(2026, 1, 1, tzinfo=UTC)}], primary_key="id")
    first.insert_rows("main.fraud.tx", [{"id": 2}])
    first.close()

    second = LocalCatalog(root=tmp_path)

    assert second.read_table("main.fraud.tx") == [
        {"id": 1, "ts": dt.datetime(2026, 1, 1, tzinfo=UTC)},
        {"id": 2, "ts": None},
    ]
    again = second.table_info("main.fraud.tx")
    assert again["table_id"] == info["table_id"]
    assert again["table_constraints"] == info["table_constraints"]
    second.close()


def test_persisted_tables_are_real_delta_tables(tmp_path: Path):
    deltalake = pytest.importorskip("deltalake")
    cat = LocalCatalog(root=tmp_path)
    rows = [{"id": 1, "amount": Decimal("1.50"), "tags": ["a"]}, {"id": 2, "amount": Decimal("2.00"), "tags": []}]
    info = cat.create_table("main.fraud.tx", rows)
    cat.execute("UPDATE main.fraud.tx SET amount = 9.99 WHERE id = 2")

    table = deltalake.DeltaTable(str(tmp_path / "main" / "fraud" / "tx")).to_pyarrow_table()

    assert table.to_pylist() == cat.read_table("main.fraud.tx")
    assert table.to_pylist()[1]["amount"] == Decimal("9.99")
    assert info["storage_location"] == (tmp_path / "main" / "fraud" / "tx").as_uri()
    cat.drop_table("main.fraud.tx")
    assert not (tmp_path / "main" / "fraud" / "tx").exists()
    cat.close()


def test_delta_tables_changed_on_disk_are_loaded_at_start(tmp_path: Path):
    deltalake = pytest.importorskip("deltalake")
    pa = pytest.importorskip("pyarrow")
    cat = LocalCatalog(root=tmp_path)
    cat.create_table("main.s.t", [{"id": 1}])
    cat.close()
    # Another engine (Spark, delta-rs) appends to the table, and writes a new one.
    deltalake.write_deltalake(str(tmp_path / "main" / "s" / "t"), pa.table({"id": [2]}), mode="append")
    deltalake.write_deltalake(str(tmp_path / "main" / "s" / "new"), pa.table({"x": ["a"]}))

    reopened = LocalCatalog(root=tmp_path)

    assert sorted(r["id"] for r in reopened.read_table("main.s.t")) == [1, 2]  # Delta files have no order
    assert reopened.read_table("main.s.new") == [{"x": "a"}]
    reopened.close()


def test_reset_forgets_everything(tmp_path: Path):
    cat = LocalCatalog(root=tmp_path)
    cat.create_table("main.s.t", [{"a": 1}])

    cat.reset()

    assert cat.table_names() == []
    assert cat.catalog_names() == []
    meta = json.loads((tmp_path / ".dbx_native" / "catalog.json").read_text())
    assert meta["tables"] == {}
    cat.close()
