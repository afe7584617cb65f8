"""The one edge middleware: request id, proxy auth, concurrency limit, error mapping, access log.

Every request gets an id (returned as `X-Request-Id`). Probe routes (`/healthz`, `/readyz`,
`/metrics`) skip auth and the concurrency limit. Any `ProxyError` becomes OpenAI's error JSON with
its status; aiohttp's own HTTP errors (unknown route, 405, body over `client_max_size`) are mapped
to the same shape; anything unexpected becomes a 500 with a generic message and the traceback goes
only to the log. One structlog line per request reports id, route, model, upstream, mode, status and
latency, never headers, keys or message text. A client that disconnects is logged with status 499.
Once a response's headers went out (a stream), a failure can no longer become an error response:
the stream is ended with a final SSE error event instead, so no second HTTP response is ever
written into a body. While the proxy drains for shutdown new requests get 503 `shutting_down`;
a handler cancelled at the end of the grace period answers 503, or ends its stream with that error.
A client that hangs up once the whole stream (`[DONE]` included) was written is logged 200, not 499.
The access line carries `request_id` explicitly; the assurance pipeline binds it in structlog's
context vars for its own lines (kept off the mode-off hot path).
"""

from __future__ import annotations

import asyncio
import os
import time

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from proxy.server.error_shapes import render_error
from proxy.server.errors import (
    BodyTooLargeError,
    HTTPProtocolError,
    NotFoundError,
    ProxyError,
    ShuttingDownError,
    TooManyRequestsError,
)
from proxy.server.responses import sse_error_event
from proxy.server.state import REQUEST_INFO, ProxyState, RequestInfo

PROBE_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
CLIENT_CLOSED = 499
_UNMATCHED_ROUTE = "unmatched"


def new_request_id() -> str:
    """A random request id (96 bits, hex)."""
    return "req_" + os.urandom(12).hex()


def make_edge_middleware(state: ProxyState) -> Middleware:
    """The middleware bound to one app's state."""
    log = structlog.get_logger("proxy.access")
    server = state.config.server
    metrics = state.metrics

    @web.middleware
    async def edge(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        info = RequestInfo(request_id=new_request_id())
        request[REQUEST_INFO] = info
        probe = request.path in PROBE_PATHS
        counted = False
        status = 500
        task = asyncio.current_task()
        try:
            if not probe:
                if state.draining:
                    raise ShuttingDownError(
                        "Expected a proxy accepting requests, got one shutting down; retry"
                        " another replica"
                    )
                if state.client_keys is not None:
                    info.client = state.client_keys.check(request.headers.get("Authorization"))
                    metrics.count_client(info.client)
                if state.in_flight >= server.max_concurrency:
                    raise TooManyRequestsError(
                        f"Expected at most {server.max_concurrency} concurrent requests, got more;"
                        " retry later"
                    )
                state.in_flight += 1
                counted = True
                if task is not None:
                    state.tasks.add(task)
            response = await handler(request)
            status = response.status
            return response
        except ProxyError as exc:
            status = exc.status
            return await _error_out(request.path, info, exc)
        except web.HTTPException as exc:
            error = _from_http_exception(exc, server.max_body_bytes)
            status = error.status
            return await _error_out(request.path, info, error)
        except asyncio.CancelledError:
            if not (state.closing and task is not None and task.uncancel() == 0):
                # a client that hangs up once the whole stream was written got its answer
                status = 200 if info.stream_done else CLIENT_CLOSED
                raise
            # the shutdown's grace period ended: answer (or end the stream) with 503
            shutting = ShuttingDownError(
                "Expected the request to finish within the shutdown grace period"
                f" ({server.shutdown_grace_s} s), got one still running; retry"
            )
            status = shutting.status
            return await _error_out(request.path, info, shutting)
        except ConnectionResetError:
            status = 200 if info.stream_done else CLIENT_CLOSED
            raise
        except Exception as exc:
            log.exception(
                "unhandled_error", request_id=info.request_id, error_type=type(exc).__name__
            )
            status = 500
            error = ProxyError("The proxy hit an internal error; see its logs")
            return await _error_out(request.path, info, error)
        finally:
            if counted:
                state.in_flight -= 1
                if task is not None:
                    state.tasks.discard(task)
            resource = request.match_info.route.resource
            route = resource.canonical if resource is not None else _UNMATCHED_ROUTE
            upstream = info.upstream or "none"
            metrics.count_request(route, status, upstream)
            if not probe or status >= 400:
                log.info(
                    "request",
                    request_id=info.request_id,
                    method=request.method,
                    route=route,
                    model=info.model,
                    upstream=upstream,
                    mode=info.mode,
                    client=info.client,
                    stream=info.stream,
                    status=status,
                    latency_ms=round((time.perf_counter() - started) * 1000.0, 3),
                )

    return edge


async def _error_out(path: str, info: RequestInfo, error: ProxyError) -> web.StreamResponse:
    """`error` as a response in the route's shape; for a response already started, its final SSE
    event instead."""
    started = info.response
    if started is None or not started.prepared:
        return render_error(path, error)
    try:
        # a blank line first: the failure may have come in the middle of an event
        await started.write(b"\n\n" + sse_error_event(error))
        await started.write_eof()
    except (ConnectionError, RuntimeError):
        pass  # the client is gone or the stream was already closed: nothing more to send
    return started


def _from_http_exception(exc: web.HTTPException, max_body_bytes: int) -> ProxyError:
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return BodyTooLargeError(
            f"Expected a request body of at most {max_body_bytes} bytes, got more"
        )
    if isinstance(exc, web.HTTPNotFound):
        return NotFoundError(
            "Expected a known route such as /v1/chat/completions, got another path"
        )
    return HTTPProtocolError(exc.reason, status=exc.status)


async def add_request_id_header(request: web.Request, response: web.StreamResponse) -> None:
    """`on_response_prepare` hook: every response (streams included) carries `X-Request-Id`."""
    info = request.get(REQUEST_INFO)
    if info is not None:
        response.headers["X-Request-Id"] = info.request_id
        info.response = response
