"""One interface suite, run against both backends (SQLite file, real PostgreSQL server)."""

from __future__ import annotations

import asyncio

import msgspec
import psycopg
import pytest

from proxy.config import StoreConfig
from proxy.store import open_store
from proxy.store.base import Store, StoreError
from tests.pg import PASSWORD, PostgresServer
from tests.store.conftest import CREDENTIAL_VAR, pg_store_config

NOW = 1_800_000_000


async def test_bundles_round_trip_byte_for_byte(store: Store) -> None:
    """A bundle comes back exactly; a repeat put replaces it; unknown handles are None."""
    await store.put("h1", b'{"a":1}', NOW)
    await store.put("h2", b"\x00\xff binary", NOW)
    await store.put("h1", b'{"a":2}', NOW + 1)
    assert await store.get("h1") == b'{"a":2}'
    assert await store.get("h2") == b"\x00\xff binary"
    assert await store.get("missing") is None
    assert await store.count() == 2


async def test_certified_responses_round_trip_and_expire_with_the_bundles(store: Store) -> None:
    """A certified copy comes back exactly, a repeat replaces it, retention purges old ones."""
    await store.put_response("resp_1", b'{"id":"resp_1","v":1}', NOW - 10)
    await store.put_response("resp_1", b'{"id":"resp_1","v":2}', NOW - 10)
    await store.put_response("resp_2", "caf\u00e9".encode(), NOW)
    assert await store.get_response("resp_1") == b'{"id":"resp_1","v":2}'
    assert await store.get_response("resp_2") == "caf\u00e9".encode()
    assert await store.get_response("resp_missing") is None
    assert await store.count() == 0  # not bundles
    kept = await store.purge(bundles_before=None, sessions_before=0)
    assert kept.responses == 0
    purged = await store.purge(bundles_before=NOW - 5, sessions_before=0)
    assert (purged.bundles, purged.responses) == (0, 1)
    assert await store.get_response("resp_1") is None
    assert await store.get_response("resp_2") == "caf\u00e9".encode()


async def test_a_new_session_is_empty_at_version_zero(store: Store) -> None:
    """No row: empty counters, version 0; the first advance creates it at version 1."""
    state = await store.session("s", now=NOW, ttl_s=60)
    assert (state.counters, state.version) == ({}, 0)
    assert await store.advance_session("s", expected_version=0, counters={"d": 1}, now=NOW)
    state = await store.session("s", now=NOW, ttl_s=60)
    assert (state.counters, state.version) == ({"d": 1}, 1)


async def test_advance_is_a_compare_and_swap(store: Store) -> None:
    """A stale version (or a second insert) is refused and changes nothing."""
    assert await store.advance_session("s", expected_version=0, counters={"d": 1}, now=NOW)
    assert not await store.advance_session("s", expected_version=0, counters={"d": 9}, now=NOW)
    assert await store.advance_session("s", expected_version=1, counters={"d": 2}, now=NOW)
    assert not await store.advance_session("s", expected_version=1, counters={"d": 9}, now=NOW)
    state = await store.session("s", now=NOW, ttl_s=60)
    assert (state.counters, state.version) == ({"d": 2}, 2)


async def test_exact_rational_counters_are_kept_verbatim(store: Store) -> None:
    """Counters are stored as the certificate wrote them (ints and "p/q" strings)."""
    assert await store.advance_session(
        "s", expected_version=0, counters={"a": 3, "b": "7/2"}, now=NOW
    )
    assert (await store.session("s", now=NOW, ttl_s=60)).counters == {"a": 3, "b": "7/2"}


async def test_concurrent_advances_from_one_version_admit_exactly_one(store: Store) -> None:
    """Twenty racing advances from version 1: one row count is 1, nineteen are 0."""
    assert await store.advance_session("s", expected_version=0, counters={"d": 0}, now=NOW)
    results = await asyncio.gather(
        *(
            store.advance_session("s", expected_version=1, counters={"d": i}, now=NOW)
            for i in range(20)
        )
    )
    assert results.count(True) == 1
    assert (await store.session("s", now=NOW, ttl_s=60)).version == 2


