"""FeatureLookup hot paths, as ratios against baselines measured in the same run.

1. Cache hit p50 vs a plain dict look-up (target: hit p50 under 10 us).
2. `get_many` of 100 keys vs 100 `get` calls, cache off: round trips and time (target: 100x fewer round trips).
3. The three stores for the same 100-key batch, cache off: Feature Serving endpoint and SQL warehouse on the
   local workspace over loopback HTTP, Lakebase on a throwaway PostgreSQL (skipped without the binaries).
   These are local emulations: the ratios say what each client path costs, not what Databricks answers in.
4. Thread safety: 16 threads on one lookup's warm cache: every answer right, counters exact, and throughput
   not collapsing against one thread (target: at least 0.5x).

Run: `python benchmarks/bench_features.py`. Always exits 0; prints PASS/FAIL per target.
"""

from __future__ import annotations

import random
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dbx_native.features import FeatureLookup, LakebaseBackend, SqlWarehouseBackend
from dbx_native.local import LocalWorkspace

KEYS = [f"m_{i}" for i in range(1000)]
ROWS = [{"merchant_id": k, "risk": i / 1000, "chargebacks": i % 17, "country": "FR"} for i, k in enumerate(KEYS)]
SPEC = "main.fraud.merchant_spec"


def p50_ns(fn: Callable[[], Any], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        fn()
        samples.append(time.perf_counter_ns() - start)
    return float(statistics.median(samples))


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def bench_cache_hit(make: Callable[..., FeatureLookup[Any]]) -> None:
    fl = make(cache_ttl=3600.0)
    fl.get("m_1")
    plain = {"m_1": fl.get("m_1")}
    baseline = p50_ns(lambda: plain["m_1"], 50_000)
    hit = p50_ns(lambda: fl.get("m_1"), 50_000)
    print(f"cache hit p50: {hit / 1000:.2f} us (dict look-up {baseline / 1000:.2f} us, ratio {hit / baseline:.1f}x)")
    print(f"  target hit p50 < 10 us: {verdict(hit < 10_000)}")


def bench_batching(make: Callable[..., FeatureLookup[Any]]) -> None:
    keys = KEYS[:100]
    single, batched = make(cache_size=0), make(cache_size=0)
    start = time.perf_counter()
    for key in keys:
        single.get(key)
    one_by_one = time.perf_counter() - start
    start = time.perf_counter()
    batched.get_many(keys)
    many = time.perf_counter() - start
    trips = single.stats.round_trips / batched.stats.round_trips
    print(
        f"100 keys: get_many {many * 1000:.1f} ms in {batched.stats.round_trips} round trip(s); 100 x get "
        f"{one_by_one * 1000:.1f} ms in {single.stats.round_trips} (time ratio {one_by_one / many:.1f}x, "
        f"round trips {trips:.0f}x)"
    )
    print(f"  target 100x fewer round trips: {verdict(trips >= 100)}; faster: {verdict(many < one_by_one)}")


def bench_paths(paths: dict[str, FeatureLookup[Any]]) -> None:
    keys = KEYS[200:300]
    results = {name: p50_ns(lambda fl=fl: fl.get_many(keys), 30) for name, fl in paths.items()}
    if "lakebase" in paths:  # a call timeout also bounds the statement (sent in the query's own round trip)
        results["lakebase, timeout=5"] = p50_ns(lambda: paths["lakebase"].get_many(keys, timeout=5.0), 30)
    base = results["serving"]
    for name, ns in results.items():
        print(f"store {name:19s} p50 for 100 keys: {ns / 1e6:7.2f} ms ({ns / base:.2f}x serving)")
    risks = {name: [round(float(r["risk"]), 6) for r in fl.get_many(keys[:5]).values()] for name, fl in paths.items()}
    same = all(r == risks["serving"] for r in risks.values())
    print(f"  same rows from every store: {verdict(same)}")


def bench_threads(make: Callable[..., FeatureLookup[Any]]) -> None:
    fl = make(cache_ttl=3600.0)
    fl.get_many(KEYS)
    expected = {k: fl.get(k) for k in KEYS}
    calls = 20_000
    errors: list[BaseException] = []

    def work(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(calls):
                key = KEYS[rng.randrange(len(KEYS))]
                if fl.get(key) is not expected[key]:
                    raise AssertionError(f"wrong row for {key}")
        except BaseException as err:
            errors.append(err)

    ratios, manys, ones, exact = [], [], [], True
    for _ in range(5):  # pairs of (one thread, 16 threads), median ratio: one pair is ~50 ms, at the mercy of load
        start = time.perf_counter()
        work(0)
        one = calls / (time.perf_counter() - start)
        hits_before = fl.stats.hits
        threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        many = 16 * calls / (time.perf_counter() - start)
        exact = exact and fl.stats.hits - hits_before == 16 * calls
        ratios.append(many / one)
        manys.append(many)
        ones.append(one)
    ratio = statistics.median(ratios)
    print(
        f"16 threads: {statistics.median(manys):,.0f} hits/s vs 1 thread {statistics.median(ones):,.0f} hits/s "
        f"(median of 5 pairs {ratio:.2f}x, range {min(ratios):.2f}-{max(ratios):.2f}x), errors {len(errors)}"
    )
    print(f"  correct and counters exact: {verdict(not errors and exact)}; throughput >= 0.5x: {verdict(ratio >= 0.5)}")


def lakebase_lookup(config: Any) -> tuple[FeatureLookup[Any] | None, Callable[[], None]]:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "features"))
    try:
        import psycopg  # noqa: F401  (the lakebase extra)
        from pgcluster import PgCluster, PgUnavailable, find_pg_bin

        cluster = PgCluster(find_pg_bin())
    except (ImportError, PgUnavailable) as err:
        print(f"store lakebase: skipped ({err})")
        return None, lambda: None
    cluster.start()
    with cluster.connect() as admin:
        admin.execute("CREATE ROLE reader LOGIN PASSWORD 'bench-token'")
        admin.execute(
            "CREATE TABLE merchants (merchant_id text PRIMARY KEY, risk float8, chargebacks int, country text)"
        )
        with admin.cursor() as cur:
            cur.executemany(
                "INSERT INTO merchants VALUES (%(merchant_id)s, %(risk)s, %(chargebacks)s, %(country)s)", ROWS
            )
        admin.execute("GRANT SELECT ON merchants TO reader")
    backend = LakebaseBackend(
        "merchants", host=cluster.host, port=cluster.port, user="reader", dbname="postgres", sslmode="disable",
        token_provider=lambda: "bench-token",
    )  # fmt: skip
    fl = FeatureLookup(backend=backend, key="merchant_id", config=config, cache_size=0)

    def stop() -> None:
        fl.close()
        cluster.stop()

    return fl, stop


def main() -> int:
    ws = LocalWorkspace()
    ws.create_table("main.fraud.merchants", ROWS, primary_key="merchant_id")
    ws.features.create_spec(SPEC, table="main.fraud.merchants", lookup_keys="merchant_id")
    ws.serving.create_endpoint("merchant-features", served_entities=[{"entity_name": SPEC}])
    with ws.serve() as server:
        config = server.config

        def make(**options: Any) -> FeatureLookup[Any]:
            return FeatureLookup("merchant-features", key="merchant_id", config=config, **options)

        bench_cache_hit(make)
        bench_batching(make)
        bench_threads(make)
        sql = SqlWarehouseBackend("main.fraud.merchants", warehouse_id="bench")
        paths = {
            "serving": make(cache_size=0),
            "sql": FeatureLookup(backend=sql, key="merchant_id", config=config, cache_size=0),
        }
        lakebase, stop = lakebase_lookup(config)
        try:
            if lakebase is not None:
                paths["lakebase"] = lakebase
            bench_paths(paths)
        finally:
            stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
