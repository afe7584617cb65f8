"""`POST /v1/responses`: the mode dispatch for the Responses API.

Reads `X-Assurance-Mode` like chat, checks the body (`proxy.server.responses_request`), routes by
`model`, then: mode `off` forwards byte for byte to an upstream with a Responses endpoint (the
pass-through of `proxy.server.passthrough`), or translates to Chat Completions for one without
(`proxy.upstreams.responses`); `shadow` / `enforce` go to the app's `ASSURED_RESPONSES` handler.
"""

from __future__ import annotations

import time

from aiohttp import web

from proxy.server.handlers import call_mode, read_body
from proxy.server.passthrough import forward
from proxy.server.responses import relay_stream
from proxy.server.responses_request import parse_responses_request
from proxy.server.state import ASSURED_RESPONSES, REQUEST_INFO, STATE
from proxy.upstreams.responses import create_response, stream_response, translates


async def handle_responses(request: web.Request) -> web.StreamResponse:
    """`POST /v1/responses` in every mode."""
    state = request.app[STATE]
    info = request[REQUEST_INFO]
    mode = call_mode(request)
    info.mode = mode
    req = parse_responses_request(await read_body(request, state.config.server.max_body_bytes))
    info.model = req.model
    info.stream = req.stream
    upstream = state.router.resolve(req.model)
    info.upstream = upstream.name
    if mode != "off":
        return await request.app[ASSURED_RESPONSES](request, upstream, req, mode)
    if not translates(upstream):
        return await forward(request, state, upstream, req.forward_body)
    started = time.perf_counter()
    if req.stream:
        stream = await stream_response(upstream, req.forward_body, req.parsed, request.headers)
        state.metrics.observe_upstream(upstream.name, time.perf_counter() - started)
        return await relay_stream(request, stream)
    answer = await create_response(upstream, req.forward_body, req.parsed, request.headers)
    state.metrics.observe_upstream(upstream.name, time.perf_counter() - started)
    return web.Response(body=answer.body, status=answer.status, headers=answer.headers)
