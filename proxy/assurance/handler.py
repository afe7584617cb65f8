"""The `ASSURED_CHAT` handler: one shadow/enforce chat request from validation to emission.

Validates the `assurance` field (400 naming the field, nothing forwarded), starts the stability
branch (paraphrases and embeddings need only the request), then either tees a shadow stream live
(`proxy.assurance.shadow_stream`) or asks the upstream for one complete answer, certifies it
(`proxy.assurance.answer`) and emits: shadow unchanged with the card, enforce what the policy
allows (`proxy.assurance.emit`), as JSON or as a replayed SSE stream.
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import structlog
from aiohttp import web

from proxy.assurance.answer import CertificationFailedError, certify_answer, too_large
from proxy.assurance.begin import certification
from proxy.assurance.buffered import complete_answer
from proxy.assurance.citations import enforce_summary
from proxy.assurance.emit import (
    encode_completion,
    enforced_completion,
    parse_completion,
    with_assurance,
)
from proxy.assurance.orchestrate import StabilityOutcome
from proxy.assurance.request import AssuranceRequest
from proxy.assurance.scenario import OracleFailure
from proxy.assurance.shadow_stream import shadow_stream
from proxy.assurance.slot import Pipeline
from proxy.assurance.stream import completion_chunks
from proxy.config import AssuranceMode
from proxy.server.chat_request import ChatRequest
from proxy.server.responses import SSE_HEADERS, mark_stream_done
from proxy.server.state import REQUEST_INFO
from proxy.upstreams.base import Upstream

_ENFORCE_STREAM_HEADERS = {"Content-Type": "text/event-stream; charset=utf-8", **SSE_HEADERS}


async def handle_assured_chat(
    request: web.Request, upstream: Upstream, chat: ChatRequest, mode: AssuranceMode
) -> web.StreamResponse:
    """The `ASSURED_CHAT` handler: modes shadow and enforce, streaming or not."""
    # every line logged while certifying this request (pipeline, oracles) carries its id
    with structlog.contextvars.bound_contextvars(request_id=request[REQUEST_INFO].request_id):
        return await _handle_assured_chat(request, upstream, chat, mode)


async def _handle_assured_chat(
    request: web.Request, upstream: Upstream, chat: ChatRequest, mode: AssuranceMode
) -> web.StreamResponse:
    async with certification(request, chat, mode) as started:
        pipeline, areq, stability = started.pipeline, started.areq, started.stability
        if mode == "shadow" and chat.stream:
            return await shadow_stream(
                request,
                pipeline=pipeline,
                upstream=upstream,
                chat=chat,
                areq=areq,
                stability=stability,
            )
        return await _buffered(
            request, pipeline=pipeline, upstream=upstream, chat=chat, areq=areq, stability=stability
        )


async def _buffered(
    request: web.Request,
    *,
    pipeline: Pipeline,
    upstream: Upstream,
    chat: ChatRequest,
    areq: AssuranceRequest,
    stability: asyncio.Task[StabilityOutcome],
) -> web.StreamResponse:
    """Enforce (streaming or not) and non-streaming shadow: one complete upstream answer first."""
    body = chat.forward_body if not chat.stream else _non_streaming_body(chat.parsed)
    # only a 200 answer is certifiable: anything else fails closed, without its body
    reply = await complete_answer(
        request, upstream, areq.mode, upstream.chat(body, chat.parsed, request.headers)
    )
    if isinstance(reply, web.Response):
        return reply
    answer = reply
    limit = pipeline.config.assurance.max_answer_bytes
    parsed = parse_completion(answer.body)
    failures: tuple[OracleFailure, ...] = ()
    if len(answer.body) > limit:
        failures = (too_large(len(answer.body), limit),)
    try:
        certified = await certify_answer(pipeline, areq, parsed, stability, failures=failures)
    except CertificationFailedError as exc:
        if areq.mode == "enforce":
            raise
        # shadow never changes the answer, even when certification itself failed
        payload = with_assurance(answer.body, {"error": exc.to_dict()["error"]})
        return web.Response(body=payload, content_type="application/json")
    headers = certified.summary.headers(areq.mode)
    if areq.mode != "enforce":
        payload = with_assurance(answer.body, certified.summary.body_field())
        return web.Response(body=payload, content_type="application/json", headers=headers)
    inline = certified.bundle.emission.inline
    assurance = enforce_summary(certified.summary, inline=inline).body_field()
    emitted = enforced_completion(parsed, certified.bundle)
    if not chat.stream:
        payload = encode_completion(emitted, assurance)
        return web.Response(body=payload, content_type="application/json", headers=headers)
    include_usage = bool((chat.parsed.get("stream_options") or {}).get("include_usage"))
    # the stream is the proxy's own re-emission, so its framing headers are the proxy's too
    response = web.StreamResponse(headers={**_ENFORCE_STREAM_HEADERS, **headers})
    await response.prepare(request)
    for event in completion_chunks(emitted, assurance, include_usage=include_usage):
        await response.write(event)
    mark_stream_done(request)
    await response.write_eof()
    return response


def _non_streaming_body(parsed: Any) -> bytes:
    # enforce buffers: ask the upstream for one complete answer, whatever the client streams
    body = {k: v for k, v in parsed.items() if k not in ("stream", "stream_options")}
    return msgspec.json.encode(body)
