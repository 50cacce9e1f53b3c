"""FeatureLookup against the local workspace, the same tests on each HTTP backend (serving endpoint, SQL warehouse)."""

from __future__ import annotations

from typing import Any

import pytest
from features_support import LookupFactory, lookup_path
from pydantic import BaseModel

from dbx_native._core.clock import FakeClock
from dbx_native.errors import APIConnectionError, APIResponseError, InvalidRequestError, NotFoundError, ServerError
from dbx_native.features import FeatureRecord
from dbx_native.local import LocalWorkspace


class Merchant(BaseModel):
    merchant_id: str
    risk: float
    chargebacks: int


class LooseMerchant(BaseModel):
    merchant_id: str
    risk: float | None = None
    chargebacks: int | None = None


def lookups(ws: LocalWorkspace, kind: str) -> list[Any]:
    path = lookup_path(kind)
    return [r for r in ws.requests if r.path.startswith(path) and r.method == "POST"]


def test_get_returns_a_read_only_row_and_none_for_a_missing_key(make_lookup: LookupFactory) -> None:
    fl = make_lookup()
    row = fl.get("m_2")
    assert row is not None and row["risk"] == 0.9 and row["chargebacks"] == 11 and row["country"] == "US"
    with pytest.raises(TypeError):
        row["risk"] = 0.0  # type: ignore[index]
    assert fl.get("m_404") is None


def test_get_validates_rows_into_the_schema(make_lookup: LookupFactory) -> None:
    fl = make_lookup(schema=Merchant)
    row = fl.get("m_1")
    assert isinstance(row, Merchant) and row == Merchant(merchant_id="m_1", risk=0.2, chargebacks=3)


def test_get_many_keeps_input_order_and_removes_duplicates(ws: LocalWorkspace, make_lookup: LookupFactory) -> None:
    fl = make_lookup()
    keys = ["m_2", "m_404", "m_1", "m_2", "m_1"]
    result = fl.get_many(keys)
    assert list(result) == ["m_2", "m_404", "m_1"]
    assert result["m_404"] is None and result["m_1"] is not None and result["m_1"]["risk"] == 0.2
    assert len(lookups(ws, make_lookup.kind)) == 1  # type: ignore[attr-defined]
    assert fl.stats.round_trips == 1 and fl.stats.misses == 3


def test_get_many_fetches_in_chunks_of_batch_size_one_round_trip_each(
    ws: LocalWorkspace, make_lookup: LookupFactory
) -> None:
    fl = make_lookup(batch_size=100)
    keys = [f"m_{i}" for i in range(10, 260)]
    result = fl.get_many(keys)
    assert [r["chargebacks"] for r in result.values()] == list(range(10, 260))  # type: ignore[index]
    assert fl.stats.round_trips == 3 and len(lookups(ws, make_lookup.kind)) == 3  # type: ignore[attr-defined]


def test_cache_answers_repeated_keys_without_a_round_trip_until_the_ttl(make_lookup: LookupFactory) -> None:
    clock = FakeClock()
    fl = make_lookup(cache_ttl=30.0, clock=clock)
    first = fl.get("m_1")
    assert fl.get("m_1") is first
    fl.get_many(["m_1", "m_2"])
    assert fl.stats.round_trips == 2 and fl.stats.hits == 2
    clock.advance(30.0)
    fl.get("m_1")
    assert fl.stats.round_trips == 3


def test_missing_keys_are_cached_too(make_lookup: LookupFactory) -> None:
    fl = make_lookup()
    assert fl.get("m_404") is None and fl.get("m_404") is None
    assert fl.stats.round_trips == 1 and fl.stats.hits == 1


def test_all_null_features_count_as_missing_under_each_policy(make_lookup: LookupFactory) -> None:
    assert make_lookup().get("m_3") is None
    defaulted = make_lookup(missing="default", defaults={"risk": 0.5, "chargebacks": 0}, schema=Merchant)
    assert defaulted.get("m_3") == Merchant(merchant_id="m_3", risk=0.5, chargebacks=0)
    raising = make_lookup(missing="raise")
    with pytest.raises(NotFoundError, match="m_3"):
        raising.get("m_3")