async def test_idle_sessions_read_empty_and_are_purged(store: Store) -> None:
    """Past the TTL the counters read empty (version kept for the swap); purge deletes the row."""
    assert await store.advance_session("old", expected_version=0, counters={"d": 5}, now=NOW)
    assert await store.advance_session("new", expected_version=0, counters={"d": 1}, now=NOW + 90)
    expired = await store.session("old", now=NOW + 100, ttl_s=60)
    assert (expired.counters, expired.version) == ({}, 1)
    purged = await store.purge(bundles_before=None, sessions_before=NOW + 100 - 60)
    assert (purged.bundles, purged.sessions) == (0, 1)
    assert (await store.session("old", now=NOW + 100, ttl_s=60)).version == 0
    assert (await store.session("new", now=NOW + 100, ttl_s=60)).counters == {"d": 1}


async def test_retention_purges_only_old_bundles(store: Store) -> None:
    """Bundles created before the cutoff go; newer ones stay."""
    await store.put("old", b"1", NOW - 10)
    await store.put("new", b"2", NOW)
    purged = await store.purge(bundles_before=NOW - 5, sessions_before=0)
    assert purged.bundles == 1
    assert await store.get("old") is None
    assert await store.get("new") == b"2"


async def test_reopening_keeps_data_and_migrates_once(store_config: StoreConfig) -> None:
    """Opening an existing store again is a no-op migration and sees the same rows."""
    first = await open_store(store_config)
    await first.put("h", b"x", NOW)
    assert await first.advance_session("s", expected_version=0, counters={"d": 1}, now=NOW)
    await first.aclose()
    second = await open_store(store_config)
    try:
        assert await second.get("h") == b"x"
        assert (await second.session("s", now=NOW, ttl_s=60)).counters == {"d": 1}
        await second.ping()
        assert second.healthy
    finally:
        await second.aclose()


async def test_replicas_starting_together_migrate_once(store_config: StoreConfig) -> None:
    """Six stores opened at once on one database all come up on one schema."""
    stores = await asyncio.gather(*(open_store(store_config) for _ in range(6)))
    try:
        await stores[0].put("h", b"x", NOW)
        for each in stores:
            assert await each.get("h") == b"x"
    finally:
        for each in stores:
            await each.aclose()


async def test_postgres_schema_version_rows_are_not_duplicated(
    pg_url: str, postgres: PostgresServer
) -> None:
    """Concurrent starts record each migration version once (advisory lock)."""
    config = pg_store_config(pg_url)
    stores = await asyncio.gather(*(open_store(config) for _ in range(6)))
    for each in stores:
        await each.aclose()
    async with await psycopg.AsyncConnection.connect(pg_url, password=PASSWORD) as conn:
        cursor = await conn.execute(
            "SELECT version, COUNT(*) FROM assurance_schema_version GROUP BY version"
            " ORDER BY version"
        )
        rows = await cursor.fetchall()
    assert rows == [(1, 1), (2, 1)]


async def test_postgres_down_is_a_store_error_and_recovers(
    pg_url: str, postgres: PostgresServer
) -> None:
    """A stopped server makes calls fail with StoreError (healthy False); restarted, they work."""
    store = await open_store(pg_store_config(pg_url))
    try:
        await store.put("h", b"x", NOW)
        await asyncio.to_thread(postgres.stop)
        try:
            with pytest.raises(StoreError, match=r"PostgreSQL at 127\.0\.0\.1"):
                await store.get("h")
            assert not store.healthy
        finally:
            await asyncio.to_thread(postgres.start)
        assert await store.get("h") == b"x"
        assert store.healthy
    finally:
        await store.aclose()


async def test_missing_password_variable_names_the_setting(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`password_env` pointing at an unset variable is a StoreError naming it."""
    monkeypatch.delenv(CREDENTIAL_VAR)
    with pytest.raises(StoreError, match=r"\[store\]\.password_env"):
        await open_store(pg_store_config(pg_url))


async def test_wrong_password_fails_to_open_without_echoing_it(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bad credentials stop start-up with a message naming [store].url, not the password."""
    monkeypatch.setenv(CREDENTIAL_VAR, "wrong-secret")
    with pytest.raises(StoreError, match=r"\[store\]\.url") as caught:
        await open_store(msgspec.structs.replace(pg_store_config(pg_url), timeout_s=1.0))
    assert "wrong-secret" not in str(caught.value)
