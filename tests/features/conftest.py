"""Fixtures for FeatureLookup tests: a local workspace with feature tables, and a throwaway PostgreSQL server.

The PostgreSQL fixture starts a real server (initdb + pg_ctl from the Debian `postgresql` package) on
127.0.0.1 in a temp dir, with scram-sha-256 password auth, so the Lakebase backend's token-as-password
and its rotation are exercised for real. Without the binaries the tests skip with the reason, except
under CI (`CI` set), where they fail: CI installs `postgresql` and must never skip them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from features_support import LookupFactory
from pgcluster import PgCluster, PgUnavailable, find_pg_bin

from canary import CANARY
from dbx_native import DbxConfig
from dbx_native._core.clock import FakeClock
from dbx_native.features import FeatureLookup, SqlWarehouseBackend
from dbx_native.local import LocalWorkspace

SPEC = "main.fraud.merchant_spec"
PAIR_SPEC = "main.fraud.merchant_region_spec"
ENDPOINT = "merchant-features"
PAIR_ENDPOINT = "merchant-region-features"
MERCHANTS = [
    {"merchant_id": "m_1", "risk": 0.2, "chargebacks": 3, "country": "FR"},
    {"merchant_id": "m_2", "risk": 0.9, "chargebacks": 11, "country": "US"},
    {"merchant_id": "m_3", "risk": None, "chargebacks": None, "country": None},
    {"merchant_id": "m_4", "risk": 0.5, "chargebacks": None, "country": "DE"},
    *({"merchant_id": f"m_{i}", "risk": i / 1000, "chargebacks": i, "country": "NL"} for i in range(10, 260)),
]
PAIRS = [
    {"merchant_id": "m_1", "region": "eu", "volume": 100},
    {"merchant_id": "m_1", "region": "us", "volume": 7},
    {"merchant_id": "m_2", "region": "us", "volume": 900},
]


def config(ws: LocalWorkspace, **retry: Any) -> DbxConfig:
    return DbxConfig(host=ws.host, token=CANARY, retry={"jitter": 0.0, **retry})


@pytest.fixture
def ws() -> Iterator[LocalWorkspace]:
    workspace = LocalWorkspace(token=CANARY)
    workspace.create_table("main.fraud.merchants", MERCHANTS, primary_key="merchant_id")
    workspace.create_table("main.fraud.merchant_regions", PAIRS, primary_key=["merchant_id", "region"])
    workspace.features.create_spec(SPEC, table="main.fraud.merchants", lookup_keys="merchant_id")
    workspace.features.create_spec(
        PAIR_SPEC, table="main.fraud.merchant_regions", lookup_keys=["merchant_id", "region"]
    )
    workspace.serving.create_endpoint(ENDPOINT, served_entities=[{"entity_name": SPEC, "entity_version": "1"}])
    workspace.serving.create_endpoint(
        PAIR_ENDPOINT, served_entities=[{"entity_name": PAIR_SPEC, "entity_version": "1"}]
    )
    with workspace.intercept():
        yield workspace


@pytest.fixture(params=["serving", "sql"])
def make_lookup(request: pytest.FixtureRequest, ws: LocalWorkspace) -> Iterator[LookupFactory]:
    """Builds a FeatureLookup on the backend under test (`serving` endpoint or `sql` warehouse)."""
    made: list[FeatureLookup[Any]] = []

    def make(*, key: Any = "merchant_id", retry: dict[str, Any] | None = None, **options: Any) -> FeatureLookup[Any]:
        composite = not isinstance(key, str)
        options.setdefault("clock", FakeClock())
        cfg = config(ws, **(retry or {}))
        if request.param == "serving":
            lookup = FeatureLookup(PAIR_ENDPOINT if composite else ENDPOINT, key=key, config=cfg, **options)
        else:
            table = "main.fraud.merchant_regions" if composite else "main.fraud.merchants"
            backend = SqlWarehouseBackend(table, warehouse_id="local-warehouse")
            lookup = FeatureLookup(backend=backend, key=key, config=cfg, **options)
        made.append(lookup)
        return lookup

    make.kind = request.param  # type: ignore[attr-defined]
    yield make
    for lookup in made:
        lookup.close()


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """A running throwaway PostgreSQL server on 127.0.0.1 (skips locally without the binaries; fails on CI)."""
    try:
        import psycopg  # noqa: F401
        import psycopg_pool  # noqa: F401

        bindir = find_pg_bin()
    except (ImportError, PgUnavailable) as err:
        reason = f"PostgreSQL tests need the server binaries and psycopg 3 + psycopg-pool: {err}"
        if os.environ.get("CI"):
            pytest.fail(reason + " (CI must run them: install the `postgresql` Debian package and the lakebase extra)")
        pytest.skip(reason + " (apt-get install postgresql; pip install 'dbx-native[lakebase]')")
    cluster = PgCluster(bindir)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
