"""The feature cache (TTL, LRU, thread safety) and key normalization, without a workspace."""

from __future__ import annotations

import threading

import pytest

from dbx_native._core.clock import FakeClock
from dbx_native.errors import InvalidRequestError
from dbx_native.features import FeatureLookup
from dbx_native.features._cache import CacheEntry, FeatureCache
from dbx_native.features._keys import KeySpec


def entry(value: object, expires: float) -> CacheEntry:
    return CacheEntry(value, missing=False, fetched_at=0.0, expires=expires, source="test")


def test_cache_entry_is_fresh_until_its_expiry_then_a_miss_but_still_peekable() -> None:
    clock = FakeClock()
    cache = FeatureCache(maxsize=10, now=clock.monotonic)
    cache.put("a", entry(1, expires=5.0))
    assert cache.get("a") is not None and cache.hits == 1
    clock.advance(5.0)
    assert cache.get("a") is None and cache.misses == 1
    stale = cache.peek("a")
    assert stale is not None and stale.value == 1


def test_cache_evicts_the_least_recently_used_entry() -> None:
    cache = FeatureCache(maxsize=2, now=FakeClock().monotonic)
    cache.put("a", entry(1, 9.0))
    cache.put("b", entry(2, 9.0))
    cache.get("a")
    cache.put("c", entry(3, 9.0))
    assert cache.peek("b") is None and cache.peek("a") is not None and len(cache) == 2


def test_cache_of_size_zero_keeps_nothing() -> None:
    cache = FeatureCache(maxsize=0, now=FakeClock().monotonic)
    cache.put("a", entry(1, 9.0))
    assert len(cache) == 0 and cache.get("a") is None


def test_cache_counts_stay_exact_under_16_threads() -> None:
    cache = FeatureCache(maxsize=100, now=FakeClock().monotonic)
    for i in range(50):
        cache.put(i, entry(i, 9.0))

    def work() -> None:
        for n in range(2000):
            cache.get(n % 100)  # half hits, half misses
            if n % 7 == 0:
                cache.put(100 + n % 40, entry(n, 9.0))

    threads = [threading.Thread(target=work) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert cache.hits + cache.misses == 16 * 2000
    assert len(cache) <= 100


def test_single_key_accepts_str_and_int_and_rejects_other_types() -> None:
    keys = KeySpec("merchant_id")
    assert keys.normalize("m_1") == "m_1" and keys.normalize(7) == 7
    assert keys.normalize({"merchant_id": "m_1"}) == "m_1"
    for bad in (1.0, None, True, b"m_1", ("m_1",)):
        with pytest.raises(InvalidRequestError, match="merchant_id"):
            keys.normalize(bad)


def test_composite_key_takes_tuples_lists_and_mappings_in_column_order() -> None:
    keys = KeySpec(["merchant_id", "region"])
    assert keys.normalize(("m_1", "eu")) == ("m_1", "eu")
    assert keys.normalize(["m_1", "eu"]) == ("m_1", "eu")
    assert keys.normalize({"region": "eu", "merchant_id": "m_1"}) == ("m_1", "eu")
    assert keys.record(("m_1", "eu")) == {"merchant_id": "m_1", "region": "eu"}
    with pytest.raises(InvalidRequestError, match=r"not part of the lookup key"):
        keys.normalize({"merchant_id": "m_1", "region": "eu", "day": 1})
    with pytest.raises(InvalidRequestError, match="region"):
        keys.normalize(("m_1", 2.5))
    with pytest.raises(InvalidRequestError, match="tuple"):
        keys.normalize("m_1")


def test_key_spec_refuses_empty_and_repeated_columns() -> None:
    for bad in ([], [""], ["a", "a"]):
        with pytest.raises(InvalidRequestError):
            KeySpec(bad)


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({}, "either endpoint="),
        ({"endpoint": "e", "missing": "maybe"}, "missing must be"),
        ({"endpoint": "e", "missing": "default"}, "defaults="),
        ({"endpoint": "e", "batch_size": 0}, "batch_size"),
        ({"endpoint": "e", "cache_ttl": -1}, "cache_ttl"),
        ({"endpoint": "e", "schema": dict}, "BaseModel"),
        ({"endpoint": "bad name"}, "endpoint name"),
    ],
)
def test_lookup_options_are_checked_at_construction(options: dict[str, object], words: str) -> None:
    with pytest.raises(InvalidRequestError, match=words):
        FeatureLookup(key="merchant_id", config=None, **options)  # type: ignore[call-overload]
