"""Transparent pass-through of every `/v1/...` route the proxy does not handle itself.

Method, path, query string, headers (see `proxy.upstreams.passthrough`) and body go to one upstream;
status, headers and body come back as the upstream sent them, chunk by chunk as they arrive (SSE
and binary streams such as `audio/speech` alike). A JSON body is read (bounded by
`[server] max_body_bytes`) to learn its `model`; any other body (multipart uploads) is streamed
upstream as it arrives, never held whole. Routing: the JSON `model`, else the model named by a
`/v1/models/{id}` path, else the first upstream whose `[[upstreams]] paths` globs match, else the
first upstream. An Anthropic upstream serves no OpenAI route (404 in OpenAI's error shape) but gets
the rest of its own `/v1/messages/...` family (message batches) relayed natively. Nothing
here is certified: assurance modes do not apply to these routes, and a `[[clients]]` entry's
`passthrough` rules decide which of them that client may use (`proxy.server.clients`).
"""

from __future__ import annotations

import time

import aiohttp
import msgspec
from aiohttp import web

from proxy.server.clients import check_passthrough, client_config
from proxy.server.errors import NotFoundError, ProxyError
from proxy.server.handlers import read_body
from proxy.server.state import REQUEST_INFO, STATE, ProxyState
from proxy.upstreams.anthropic import AnthropicUpstream
from proxy.upstreams.base import Upstream
from proxy.upstreams.openai import OpenAIUpstream
from proxy.upstreams.passthrough import response_headers

_MODELS_PREFIX = "/v1/models/"


class _ModelOnly(msgspec.Struct):
    model: str | None = None


def _json_model(body: bytes) -> str | None:
    # a body that is not a JSON object with a string `model` is forwarded as is, unrouted
    try:
        return msgspec.json.decode(body, type=_ModelOnly).model
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


def _is_json(request: web.Request) -> bool:
    return request.content_type == "application/json" and request.body_exists


def choose_upstream(state: ProxyState, path: str, model: str | None) -> Upstream:
    """The upstream for a pass-through request (see the module docstring for the order)."""
    if model is not None:
        return state.router.resolve(model)
    if path.startswith(_MODELS_PREFIX) and len(path) > len(_MODELS_PREFIX):
        named = path[len(_MODELS_PREFIX) :]
        for upstream in state.router.upstreams:
            if upstream.serves(named):
                return upstream
    by_path = state.router.resolve_path(path)
    if by_path is None:
        raise NotFoundError(f"Expected an upstream to serve {path}, got none configured")
    return by_path


async def handle_passthrough(request: web.Request) -> web.StreamResponse:
    """Any other `/v1/...` request: forward it and relay the answer as it streams."""
    state = request.app[STATE]
    info = request[REQUEST_INFO]
    check_passthrough(client_config(state.config, info.client), request.method, request.raw_path)
    body: bytes | aiohttp.StreamReader | None = None
    model: str | None = None
    if _is_json(request):
        body = await read_body(request, state.config.server.max_body_bytes)
        model = _json_model(body)
    elif request.body_exists:
        body = request.content
    info.model = model
    upstream = choose_upstream(state, request.path, model)
    info.upstream = upstream.name
    return await forward(request, state, upstream, body)


async def forward(
    request: web.Request,
    state: ProxyState,
    upstream: Upstream,
    body: bytes | aiohttp.StreamReader | None,
) -> web.StreamResponse:
    """Send `request` (with `body`) to `upstream` and stream its answer back untouched."""
    tail = request.raw_path[len("/v1") :]
    if isinstance(upstream, AnthropicUpstream) and request.path.startswith("/v1/messages/"):
        # the rest of Anthropic's Messages family (message batches, ...) is relayed natively
        started = time.perf_counter()
        raw = await upstream.raw.open_raw(request.method, tail, request.headers, body)
        state.metrics.observe_upstream(upstream.name, time.perf_counter() - started)
        return await relay_response(request, raw)
    if not isinstance(upstream, OpenAIUpstream):
        raise NotFoundError(
            f"Expected an OpenAI-compatible upstream for {request.method} {request.path}, got"
            f" upstream {upstream.name!r} of kind {upstream.kind!r}, which does not serve it",
            code="route_not_supported",
        )
    started = time.perf_counter()
    resp = await upstream.open_raw(request.method, tail, request.headers, body)
    state.metrics.observe_upstream(upstream.name, time.perf_counter() - started)
    return await relay_response(request, resp)


async def relay_response(request: web.Request, resp: aiohttp.ClientResponse) -> web.StreamResponse:
    """Stream an upstream answer to the client as it arrives; always releases `resp`."""
    finished = False
    try:
        response = web.StreamResponse(
            status=resp.status, reason=resp.reason, headers=response_headers(resp.headers)
        )
        if resp.content_length is not None and "Content-Encoding" not in resp.headers:
            response.content_length = resp.content_length
        await response.prepare(request)
        try:
            async for chunk in resp.content.iter_any():
                await response.write(chunk)
        except (aiohttp.ClientError, TimeoutError, ProxyError):
            # the headers are gone: drop the connection so the client sees a truncated body
            if request.transport is not None:
                request.transport.abort()
            return response
        await response.write_eof()
        finished = True
        return response
    finally:
        if finished:
            resp.release()
        else:
            resp.close()
