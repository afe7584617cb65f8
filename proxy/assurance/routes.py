"""The replay routes (SPEC 3.1, 6): fetch a stored bundle, and verify a posted one.

`GET /v1/assurance/cards/{replay_handle}` returns the stored bundle bytes exactly as certified (404
in OpenAI's error shape when the handle is unknown; `card_purged` naming `[store] retention_days`
when the handle's date lies before the retention cutoff; 503 when the store is down), or, when
`Accept` prefers `text/html`, the card viewer page (`proxy.viewer.page`) under a
Content-Security-Policy that loads nothing.
`POST /v1/assurance/verify` runs `certifiers.verify.check_bundle` on the posted bytes (pinned to
the proxy's own signing key when one is configured) and answers
`{"valid": bool, "errors": [...], "notes": [...]}` (notes: data taken as recorded rather than
re-derived; 200 either way: an invalid bundle is an answer, not an error). The check runs in the
verify pool of `proxy.assurance.executors` (`[assurance] verify_workers` threads, never the
certification pool), under its own limits: bodies up to `[assurance] max_verify_body_bytes` (413
past it) and at most `[assurance] max_concurrent_verify` checks at once (429 past it), so one
adversarial bundle (seconds of CPU) cannot queue up behind it the work certification needs. This
module does not certify or store anything.
"""

from __future__ import annotations

import asyncio
import calendar
import re
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from certifiers.verify import check_bundle
from proxy.assurance.certify import StoreUnavailableError
from proxy.assurance.executors import run_in
from proxy.assurance.slot import PIPELINE
from proxy.server.errors import NotFoundError, TooManyRequestsError
from proxy.server.handlers import read_body
from proxy.server.responses import json_response
from proxy.store.base import Store, StoreError
from proxy.store.maintenance import SECONDS_PER_DAY, retention_cutoff
from proxy.viewer.page import card_page
from proxy.viewer.style import CONTENT_SECURITY_POLICY

StoreGetter = Callable[[web.Request], Store]
RetentionGetter = Callable[[web.Request], int | None]

# the issue date inside a replay handle (`proxy.assurance.certify.new_replay_handle`)
_HANDLE_DAY = re.compile(r"-(\d{4})(\d{2})(\d{2})-[0-9a-f]{16}\Z")


def make_card_handler(
    store_of: StoreGetter, *, retention_days: RetentionGetter = lambda _: None
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """`GET /v1/assurance/cards/{replay_handle}` over the store `store_of(request)` returns."""

    async def handle_get_card(request: web.Request) -> web.StreamResponse:
        handle = request.match_info["replay_handle"]
        try:
            bundle = await store_of(request).get(handle)
        except StoreError as exc:
            raise StoreUnavailableError(
                f"The assurance store is unavailable; cannot read {handle!r} now, retry later",
                param="replay_handle",
            ) from exc
        if bundle is None:
            days = retention_days(request)
            if _issued_before_cutoff(handle, days):
                raise NotFoundError(
                    f"The bundle {handle!r} is older than the retention period"
                    f" ([store] retention_days = {days}) and was purged",
                    param="replay_handle",
                    code="card_purged",
                )
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


def _issued_before_cutoff(handle: str, days: int | None) -> bool:
    """Whether the handle's issue day ended before the retention cutoff."""
    cutoff = retention_cutoff(days, int(time.time()))
    found = _HANDLE_DAY.search(handle)
    if cutoff is None or found is None:
        return False
    year, month, day = (int(part) for part in found.groups())
    try:
        day_start = calendar.timegm((year, month, day, 0, 0, 0))
    except (OverflowError, ValueError):
        return False
    return day_start + SECONDS_PER_DAY <= cutoff


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


def make_verify_handler(
    trusted_keys_of: Callable[[web.Request], tuple[bytes, ...] | None],
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """`POST /v1/assurance/verify`, pinned to `trusted_keys_of(request)` (the proxy's own key
    when it signs: a stripped or foreign signature is then `valid: false`), within the verify
    limits: body size, concurrency, and the verify pool."""

    async def handle_verify(request: web.Request) -> web.StreamResponse:
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
            keys = trusted_keys_of(request)
            result = await run_in(pipeline.pools.verify, check_bundle, body, trusted_keys=keys)
        finally:
            slot.verifying -= 1
        return json_response(
            {"valid": result.ok, "errors": list(result.failures), "notes": list(result.notes)}
        )

    return handle_verify
