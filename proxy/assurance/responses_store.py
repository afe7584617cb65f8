"""The certified versions of the Responses the proxy emitted, by response id.

The provider stores its uncertified original; `GET /v1/responses/{id}` through the proxy returns
what the proxy sent instead, once the provider confirmed the id exists for that caller. The copy is
written to the store (`[store]`, so every replica on one PostgreSQL database serves it, and it
survives a restart; purged with the bundles after `retention_days`) and, once written, kept in this
replica's bounded LRU, which answers without a round trip. A failed write is reported (the caller
emits nothing), and a read whose store lookup fails raises `StoreError`: the caller fails closed
rather than serve the provider's copy of what may be a certified answer.
"""

from __future__ import annotations

from collections import OrderedDict

import structlog
from aiohttp import web

from proxy.store.base import Store, StoreError

DEFAULT_CAPACITY = 4096

log = structlog.get_logger("proxy.assurance")


class CertifiedResponses:
    """Response id -> the JSON bytes of the certified `response` object the client received."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[str, bytes] = OrderedDict()

    def _remember(self, response_id: str, body: bytes) -> None:
        self._entries[response_id] = body
        self._entries.move_to_end(response_id)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    async def put(self, store: Store, response_id: str, body: bytes, created_at: int) -> bool:
        """Write the certified body to `store`, then keep it here; False when the write failed."""
        try:
            await store.put_response(response_id, body, created_at)
        except StoreError as exc:
            log.error("certified_response_store_failed", response_id=response_id, error=str(exc))
            return False
        self._remember(response_id, body)
        return True

    async def get(self, store: Store | None, response_id: str) -> bytes | None:
        """The certified body, if the proxy certified `response_id` (this replica, else `store`).

        Raises `StoreError` when the store cannot be read.
        """
        local = self._entries.get(response_id)
        if local is not None or store is None:
            return local
        stored = await store.get_response(response_id)
        if stored is not None:
            self._remember(response_id, stored)
        return stored


CERTIFIED_RESPONSES: web.AppKey[CertifiedResponses] = web.AppKey("certified_responses")
