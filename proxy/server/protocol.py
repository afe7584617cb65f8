"""aiohttp's HTTP layer with the proxy's error shape: malformed HTTP gets OpenAI's error JSON.

Requests aiohttp's parser refuses (a header over `max_field_size`, obs-fold, Content-Length with
Transfer-Encoding, a NUL in a header, a bad request line) never reach the app or its middleware:
aiohttp answers them from `RequestHandler.handle_error` with `text/plain` and logs a traceback.
aiohttp has no hook for that response (aio-libs/aiohttp#3287, #9882), so `ProxyRunner` builds its
`web.Server` with `ProxyRequestHandler`, whose `handle_error` answers `{"error": {...}}` (status
kept, connection closed as aiohttp does) and whose `log_exception` writes one structlog line,
without a traceback for client errors. Everything else is aiohttp's own behaviour.
"""

from __future__ import annotations

from typing import Any

import structlog
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from proxy.server.errors import HTTPProtocolError, ProxyError
from proxy.server.responses import json_response

_log = structlog.get_logger("proxy.server.protocol")


def _client_error(exc: BaseException | None) -> bool:
    # the client's bytes were at fault (parser or payload errors carry a 4xx code)
    if isinstance(exc, HttpProcessingError):
        return exc.code < 500
    return isinstance(exc, web.RequestPayloadError | ConnectionResetError)


class ProxyRequestHandler(RequestHandler):
    """aiohttp's connection handler, answering its own errors in OpenAI's error shape."""

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """The JSON error response for a request aiohttp refused (always closes the connection)."""
        self.log_exception("http_protocol_error", exc_info=exc, status=status)
        if request.writer.output_size > 0:
            # bytes of a response already left: aiohttp closes the connection
            raise ConnectionError("Response already started; cannot send an error response")
        if status >= 500:
            error: ProxyError = ProxyError("The proxy hit an internal error; see its logs")
        else:
            reason = exc.message if isinstance(exc, HttpProcessingError) else message
            error = HTTPProtocolError(
                f"Expected a well-formed HTTP/1.1 request, got one refused by the HTTP parser:"
                f" {_one_line(reason or 'bad request')}",
                status=status,
            )
            error.code = "malformed_http_request"
        response = json_response(error.to_dict(), status=status)
        response.force_close()
        return response

    def log_exception(self, *args: Any, **kw: Any) -> None:
        """One JSON line; the traceback only for the proxy's own (non-client) failures."""
        exc = kw.get("exc_info")
        event = str(args[0]) if args else "http_error"
        fields: dict[str, Any] = {"error_type": type(exc).__name__ if exc else None}
        if "status" in kw:
            fields["status"] = kw["status"]
        if isinstance(exc, BaseException) and _client_error(exc):
            fields["reason"] = _one_line(str(exc))[:300]
            _log.info(_event_name(event), **fields)
        else:
            _log.error(_event_name(event), exc_info=exc, **fields)


class ProxyServer(web.Server):
    """`web.Server` whose connections are `ProxyRequestHandler`s."""

    def __call__(self) -> RequestHandler:
        return ProxyRequestHandler(self, loop=self._loop, **self._kwargs)


class ProxyRunner(web.AppRunner):
    """`web.AppRunner` serving through `ProxyServer` (same arguments, same lifecycle)."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        return ProxyServer(
            server.request_handler,
            request_factory=server.request_factory,
            handler_cancellation=server.handler_cancellation,
            loop=server._loop,
            **server._kwargs,
        )


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _event_name(message: str) -> str:
    # aiohttp's messages ("Error handling request from %s") as snake_case events
    if message == "http_protocol_error":
        return message
    words = [w for w in message.lower().replace("%s", "").split() if w.isalpha()]
    return "_".join(words[:4]) or "http_error"