def test_missing_raise_names_every_missing_key_of_get_many(make_lookup: LookupFactory) -> None:
    fl = make_lookup(missing="raise")
    with pytest.raises(NotFoundError) as caught:
        fl.get_many(["m_1", "m_404", "m_405"])
    assert "'m_404'" in str(caught.value) and "'m_405'" in str(caught.value) and "'m_1'" not in str(caught.value)
    assert fl.get("m_1") is not None  # the found key was cached on the way


def test_missing_default_builds_the_row_from_defaults_and_the_key(make_lookup: LookupFactory) -> None:
    fl = make_lookup(missing="default", defaults={"risk": 1.0, "chargebacks": 0})
    row = fl.get("m_404")
    assert row is not None and dict(row) == {"risk": 1.0, "chargebacks": 0, "merchant_id": "m_404"}


def test_composite_keys_accept_tuples_and_mappings_and_return_tuple_keys(make_lookup: LookupFactory) -> None:
    fl = make_lookup(key=["merchant_id", "region"])
    result = fl.get_many([("m_1", "eu"), {"merchant_id": "m_1", "region": "us"}, ("m_2", "eu")])
    assert list(result) == [("m_1", "eu"), ("m_1", "us"), ("m_2", "eu")]
    assert [r["volume"] if r else None for r in result.values()] == [100, 7, None]
    assert fl.get({"region": "us", "merchant_id": "m_2"})["volume"] == 900  # type: ignore[index]


def test_schema_mismatch_names_the_key_and_the_field(make_lookup: LookupFactory) -> None:
    fl = make_lookup(schema=Merchant)
    with pytest.raises(APIResponseError) as caught:
        fl.get_many(["m_1", "m_4"])
    message = str(caught.value)
    assert "'m_4'" in message and "chargebacks" in message and "Merchant" in message
    assert fl.stats.cached == 0  # nothing of the failed chunk was cached


def test_injection_shaped_key_returns_nothing_and_changes_nothing(
    ws: LocalWorkspace, make_lookup: LookupFactory
) -> None:
    before = ws.read_table("main.fraud.merchants")
    fl = make_lookup()
    evil = ["x' OR 1=1 --", "m_1'; DELETE FROM main.fraud.merchants; --", "m_1') OR ('1'='1"]
    assert fl.get_many(evil) == dict.fromkeys(evil)
    assert ws.read_table("main.fraud.merchants") == before
    sent = lookups(ws, make_lookup.kind)[-1].body.decode()  # type: ignore[attr-defined]
    if make_lookup.kind == "sql":  # type: ignore[attr-defined]
        statement = lookups(ws, "sql")[-1].json()["statement"]
        assert "OR 1=1" not in statement and "DELETE" not in statement
    assert "OR 1=1" in sent  # the key travelled, as a value


@pytest.mark.parametrize(
    ("key", "words"),
    [
        (1.5, ["1.5", "merchant_id", "float"]),
        (None, ["None", "merchant_id"]),
        (True, ["True", "merchant_id", "bool"]),
        (["m_1"], ["merchant_id", "list"]),
    ],
)
def test_wrong_key_type_is_refused_before_sending_naming_key_and_column(
    ws: LocalWorkspace, make_lookup: LookupFactory, key: Any, words: list[str]
) -> None:
    fl = make_lookup()
    with pytest.raises(InvalidRequestError) as caught:
        fl.get(key)
    assert all(w in str(caught.value) for w in words)
    assert lookups(ws, make_lookup.kind) == []  # type: ignore[attr-defined]


def test_composite_key_with_a_missing_column_names_the_column(make_lookup: LookupFactory) -> None:
    fl = make_lookup(key=["merchant_id", "region"])
    with pytest.raises(InvalidRequestError, match=r"missing key column\(s\) \['region'\]"):
        fl.get({"merchant_id": "m_1"})
    with pytest.raises(InvalidRequestError, match="2 parts"):
        fl.get(("m_1",))


def test_get_many_refuses_a_bare_string(make_lookup: LookupFactory) -> None:
    with pytest.raises(InvalidRequestError, match="single string"):
        make_lookup().get_many("m_1")


