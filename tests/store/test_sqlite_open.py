"""Opening the SQLite store while other replicas hold the file: the WAL switch is retried."""

from __future__ import annotations

import sqlite3

import pytest

from proxy.store import sqlite as sqlite_store


class _Flaky:
    """A connection whose first `failures` statements fail with `message`."""

    def __init__(self, failures: int, message: str) -> None:
        self.failures = failures
        self.message = message
        self.calls = 0

    def execute(self, sql: str, /) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise sqlite3.OperationalError(self.message)


def test_a_locked_file_is_retried_until_the_switch_succeeds() -> None:
    connection = _Flaky(3, "database is locked")
    sqlite_store._enable_wal(connection)
    assert connection.calls == 4


def test_other_errors_are_not_retried() -> None:
    connection = _Flaky(1, "disk I/O error")
    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        sqlite_store._enable_wal(connection)
    assert connection.calls == 1


def test_a_lock_held_past_the_deadline_is_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_store, "WAL_SWITCH_TIMEOUT_S", 0.05)
    connection = _Flaky(10**6, "database is locked")
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        sqlite_store._enable_wal(connection)
    assert 1 < connection.calls < 100
