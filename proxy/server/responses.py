"""Building responses: OpenAI-shaped errors, JSON bodies, and relaying an SSE stream to the client.

`error_response` renders any `ProxyError` as `{"error": {"message", "type", "param", "code"}}` with
its status (plus `Retry-After` for 429). `relay_stream` copies an `UpstreamStream` to the client
chunk by chunk as it arrives; if the upstream fails after the headers went out it ends the stream
with an OpenAI-style `data: {"error": ...}` event (the OpenAI SDK raises on it), and it always
releases the upstream (a client disconnect cancels the upstream request). An upstream error status
(>= 400) to a streaming request is not a stream: its body is relayed as one response with the
upstream's headers and no SSE headers. A relayed stream keeps the upstream's `Content-Type`
(charset included) and rate-limit headers; the proxy's own are `Cache-Control: no-cache` and
`X-Accel-Buffering: no` (`stream_headers`). Once the stream's `[DONE]` is written the request is
marked `stream_done`, so a client that hangs up right after it is logged as a 200, not 499.
No request parsing here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
from aiohttp import web
from multidict import CIMultiDict

from proxy.server.errors import ProxyError, TooManyRequestsError
from proxy.server.state import REQUEST_INFO
from proxy.upstreams.base import UpstreamStream

_JSON = "application/json"
_SSE = "text/event-stream"
# the proxy's own headers on every stream it sends: no caching, no buffering by a reverse proxy
# (nginx holds `text/event-stream` bodies back otherwise, and with them the trailing card)
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
_DONE = b"[DONE]"
_TAIL_BYTES = 16


def json_response(payload: Any, *, status: int = 200) -> web.Response:
    """`payload` encoded as JSON."""
    return web.Response(body=msgspec.json.encode(payload), status=status, content_type=_JSON)


def error_response(error: ProxyError) -> web.Response:
    """The OpenAI error body for `error`, with its HTTP status."""
    response = json_response(error.to_dict(), status=error.status)
    if isinstance(error, TooManyRequestsError):
        response.headers["Retry-After"] = str(error.retry_after_s)
    return response


def sse_error_event(error: ProxyError) -> bytes:
    """An SSE event carrying an OpenAI error object (sent when a stream fails midway)."""
    return b"data: " + msgspec.json.encode(error.to_dict()) + b"\n\n"


def stream_headers(upstream: Mapping[str, str]) -> CIMultiDict[str]:
    """Headers for relaying an upstream's stream: the upstream's own, then `SSE_HEADERS`."""
    headers = CIMultiDict(upstream)
    headers.setdefault("Content-Type", _SSE)
    headers.update(SSE_HEADERS)
    return headers


def mark_stream_done(request: web.Request) -> None:
    """Record that the stream's `[DONE]` was written: the client has the whole answer."""
    info = request.get(REQUEST_INFO)
    if info is not None:
        info.stream_done = True


async def relay_error(stream: UpstreamStream) -> web.Response:
    """An upstream's error answer to a streaming request, relayed as the upstream sent it."""
    try:
        body = b"".join([chunk async for chunk in stream.chunks])
    finally:
        await stream.aclose()
    return web.Response(body=body, status=stream.status, headers=stream.headers)


async def relay_stream(request: web.Request, stream: UpstreamStream) -> web.StreamResponse:
    """Send `stream` to the client as it arrives; always closes `stream`."""
    if stream.status >= 400:
        return await relay_error(stream)
    response = web.StreamResponse(status=stream.status, headers=stream_headers(stream.headers))
    try:
        await response.prepare(request)
        tail = b""
        try:
            async for chunk in stream.chunks:
                await response.write(chunk)
                # the last bytes seen, enough to spot the `[DONE]` sentinel across chunk borders
                tail = (tail + chunk[-_TAIL_BYTES:])[-_TAIL_BYTES:]
                if tail.rstrip().endswith(_DONE):
                    mark_stream_done(request)
        except ProxyError as exc:
            await response.write(sse_error_event(exc))
        await response.write_eof()
    finally:
        await stream.aclose()
    return response
