"""Per-app state and the typed keys under which it lives (no module-level mutable state).

`ProxyState` holds the parsed config, the router and upstreams (opened by a `cleanup_ctx`), metrics,
the accepted client keys and the in-flight count. `RequestInfo` is what the access log line reports
for one request. `ASSURED_CHAT` is the plug-in point for modes `shadow` and `enforce`: a handler
with the `AssuredChat` signature (the pipeline installs it through
`create_app(setup_assurance=...)`). This module holds data only; it does not handle requests.
"""

from __future__ import annotations

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

    def __post_init__(self) -> None:
        self.metrics = Metrics(in_flight=self._in_flight)

    def _in_flight(self) -> float:
        return float(self.in_flight)


STATE: web.AppKey[ProxyState] = web.AppKey("proxy_state")
ASSURED_CHAT: web.AppKey[AssuredChat] = web.AppKey("assured_chat")
# extra readiness checks (e.g. "oracles loaded"); /readyz answers 503 while any returns False
READINESS_CHECKS: web.AppKey[list[Callable[[], bool]]] = web.AppKey("readiness_checks")
REQUEST_INFO: web.RequestKey[RequestInfo] = web.RequestKey("request_info")
