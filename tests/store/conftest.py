"""Store fixtures: one real PostgreSQL server per test session, a fresh database per test.

`store_backend` is parametrized over `sqlite` and `postgresql`, so one interface suite runs
against both; `pg_url` gives a test its own empty database on the shared server.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from proxy.config import StoreConfig
from proxy.store import open_store
from proxy.store.base import Store
from tests.pg import PASSWORD, PostgresServer

CREDENTIAL_VAR = "ASSURANCE_TEST_PG_PASSWORD"
_names = itertools.count()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A running PostgreSQL cluster for the whole test session."""
    server = PostgresServer()
    try:
        server.init()
        yield server
    finally:
        server.close()


@pytest.fixture
def pg_url(postgres: PostgresServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh database on the shared server; its password is in `CREDENTIAL_VAR`."""
    monkeypatch.setenv(CREDENTIAL_VAR, PASSWORD)
    return postgres.create_database(f"t{next(_names)}")


def pg_store_config(url: str) -> StoreConfig:
    """`[store]` for PostgreSQL at `url` with the test password variable."""
    return StoreConfig(url=url, password_env=CREDENTIAL_VAR, timeout_s=2.0)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_config(request: pytest.FixtureRequest, tmp_path: Path) -> StoreConfig:
    """`[store]` for each backend in turn."""
    if request.param == "sqlite":
        return StoreConfig(path=str(tmp_path / "store.sqlite3"))
    url: str = request.getfixturevalue("pg_url")
    return pg_store_config(url)


@pytest.fixture
async def store(store_config: StoreConfig) -> AsyncIterator[Store]:
    """An opened store of each backend."""
    opened = await open_store(store_config)
    try:
        yield opened
    finally:
        await opened.aclose()
