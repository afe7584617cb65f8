"""Per-app state and the typed keys under which it lives (no module-level mutable state).

`ProxyState` holds the parsed config, the router and upstreams (opened by a `cleanup_ctx`), metrics,
the accepted client keys and the in-flight count. `RequestInfo` is what the access log line reports
for one request. `ASSURED_CHAT` is the plug-in point for modes `shadow` and `enforce`: a handler
with the `AssuredChat` signature (the pipeline installs it through
`create_app(setup_assurance=...)`). This module holds data only; it does not handle requests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

from proxy.config import AssuranceMode, Config
from proxy.server.auth import ClientKeys
from proxy.server.chat_request import ChatRequest
from proxy.server.metrics import Metrics
from proxy.upstreams.base import Upstream
from proxy.upstreams.routing import Router

ASSURANCE_MODES: tuple[AssuranceMode, ...] = ("off", "shadow", "enforce")

# (request, upstream chosen by routing, checked chat request, mode "shadow" | "enforce") -> response
AssuredChat = Callable[
    [web.Request, Upstream, ChatRequest, AssuranceMode], Awaitable[web.StreamResponse]
]


@dataclass(slots=True)
class RequestInfo:
    """Fields of the one access-log line for a request; handlers fill them in as they learn them."""

    request_id: str
    model: str | None = None
    upstream: str | None = None
    mode: str | None = None
    stream: bool | None = None
    #: the authenticated client's name (None with proxy auth off)
    client: str | None = None
    # the response once its headers were sent (streams): errors then end it, never replace it
    response: web.StreamResponse | None = None
    # the stream's last event was written: a hang-up after it is not a client abort (499)
    stream_done: bool = False


@dataclass(slots=True)
class ProxyState:
    """Everything a handler needs, owned by one `web.Application`."""

    config: Config
    client_keys: ClientKeys | None
    metrics: Metrics = field(init=False)
    router: Router = field(default_factory=lambda: Router(()))
    upstreams: list[Upstream] = field(default_factory=list)
    in_flight: int = 0
    ready: bool = False
    # set the moment a stop signal arrives: /readyz answers 503 (requests are still accepted for
    # `server.drain_s`, so load balancers move away first)
    stopping: bool = False
    # set once `server.drain_s` is over: new requests get 503, in-flight ones get the grace period
    draining: bool = False
    # set when the grace period is over and the remaining handlers are being cancelled
    closing: bool = False
    # the handler tasks of the requests in flight (what shutdown drains, then cancels)
    tasks: set[asyncio.Task[object]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.metrics = Metrics(in_flight=self._in_flight)

    def _in_flight(self) -> float:
        return float(self.in_flight)


STATE: web.AppKey[ProxyState] = web.AppKey("proxy_state")
ASSURED_CHAT: web.AppKey[AssuredChat] = web.AppKey("assured_chat")
# the same plug-in point for `POST /v1/responses` (the request is a checked Responses body)
ASSURED_RESPONSES: web.AppKey[AssuredChat] = web.AppKey("assured_responses")
# ... and for the Anthropic front door `POST /v1/messages`
ASSURED_MESSAGES: web.AppKey[AssuredChat] = web.AppKey("assured_messages")
# extra readiness checks (e.g. "oracles loaded"); /readyz answers 503 while any returns False
READINESS_CHECKS: web.AppKey[list[Callable[[], bool]]] = web.AppKey("readiness_checks")
REQUEST_INFO: web.RequestKey[RequestInfo] = web.RequestKey("request_info")
