"""The replay routes (SPEC 3.1, 6): fetch a stored bundle, and verify a posted one.

`GET /v1/assurance/cards/{replay_handle}` returns the stored bundle bytes exactly as certified (404
in OpenAI's error shape when the handle is unknown). `POST /v1/assurance/verify` runs
`certifiers.verify.check_bundle` on the posted bytes (pinned to the proxy's own signing key when
one is configured) and answers
`{"valid": bool, "errors": [...], "notes": [...]}` (notes: data taken as recorded rather than
re-derived; 200 either way: an invalid bundle is an answer, not an error). The check runs in a
worker thread so a large bundle does not stall the event loop. This module does not certify or
store anything.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

from certifiers.verify import check_bundle
from proxy.server.errors import NotFoundError
from proxy.server.handlers import read_body
from proxy.server.responses import json_response
from proxy.server.state import STATE
from proxy.store.sqlite import BundleStore

StoreGetter = Callable[[web.Request], BundleStore]


def make_card_handler(
    store_of: StoreGetter,
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """`GET /v1/assurance/cards/{replay_handle}` over the store `store_of(request)` returns."""

    async def handle_get_card(request: web.Request) -> web.StreamResponse:
        handle = request.match_info["replay_handle"]
        bundle = await store_of(request).get(handle)
        if bundle is None:
            raise NotFoundError(
                f"Expected the replay handle of a stored bundle, got {handle!r}",
                param="replay_handle",
                code="card_not_found",
            )
        return web.Response(body=bundle, content_type="application/json")

    return handle_get_card


def make_verify_handler(
    trusted_keys_of: Callable[[web.Request], tuple[bytes, ...] | None],
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """`POST /v1/assurance/verify`, pinned to `trusted_keys_of(request)` (the proxy's own key
    when it signs: a stripped or foreign signature is then `valid: false`)."""

    async def handle_verify(request: web.Request) -> web.StreamResponse:
        body = await read_body(request, request.app[STATE].config.server.max_body_bytes)
        keys = trusted_keys_of(request)
        result = await asyncio.to_thread(check_bundle, body, trusted_keys=keys)
        return json_response(
            {"valid": result.ok, "errors": list(result.failures), "notes": list(result.notes)}
        )

    return handle_verify
