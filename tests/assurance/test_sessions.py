"""Per-session counters chain trajectories; in-process session locks do not accumulate."""

from __future__ import annotations

from proxy.assurance.sessions import SessionLocks, starting_counters


def test_session_counters_override_request_counters() -> None:
    """A session's post-state wins over the request's initial counters; other keys are kept."""
    assert starting_counters({"deletes": 0, "mails": 2}, {"deletes": 3}) == {
        "deletes": 3,
        "mails": 2,
    }
    assert starting_counters(None, None) == {}


async def test_session_locks_are_forgotten_when_released() -> None:
    """A lock exists only while some call of its session holds or awaits it."""
    locks = SessionLocks()
    async with locks.locked("a"):
        assert len(locks) == 1
        async with locks.locked("b"):
            assert len(locks) == 2
    assert len(locks) == 0
