"""FeatureLookup on the Lakebase backend against a real PostgreSQL server on 127.0.0.1 (scram password auth)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
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

    def factory(
        *, table: str = "public.merchant_features", backend_options: Any = None, read: float = 60.0, **options: Any
    ) -> Any:
        options.setdefault("key", "merchant_id")
        options.setdefault("clock", FakeClock())
        config = DbxConfig(host=HOST, token=CANARY, timeouts={"read": read})
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


@contextmanager
def table_locked(pg: PgCluster, table: str = "public.merchant_features") -> Iterator[None]:
    """Another session holds an ACCESS EXCLUSIVE lock on `table` (every read of it waits) until the block ends."""
    with pg.connect(DB) as other, other.transaction():
        other.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        yield


def pooled_setting(fl: FeatureLookup[Any], name: str) -> str:
    """`SHOW name` on the lookup's pooled connection (the only one, with max_size=1)."""
    with fl.backend._pool.connection() as conn:
        value: str = conn.execute(f"SHOW {name}").fetchone()[name]
    return value


def one_connection_lookup(make: Any, **options: Any) -> FeatureLookup[Any]:
    return make(cache_ttl=0.0, backend_options={"min_size": 1, "max_size": 1}, **options)


def test_timeout_bounds_a_lookup_blocked_by_another_sessions_lock(make: Any, pg: PgCluster) -> None:
    fl = one_connection_lookup(make)
    assert fl.get("m_1")["risk"] == 0.2
    with table_locked(pg):
        start = time.monotonic()
        with pytest.raises(APITimeoutError, match=r"timeout=0\.3s.*raise timeout=.*locks") as caught:
            fl.get("m_2", timeout=0.3)
        elapsed = time.monotonic() - start
    assert 0.25 <= elapsed < 1.0
    assert getattr(caught.value.__cause__, "sqlstate", None) == "57014"  # the server cancelled the statement
    assert fl.stats.errors == 1


def test_timeout_error_names_no_secret_and_no_connection_string(make: Any, pg: PgCluster) -> None:
    fl = one_connection_lookup(make)
    with table_locked(pg), pytest.raises(APITimeoutError) as caught:
        fl.get_many(["m_1", "m_2"], timeout=0.2)
    err = caught.value
    for text in (str(err), repr(err), str(err.__cause__), repr(err.__cause__)):
        assert CANARY not in text
        assert "password" not in text and f"port={pg.port}" not in text and f"user={ROLE}" not in text


def test_the_pooled_connection_is_reused_after_a_timeout_and_keeps_no_short_timeout(make: Any, pg: PgCluster) -> None:
    fl = one_connection_lookup(make, read=45.0)
    assert fl.get("m_1") is not None
    with table_locked(pg), pytest.raises(APITimeoutError):
        fl.get("m_2", timeout=0.3)
    assert fl.get("m_2", timeout=0.3)["risk"] == 0.9  # the lock is gone: the same lookup works again
    stats = fl.backend._pool.get_stats()
    assert stats["connections_num"] == 1 and stats.get("connections_lost", 0) == 0  # rolled back, not replaced
    assert pooled_setting(fl, "statement_timeout") == "45s"  # the read timeout, not the call's 300 ms


def test_a_normal_lookup_with_a_timeout_leaves_the_default_statement_timeout(make: Any) -> None:
    fl = one_connection_lookup(make, read=45.0)
    assert fl.get("m_4", timeout=5.0)["country"] == "DE"
    assert pooled_setting(fl, "statement_timeout") == "45s"
    assert fl.get_many(["m_1", "m_2"], timeout=5.0)["m_2"]["chargebacks"] == 11
    assert pooled_setting(fl, "statement_timeout") == "45s"


def test_without_timeout_the_read_timeout_bounds_the_statement(make: Any, pg: PgCluster) -> None:
    fl = one_connection_lookup(make, read=0.3)
    assert fl.get("m_1") is not None
    with table_locked(pg):
        start = time.monotonic()
        with pytest.raises(APITimeoutError, match="read timeout"):
            fl.get("m_2")
        assert time.monotonic() - start < 1.0
        with pytest.raises(APITimeoutError, match="read timeout"):
            fl.get("m_2", timeout=30.0)  # a longer call still waits at most the read timeout per statement
    assert fl.get("m_2")["risk"] == 0.9


def test_stale_on_error_serves_the_last_value_when_a_lock_times_the_lookup_out(make: Any, pg: PgCluster) -> None:
    fl = make(cache_ttl=0.0, stale_on_error=True)
    before = fl.get("m_1")
    with table_locked(pg):
        record = fl.get_many(["m_1"], with_meta=True, timeout=0.3)["m_1"]
    assert record.stale is True and record.value == before and fl.stats.stale_served == 1


def test_pooled_connections_use_tcp_keepalives(make: Any) -> None:
    fl = one_connection_lookup(make)
    assert fl.get("m_1") is not None
    with fl.backend._pool.connection() as conn:
        parameters = conn.info.get_parameters()
    assert parameters.get("keepalives") == "1" and int(parameters["keepalives_idle"]) > 0
    assert int(parameters["tcp_user_timeout"]) > 0
