"""The replay routes (SPEC 3.1, 6): fetch a stored bundle, and verify a posted one.

`GET /v1/assurance/cards/{replay_handle}` returns the stored bundle bytes exactly as certified (404
in OpenAI's error shape when the handle is unknown), or, when `Accept` prefers `text/html`, the card
viewer page (`proxy.viewer.page`) under a Content-Security-Policy that loads nothing.
`POST /v1/assurance/verify` runs `certifiers.verify.check_bundle` on the posted bytes and answers
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
from proxy.viewer.page import card_page
from proxy.viewer.style import CONTENT_SECURITY_POLICY

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
        if not wants_html(request.headers.get("Accept", "")):
            return web.Response(body=bundle, content_type="application/json")
        page = await asyncio.to_thread(card_page, bundle)
        return web.Response(
            text=page,
            content_type="text/html",
            charset="utf-8",
            headers={
                "Content-Security-Policy": CONTENT_SECURITY_POLICY,
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
            },
        )

    return handle_get_card


def wants_html(accept: str) -> bool:
    """True when `Accept` ranks text/html above application/json (JSON stays the default)."""
    ranks = {"text/html": 0.0, "application/json": 0.0}
    for item in accept.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media.lower() in ranks:
            ranks[media.lower()] = max(ranks[media.lower()], quality)
    return ranks["text/html"] > ranks["application/json"]


async def handle_verify(request: web.Request) -> web.StreamResponse:
    """`POST /v1/assurance/verify`: re-check the posted bundle offline."""
    body = await read_body(request, request.app[STATE].config.server.max_body_bytes)
    result = await asyncio.to_thread(check_bundle, body)
    return json_response(
        {"valid": result.ok, "errors": list(result.failures), "notes": list(result.notes)}
    )
