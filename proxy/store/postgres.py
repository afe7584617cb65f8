"""The shared store: bundles, session counters and certified Responses in PostgreSQL, for
replicas behind a Service.

`PostgresStore` wraps a psycopg 3 `AsyncConnectionPool` (connections checked on checkout, so a
database restart costs no request once it is back). The schema is migrated on open inside one
transaction holding a transaction-scoped advisory lock, so replicas starting together migrate it
exactly once; applied versions are rows of `assurance_schema_version`. Session counters advance by
a guarded `UPDATE ... WHERE version = %s` (or `INSERT ... ON CONFLICT DO NOTHING` for a new
session): of two replicas advancing one session from the same version, one row count is 0 and that
call re-certifies from the winner's post-state. Implements `proxy.store.base.Store`; messages name
host, port and database, never the password.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar
from urllib.parse import urlsplit

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from proxy.store.base import (
    CounterValue,
    PurgeResult,
    SessionState,
    StoreError,
    decode_counters,
    encode_counters,
)

T = TypeVar("T")

# an arbitrary constant naming "the assurance schema migration" among advisory locks
_MIGRATION_LOCK = 0x61737375

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "CREATE TABLE IF NOT EXISTS assurance_bundles (replay_handle TEXT PRIMARY KEY,"
        " created_at BIGINT NOT NULL, bundle BYTEA NOT NULL)",
        "CREATE INDEX IF NOT EXISTS assurance_bundles_created_at ON assurance_bundles (created_at)",
        "CREATE TABLE IF NOT EXISTS assurance_sessions (session_id TEXT PRIMARY KEY,"
        " version BIGINT NOT NULL, counters TEXT NOT NULL, touched_at BIGINT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS assurance_sessions_touched_at"
        " ON assurance_sessions (touched_at)",
    ),
    (
        "CREATE TABLE IF NOT EXISTS assurance_certified_responses (response_id TEXT PRIMARY KEY,"
        " created_at BIGINT NOT NULL, body BYTEA NOT NULL)",
        "CREATE INDEX IF NOT EXISTS assurance_certified_responses_created_at"
        " ON assurance_certified_responses (created_at)",
    ),
)


def describe_url(url: str) -> str:
    """`host:port/db` of a PostgreSQL URL, for messages (no user, no password)."""
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path or '/'}"


class PostgresStore:
    """The `Store` over one PostgreSQL database."""

    kind = "postgresql"

    def __init__(self, pool: AsyncConnectionPool, where: str) -> None:
        self._pool = pool
        self.where = where
        self.healthy = True

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        password: str | None = None,
        min_size: int = 1,
        max_size: int = 10,
        timeout_s: float = 5.0,
    ) -> PostgresStore:
        """Connect the pool to `url` and migrate the schema; `StoreError` names host and db."""
        where = describe_url(url)
        kwargs: dict[str, str | int] = {"connect_timeout": max(1, int(timeout_s))}
        if password is not None:
            kwargs["password"] = password
        pool = AsyncConnectionPool(
            url,
            kwargs=kwargs,
            min_size=min_size,
            max_size=max_size,
            timeout=timeout_s,
            open=False,
            check=AsyncConnectionPool.check_connection,
            name="assurance-store",
        )
        store = cls(pool, where)
        try:
            await pool.open(wait=True, timeout=timeout_s)
            await store._migrate()
        except (psycopg.Error, PoolTimeout, StoreError) as exc:
            await pool.close()
            raise StoreError(
                f"Cannot open the PostgreSQL store at {where} ([store].url): {exc}"
            ) from exc
        return store

    async def _migrate(self) -> None:
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS assurance_schema_version (version INTEGER NOT NULL)"
            )
            cursor = await conn.execute("SELECT MAX(version) FROM assurance_schema_version")
            row = await cursor.fetchone()
            current = int(row[0]) if row is not None and row[0] is not None else 0
            for version, statements in enumerate(MIGRATIONS, start=1):
                if version > current:
                    for statement in statements:
                        await conn.execute(statement)
                    await conn.execute(
                        "INSERT INTO assurance_schema_version (version) VALUES (%s)", (version,)
                    )

    async def _run(
        self, what: str, work: Callable[[psycopg.AsyncConnection[tuple[object, ...]]], Awaitable[T]]
    ) -> T:
        try:
            async with self._pool.connection() as conn:
                result = await work(conn)
        except (psycopg.Error, PoolTimeout) as exc:
            self.healthy = False
            raise StoreError(f"Cannot {what} in PostgreSQL at {self.where}: {exc}") from exc
        self.healthy = True
        return result

    async def _execute(self, what: str, sql: str, params: tuple[object, ...]) -> None:
        async def work(conn: psycopg.AsyncConnection[tuple[object, ...]]) -> None:
            await conn.execute(sql, params)

        await self._run(what, work)

    async def _blob(self, what: str, sql: str, key: str) -> bytes | None:
        """The one BYTEA column `sql` selects for `key`, or None."""

        async def work(conn: psycopg.AsyncConnection[tuple[object, ...]]) -> bytes | None:
            cursor = await conn.execute(sql, (key,))
            row = await cursor.fetchone()
            if row is None:
                return None
            data = row[0]
            return bytes(data) if isinstance(data, bytes | memoryview) else None

        return await self._run(what, work)

    async def put(self, replay_handle: str, bundle: bytes, created_at: int) -> None:
        """Store `bundle` under `replay_handle` (a repeat replaces it)."""
        await self._execute(
            f"write bundle {replay_handle!r}",
            "INSERT INTO assurance_bundles (replay_handle, created_at, bundle)"
            " VALUES (%s, %s, %s) ON CONFLICT (replay_handle)"
            " DO UPDATE SET created_at = EXCLUDED.created_at, bundle = EXCLUDED.bundle",
            (replay_handle, created_at, bundle),
        )

    async def get(self, replay_handle: str) -> bytes | None:
        """The bundle stored under `replay_handle`, or None."""
        return await self._blob(
            "read a bundle",
            "SELECT bundle FROM assurance_bundles WHERE replay_handle = %s",
            replay_handle,
        )

    async def put_response(self, response_id: str, body: bytes, created_at: int) -> None:
        """Store the certified body emitted for `response_id` (a repeat replaces it)."""
        await self._execute(
            "write a certified response",
            "INSERT INTO assurance_certified_responses (response_id, created_at, body)"
            " VALUES (%s, %s, %s) ON CONFLICT (response_id)"
            " DO UPDATE SET created_at = EXCLUDED.created_at, body = EXCLUDED.body",
            (response_id, created_at, body),
        )

    async def get_response(self, response_id: str) -> bytes | None:
        """The certified body stored for `response_id`, or None."""
        return await self._blob(
            "read a certified response",
            "SELECT body FROM assurance_certified_responses WHERE response_id = %s",
            response_id,
        )

    async def count(self) -> int:
        """How many bundles are stored."""

        async def work(conn: psycopg.AsyncConnection[tuple[object, ...]]) -> int:
            cursor = await conn.execute("SELECT COUNT(*) FROM assurance_bundles")
            row = await cursor.fetchone()
            return 0 if row is None else _int(row[0])

        return await self._run("count bundles", work)

    async def session(self, session: str, *, now: int, ttl_s: int) -> SessionState:
        """The session's counters and row version (expired counters read as empty)."""

        async def work(conn: psycopg.AsyncConnection[tuple[object, ...]]) -> SessionState:
            cursor = await conn.execute(
                "SELECT version, counters, touched_at FROM assurance_sessions"
                " WHERE session_id = %s",
                (session,),
            )
            row = await cursor.fetchone()
            if row is None:
                return SessionState(counters={}, version=0)
            version, touched_at = _int(row[0]), _int(row[2])
            fresh = now - touched_at <= ttl_s
            counters = decode_counters(str(row[1])) if fresh else {}
            return SessionState(counters=counters, version=version)

        return await self._run("read a session", work)

    async def advance_session(
        self, session: str, *, expected_version: int, counters: dict[str, CounterValue], now: int
    ) -> bool:
        """Compare-and-swap the session's counters on its version (insert when version 0)."""
        text = encode_counters(counters)

        async def work(conn: psycopg.AsyncConnection[tuple[object, ...]]) -> bool:
            if expected_version == 0:
                cursor = await conn.execute(
                    "INSERT INTO assurance_sessions (session_id, version, counters, touched_at)"
                    " VALUES (%s, 1, %s, %s) ON CONFLICT (session_id) DO NOTHING"
                    " RETURNING version",
                    (session, text, now),
                )
            else:
                cursor = await conn.execute(
                    "UPDATE assurance_sessions SET version = version + 1, counters = %s,"
                    " touched_at = %s WHERE session_id = %s AND version = %s RETURNING version",
                    (text, now, session, expected_version),
                )
            return await cursor.fetchone() is not None

        return await self._run("advance a session", work)

    async def purge(self, *, bundles_before: int | None, sessions_before: int) -> PurgeResult:
        """Delete old bundles and certified responses (when `bundles_before` is set) and idle
        sessions."""

        async def work(conn: psycopg.AsyncConnection[tuple[object, ...]]) -> PurgeResult:
            bundles = responses = 0
            if bundles_before is not None:
                cursor = await conn.execute(
                    "DELETE FROM assurance_bundles WHERE created_at < %s", (bundles_before,)
                )
                bundles = cursor.rowcount
                cursor = await conn.execute(
                    "DELETE FROM assurance_certified_responses WHERE created_at < %s",
                    (bundles_before,),
                )
                responses = cursor.rowcount
            cursor = await conn.execute(
                "DELETE FROM assurance_sessions WHERE touched_at < %s", (sessions_before,)
            )
            return PurgeResult(bundles=bundles, sessions=cursor.rowcount, responses=responses)

        return await self._run("purge", work)

    async def ping(self) -> None:
        """`SELECT 1` on a pooled connection."""

        async def work(conn: psycopg.AsyncConnection[tuple[object, ...]]) -> None:
            await conn.execute("SELECT 1")

        await self._run("ping", work)

    async def aclose(self) -> None:
        """Close the pool (its background workers get one second to stop)."""
        await self._pool.close(timeout=1.0)


def _int(value: object) -> int:
    if not isinstance(value, int):
        raise StoreError(f"Expected an integer column, got {type(value).__name__}")
    return value
