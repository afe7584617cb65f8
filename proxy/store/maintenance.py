"""The store's background upkeep: a health ping (for `/readyz`) and retention purges.

`maintain(store, ...)` loops every `[store] maintenance_interval_s`: it pings the store (a failed
ping marks it unhealthy; the next good one marks it healthy again, so a database that comes back
needs no restart) and, while healthy, deletes bundles and certified responses older than
`[store] retention_days` and sessions idle past `[assurance] session_ttl_s`. Every replica runs
it; the deletes are idempotent.
`retention_cutoff` is the creation time below which a bundle is purged.
"""

from __future__ import annotations

import asyncio
import time

import structlog

from proxy.store.base import Store, StoreError

log = structlog.get_logger("proxy.store")

SECONDS_PER_DAY = 86400


def retention_cutoff(retention_days: int | None, now: int) -> int | None:
    """Bundles created before this Unix time are purged (None: kept forever)."""
    return None if retention_days is None else now - retention_days * SECONDS_PER_DAY


async def maintain_once(
    store: Store, *, retention_days: int | None, session_ttl_s: int, now: int
) -> None:
    """One ping and, when it succeeds, one purge; never raises `StoreError`."""
    was_healthy = store.healthy
    try:
        await store.ping()
        purged = await store.purge(
            bundles_before=retention_cutoff(retention_days, now),
            sessions_before=now - session_ttl_s,
        )
    except StoreError as exc:
        store.healthy = False
        if was_healthy:
            log.error("store_unavailable", store=store.kind, error=str(exc))
        return
    if not was_healthy:
        log.info("store_recovered", store=store.kind)
    if purged.bundles or purged.sessions or purged.responses:
        log.info(
            "store_purged",
            bundles=purged.bundles,
            sessions=purged.sessions,
            responses=purged.responses,
        )


async def maintain(
    store: Store, *, interval_s: float, retention_days: int | None, session_ttl_s: int
) -> None:
    """Run `maintain_once` every `interval_s` seconds until cancelled."""
    while True:
        await maintain_once(
            store,
            retention_days=retention_days,
            session_ttl_s=session_ttl_s,
            now=int(time.time()),
        )
        await asyncio.sleep(interval_s)
