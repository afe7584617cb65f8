"""The bundle store: every certified call's bundle kept in SQLite under its replay handle (SPEC 6).

`BundleStore` owns one SQLite connection; every statement runs in a worker thread
(`asyncio.to_thread`) behind a lock, so the event loop never blocks on disk. Bundles are stored as
the exact bytes that were certified (canonical JSON), so `GET /v1/assurance/cards/{handle}` returns
what `assurance verify` checks. This module does not decode, verify or sign bundles.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS bundles (
    replay_handle TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL,
    bundle BLOB NOT NULL
)
"""


class StoreError(Exception):
    """The store could not be opened or written (path, permissions, disk full)."""


class BundleStore:
    """Replay handle -> bundle bytes, persisted in one SQLite file."""

    def __init__(self, connection: sqlite3.Connection, path: str) -> None:
        self._connection = connection
        self._lock = threading.Lock()
        self.path = path

    @classmethod
    async def open(cls, path: str) -> BundleStore:
        """Open (creating if needed) the SQLite file at `path`; `:memory:` keeps it in memory."""
        return await asyncio.to_thread(cls._open_sync, path)

    @classmethod
    def _open_sync(cls, path: str) -> BundleStore:
        try:
            if path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            if path != ":memory:":
                connection.execute("PRAGMA journal_mode=WAL")
            connection.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(
                f"Cannot open the bundle store at {path!r} ([store].path): {exc}"
            ) from exc
        return cls(connection, path)

    async def put(self, replay_handle: str, bundle: bytes, created_at: int) -> None:
        """Store `bundle` under `replay_handle` (a handle is written once; a repeat replaces it)."""
        await asyncio.to_thread(self._put_sync, replay_handle, bundle, created_at)

    def _put_sync(self, replay_handle: str, bundle: bytes, created_at: int) -> None:
        try:
            with self._lock:
                self._connection.execute(
                    "INSERT OR REPLACE INTO bundles (replay_handle, created_at, bundle)"
                    " VALUES (?, ?, ?)",
                    (replay_handle, created_at, bundle),
                )
        except sqlite3.Error as exc:
            raise StoreError(
                f"Cannot write bundle {replay_handle!r} to {self.path!r}: {exc}"
            ) from exc

    async def get(self, replay_handle: str) -> bytes | None:
        """The bundle stored under `replay_handle`, or None."""
        return await asyncio.to_thread(self._get_sync, replay_handle)

    def _get_sync(self, replay_handle: str) -> bytes | None:
        with self._lock:
            row = self._connection.execute(
                "SELECT bundle FROM bundles WHERE replay_handle = ?", (replay_handle,)
            ).fetchone()
        if row is None:
            return None
        data = row[0]
        return bytes(data) if isinstance(data, bytes | memoryview) else str(data).encode("utf-8")

    async def count(self) -> int:
        """How many bundles are stored."""
        return await asyncio.to_thread(self._count_sync)

    def _count_sync(self) -> int:
        with self._lock:
            row = self._connection.execute("SELECT COUNT(*) FROM bundles").fetchone()
        return int(row[0])

    async def aclose(self) -> None:
        """Close the connection (pending writes are already committed: autocommit mode)."""
        await asyncio.to_thread(self._close_sync)

    def _close_sync(self) -> None:
        with self._lock:
            self._connection.close()
