"""The `ASSURED_RESPONSES` handler: `POST /v1/responses` in modes shadow and enforce.

The same certification as chat (`proxy.assurance.begin`, `proxy.assurance.answer.certify_answer`):
the `output_text` of `message` items is the answer, `function_call` items go through the action
gate, evidence is the `assurance` field plus `function_call_output` input items. Enforce asks the
upstream for one complete response, certifies it, rebuilds it (`enforced_response`), stores the
certified copy for `GET /v1/responses/{id}` (`proxy.assurance.responses_store`: the store, so every
replica serves it; nothing is emitted when that write fails) and sends it as JSON or as the
standard event sequence. Shadow relays the upstream's events live but holds the terminal
`response.completed` (or `response.incomplete`) event until the answer is certified; its
`response` then carries `assurance`. Non-streaming shadow appends `assurance` to the provider's
bytes.
"""

from __future__ import annotations

import json
import time
from typing import Any

import structlog
from aiohttp import web

from proxy.assurance.answer import certify_answer, too_large
from proxy.assurance.begin import Started, certification
from proxy.assurance.buffered import certify_buffered
from proxy.assurance.certify import StoreUnavailableError
from proxy.assurance.emit import UpstreamAnswerError
from proxy.assurance.headers import CardSummary
from proxy.assurance.responses_answer import chat_view, enforced_response, parse_response_object
from proxy.assurance.responses_store import CERTIFIED_RESPONSES
from proxy.assurance.scenario import OracleFailure
from proxy.assurance.slot import PIPELINE
from proxy.config import AssuranceMode
from proxy.server.chat_request import ChatRequest
from proxy.server.clients import check_passthrough, client_config
from proxy.server.errors import ProxyError
from proxy.server.passthrough import choose_upstream, forward
from proxy.server.responses import relay_stream
from proxy.server.state import REQUEST_INFO, STATE
from proxy.store.base import StoreError
from proxy.upstreams.base import Upstream
from proxy.upstreams.openai import OpenAIUpstream
from proxy.upstreams.responses import create_response, stream_response
from proxy.upstreams.responses_translate import encode_event, events_for_response
from proxy.upstreams.sse import SSEEvent, SSESplitter

log = structlog.get_logger("proxy.assurance")
SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
TERMINAL_EVENTS = frozenset({"response.completed", "response.incomplete"})


async def handle_assured_responses(
    request: web.Request, upstream: Upstream, req: ChatRequest, mode: AssuranceMode
) -> web.StreamResponse:
    """Modes shadow and enforce for `POST /v1/responses`, streaming or not."""
    with structlog.contextvars.bound_contextvars(request_id=request[REQUEST_INFO].request_id):
        async with certification(request, chat_view(req), mode) as started:
            if mode == "shadow" and req.stream:
                return await _shadow_stream(request, started, upstream, req)
            return await _buffered(request, started, upstream, req)


async def _buffered(
    request: web.Request, started: Started, upstream: Upstream, req: ChatRequest
) -> web.StreamResponse:
    ready = await certify_buffered(
        request,
        started,
        upstream,
        create=create_response,
        req=req,
        stream_keys=("stream", "stream_options"),
        parse=parse_response_object,
        kind="response",
    )
    if isinstance(ready, web.Response):
        return ready
    emitted = enforced_response(ready.document, ready.parsed, ready.certified.bundle)
    full = {**emitted, "assurance": ready.assurance}
    payload = json.dumps(full, ensure_ascii=False).encode("utf-8")
    if isinstance(emitted.get("id"), str):
        store = started.pipeline.certifier.store
        if not await request.app[CERTIFIED_RESPONSES].put(
            store, emitted["id"], payload, int(time.time())
        ):
            # another replica (or this one after a restart) would serve the provider's original
            raise StoreUnavailableError(
                "The assurance store is unavailable, so the certified copy of this response"
                " cannot be kept for GET /v1/responses/{id}; nothing was emitted"
            )
    if not req.stream:
        return web.Response(body=payload, content_type="application/json", headers=ready.headers)
    return await _replay(request, emitted, full, ready.certified.summary)


async def _replay(
    request: web.Request, emitted: dict[str, Any], full: dict[str, Any], summary: CardSummary
) -> web.StreamResponse:
    """Enforce streaming: the standard events of the emitted response, `assurance` at the end."""
    events = events_for_response(emitted)
    events[-1]["response"] = full
    response = web.StreamResponse(headers={**SSE_HEADERS, **summary.headers("enforce")})
    await response.prepare(request)
    for event in events:
        await response.write(encode_event(event))
    await response.write_eof()
    return response


