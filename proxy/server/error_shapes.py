"""Which error shape a route speaks: OpenAI's everywhere, Anthropic's on `/v1/messages`.

`render_error(path, error)` renders a `ProxyError` as OpenAI's `{"error": {...}}` or, for the
Anthropic front door, as `{"type": "error", "error": {"type", "message"}}` with the same status.
`anthropic_error_body` re-shapes an upstream's OpenAI error body for that route.
"""

from __future__ import annotations

import json

from aiohttp import web

from proxy.server.errors import ProxyError, TooManyRequestsError
from proxy.server.responses import error_response, json_response

ANTHROPIC_PREFIX = "/v1/messages"

_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "invalid_request_error",  # the SDK's ErrorObject union has no request_too_large
    429: "rate_limit_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def anthropic_error_type(status: int) -> str:
    """Anthropic's error `type` for an HTTP status."""
    return _ANTHROPIC_TYPES.get(status, "invalid_request_error" if status < 500 else "api_error")


def anthropic_error(status: int, message: str) -> dict[str, object]:
    """An Anthropic error body."""
    return {"type": "error", "error": {"type": anthropic_error_type(status), "message": message}}


def anthropic_error_body(status: int, body: bytes) -> bytes:
    """An upstream error body (OpenAI-shaped or not) as Anthropic's error JSON."""
    message = f"upstream answered {status}"
    try:
        decoded = json.loads(body)
        inner = decoded.get("error") if isinstance(decoded, dict) else None
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            message = inner["message"]
    except ValueError:
        pass
    return json.dumps(anthropic_error(status, message)).encode()


def render_error(path: str, error: ProxyError) -> web.Response:
    """The error response in the shape of the route at `path`."""
    if not path.startswith(ANTHROPIC_PREFIX):
        return error_response(error)
    response = json_response(anthropic_error(error.status, error.message), status=error.status)
    if isinstance(error, TooManyRequestsError):
        response.headers["Retry-After"] = str(error.retry_after_s)
    return response
