"""Shadow mode over SSE: the upstream's events relayed live, the card in one trailing chunk.

Only the `[DONE]` sentinel is held back; when the upstream finishes, the accumulated answer is
certified and `{"choices": [], "assurance": {...}}` goes out before `[DONE]`. Nothing may break the
stream once its headers left: any failure becomes an `assurance.error` in the trailer, a malformed
upstream chunk an abstain card naming it, and the trailer is always an event of its own. The
response carries the upstream's headers as mode off relays them, plus `X-Assurance-Mode: shadow`.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import structlog
from aiohttp import web

from proxy.assurance.answer import certify_answer, too_large
from proxy.assurance.emit import UpstreamAnswerError, parse_completion_object
from proxy.assurance.orchestrate import StabilityOutcome
from proxy.assurance.request import AssuranceRequest
from proxy.assurance.scenario import OracleFailure
from proxy.assurance.slot import Pipeline
from proxy.assurance.stream import DONE_EVENT, StreamTee
from proxy.server.chat_request import ChatRequest
from proxy.server.errors import ProxyError
from proxy.server.responses import mark_stream_done, relay_stream, sse_error_event, stream_headers
from proxy.server.state import STATE
from proxy.upstreams.base import Upstream

log = structlog.get_logger("proxy.assurance")


async def shadow_stream(
    request: web.Request,
    *,
    pipeline: Pipeline,
    upstream: Upstream,
    chat: ChatRequest,
    areq: AssuranceRequest,
    stability: asyncio.Task[StabilityOutcome],
) -> web.StreamResponse:
    """Relay the upstream's SSE live, then certify and send the card before `[DONE]`."""
    started = time.perf_counter()
    stream = await upstream.chat_stream(chat.forward_body, chat.parsed, request.headers)
    request.app[STATE].metrics.observe_upstream(upstream.name, time.perf_counter() - started)
    if stream.status != 200:
        return await relay_stream(request, stream)
    limit = pipeline.config.assurance.max_answer_bytes
    tee = StreamTee(max_answer_bytes=limit)
    # the upstream's headers (its charset, rate limits) as in mode off, plus the proxy's own
    headers = stream_headers(stream.headers)
    headers["X-Assurance-Mode"] = "shadow"
    response = web.StreamResponse(headers=headers)
    try:
        await response.prepare(request)
        # tokens pass through live; only the [DONE] sentinel is held back for the card
        async for chunk in stream.chunks:
            forward = tee.feed(chunk)
            if forward:
                await response.write(forward)
        rest = tee.flush()
        if rest:
            await response.write(rest)
    except ProxyError as exc:
        # the upstream failed midway: there is no complete answer to certify
        await response.write(tee.separator() + sse_error_event(exc))
        await response.write_eof()
        return response
    finally:
        await stream.aclose()
    assurance = await _shadow_assurance(pipeline, areq, tee, stability, limit)
    await response.write(tee.trailer_chunk(assurance))
    await response.write(DONE_EVENT)
    mark_stream_done(request)
    await response.write_eof()
    return response


async def _shadow_assurance(
    pipeline: Pipeline,
    areq: AssuranceRequest,
    tee: StreamTee,
    stability: asyncio.Task[StabilityOutcome],
    limit: int,
) -> dict[str, Any]:
    """The trailer's `assurance` object; every failure becomes `{"error": ...}`, never a raise.

    The stream was already relayed, so nothing here may break it: an answer that cannot be
    certified as complete (truncated, over the size limit, several choices) gets an abstain card
    naming why.
    """
    failures: list[OracleFailure] = []
    if tee.fault is not None:
        failures.append(OracleFailure("upstream", f"malformed stream: {tee.fault}"))
    if not tee.complete:
        failures.append(
            OracleFailure("upstream", "the stream ended without a finish_reason and [DONE]")
        )
    if tee.overflow:
        failures.append(too_large(limit + 1, limit))
    try:
        if tee.extra_choices:
            raise UpstreamAnswerError("Expected one choice in the stream, got several")
        parsed = parse_completion_object(tee.completion())
        certified = await certify_answer(
            pipeline, areq, parsed, stability, failures=tuple(failures)
        )
    except ProxyError as exc:
        return {"error": exc.to_dict()["error"]}
    except Exception as exc:  # the stream is already out: report, never break it
        log.error("shadow_certification_crashed", error_type=type(exc).__name__)
        error = ProxyError("The proxy could not certify this answer; see its logs")
        return {"error": error.to_dict()["error"]}
    return certified.summary.body_field()