def test_stale_on_error_serves_the_last_value_flagged_stale(ws: LocalWorkspace, make_lookup: LookupFactory) -> None:
    clock = FakeClock()
    fl = make_lookup(cache_ttl=10.0, clock=clock, stale_on_error=True, retry={"max_attempts": 1})
    fresh = fl.get_many(["m_1", "m_404"], with_meta=True)
    assert fresh["m_1"].stale is False and fresh["m_1"].cached is False
    clock.advance(11.0)
    ws.faults.add(status=503, times=None, path=lookup_path(make_lookup.kind))  # type: ignore[attr-defined]
    again = fl.get_many(["m_1", "m_404"], with_meta=True)
    assert again["m_1"].stale is True and again["m_1"].value == fresh["m_1"].value
    assert again["m_404"].stale is True and again["m_404"].missing is True
    assert again["m_1"].fetched_at == fresh["m_1"].fetched_at
    assert fl.stats.stale_served == 2 and fl.stats.errors == 1
    assert fl.get("m_1") == fresh["m_1"].value


def test_stale_on_error_raises_when_a_key_has_no_previous_value(ws: LocalWorkspace, make_lookup: LookupFactory) -> None:
    fl = make_lookup(stale_on_error=True, cache_ttl=0.0, retry={"max_attempts": 1})
    fl.get("m_1")
    ws.faults.add(drop_connection=True, times=None, path=lookup_path(make_lookup.kind))  # type: ignore[attr-defined]
    with pytest.raises(APIConnectionError):
        fl.get_many(["m_1", "m_2"])
    assert fl.get("m_1") is not None  # m_1 alone can be covered
    assert fl.stats.stale_served == 1 and fl.stats.errors == 2


def test_without_stale_on_error_the_backend_error_is_raised(ws: LocalWorkspace, make_lookup: LookupFactory) -> None:
    fl = make_lookup(cache_ttl=0.0, retry={"max_attempts": 1})
    fl.get("m_1")
    ws.faults.add(status=500, path=lookup_path(make_lookup.kind))  # type: ignore[attr-defined]
    with pytest.raises(ServerError):
        fl.get("m_1")


def test_with_meta_reports_source_fetch_time_and_cache_use(make_lookup: LookupFactory) -> None:
    clock = FakeClock()
    fl = make_lookup(clock=clock)
    fl.get("m_1")
    records = fl.get_many(["m_1", "m_2"], with_meta=True)
    assert all(isinstance(r, FeatureRecord) for r in records.values())
    kind = make_lookup.kind  # type: ignore[attr-defined]
    assert records["m_1"].cached is True and records["m_2"].cached is False
    assert {r.source for r in records.values()} == {kind}
    assert records["m_1"].fetched_at.timestamp() == pytest.approx(clock.time())


def test_invalidate_and_refresh_go_back_to_the_store(ws: LocalWorkspace, make_lookup: LookupFactory) -> None:
    fl = make_lookup(schema=LooseMerchant)
    assert fl.get("m_1") == LooseMerchant(merchant_id="m_1", risk=0.2, chargebacks=3)
    ws.catalog.execute("UPDATE main.fraud.merchants SET risk = 0.7 WHERE merchant_id = 'm_1'")
    assert fl.get("m_1").risk == 0.2  # type: ignore[union-attr]
    assert fl.refresh(["m_1"])["m_1"].risk == 0.7  # type: ignore[union-attr]
    ws.catalog.execute("UPDATE main.fraud.merchants SET risk = 0.8 WHERE merchant_id = 'm_1'")
    assert fl.invalidate(["m_1"]) == 1
    assert fl.get("m_1").risk == 0.8  # type: ignore[union-attr]
    assert fl.invalidate() == 1 and fl.stats.cached == 0


def test_lru_keeps_at_most_cache_size_keys(make_lookup: LookupFactory) -> None:
    fl = make_lookup(cache_size=2)
    fl.get_many(["m_1", "m_2"])
    fl.get("m_1")  # m_1 is now the most recently used
    fl.get("m_10")
    assert fl.stats.cached == 2
    trips = fl.stats.round_trips
    fl.get("m_1")
    assert fl.stats.round_trips == trips
    fl.get("m_2")
    assert fl.stats.round_trips == trips + 1
