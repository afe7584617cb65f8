"""Route handlers: chat completions (with the assurance-mode dispatch), models, embeddings, probes.

`handle_chat` is the single place where the mode is decided: it reads `X-Assurance-Mode` (default
from `[assurance].default_mode`; unknown values are a 400), reads and checks the body (the
`assurance` field is stripped in every mode), routes by model, then calls `forward_off` for mode
`off` or the app's `ASSURED_CHAT` handler for `shadow` / `enforce`. `forward_off` does no
certification work: it relays the upstream's status and body (or stream) untouched. Errors are
raised as `ProxyError`s; the edge middleware renders them.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import msgspec
import structlog
from aiohttp import web

from proxy.config import AssuranceMode
from proxy.server.chat_request import ChatRequest, parse_chat_request
from proxy.server.clients import client_config, client_mode
from proxy.server.errors import (
    AssuranceUnavailableError,
    BodyTooLargeError,
    InvalidRequestError,
    RequestTimeoutError,
    UpstreamConnectError,
    UpstreamHTTPError,
)
from proxy.server.json_body import check_depth, decode_error
from proxy.server.responses import json_response, relay_stream
from proxy.server.state import (
    ASSURANCE_MODES,
    ASSURED_CHAT,
    READINESS_CHECKS,
    REQUEST_INFO,
    STATE,
    ProxyState,
)
from proxy.upstreams.base import Upstream

MODE_HEADER = "X-Assurance-Mode"
_log = structlog.get_logger("proxy.server.handlers")


class _ModelField(msgspec.Struct):
    model: str


def read_mode(request: web.Request, default: AssuranceMode | None) -> AssuranceMode | None:
    """The requested assurance mode (`default` when the header is absent); raises
    `InvalidRequestError` (400) for an unknown value."""
    value = request.headers.get(MODE_HEADER)
    if value is None:
        return default
    mode = value.strip().lower()
    if mode not in ASSURANCE_MODES:
        raise InvalidRequestError(
            f"Expected {MODE_HEADER} to be one of off, shadow, enforce; got {value!r}",
            param=MODE_HEADER,
            code="invalid_assurance_mode",
        )
    return mode


async def read_body(request: web.Request, max_bytes: int) -> bytes:
    """The request body, refusing more than `max_bytes` (declared or actually sent) with a 413."""
    declared = request.content_length
    if declared is not None and declared > max_bytes:
        raise BodyTooLargeError(
            f"Expected a request body of at most {max_bytes} bytes, got {declared} bytes"
        )
    # the app's client_max_size (= max_bytes) stops an oversized chunked body mid-read
    timeout_s = request.app[STATE].config.server.body_read_timeout_s
    try:
        async with asyncio.timeout(timeout_s):
            body = await request.read()
    except TimeoutError as exc:
        # a slow client, or a body whose decoding stalled: never hold a slot forever
        raise RequestTimeoutError(
            f"Expected the request body within {timeout_s} s (server.body_read_timeout_s),"
            " got it slower"
        ) from exc
    except web.RequestPayloadError as exc:
        # a body that does not decode under its Content-Encoding (gzip/deflate/br garbage)
        encoding = request.headers.get("Content-Encoding")
        raise InvalidRequestError(
            f"Expected a request body encoded as its Content-Encoding ({encoding or 'none'})"
            " says, got one that does not decode",
            param="Content-Encoding",
            code="invalid_content_encoding",
        ) from exc
    if len(body) > max_bytes:
        # a route with a limit below client_max_size (verify) and a chunked or compressed body
        raise BodyTooLargeError(
            f"Expected a request body of at most {max_bytes} bytes, got {len(body)} bytes"
        )
    return body


def call_mode(request: web.Request) -> AssuranceMode:
    """This call's mode: `X-Assurance-Mode` within the client's `[[clients]]` modes (else 403).

    Every route that certifies (chat, Responses, Messages) decides its mode here.
    """
    state = request.app[STATE]
    client = client_config(state.config, request[REQUEST_INFO].client)
    return client_mode(client, read_mode(request, None), state.config.assurance.default_mode)


async def handle_chat(request: web.Request) -> web.StreamResponse:
    """`POST /v1/chat/completions`: check, route, then dispatch on the assurance mode."""
    state = request.app[STATE]
    info = request[REQUEST_INFO]
    mode = call_mode(request)
    info.mode = mode
    chat = parse_chat_request(await read_body(request, state.config.server.max_body_bytes))
    info.model = chat.model
    info.stream = chat.stream
    upstream = state.router.resolve(chat.model)
    info.upstream = upstream.name
    if mode == "off":
        return await forward_off(request, state, upstream, chat)
    return await request.app[ASSURED_CHAT](request, upstream, chat, mode)


async def forward_off(
    request: web.Request, state: ProxyState, upstream: Upstream, chat: ChatRequest
) -> web.StreamResponse:
    """Mode `off`: relay the upstream's answer (status, body or stream) without certification."""
    started = time.perf_counter()
    if chat.stream:
        stream = await upstream.chat_stream(chat.forward_body, chat.parsed, request.headers)
        state.metrics.observe_upstream(upstream.name, time.perf_counter() - started)
        return await relay_stream(request, stream)
    answer = await upstream.chat(chat.forward_body, chat.parsed, request.headers)
    state.metrics.observe_upstream(upstream.name, time.perf_counter() - started)
    return web.Response(body=answer.body, status=answer.status, headers=answer.headers)


