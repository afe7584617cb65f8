"""The application factory: `create_app(config)` wires state, middleware, routes and lifecycles.

Upstream clients are opened in a `cleanup_ctx` (inside the running loop) and closed after in-flight
requests drain. Modes `shadow` and `enforce` are served by whatever `setup_assurance(app)` installs
under `proxy.server.state.ASSURED_CHAT` (plus its own `cleanup_ctx` and `READINESS_CHECKS`); without
it they answer 501. This module holds no state of its own and does not start a server (see
`proxy.server.runner`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from aiohttp import web

from proxy.config import Config
from proxy.server.auth import ClientKeys
from proxy.server.handlers import (
    assurance_not_installed,
    handle_chat,
    handle_embeddings,
    handle_healthz,
    handle_metrics,
    handle_models,
    handle_readyz,
)
from proxy.server.messages_route import handle_count_tokens, handle_messages
from proxy.server.middleware import add_request_id_header, make_edge_middleware
from proxy.server.passthrough import handle_passthrough
from proxy.server.responses_route import handle_responses
from proxy.server.state import (
    ASSURED_CHAT,
    ASSURED_MESSAGES,
    ASSURED_RESPONSES,
    READINESS_CHECKS,
    STATE,
    ProxyState,
)
from proxy.upstreams.registry import close_upstreams, open_upstreams
from proxy.upstreams.routing import Router

SetupAssurance = Callable[[web.Application], None]


def create_app(config: Config, *, setup_assurance: SetupAssurance | None = None) -> web.Application:
    """A ready-to-run aiohttp application for `config`.

    Raises `proxy.config.ConfigError` when the client keys it names cannot be read.
    """
    client_keys = ClientKeys.from_config(config)
    state = ProxyState(config=config, client_keys=client_keys)
    app = web.Application(
        client_max_size=config.server.max_body_bytes,
        middlewares=[make_edge_middleware(state)],
    )
    app[STATE] = state
    app[ASSURED_CHAT] = assurance_not_installed
    app[ASSURED_RESPONSES] = assurance_not_installed
    app[ASSURED_MESSAGES] = assurance_not_installed
    app[READINESS_CHECKS] = []
    app.cleanup_ctx.append(_upstreams_context)
    app.on_response_prepare.append(add_request_id_header)
    app.router.add_post("/v1/chat/completions", handle_chat)
    app.router.add_post("/v1/embeddings", handle_embeddings)
    app.router.add_post("/v1/responses", handle_responses)
    app.router.add_post("/v1/messages", handle_messages)
    app.router.add_post("/v1/messages/count_tokens", handle_count_tokens)
    app.router.add_get("/v1/models", handle_models)
    app.router.add_get("/healthz", handle_healthz)
    app.router.add_get("/readyz", handle_readyz)
    app.router.add_get("/metrics", handle_metrics)
    if setup_assurance is not None:
        setup_assurance(app)
    # last: every other /v1/ route is passed through to an upstream unchanged
    app.router.add_route("*", "/v1/{tail:.*}", handle_passthrough)
    return app


async def _upstreams_context(app: web.Application) -> AsyncIterator[None]:
    state = app[STATE]
    # with proxy auth on, the client's Authorization is the proxy key: never send it upstream
    upstreams = await open_upstreams(state.config, forward_client_auth=state.client_keys is None)
    state.upstreams = upstreams
    state.router = Router(upstreams)
    state.ready = True
    try:
        yield
    finally:
        state.ready = False
        await close_upstreams(upstreams)
