"""The embedded store: bundles, session counters and certified Responses in one SQLite file
(SPEC 6).

`BundleStore` owns one SQLite connection; every statement runs in a worker thread
(`asyncio.to_thread`) behind a lock, so the event loop never blocks on disk. Bundles are stored as
the exact bytes that were certified (canonical JSON), so `GET /v1/assurance/cards/{handle}` returns
what `assurance verify` checks. The schema is migrated on open under `BEGIN IMMEDIATE` (one writer
at a time, so processes opening one file together migrate it once), recorded in `schema_version`.
Implements `proxy.store.base.Store`. This module does not decode, verify or sign bundles.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TypeVar

from proxy.store.base import (
    CounterValue,
    PurgeResult,
    SessionState,
    StoreError,
    decode_counters,
    encode_counters,
)

__all__ = ["BundleStore", "StoreError"]

T = TypeVar("T")

# version -> statements; append only, never edit a shipped migration
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "CREATE TABLE IF NOT EXISTS bundles (replay_handle TEXT PRIMARY KEY,"
        " created_at INTEGER NOT NULL, bundle BLOB NOT NULL)",
    ),
    (
        "CREATE INDEX IF NOT EXISTS bundles_created_at ON bundles (created_at)",
        "CREATE TABLE IF NOT EXISTS sessions (session_id TEXT PRIMARY KEY,"
        " version INTEGER NOT NULL, counters TEXT NOT NULL, touched_at INTEGER NOT NULL)",
        "CREATE INDEX IF NOT EXISTS sessions_touched_at ON sessions (touched_at)",
    ),
    (
        "CREATE TABLE IF NOT EXISTS certified_responses (response_id TEXT PRIMARY KEY,"
        " created_at INTEGER NOT NULL, body BLOB NOT NULL)",
        "CREATE INDEX IF NOT EXISTS certified_responses_created_at"
        " ON certified_responses (created_at)",
    ),
)


class BundleStore:
    """The `Store` over one SQLite file."""

    kind = "sqlite"

    def __init__(self, connection: sqlite3.Connection, path: str) -> None:
        self._connection = connection
        self._lock = threading.Lock()
        self.path = path
        self.healthy = True

    @classmethod
    async def open(cls, path: str) -> BundleStore:
        """Open (creating and migrating if needed) the SQLite file at `path`; `:memory:` too."""
        return await asyncio.to_thread(cls._open_sync, path)

    @classmethod
    def _open_sync(cls, path: str) -> BundleStore:
        try:
            if path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(
                path, check_same_thread=False, isolation_level=None, timeout=30
            )
            if path != ":memory:":
                _enable_wal(connection)
            _migrate(connection)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(
                f"Cannot open the bundle store at {path!r} ([store].path): {exc}"
            ) from exc
        return cls(connection, path)

    async def _run(self, what: str, work: Callable[[sqlite3.Connection], T]) -> T:
        def locked() -> T:
            with self._lock:
                return work(self._connection)

        try:
            result = await asyncio.to_thread(locked)
        except sqlite3.Error as exc:
            self.healthy = False
            raise StoreError(f"Cannot {what} in {self.path!r}: {exc}") from exc
        self.healthy = True
        return result

    async def put(self, replay_handle: str, bundle: bytes, created_at: int) -> None:
        """Store `bundle` under `replay_handle` (a handle is written once; a repeat replaces it)."""
        await self._run(
            f"write bundle {replay_handle!r}",
            lambda c: c.execute(
                "INSERT OR REPLACE INTO bundles (replay_handle, created_at, bundle)"
                " VALUES (?, ?, ?)",
                (replay_handle, created_at, bundle),
            ),
        )

    async def _blob(self, what: str, sql: str, key: str) -> bytes | None:
        """The one BLOB column `sql` selects for `key`, or None."""
        row = await self._run(what, lambda c: c.execute(sql, (key,)).fetchone())
        if row is None:
            return None
        data = row[0]
        return bytes(data) if isinstance(data, bytes | memoryview) else str(data).encode("utf-8")

    async def get(self, replay_handle: str) -> bytes | None:
        """The bundle stored under `replay_handle`, or None."""
        return await self._blob(
            "read a bundle", "SELECT bundle FROM bundles WHERE replay_handle = ?", replay_handle
        )

    async def put_response(self, response_id: str, body: bytes, created_at: int) -> None:
        """Store the certified body emitted for `response_id` (a repeat replaces it)."""
        await self._run(
            "write a certified response",
            lambda c: c.execute(
                "INSERT OR REPLACE INTO certified_responses (response_id, created_at, body)"
                " VALUES (?, ?, ?)",
                (response_id, created_at, body),
            ),
        )

    async def get_response(self, response_id: str) -> bytes | None:
        """The certified body stored for `response_id`, or None."""
        return await self._blob(
            "read a certified response",
            "SELECT body FROM certified_responses WHERE response_id = ?",
            response_id,
        )

    async def count(self) -> int:
        """How many bundles are stored."""
        row = await self._run(
            "count bundles", lambda c: c.execute("SELECT COUNT(*) FROM bundles").fetchone()
        )
        return int(row[0])

    async def session(self, session: str, *, now: int, ttl_s: int) -> SessionState:
        """The session's counters and row version (expired counters read as empty)."""
        row = await self._run(
            "read a session",
            lambda c: c.execute(
                "SELECT version, counters, touched_at FROM sessions WHERE session_id = ?",
                (session,),
            ).fetchone(),
        )
        if row is None:
            return SessionState(counters={}, version=0)
        version, counters, touched_at = int(row[0]), str(row[1]), int(row[2])
        fresh = now - touched_at <= ttl_s
        return SessionState(counters=decode_counters(counters) if fresh else {}, version=version)

    async def advance_session(
        self, session: str, *, expected_version: int, counters: dict[str, CounterValue], now: int
    ) -> bool:
        """Compare-and-swap the session's counters on its version (insert when version 0)."""
        text = encode_counters(counters)

        def swap(c: sqlite3.Connection) -> bool:
            if expected_version == 0:
                cursor = c.execute(
                    "INSERT INTO sessions (session_id, version, counters, touched_at)"
                    " VALUES (?, 1, ?, ?) ON CONFLICT (session_id) DO NOTHING",
                    (session, text, now),
                )
            else:
                cursor = c.execute(
                    "UPDATE sessions SET version = version + 1, counters = ?, touched_at = ?"
                    " WHERE session_id = ? AND version = ?",
                    (text, now, session, expected_version),
                )
            return cursor.rowcount == 1

        return await self._run("advance a session", swap)

    async def purge(self, *, bundles_before: int | None, sessions_before: int) -> PurgeResult:
        """Delete old bundles and certified responses (when `bundles_before` is set) and idle
        sessions."""

        def delete(c: sqlite3.Connection) -> PurgeResult:
            bundles = responses = 0
            if bundles_before is not None:
                bundles = c.execute(
                    "DELETE FROM bundles WHERE created_at < ?", (bundles_before,)
                ).rowcount
                responses = c.execute(
                    "DELETE FROM certified_responses WHERE created_at < ?", (bundles_before,)
                ).rowcount
            sessions = c.execute(
                "DELETE FROM sessions WHERE touched_at < ?", (sessions_before,)
            ).rowcount
            return PurgeResult(bundles=bundles, sessions=sessions, responses=responses)

        return await self._run("purge", delete)

    async def ping(self) -> None:
        """One trivial statement (an SQLite file is down only when its disk is)."""
        await self._run("ping", lambda c: c.execute("SELECT 1").fetchone())

    async def aclose(self) -> None:
        """Close the connection (pending writes are already committed: autocommit mode)."""
        await asyncio.to_thread(self._close_sync)

    def _close_sync(self) -> None:
        with self._lock:
            self._connection.close()


