"""Persistence of certified bundles and session counters: one `Store` interface, two backends.

`open_store(config.store)` opens PostgreSQL when `[store] url` is set (password from the variable
`password_env` names), else the embedded SQLite file at `[store] path`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from proxy.config import StoreConfig
from proxy.store.base import Store, StoreError
from proxy.store.postgres import PostgresStore
from proxy.store.sqlite import BundleStore


async def open_store(config: StoreConfig, environ: Mapping[str, str] | None = None) -> Store:
    """The configured store, schema migrated; `StoreError` names the setting to fix."""
    if config.url is None:
        return await BundleStore.open(config.path)
    env = os.environ if environ is None else environ
    password: str | None = None
    if config.password_env is not None:
        password = env.get(config.password_env)
        if not password:
            raise StoreError(
                f"Expected the environment variable {config.password_env!r}"
                " ([store].password_env) to hold the PostgreSQL password, it is unset or empty"
            )
    return await PostgresStore.open(
        config.url,
        password=password,
        min_size=config.pool_min_size,
        max_size=config.pool_max_size,
        timeout_s=config.timeout_s,
    )
