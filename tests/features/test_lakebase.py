"""FeatureLookup on the Lakebase backend against a real PostgreSQL server on 127.0.0.1 (scram password auth)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pgcluster import PgCluster
from pydantic import BaseModel

from canary import CANARY
from dbx_native import DbxConfig
from dbx_native._core.clock import FakeClock
from dbx_native.errors import APIResponseError, APITimeoutError, BadRequestError, InvalidRequestError, NotFoundError
from dbx_native.features import FeatureLookup, LakebaseBackend

pytestmark = pytest.mark.postgres

ROLE = "feature_reader"
DB = "databricks_postgres"
HOST = "https://workspace.dbx-native.invalid"  # never contacted: Lakebase lookups talk Postgres only


class Merchant(BaseModel):
    merchant_id: str
    risk: float
    chargebacks: int


class Tokens:
    """A token provider whose current token a test can change (as a credential refresh would)."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        return self.token


@pytest.fixture(scope="module")
def pg(pg_cluster: PgCluster) -> Iterator[PgCluster]:
    from psycopg import sql

    with pg_cluster.connect() as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(ROLE), sql.Literal(CANARY)))
        admin.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(DB), sql.Identifier(ROLE)))
    with pg_cluster.connect(DB) as db:
        db.execute(
            "CREATE TABLE public.merchant_features (merchant_id text PRIMARY KEY, risk float8, chargebacks int, "
            "country text)"
        )
        rows = [("m_1", 0.2, 3, "FR"), ("m_2", 0.9, 11, "US"), ("m_3", None, None, None), ("m_4", 0.5, None, "DE")]
        rows += [(f"m_{i}", i / 1000, i, "NL") for i in range(10, 260)]
        with db.cursor() as cur:
            cur.executemany("INSERT INTO public.merchant_features VALUES (%s, %s, %s, %s)", rows)
        db.execute(
            "CREATE TABLE public.merchant_regions "
            "(merchant_id text, region text, volume int, PRIMARY KEY (merchant_id, region))"
        )
        db.execute("INSERT INTO public.merchant_regions VALUES ('m_1','eu',100), ('m_1','us',7), ('m_2','us',900)")
        db.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {ROLE}")
    yield pg_cluster
    with pg_cluster.connect() as admin:
        admin.execute(f"DROP DATABASE {DB} WITH (FORCE)")
        admin.execute(f"DROP ROLE {ROLE}")


def set_password(pg: PgCluster, password: str) -> None:
    from psycopg import sql

    with pg.connect() as admin:
        admin.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(ROLE), sql.Literal(password)))


def backend(pg: PgCluster, table: str = "public.merchant_features", **options: Any) -> LakebaseBackend:
    options.setdefault("token_provider", Tokens(CANARY))
    return LakebaseBackend(
        table, host=pg.host, port=pg.port, user=ROLE, dbname=DB, sslmode="disable", connect_timeout=5.0, **options
    )


@pytest.fixture
def make(pg: PgCluster) -> Iterator[Any]:
    made: list[FeatureLookup[Any]] = []

    def factory(*, table: str = "public.merchant_features", backend_options: Any = None, **options: Any) -> Any:
        options.setdefault("key", "merchant_id")
        options.setdefault("clock", FakeClock())
        config = DbxConfig(host=HOST, token=CANARY)
        lookup = FeatureLookup(backend=backend(pg, table, **(backend_options or {})), config=config, **options)
        made.append(lookup)
        return lookup

    yield factory
    set_password(pg, CANARY)
    for lookup in made:
        lookup.close()


def test_get_and_get_many_read_rows_in_input_order_without_duplicates(make: Any) -> None:
    fl = make()
    assert fl.get("m_2")["risk"] == 0.9
    result = fl.get_many(["m_4", "m_404", "m_1", "m_4"])
    assert list(result) == ["m_4", "m_404", "m_1"]
    assert result["m_404"] is None and result["m_1"]["chargebacks"] == 3
    assert fl.stats.round_trips == 2


def test_get_many_batches_one_query_per_chunk(make: Any) -> None:
    fl = make(batch_size=100)
    keys = [f"m_{i}" for i in range(10, 260)]
    result = fl.get_many(keys)
    assert [r["chargebacks"] for r in result.values()] == list(range(10, 260))
    assert fl.stats.round_trips == 3


