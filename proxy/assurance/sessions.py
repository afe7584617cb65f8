"""Per-`X-Assurance-Session` action-gate counters: the trajectory chaining of SPEC 5.4.

After each certified call the pipeline stores the action certificate's post-state counters under the
session id; the session's next call starts from them (step i+1 starts from step i's post-state). The
values are copied verbatim from the certificate (integers, as the certifiers wrote them); this
module never computes a counter. Sessions live in memory, least recently used first out beyond
`max_sessions`, and do not survive a restart.

Atomicity: the pipeline holds the session's `lock(session)` from reading the pre-state to writing
the post-state, so two concurrent calls of one session cannot both start from the same pre-state.
A lock is dropped when its last user leaves and the session stored no counters (a shadow or
rejected call), so locks do not accumulate for sessions that never advance.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

# counter name -> value as it appears in the certificate's JSON (an int or an exact "p/q" string)
CounterValue = int | str
Counters = Mapping[str, CounterValue]


@dataclass(slots=True)
class _LockEntry:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class SessionCounters:
    """Session id -> counters after that session's last certified call."""

    def __init__(self, max_sessions: int = 10_000) -> None:
        if max_sessions <= 0:
            raise ValueError(f"Expected max_sessions > 0, got {max_sessions}")
        self._max_sessions = max_sessions
        self._by_session: OrderedDict[str, dict[str, CounterValue]] = OrderedDict()
        self._locks: dict[str, _LockEntry] = {}

    @asynccontextmanager
    async def locked(self, session: str) -> AsyncIterator[None]:
        """Hold the lock serializing the certification of one session's calls.

        The lock is forgotten when its last user leaves and the session has no counters (a
        shadow or rejected call stores none), so locks never pile up for idle sessions.
        """
        entry = self._locks.get(session)
        if entry is None:
            entry = self._locks[session] = _LockEntry()
        entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            entry.users -= 1
            if entry.users == 0 and session not in self._by_session:
                self._locks.pop(session, None)

    def get(self, session: str) -> dict[str, CounterValue] | None:
        """The counters the session's next call starts from, or None for a new session."""
        counters = self._by_session.get(session)
        if counters is None:
            return None
        self._by_session.move_to_end(session)
        return dict(counters)

    def put(self, session: str, counters: Counters) -> None:
        """Record the post-state counters of the session's latest call."""
        self._by_session[session] = dict(counters)
        self._by_session.move_to_end(session)
        while len(self._by_session) > self._max_sessions:
            evicted, _ = self._by_session.popitem(last=False)
            entry = self._locks.get(evicted)
            if entry is not None and entry.users == 0:
                del self._locks[evicted]

    def __len__(self) -> int:
        return len(self._by_session)


def starting_counters(
    request_counters: Counters | None, session_counters: Counters | None
) -> dict[str, CounterValue]:
    """The pre-state counters of a call: the request's, overridden by the session's post-state."""
    merged: dict[str, CounterValue] = dict(request_counters or {})
    merged.update(session_counters or {})
    return merged
