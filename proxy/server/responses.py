"""Building responses: OpenAI-shaped errors, JSON bodies, and relaying an SSE stream to the client.

`error_response` renders any `ProxyError` as `{"error": {"message", "type", "param", "code"}}` with
its status (plus `Retry-After` for 429). `relay_stream` copies an `UpstreamStream` to the client
chunk by chunk as it arrives; if the upstream fails after the headers went out it ends the stream
with an OpenAI-style `data: {"error": ...}` event (the OpenAI SDK raises on it), and it always
releases the upstream (a client disconnect cancels the upstream request). No request parsing here.
"""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

from proxy.server.errors import ProxyError, TooManyRequestsError
from proxy.upstreams.base import UpstreamStream

_JSON = "application/json"
_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


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


async def relay_stream(request: web.Request, stream: UpstreamStream) -> web.StreamResponse:
    """Send `stream` to the client as it arrives; always closes `stream`."""
    response = web.StreamResponse(status=stream.status, headers=stream.headers)
    if "Content-Type" not in response.headers:
        response.content_type = "text/event-stream"
    response.headers.update(_SSE_HEADERS)
    try:
        await response.prepare(request)
        try:
            async for chunk in stream.chunks:
                await response.write(chunk)
        except ProxyError as exc:
            await response.write(sse_error_event(exc))
        await response.write_eof()
    finally:
        await stream.aclose()
    return response
