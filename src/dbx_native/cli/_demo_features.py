"""Demo step: FeatureLookup on a Feature Serving endpoint: one batched round trip, a cache hit, stale-on-error."""

from __future__ import annotations

import statistics
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dbx_native.config import DbxConfig
    from dbx_native.local import LocalWorkspace

TABLE = "main.fraud.merchants"
SPEC = "main.fraud.merchant_features"
ENDPOINT = "merchant-features"
ROWS = [
    {"merchant_id": "m_001", "risk_score": 0.12, "chargebacks_30d": 0},
    {"merchant_id": "m_002", "risk_score": 0.81, "chargebacks_30d": 7},
    {"merchant_id": "m_004", "risk_score": 0.97, "chargebacks_30d": 19},
]


def _features_step(n: int, ws: LocalWorkspace, config: DbxConfig) -> None:
    """Serve a feature spec over the merchants table and look merchants up through FeatureLookup."""
    from pydantic import BaseModel

    from dbx_native.features import FeatureLookup

    class Merchant(BaseModel):
        merchant_id: str
        risk_score: float
        chargebacks_30d: int

    print(f"\n[{n}] FeatureLookup: typed rows from a Feature Serving endpoint, batched, cached, stale on error")
    if not ws.catalog.table_exists(TABLE):
        ws.create_table(TABLE, ROWS, primary_key="merchant_id")
    ws.features.create_spec(
        SPEC, table=TABLE, lookup_keys="merchant_id", feature_names=["risk_score", "chargebacks_30d"]
    )
    ws.serving.create_endpoint(ENDPOINT, served_entities=[{"entity_name": SPEC, "entity_version": "1"}])
    fl = FeatureLookup(ENDPOINT, key="merchant_id", schema=Merchant, cache_ttl=0.0, stale_on_error=True, config=config)
    with fl.with_options(max_attempts=1) as lookup:
        rows = lookup.get_many(["m_002", "m_404", "m_004", "m_002"])
        found = ", ".join(f"{k}: {r.risk_score if r else None}" for k, r in rows.items())
        print(f"    get_many(4 keys, 1 duplicate) -> {found} in {lookup.stats.round_trips} round trip")
        cached = FeatureLookup(ENDPOINT, key="merchant_id", schema=Merchant, config=config)
        cached.get("m_002")
        samples = []
        for _ in range(1000):
            start = time.perf_counter()
            cached.get("m_002")
            samples.append(time.perf_counter() - start)
        trips = cached.stats.round_trips
        print(f"    cache hit p50 {statistics.median(samples) * 1e6:.1f} us over 1000 gets, {trips} round trip in all")
        cached.close()
        fault = ws.faults.add(status=503, times=None, path=f"/serving-endpoints/{ENDPOINT}/")
        record = lookup.get_many(["m_002"], with_meta=True)["m_002"]
        fault.cancel()
        print(
            f"    endpoint answering 503 -> last value served, stale={record.stale} "
            f"(stats: {lookup.stats.errors} error, {lookup.stats.stale_served} stale served)"
        )
