"""PromptRegistry.load: a cached load against a round trip to a served local workspace, measured in the same run.

1. Cached `load` by alias p50, with a plain dict look-up as the floor (target: under 10 us).
2. Uncached `load` (cache_size=0) over loopback HTTP p50 vs the cached p50 (target: cached >= 100x faster).
   The round trip is to the local emulation: the ratio says what the cache saves in client work and one
   loopback request, a floor for what it saves against a real workspace.

Rounds are interleaved (cached, uncached, cached, ...) and the median of the per-round medians is kept, so noise from
other work on the machine hits both sides alike.

Run: `python benchmarks/bench_prompts.py`. Always exits 0; prints PASS/FAIL per target.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from dbx_native.local import LocalWorkspace
from dbx_native.prompts import PromptRegistry

NAME = "main.agents.triage"
ROUNDS = 5


def p50_ns(fn: Callable[[], Any], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        fn()
        samples.append(time.perf_counter_ns() - start)
    return float(statistics.median(samples))


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> None:
    ws = LocalWorkspace()
    ws.requests.maxlen = 1000
    ws.catalog.create_schema("main.agents")
    with ws.serve() as server:
        cached = PromptRegistry(server.config, cache_ttl=3600)
        uncached = PromptRegistry(server.config, cache_size=0)
        cached.register(NAME, "Classify: {{text}}", alias="production")
        first = cached.load(NAME, alias="production")
        assert uncached.load(NAME, alias="production") == first
        plain = {(NAME, "production", None): first}
        floor = p50_ns(lambda: plain[(NAME, "production", None)], 20_000)
        hits, trips = [], []
        for _ in range(ROUNDS):
            hits.append(p50_ns(lambda: cached.load(NAME, alias="production"), 20_000))
            trips.append(p50_ns(lambda: uncached.load(NAME, alias="production"), 100))
        hit, trip = statistics.median(hits), statistics.median(trips)
        cached.close()
        uncached.close()
    print(f"cached load p50: {hit / 1000:.2f} us (dict look-up {floor / 1000:.2f} us, {hit / floor:.1f}x the floor)")
    print(f"  target cached load p50 < 10 us: {verdict(hit < 10_000)}")
    print(f"uncached load over loopback p50: {trip / 1000:.1f} us; cached is {trip / hit:.0f}x faster")
    print(f"  target cached >= 100x faster than a round trip: {verdict(trip / hit >= 100)}")


if __name__ == "__main__":
    main()
