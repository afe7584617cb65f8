"""The certified versions of the Responses the proxy emitted, by response id (in memory, LRU).

The provider stores its uncertified original; `GET /v1/responses/{id}` through the proxy returns
what the proxy sent instead, once the provider confirmed the id exists for that caller. Bounded
(oldest evicted first); lost on restart, when the provider's copy is served again.
"""

from __future__ import annotations

from collections import OrderedDict

from aiohttp import web

DEFAULT_CAPACITY = 4096


class CertifiedResponses:
    """Response id -> the JSON bytes of the certified `response` object the client received."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[str, bytes] = OrderedDict()

    def put(self, response_id: str, body: bytes) -> None:
        """Remember the certified body for `response_id`."""
        self._entries[response_id] = body
        self._entries.move_to_end(response_id)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def get(self, response_id: str) -> bytes | None:
        """The certified body, if the proxy certified `response_id`."""
        return self._entries.get(response_id)

    def forget(self, response_id: str) -> None:
        """Drop `response_id` (deleted upstream)."""
        self._entries.pop(response_id, None)


CERTIFIED_RESPONSES: web.AppKey[CertifiedResponses] = web.AppKey("certified_responses")
