"""The store interface both backends implement: bundles by replay handle, sessions by id, and the
certified copies of emitted Responses by response id.

`Store` is what the shell calls; `proxy.store.sqlite.BundleStore` (embedded, one file) and
`proxy.store.postgres.PostgresStore` (shared by replicas) implement it identically, and
`proxy.store.open_store` picks one from `[store]`. A session key is a plain string (callers may
namespace it, e.g. per client). Session counters advance by compare-and-swap on a version number
(`advance_session(..., expected_version)` is one guarded `UPDATE ... WHERE version = ?`), so calls
on different replicas can never both advance from the same pre-state. Every method raises
`StoreError` when the database cannot be reached; `healthy` tracks the last outcome. This module
holds no state and does no IO.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import msgspec

# counter name -> value as it appears in the certificate's JSON (an int or an exact "p/q" string)
CounterValue = int | str


class StoreError(Exception):
    """The store could not be opened, read or written (path, permissions, database down)."""


@dataclass(frozen=True, slots=True)
class SessionState:
    """A session's counters after its last advancing call, and the row version they carry.

    `version == 0` means no row exists; an expired row keeps its version but reads as empty
    counters, so the next advance replaces it by the usual compare-and-swap.
    """

    counters: dict[str, CounterValue]
    version: int


@dataclass(frozen=True, slots=True)
class PurgeResult:
    """How many rows one retention pass removed."""

    bundles: int
    sessions: int
    responses: int = 0


class Store(Protocol):
    """Replay handle -> bundle bytes, session id -> counters, response id -> certified copy."""

    kind: str
    healthy: bool

    async def put(self, replay_handle: str, bundle: bytes, created_at: int) -> None:
        """Store `bundle` under `replay_handle` (a repeat replaces it)."""
        ...

    async def get(self, replay_handle: str) -> bytes | None:
        """The bundle stored under `replay_handle`, or None."""
        ...

    async def count(self) -> int:
        """How many bundles are stored."""
        ...

    async def session(self, session: str, *, now: int, ttl_s: int) -> SessionState:
        """The session's state; counters idle for more than `ttl_s` seconds read as empty."""
        ...

    async def advance_session(
        self, session: str, *, expected_version: int, counters: dict[str, CounterValue], now: int
    ) -> bool:
        """Write `counters` iff the row is still at `expected_version`; False when another won."""
        ...

    async def put_response(self, response_id: str, body: bytes, created_at: int) -> None:
        """Store the certified `response` body the proxy emitted for `response_id` (replaces)."""
        ...

    async def get_response(self, response_id: str) -> bytes | None:
        """The certified body stored for `response_id`, or None."""
        ...

    async def purge(self, *, bundles_before: int | None, sessions_before: int) -> PurgeResult:
        """Delete bundles and certified responses created before `bundles_before`, sessions
        idle since `sessions_before`."""
        ...

    async def ping(self) -> None:
        """One round trip to the database (raises `StoreError` when it is unreachable)."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


_COUNTERS = msgspec.json.Decoder(dict[str, int | str])


def encode_counters(counters: dict[str, CounterValue]) -> str:
    """Counters as the JSON text stored in the sessions table."""
    return msgspec.json.encode(counters).decode()


def decode_counters(text: str | bytes) -> dict[str, CounterValue]:
    """The counters stored by `encode_counters`."""
    return _COUNTERS.decode(text)