#: how long concurrent openers retry switching a new file to WAL (the connect timeout's length)
WAL_SWITCH_TIMEOUT_S = 30.0


class _Executes(Protocol):
    def execute(self, sql: str, /) -> object: ...


def _enable_wal(connection: _Executes) -> None:
    """`PRAGMA journal_mode=WAL`, retried while another opener holds the file.

    Switching a fresh file to WAL needs an exclusive lock, and SQLite answers "database is
    locked" at once, without the busy handler, when openers would otherwise deadlock; replicas
    started together retry with a short back-off until `WAL_SWITCH_TIMEOUT_S` has passed.
    """
    deadline = time.monotonic() + WAL_SWITCH_TIMEOUT_S
    pause = 0.01
    while True:
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(0.5, pause * 2)


def _migrate(connection: sqlite3.Connection) -> None:
    # BEGIN IMMEDIATE takes the file's write lock: concurrent openers migrate one after another
    connection.execute("BEGIN IMMEDIATE")
    try:
        connection.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = connection.execute("SELECT MAX(version) FROM schema_version").fetchone()
        current = int(row[0]) if row is not None and row[0] is not None else 0
        for version, statements in enumerate(MIGRATIONS, start=1):
            if version > current:
                for statement in statements:
                    connection.execute(statement)
                connection.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