def _event_type(event: SSEEvent) -> str | None:
    if event.event is not None:
        return event.event
    try:
        decoded = json.loads(event.data)
    except ValueError:
        return None
    kind = decoded.get("type") if isinstance(decoded, dict) else None
    return kind if isinstance(kind, str) else None


async def _shadow_stream(
    request: web.Request, started: Started, upstream: Upstream, req: ChatRequest
) -> web.StreamResponse:
    began = time.perf_counter()
    stream = await stream_response(upstream, req.forward_body, req.parsed, request.headers)
    request.app[STATE].metrics.observe_upstream(upstream.name, time.perf_counter() - began)
    if stream.status != 200:
        return await relay_stream(request, stream)
    splitter = SSESplitter()
    held: SSEEvent | None = None
    response = web.StreamResponse(headers={**SSE_HEADERS, "X-Assurance-Mode": "shadow"})
    try:
        await response.prepare(request)
        async for chunk in stream.chunks:
            for event in splitter.feed(chunk):
                # events pass through live; only the terminal one waits for the card
                if held is None and _event_type(event) in TERMINAL_EVENTS:
                    held = event
                    continue
                await response.write(event.raw)
        rest = splitter.rest()
        if rest:
            await response.write(rest)
    except ProxyError as exc:
        error = exc.to_dict()["error"]
        await response.write(encode_event({**error, "type": "error", "sequence_number": 0}))
        await response.write_eof()
        return response
    finally:
        await stream.aclose()
    if held is not None:
        await response.write(await _certified_terminal(started, held))
    await response.write_eof()
    return response


async def _certified_terminal(started: Started, held: SSEEvent) -> bytes:
    """The held terminal event with `assurance` in its `response`; failures become its error."""
    limit = started.pipeline.config.assurance.max_answer_bytes
    try:
        event = json.loads(held.data)
        response = event.get("response") if isinstance(event, dict) else None
        if not isinstance(response, dict):
            raise UpstreamAnswerError("Expected the terminal event to carry a response object")
    except (ValueError, UpstreamAnswerError):
        return held.raw
    failures: tuple[OracleFailure, ...] = ()
    if len(held.raw) > limit:
        failures = (too_large(len(held.raw), limit),)
    assurance: dict[str, Any]
    try:
        parsed = parse_response_object(response)
        certified = await certify_answer(
            started.pipeline, started.areq, parsed, started.stability, failures=failures
        )
        assurance = certified.summary.body_field()
    except ProxyError as exc:
        assurance = {"error": exc.to_dict()["error"]}
    except Exception as exc:  # the stream is already out: report, never break it
        log.error("shadow_certification_crashed", error_type=type(exc).__name__)
        assurance = {
            "error": ProxyError("The proxy could not certify this answer").to_dict()["error"]
        }
    response["assurance"] = assurance
    return encode_event(event)


async def handle_get_response(request: web.Request) -> web.StreamResponse:
    """`GET /v1/responses/{id}`: the provider's answer, or the certified copy the proxy sent.

    The provider is always asked first, so its access control decides who may read the id.
    """
    state = request.app[STATE]
    upstream = choose_upstream(state, request.path, None)
    request[REQUEST_INFO].upstream = upstream.name
    pipeline = request.app[PIPELINE].pipeline
    store = None if pipeline is None else pipeline.certifier.store
    try:
        certified = await request.app[CERTIFIED_RESPONSES].get(
            store, request.match_info["response_id"]
        )
    except StoreError as exc:
        log.error("certified_response_read_failed", error=str(exc))
        raise StoreUnavailableError(
            "The assurance store is unavailable, so the proxy cannot tell whether it certified"
            " this response; the provider's copy is not served in its place"
        ) from exc
    if certified is None or not isinstance(upstream, OpenAIUpstream):
        # the provider's copy is never certified: only for clients that may have it
        client = client_config(state.config, request[REQUEST_INFO].client)
        check_passthrough(client, request.method, request.raw_path)
        return await forward(request, state, upstream, None)
    tail = request.raw_path[len("/v1") :]
    resp = await upstream.open_raw("GET", tail, request.headers, None)
    try:
        with upstream.transport_errors():
            payload = await resp.read()
    finally:
        resp.release()
    if resp.status != 200:
        return web.Response(body=payload, status=resp.status, content_type="application/json")
    return web.Response(body=certified, content_type="application/json")
