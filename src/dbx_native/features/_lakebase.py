"""The Lakebase online store backend: direct Postgres reads through psycopg 3 and a connection pool.

Databricks documents direct Lakebase queries as the lowest-latency way to read online features. The
password is a Databricks OAuth token: it is fetched when the pool first connects, and again once it is
`token_refresh` seconds old, when the pool's connections are replaced so new ones log in with the new
token (Postgres checks the password only when a connection opens). Keys travel only as parameters
(`WHERE key = ANY(%s)`). Needs the `lakebase` extra (`psycopg[binary]`, `psycopg-pool`).

A lookup's `timeout=` bounds the statement too, not only the pool checkout: each pooled connection's
`statement_timeout` is the client's read timeout (set once when it opens), and a call with less time left
sends `set_config('statement_timeout', ..., true)` in the same pipeline as its query (one round trip), which
lasts until the pipeline's Sync ends the implicit transaction, so the connection goes back to the pool with
its default bound. TCP keepalives make a dead network an error within about 35 s instead of hours.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from dbx_native._core.clock import SYSTEM_CLOCK, Clock
from dbx_native._core.logs import get_logger, register_secret
from dbx_native.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    BadRequestError,
    ConfigurationError,
    InvalidRequestError,
)
from dbx_native.features._backends import quote_identifier
from dbx_native.features._keys import canonical

if TYPE_CHECKING:
    import psycopg
    from psycopg import Connection
    from psycopg_pool import ConnectionPool

    from dbx_native._core.http import HttpClient

__all__ = ["LakebaseBackend"]

_log = get_logger("dbx_native.features.lakebase")
# is_local=true: the value lasts until the end of the transaction, here the pipeline's implicit one.
_SET_TIMEOUT = "SELECT set_config('statement_timeout', %s, true)"
_SET_DEFAULT_TIMEOUT = "SELECT set_config('statement_timeout', %s, false)"
# libpq socket options (client side only, nothing is sent to the server): probe a silent connection after 10 s,
# every 5 s, and drop it when 25 s of probes or of sent data go unacknowledged. Without them a read on a dead
# network waits for the OS defaults (two hours of idle before the first keepalive probe on Linux).
_KEEPALIVES: dict[str, int] = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 25_000,
}


class LakebaseBackend:
    """A Lakebase (Postgres) table holding one row per key: a Databricks online feature store table.

    Args:
        table: The table, `schema.table` (or `table` in `public`).
        host: The Lakebase instance's host name (`instance-....database.cloud.databricks.com`).
        user: The Postgres role: your Databricks user name or service principal application id.
        dbname: The database.
        port: The port.
        token_provider: Returns the password (a Databricks OAuth token or a Lakebase database credential);
            by default the bearer token of the `FeatureLookup`'s own credentials.
        token_refresh: Seconds after which the token is fetched again and the pool's connections are
            replaced (Lakebase tokens last one hour; the default rotates every 15 minutes).
        columns: Columns to read (the key columns are always added); all columns when omitted.
        sslmode: libpq `sslmode` (`require` for Lakebase; `disable` or `prefer` for a local server).
        min_size: Connections the pool keeps open.
        max_size: Most connections the pool opens.
        connect_timeout: Seconds to wait for a connection (opening one, or from a busy pool) when the lookup
            has no `timeout=`.
        clock: Time source for the token's age (tests pass a `FakeClock`).

    A lookup's `timeout=` bounds both the wait for a pooled connection and, with what is left of it, the
    statement (Postgres `statement_timeout`); without `timeout=` the statement is bounded by the client's
    read timeout (`DbxConfig.timeouts.read`). A cancelled statement is an `APITimeoutError`.

    Raises:
        InvalidRequestError: A bad table or column name.
    """

    name = "lakebase"

    def __init__(
        self,
        table: str,
        *,
        host: str,
        user: str,
        dbname: str = "databricks_postgres",
        port: int = 5432,
        token_provider: Callable[[], str] | None = None,
        token_refresh: float = 900.0,
        columns: Sequence[str] | None = None,
        sslmode: str = "require",
        min_size: int = 1,
        max_size: int = 8,
        connect_timeout: float = 10.0,
        clock: Clock | None = None,
    ) -> None:
        if not 1 <= len(table.split(".")) <= 2:
            raise InvalidRequestError(f"table must be 'schema.table' (or 'table' in public), not {table!r}.")
        self.table = table
        self.table_sql = quote_identifier(table, quote_char='"')
        self.columns = list(columns) if columns is not None else None
        for column in self.columns or []:
            quote_identifier(column, quote_char='"')
        self.token_refresh = token_refresh
        self.min_size, self.max_size, self.connect_timeout = min_size, max_size, connect_timeout
        self._provider = token_provider
        self._clock = clock
        self._kwargs: dict[str, Any] = {
            "host": host,
            "port": port,
            "user": user,
            "dbname": dbname,
            "sslmode": sslmode,
            "application_name": "dbx-native-features",
            "autocommit": True,  # one round trip per lookup: no BEGIN/COMMIT around a read
            **_KEEPALIVES,
        }
        self._pool: ConnectionPool[Any] | None = None
        self._default_ms = 0  # each pooled connection's statement_timeout, set when the pool opens
        self._token_at: float | None = None
        self._lock = threading.Lock()
        self.rotations = 0

    def fetch(
        self,
        keys: Sequence[tuple[Any, ...]],
        *,
        columns: Sequence[str],
        http: HttpClient,
        timeout: float | None,
    ) -> list[Mapping[str, Any] | None]:
        import psycopg

        pool = self._ready_pool(http)
        query, params = self.statement(keys, columns)
        attrs: dict[str, str | int] = {
            "db.system": "postgresql",
            "dbx_native.features.table": self.table,
            "dbx_native.features.keys": len(keys),
        }
        clock = http.clock or SYSTEM_CLOCK
        with http.telemetry.span("features.lakebase", attrs):
            start, limit_ms = clock.monotonic(), self._default_ms
            try:
                with pool.connection(timeout=timeout or self.connect_timeout) as conn:
                    limit_ms = self._limit_ms(timeout, clock.monotonic() - start)
                    rows = _run(conn, query, params, None if limit_ms >= self._default_ms else limit_ms)
            except psycopg.Error as err:  # psycopg_pool.PoolTimeout is one too
                mapped = self._error(err, columns, timeout, limit_ms)
                raise mapped from (None if isinstance(mapped, BadRequestError) else err)
        by_key: dict[tuple[str, ...], Mapping[str, Any]] = {}
        for row in rows:
            by_key.setdefault(canonical([row.get(c) for c in columns]), row)
        return [by_key.get(canonical(key)) for key in keys]

    def _limit_ms(self, timeout: float | None, waited: float) -> int:
        """The statement's bound: what is left of `timeout` after the checkout, never past the default."""
        if timeout is None:
            return self._default_ms
        left_ms = int((timeout - waited) * 1000)
        if left_ms < 1:  # 0 would mean no limit at all to Postgres
            raise APITimeoutError(
                f"No time left for the Lakebase lookup on {self.table} after {waited:.3f}s waiting for a pooled "
                "connection: raise timeout= or the pool's max_size."
            )
        return min(left_ms, self._default_ms)

    def _error(self, err: psycopg.Error, columns: Sequence[str], timeout: float | None, limit_ms: int) -> APIError:
        """The `dbx_native` error for a psycopg or pool error (messages never hold the password or the DSN)."""
        import psycopg
        import psycopg_pool

        if isinstance(err, psycopg_pool.PoolTimeout):
            return APITimeoutError(
                f"No Lakebase connection to {self._kwargs['host']} within the timeout: the server is "
                "unreachable, refused the login (check user= and the token), or the pool is busy (raise max_size)."
            )
        if isinstance(err, psycopg.errors.QueryCanceled):
            why = (
                f"what was left of timeout={timeout:g}s"
                if timeout is not None and limit_ms < self._default_ms
                else "the read timeout, DbxConfig timeouts.read"
            )
            return APITimeoutError(
                f"The Lakebase lookup on {self.table} was cancelled by the server after its statement_timeout of "
                f"{limit_ms} ms ({why}), or by an administrator: raise timeout= (or timeouts.read), and check the "
                "Lakebase instance for locks held on the table (pg_locks) and for load (pg_stat_activity)."
            )
        if isinstance(err, psycopg.errors.UndefinedColumn):
            return BadRequestError(
                f"Lakebase table {self.table}: {err.diag.message_primary}. Check key= and columns=.",
                status_code=400,
                error_code="UNDEFINED_COLUMN",
            )
        if isinstance(err, psycopg.errors.UndefinedTable):
            return BadRequestError(
                f"Lakebase: {err.diag.message_primary}. Check the table name and that it was published.",
                status_code=400,
                error_code="UNDEFINED_TABLE",
            )
        if isinstance(err, psycopg.OperationalError):
            return APIConnectionError(f"Lakebase connection failed: {type(err).__name__}: {err}")
        return BadRequestError(
            f"Lakebase lookup on {self.table} by {list(columns)} failed: {type(err).__name__}: {err}. "
            "Check that the key values have the key columns' types.",
            status_code=400,
            error_code=getattr(err, "sqlstate", None),
        )

    def statement(self, keys: Sequence[tuple[Any, ...]], columns: Sequence[str]) -> tuple[Any, list[Any]]:
        """The parameterised query for `keys`: `= ANY(%s)` for one key column, `unnest` arrays for several."""
        from psycopg import sql

        names = [sql.Identifier(c) for c in columns]
        wanted = (
            sql.SQL("*")
            if self.columns is None
            else sql.SQL(", ").join(sql.Identifier(c) for c in dict.fromkeys([*columns, *self.columns]))
        )
        table = sql.SQL(".").join(sql.Identifier(p) for p in self.table.split("."))
        if len(columns) == 1:
            query = sql.SQL("SELECT {} FROM {} WHERE {} = ANY(%s)").format(wanted, table, names[0])
            return query, [[key[0] for key in keys]]
        pairs = sql.SQL(", ").join(names)
        params = [[key[j] for key in keys] for j in range(len(columns))]
        # Typed arrays: a list of str is sent untyped, which makes a multi-array unnest() ambiguous.
        arrays = sql.SQL(", ").join(
            sql.SQL("%s::int8[]" if all(isinstance(v, int) for v in values) else "%s::text[]") for values in params
        )
        query = sql.SQL("SELECT {} FROM {} WHERE ({}) IN (SELECT * FROM unnest({}))").format(
            wanted, table, pairs, arrays
        )
        return query, params

    def close(self) -> None:
        """Close the pool's connections."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    # --- the pool and the token ---------------------------------------------------------------------

    def _ready_pool(self, http: HttpClient) -> ConnectionPool[Any]:
        clock = self._clock or http.clock or SYSTEM_CLOCK
        with self._lock:
            due = self._token_at is None or clock.monotonic() - self._token_at >= self.token_refresh
            if due:
                self._rotate(http, clock)
            if self._pool is None:
                # The read timeout bounds a statement the way it bounds an HTTP read when no timeout= is given.
                self._default_ms = max(1, int(http.config.timeouts.read * 1000))
                self._pool = self._open_pool()
            elif due:
                # Connections keep the login they opened with; replace them so new ones use the new token.
                self._pool.drain()
            return self._pool

    def _rotate(self, http: HttpClient, clock: Clock) -> None:
        token = self._provider() if self._provider is not None else _bearer(http)
        if not token:
            raise ConfigurationError("The Lakebase token provider returned no token.", field="token_provider")
        register_secret(token)
        self._kwargs["password"] = token  # the pool reads this dict for every new connection
        self._token_at = clock.monotonic()
        self.rotations += 1
        _log.info("Lakebase token for %s rotated (rotation %d)", self._kwargs["host"], self.rotations)

    def _open_pool(self) -> ConnectionPool[Any]:
        try:
            from psycopg.rows import dict_row
            from psycopg_pool import ConnectionPool
        except ImportError as err:
            raise ConfigurationError(
                "LakebaseBackend needs psycopg 3 and psycopg-pool: pip install 'dbx-native[lakebase]'"
            ) from err
        self._kwargs["connect_timeout"] = max(1, round(self.connect_timeout))
        self._kwargs["row_factory"] = dict_row
        pool: ConnectionPool[Any] = ConnectionPool(
            kwargs=self._kwargs,
            min_size=self.min_size,
            max_size=self.max_size,
            timeout=self.connect_timeout,
            configure=self._configure,
            open=False,
            name=f"dbx-native-lakebase-{self.table}",
        )
        pool.open(wait=False)
        return pool

    def _configure(self, conn: Connection[Any]) -> None:
        import psycopg

        if conn.info.password != self._kwargs.get("password"):
            # It logged in while the token was being rotated, and would slip past the pool's drain(): the pool
            # discards it and connects again with the new token.
            raise psycopg.OperationalError("Lakebase connection opened with a token rotated since: reconnecting")
        # Once per new connection (a round trip at connect, none per lookup): the bound a lookup gets by default.
        conn.execute(_SET_DEFAULT_TIMEOUT, [str(self._default_ms)])

    def __repr__(self) -> str:
        return f"LakebaseBackend({self.table!r}, host={self._kwargs['host']!r}, user={self._kwargs['user']!r})"


def _run(conn: Connection[Any], query: Any, params: list[Any], limit_ms: int | None) -> list[Any]:
    """The query's rows; with `limit_ms`, under that statement_timeout, sent in the query's own round trip."""
    if limit_ms is None:
        return conn.execute(query, params).fetchall()
    # One Sync for both statements: the local setting lives exactly as long as the query's transaction.
    with conn.pipeline():
        conn.execute(_SET_TIMEOUT, [str(limit_ms)])
        cursor = conn.execute(query, params)
    return cursor.fetchall()


def _bearer(http: HttpClient) -> str:
    header = http.credentials.headers().get("Authorization", "")
    if not header.lower().startswith("bearer "):
        raise ConfigurationError(
            "LakebaseBackend needs a bearer token as the Postgres password, and the lookup's credentials give "
            "none: pass token_provider= (e.g. a Lakebase database credential).",
            field="token_provider",
        )
    return header[7:]
