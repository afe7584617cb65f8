"""`POST /v1/messages` and `/v1/messages/count_tokens`: the Anthropic-compatible front door.

So the `anthropic` SDK can use the proxy as its `base_url`. The mode comes from
`X-Assurance-Mode` as for chat; the body's `model` routes it. Mode `off`: an Anthropic upstream
gets the client's bytes and its answer (JSON or SSE) comes back byte for byte; an
OpenAI-compatible one is served through translation (`proxy.upstreams.messages`). `shadow` /
`enforce` go to the app's `ASSURED_MESSAGES` handler. `count_tokens` passes through to an
Anthropic upstream (none other offers it). Errors on these routes are Anthropic-shaped (the edge
middleware renders them by path, `proxy.server.error_shapes`).
"""

from __future__ import annotations

import time

from aiohttp import web

from proxy.server.errors import NotFoundError
from proxy.server.handlers import call_mode, read_body
from proxy.server.passthrough import relay_response
from proxy.server.responses import relay_stream
from proxy.server.responses_request import parse_responses_request
from proxy.server.state import ASSURED_MESSAGES, REQUEST_INFO, STATE
from proxy.upstreams.anthropic import AnthropicUpstream
from proxy.upstreams.messages import create_message, stream_message


async def handle_messages(request: web.Request) -> web.StreamResponse:
    """`POST /v1/messages` in every mode."""
    state = request.app[STATE]
    info = request[REQUEST_INFO]
    mode = call_mode(request)
    info.mode = mode
    # the same checked-body record as Responses: `model`, `stream`, `assurance` stripped
    req = parse_responses_request(await read_body(request, state.config.server.max_body_bytes))
    info.model = req.model
    info.stream = req.stream
    upstream = state.router.resolve(req.model)
    info.upstream = upstream.name
    if mode != "off":
        return await request.app[ASSURED_MESSAGES](request, upstream, req, mode)
    started = time.perf_counter()
    if isinstance(upstream, AnthropicUpstream):
        tail = request.raw_path[len("/v1") :]
        resp = await upstream.raw.open_raw("POST", tail, request.headers, req.forward_body)
        state.metrics.observe_upstream(upstream.name, time.perf_counter() - started)
        return await relay_response(request, resp)
    if req.stream:
        stream = await stream_message(upstream, req.forward_body, req.parsed, request.headers)
        state.metrics.observe_upstream(upstream.name, time.perf_counter() - started)
        return await relay_stream(request, stream)
    answer = await create_message(upstream, req.forward_body, req.parsed, request.headers)
    state.metrics.observe_upstream(upstream.name, time.perf_counter() - started)
    return web.Response(body=answer.body, status=answer.status, headers=answer.headers)


async def handle_count_tokens(request: web.Request) -> web.StreamResponse:
    """`POST /v1/messages/count_tokens`: relayed to the Anthropic upstream serving `model`."""
    state = request.app[STATE]
    info = request[REQUEST_INFO]
    req = parse_responses_request(await read_body(request, state.config.server.max_body_bytes))
    info.model = req.model
    upstream = state.router.resolve(req.model)
    info.upstream = upstream.name
    if not isinstance(upstream, AnthropicUpstream):
        raise NotFoundError(
            f"Expected an Anthropic upstream for count_tokens, got upstream {upstream.name!r} of"
            f" kind {upstream.kind!r}, which does not count tokens",
            code="route_not_supported",
        )
    resp = await upstream.raw.open_raw(
        "POST", request.raw_path[len("/v1") :], request.headers, req.forward_body
    )
    return await relay_response(request, resp)
