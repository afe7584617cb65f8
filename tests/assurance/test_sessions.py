"""Per-session counters chain trajectories and forget the least recently used sessions."""

from __future__ import annotations

from proxy.assurance.sessions import SessionCounters, starting_counters


def test_session_counters_override_request_counters() -> None:
    """A session's post-state wins over the request's initial counters; other keys are kept."""
    assert starting_counters({"deletes": 0, "mails": 2}, {"deletes": 3}) == {
        "deletes": 3,
        "mails": 2,
    }
    assert starting_counters(None, None) == {}


def test_least_recently_used_session_is_evicted() -> None:
    """Beyond `max_sessions` the session touched longest ago is forgotten."""
    sessions = SessionCounters(max_sessions=2)
    sessions.put("a", {"n": 1})
    sessions.put("b", {"n": 2})
    assert sessions.get("a") == {"n": 1}
    sessions.put("c", {"n": 3})
    assert sessions.get("b") is None
    assert sessions.get("a") == {"n": 1}
    assert len(sessions) == 2
