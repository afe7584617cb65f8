"""The replay routes (SPEC 3.1, 6): fetch a stored bundle, and verify a posted one.

`GET /v1/assurance/cards/{replay_handle}` returns the stored bundle bytes exactly as certified (404
in OpenAI's error shape when the handle is unknown). `POST /v1/assurance/verify` runs
`certifiers.verify.check_bundle` on the posted bytes and answers
`{"valid": bool, "errors": [...], "notes": [...]}` (notes: data taken as recorded rather than
re-derived; 200 either way: an invalid bundle is an answer, not an error). The check runs in the
verify pool of `proxy.assurance.executors` (`[assurance] verify_workers` threads, never the
certification pool), under its own limits: bodies up to `[assurance] max_verify_body_bytes` (413
past it) and at most `[assurance] max_concurrent_verify` checks at once (429 past it), so one
adversarial bundle (seconds of CPU) cannot queue up behind it the work certification needs. This
module does not certify or store anything.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from certifiers.verify import check_bundle
from proxy.assurance.executors import run_in
from proxy.assurance.slot import PIPELINE
from proxy.server.errors import NotFoundError, TooManyRequestsError
from proxy.server.handlers import read_body
from proxy.server.responses import json_response
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


async def handle_verify(request: web.Request) -> web.StreamResponse:
    """`POST /v1/assurance/verify`: re-check the posted bundle offline, within its limits."""
    slot = request.app[PIPELINE]
    pipeline = slot.require()
    config = pipeline.config.assurance
    if slot.verifying >= config.max_concurrent_verify:
        raise TooManyRequestsError(
            f"Expected at most {config.max_concurrent_verify} concurrent bundle verifications"
            " ([assurance] max_concurrent_verify), got more; retry later",
            code="too_many_verify_requests",
        )
    slot.verifying += 1
    try:
        body = await read_body(request, config.max_verify_body_bytes)
        result = await run_in(pipeline.pools.verify, check_bundle, body)
    finally:
        slot.verifying -= 1
    return json_response(
        {"valid": result.ok, "errors": list(result.failures), "notes": list(result.notes)}
    )
