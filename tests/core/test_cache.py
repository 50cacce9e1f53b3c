"""`ExpiringCache`: expiry, LRU eviction and exact counters, with a lock-free hit path under many threads."""

from __future__ import annotations

import math
import random
import sys
import threading
from collections.abc import Callable, Iterator

import pytest

from dbx_native._core.cache import ExpiringCache
from dbx_native._core.clock import FakeClock

# A stored value names its key and its own expiry, so a reader can tell a wrong or expired answer.
Value = tuple[int, float]


@pytest.fixture
def busy_switching() -> Iterator[None]:
    """Switch threads every microsecond, so hits, stores and discards interleave as much as they can."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def run_threads(count: int, work: Callable[[int], None]) -> list[BaseException]:
    errors: list[BaseException] = []

    def guarded(seed: int) -> None:
        try:
            work(seed)
        except BaseException as err:  # collected, so the test fails on it rather than a thread dying quietly
            errors.append(err)

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


@pytest.mark.usefixtures("busy_switching")
def test_16_threads_mixing_gets_stores_discards_and_evictions_get_right_values_and_exact_counters() -> None:
    clock = FakeClock()
    cache: ExpiringCache[int, Value] = ExpiringCache(maxsize=24, now=clock.monotonic)
    tallies: list[tuple[int, int]] = []
    tallies_lock = threading.Lock()

    def work(seed: int) -> None:
        rng = random.Random(seed)
        hits = misses = 0
        for n in range(1500):
            key = rng.randrange(40)  # more keys than room: stores keep evicting
            before = clock.monotonic()
            found = cache.get(key)
            if found is None:
                misses += 1
                if seed == 0 and n % 50 == 0:
                    clock.advance(1.0)  # one thread moves time on, so entries keep expiring
                expires = clock.monotonic() + rng.choice([0.5, 3.0, math.inf])
                cache.store(key, (key, expires), expires)
            else:
                hits += 1
                assert found[0] == key, f"got the value of {found[0]} for {key}"
                assert found[1] > before, f"got an entry for {key} that expired at {found[1]} (now {before})"
            if n % 97 == 0:
                cache.discard([key, (key + 1) % 40])
            if n % 331 == 0:
                cache.discard_where(lambda k: k % 7 == seed % 7)
            if n % 200 == 0:
                assert cache.hits >= 0 and cache.misses >= 0  # reading the counters meanwhile must not skew them
        with tallies_lock:
            tallies.append((hits, misses))

    errors = run_threads(16, work)
    assert errors == []
    assert cache.hits == sum(h for h, _ in tallies)
    assert cache.misses == sum(m for _, m in tallies)
    assert cache.hits + cache.misses == 16 * 1500
    assert 0 < len(cache) <= 24


@pytest.mark.usefixtures("busy_switching")
def test_16_threads_hitting_entries_being_replaced_only_ever_see_a_stored_version() -> None:
    cache: ExpiringCache[int, Value] = ExpiringCache(maxsize=8, now=FakeClock().monotonic)
    for key in range(8):
        cache.store(key, (key, 0.0), math.inf)
    stop = threading.Event()

    def writer() -> None:
        version = 0.0
        while not stop.is_set():
            version += 1.0
            for key in range(8):
                cache.store(key, (key, version), math.inf)

    writing = threading.Thread(target=writer)
    writing.start()
    try:
        seen: list[float] = []

        def read(seed: int) -> None:
            for n in range(3000):
                found = cache.get(n % 8)
                assert found is not None and found[0] == n % 8
                seen.append(found[1])

        errors = run_threads(16, read)
    finally:
        stop.set()
        writing.join()
    assert errors == []
    assert cache.hits == 16 * 3000 and cache.misses == 0
    assert len(set(seen)) > 1  # the readers did race the writer
    assert len(cache) == 8


def test_counters_keep_the_counts_of_threads_that_have_ended() -> None:
    cache: ExpiringCache[str, int] = ExpiringCache(maxsize=4, now=FakeClock().monotonic)
    cache.store("here", 1, math.inf)

    def short_lived(seed: int) -> None:
        for _ in range(seed % 5 + 1):
            cache.get("here")
        cache.get("absent")

    for _ in range(10):  # 200 threads in all, each ended before the counters are read
        assert run_threads(20, short_lived) == []
    expected_hits = 10 * sum(seed % 5 + 1 for seed in range(20))
    assert cache.hits == expected_hits and cache.misses == 200


def test_reading_the_counters_does_not_change_them() -> None:
    cache: ExpiringCache[str, int] = ExpiringCache(maxsize=4, now=FakeClock().monotonic)
    cache.store("a", 1, math.inf)
    cache.get("a")
    cache.get("b")
    reads = [(cache.hits, cache.misses) for _ in range(5)]
    assert reads == [(1, 1)] * 5
    cache.get("a")
    assert (cache.hits, cache.misses) == (2, 1)


def test_entries_are_fresh_strictly_before_their_expiry_on_the_injected_clock_then_stale_but_peekable() -> None:
    clock = FakeClock(start=100.0)
    cache: ExpiringCache[str, str] = ExpiringCache(maxsize=4, now=clock.monotonic)
    cache.store("a", "first", 105.0)
    cache.store("forever", "kept", math.inf)
    clock.advance(4.999)
    assert cache.get("a") == "first"
    clock.advance(0.001)  # now == expires: expired
    assert cache.get("a") is None
    assert cache.peek("a") == "first"  # kept for stale-on-error, not counted
    cache.store("a", "second", clock.monotonic() + 10.0)
    assert cache.get("a") == "second"
    clock.advance(1e9)
    assert cache.get("forever") == "kept"
    assert (cache.hits, cache.misses) == (3, 1)


def test_a_cache_of_size_zero_keeps_nothing_and_counts_every_get_as_a_miss() -> None:
    cache: ExpiringCache[str, int] = ExpiringCache(maxsize=0, now=FakeClock().monotonic)
    cache.store("a", 1, math.inf)
    assert cache.get("a") is None and cache.get("a") is None
    assert cache.peek("a") is None and len(cache) == 0
    assert cache.discard() == 0 and cache.discard_where(lambda key: True) == 0
    assert (cache.hits, cache.misses) == (0, 2)


def test_the_least_recently_used_entry_is_evicted_and_a_new_entry_never_is() -> None:
    cache: ExpiringCache[str, int] = ExpiringCache(maxsize=3, now=FakeClock().monotonic)
    for i, key in enumerate("abc"):
        cache.store(key, i, math.inf)
    cache.get("a")  # order now b, c, a
    cache.store("c", 20, math.inf)  # replacing refreshes: b, a, c
    cache.store("d", 3, math.inf)  # evicts b
    assert cache.peek("b") is None and [cache.peek(k) for k in "acd"] == [0, 20, 3]
    small: ExpiringCache[str, int] = ExpiringCache(maxsize=1, now=FakeClock().monotonic)
    small.store("x", 1, math.inf)
    small.store("y", 2, math.inf)
    assert small.peek("x") is None and small.peek("y") == 2 and len(small) == 1


def test_a_hit_survives_its_entry_being_evicted_between_the_look_up_and_the_reorder() -> None:
    # The clock is read between the look-up and the reorder: evicting there is the race, made deterministic.
    cache: ExpiringCache[str, int]
    evict = False

    def now() -> float:
        if evict:
            cache.store("other", 2, math.inf)  # maxsize 1: evicts "a"
        return 0.0

    cache = ExpiringCache(maxsize=1, now=now)
    cache.store("a", 1, math.inf)
    evict = True
    assert cache.get("a") == 1
    assert cache.hits == 1 and cache.misses == 0
    assert cache.peek("a") is None and cache.peek("other") == 2 and len(cache) == 1  # not brought back


def test_a_hit_survives_its_entry_being_discarded_between_the_look_up_and_the_reorder() -> None:
    cache: ExpiringCache[str, int]

    def now() -> float:
        cache.discard(["a"])
        return 0.0

    cache = ExpiringCache(maxsize=4, now=now)
    cache.store("a", 1, math.inf)
    assert cache.get("a") == 1 and cache.hits == 1
    assert cache.peek("a") is None and len(cache) == 0


def test_discard_where_is_not_broken_by_hits_reordering_the_map_while_it_runs() -> None:
    cache: ExpiringCache[int, int] = ExpiringCache(maxsize=10, now=FakeClock().monotonic)
    for key in range(10):
        cache.store(key, key, math.inf)

    def doomed(key: int) -> bool:
        cache.get((key + 3) % 10)  # a hit from "another thread" while the predicate runs
        return key % 2 == 0

    assert cache.discard_where(doomed) == 5
    assert sorted(k for k in range(10) if cache.peek(k) is not None) == [1, 3, 5, 7, 9]
    assert cache.hits == 10


def test_lowering_maxsize_trims_the_oldest_entries_at_the_next_new_entry() -> None:
    cache: ExpiringCache[int, int] = ExpiringCache(maxsize=5, now=FakeClock().monotonic)
    for key in range(5):
        cache.store(key, key, math.inf)
    cache.maxsize = 2
    cache.store(9, 9, math.inf)
    assert len(cache) == 2 and cache.peek(4) == 4 and cache.peek(9) == 9
