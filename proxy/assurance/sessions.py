"""Per-`X-Assurance-Session` action-gate counters: the trajectory chaining of SPEC 5.4.

After each certified call that emits its tool calls, the pipeline stores the action certificate's
post-state counters under the session id in the store (`proxy.store.base.Store`, shared by every
replica); the session's next call starts from them. Values are copied verbatim from the
certificate; this module never computes a counter.

Atomicity has two levels. Within one process, `SessionLocks.locked(session)` serializes a
session's calls, so they never race each other for the same version. Across replicas, the store's
compare-and-swap (`advance_session(expected_version=...)`) admits exactly one advance per version;
the loser re-reads and re-certifies from the winner's post-state (`proxy.assurance.certify`).
A lock is dropped when its last user leaves, so locks do not accumulate.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from proxy.store.base import CounterValue

Counters = Mapping[str, CounterValue]


@dataclass(slots=True)
class _LockEntry:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class SessionLocks:
    """Session id -> the in-process lock its calls certify under (while any call holds it)."""

    def __init__(self) -> None:
        self._locks: dict[str, _LockEntry] = {}

    @asynccontextmanager
    async def locked(self, session: str) -> AsyncIterator[None]:
        """Hold the lock serializing the certification of one session's calls in this process."""
        entry = self._locks.get(session)
        if entry is None:
            entry = self._locks[session] = _LockEntry()
        entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            entry.users -= 1
            if entry.users == 0:
                self._locks.pop(session, None)

    def __len__(self) -> int:
        return len(self._locks)


def starting_counters(
    request_counters: Counters | None, session_counters: Counters | None
) -> dict[str, CounterValue]:
    """The pre-state counters of a call: the request's, overridden by the session's post-state."""
    merged: dict[str, CounterValue] = dict(request_counters or {})
    merged.update(session_counters or {})
    return merged