def test_missing_and_all_null_rows_follow_the_missing_policy(make: Any) -> None:
    assert make().get_many(["m_3", "m_404"]) == {"m_3": None, "m_404": None}
    defaulted = make(missing="default", defaults={"risk": 1.0, "chargebacks": 0}, schema=Merchant)
    assert defaulted.get("m_404") == Merchant(merchant_id="m_404", risk=1.0, chargebacks=0)
    with pytest.raises(NotFoundError, match="m_3"):
        make(missing="raise").get("m_3")


def test_composite_keys_use_both_columns(make: Any) -> None:
    fl = make(table="public.merchant_regions", key=["merchant_id", "region"])
    result = fl.get_many([("m_1", "us"), ("m_2", "eu"), {"merchant_id": "m_2", "region": "us"}])
    assert [r["volume"] if r else None for r in result.values()] == [7, None, 900]


def test_schema_mismatch_names_the_key_and_the_field(make: Any) -> None:
    with pytest.raises(APIResponseError, match=r"'m_4'.*chargebacks"):
        make(schema=Merchant).get("m_4")


def test_injection_shaped_keys_are_parameters_that_match_nothing(make: Any, pg: PgCluster) -> None:
    fl = make()
    evil = ["x' OR 1=1 --", "m_1'; DROP TABLE public.merchant_features; --"]
    assert fl.get_many(evil) == dict.fromkeys(evil)
    query, params = fl.backend.statement([(k,) for k in evil], ["merchant_id"])
    with pg.connect(DB) as db:
        assert "OR 1=1" not in query.as_string(db) and params == [evil]
        assert db.execute("SELECT count(*) FROM public.merchant_features").fetchone()[0] == 254


def test_unknown_key_column_is_an_error_naming_it(make: Any) -> None:
    with pytest.raises(BadRequestError, match="merchant"):
        make(key="merchant").get("m_1")


def test_wrong_key_type_is_refused_before_connecting(make: Any) -> None:
    fl = make()
    with pytest.raises(InvalidRequestError, match="merchant_id"):
        fl.get(2.5)
    assert fl.backend.rotations == 0  # never asked for a token, never connected


def test_default_password_is_the_lookups_own_bearer_token(pg: PgCluster) -> None:
    lakebase = LakebaseBackend(
        "public.merchant_features", host=pg.host, port=pg.port, user=ROLE, dbname=DB, sslmode="disable"
    )
    with FeatureLookup(backend=lakebase, key="merchant_id", config=DbxConfig(host=HOST, token=CANARY)) as fl:
        assert fl.get("m_1")["country"] == "FR"


def test_token_is_rotated_after_token_refresh_and_new_connections_use_it(make: Any, pg: PgCluster) -> None:
    clock = FakeClock()
    tokens = Tokens(CANARY)
    fl = make(cache_ttl=0.0, backend_options={"token_provider": tokens, "token_refresh": 600.0, "clock": clock})
    assert fl.get("m_1") is not None
    new_token = CANARY + "-rotated"
    set_password(pg, new_token)  # the old token no longer logs in
    tokens.token = new_token
    clock.advance(599.0)
    assert fl.get("m_2") is not None and tokens.calls == 1  # not due yet: open connections keep working
    clock.advance(2.0)
    assert fl.get("m_1")["risk"] == 0.2
    assert tokens.calls == 2 and fl.backend.rotations == 2


def test_expired_token_without_rotation_fails_and_stale_on_error_covers_it(make: Any, pg: PgCluster) -> None:
    clock = FakeClock()
    fl = make(
        cache_ttl=0.0,
        stale_on_error=True,
        backend_options={"token_provider": Tokens(CANARY), "token_refresh": 60.0, "clock": clock},
    )
    before = fl.get("m_1")
    set_password(pg, CANARY + "-revoked")
    clock.advance(61.0)  # rotation fetches the same (now refused) token and replaces the connections
    records = fl.get_many(["m_1"], with_meta=True, timeout=1.0)
    assert records["m_1"].stale is True and records["m_1"].value == before
    with pytest.raises(APITimeoutError, match="refused the login"):
        fl.get("m_2", timeout=1.0)
