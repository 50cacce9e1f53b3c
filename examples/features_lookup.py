"""FeatureLookup in an agent's tool: typed merchant features by key, batched and cached, with explicit missing keys.

Runs on the embedded local workspace by default (no account needed): a feature table, a feature spec and a
Feature Serving endpoint are made for you. With DATABRICKS_HOST and DATABRICKS_TOKEN set and
`--live ENDPOINT`, the same lookup code queries a real Feature Serving endpoint.

    python examples/features_lookup.py
    python examples/features_lookup.py --live merchant-features
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator

from pydantic import BaseModel

from dbx_native import DbxConfig
from dbx_native.features import FeatureLookup

ENDPOINT = "merchant-features"


class MerchantFeatures(BaseModel):
    merchant_id: str
    risk_score: float
    chargebacks_30d: int


@contextlib.contextmanager
def local_workspace() -> Iterator[DbxConfig]:
    from dbx_native.local import LocalWorkspace

    ws = LocalWorkspace()
    ws.create_table(
        "main.fraud.merchants",
        [
            {"merchant_id": "m_001", "risk_score": 0.12, "chargebacks_30d": 0},
            {"merchant_id": "m_002", "risk_score": 0.81, "chargebacks_30d": 7},
            {"merchant_id": "m_004", "risk_score": 0.97, "chargebacks_30d": 19},
        ],
        primary_key="merchant_id",
    )
    ws.features.create_spec("main.fraud.merchant_features", table="main.fraud.merchants", lookup_keys="merchant_id")
    with ws.intercept():
        config = ws.config
        # Admin through the REST API, as on a real workspace: idempotent, waits until READY.
        FeatureLookup(ENDPOINT, key="merchant_id", config=config).ensure_endpoint(
            feature_spec="main.fraud.merchant_features"
        )
        yield config


def review(lookup: FeatureLookup[MerchantFeatures], merchant_ids: list[str]) -> None:
    """What an agent tool would do: one batched lookup, then a decision per merchant."""
    features = lookup.get_many(merchant_ids)
    for merchant_id, row in features.items():
        if row is None:
            print(f"{merchant_id}: no features (new merchant?) -> ask for manual review")
        elif row.risk_score > 0.8 or row.chargebacks_30d > 5:
            print(f"{merchant_id}: risk {row.risk_score:.2f}, {row.chargebacks_30d} chargebacks -> hold the payment")
        else:
            print(f"{merchant_id}: risk {row.risk_score:.2f} -> approve")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--live", metavar="ENDPOINT", help="query this Feature Serving endpoint of a real workspace")
    args = parser.parse_args()
    workspace = contextlib.nullcontext(DbxConfig()) if args.live else local_workspace()
    with workspace as config:
        lookup = FeatureLookup(
            args.live or ENDPOINT, key="merchant_id", schema=MerchantFeatures, cache_ttl=30.0, config=config
        )
        with lookup:
            review(lookup, ["m_002", "m_001", "m_999", "m_002"])
            review(lookup, ["m_002"])  # answered from the cache
            stats = lookup.stats
            print(f"round trips {stats.round_trips}, cache hits {stats.hits}, misses {stats.misses}")


if __name__ == "__main__":
    main()