async def assurance_not_installed(
    request: web.Request, upstream: Upstream, chat: ChatRequest, mode: AssuranceMode
) -> web.StreamResponse:
    """Default `ASSURED_CHAT`: without an assurance pipeline, shadow/enforce answer 501."""
    raise AssuranceUnavailableError(
        f"Expected a proxy built with the assurance pipeline for {MODE_HEADER}: {mode}, got one"
        " without it; use mode off",
        param=MODE_HEADER,
    )


async def handle_embeddings(request: web.Request) -> web.StreamResponse:
    """`POST /v1/embeddings`: route by `model` and pass the request and answer through."""
    state = request.app[STATE]
    info = request[REQUEST_INFO]
    body = await read_body(request, state.config.server.max_body_bytes)
    check_depth(body)
    try:
        model = msgspec.json.decode(body, type=_ModelField).model
    except msgspec.ValidationError as exc:
        if str(exc).startswith("Number out of range"):
            raise decode_error(body, exc) from exc
        raise InvalidRequestError(f"Invalid embeddings request: {exc}", param="model") from exc
    except (msgspec.DecodeError, RecursionError) as exc:
        raise decode_error(body, exc) from exc
    info.model = model
    upstream = state.router.resolve(model)
    info.upstream = upstream.name
    started = time.perf_counter()
    answer = await upstream.embeddings(body, request.headers)
    state.metrics.observe_upstream(upstream.name, time.perf_counter() - started)
    return web.Response(body=answer.body, status=answer.status, headers=answer.headers)


async def handle_models(request: web.Request) -> web.StreamResponse:
    """`GET /v1/models`: the union of every upstream's models (first upstream wins a duplicate).

    The client's key reaches upstreams exactly as for chat. An upstream that fails is skipped with
    a log line when another answered; when none did, an upstream's 4xx is relayed as such, else 502.
    """
    state = request.app[STATE]
    results = await asyncio.gather(
        *(u.list_models(request.headers) for u in state.upstreams), return_exceptions=True
    )
    seen: set[str] = set()
    data: list[dict[str, Any]] = []
    failures = 0
    refused: UpstreamHTTPError | None = None
    for upstream, result in zip(state.upstreams, results, strict=True):
        if isinstance(result, BaseException):
            if not isinstance(result, Exception):
                raise result
            failures += 1
            if refused is None and isinstance(result, UpstreamHTTPError) and result.status < 500:
                refused = result
            _log.warning(
                "model_list_failed", upstream=upstream.name, error_type=type(result).__name__
            )
            continue
        for model in result:
            model_id = model.get("id")
            if isinstance(model_id, str) and model_id not in seen:
                seen.add(model_id)
                data.append(model)
    if state.upstreams and failures == len(state.upstreams):
        if refused is not None:
            raise refused
        raise UpstreamConnectError("Expected at least one upstream to list its models, got none")
    return json_response({"object": "list", "data": data})


async def handle_healthz(request: web.Request) -> web.StreamResponse:
    """`GET /healthz`: the process is alive."""
    return json_response({"status": "ok"})


async def handle_readyz(request: web.Request) -> web.StreamResponse:
    """`GET /readyz`: upstream clients are open and every extra readiness check passes."""
    state = request.app[STATE]
    checks = request.app[READINESS_CHECKS]
    if state.stopping or state.draining:
        return json_response({"status": "draining"}, status=503)
    if state.ready and all(check() for check in checks):
        return json_response({"status": "ready", "upstreams": [u.name for u in state.upstreams]})
    return json_response({"status": "starting"}, status=503)


async def handle_metrics(request: web.Request) -> web.StreamResponse:
    """`GET /metrics`: Prometheus text exposition of this app's registry."""
    state = request.app[STATE]
    response = web.Response(body=state.metrics.render())
    response.headers["Content-Type"] = "text/plain; version=0.0.4; charset=utf-8"
    return response
