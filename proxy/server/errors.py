"""The shell's exception hierarchy; one middleware maps each to OpenAI's error shape.

Every limit and failure the proxy reports has a named class here with its HTTP status, so a client
always receives `{"error": {"message", "type", "param", "code"}}` and never a stack trace.
"""

from __future__ import annotations


class ProxyError(Exception):
    """Base of every error the proxy reports to a client in OpenAI's error shape."""

    status: int = 500
    error_type: str = "server_error"
    code: str | None = None

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code

    def to_dict(self) -> dict[str, dict[str, str | None]]:
        """The OpenAI error body for this error."""
        return {
            "error": {
                "message": self.message,
                "type": self.error_type,
                "param": self.param,
                "code": self.code,
            }
        }


class InvalidRequestError(ProxyError):
    """The client's request is malformed (bad JSON, missing or invalid field)."""

    status = 400
    error_type = "invalid_request_error"
    code = "invalid_request"


class AuthenticationError(ProxyError):
    """The client presented no proxy key or a wrong one."""

    status = 401
    error_type = "authentication_error"
    code = "invalid_api_key"


class PermissionDeniedError(ProxyError):
    """An authenticated client asked for something the operator does not allow it (issue 9 §3)."""

    status = 403
    error_type = "permission_error"
    code = "permission_denied"


class ModelNotFoundError(ProxyError):
    """No configured upstream serves the requested model."""

    status = 404
    error_type = "invalid_request_error"
    code = "model_not_found"


class NotFoundError(ProxyError):
    """A resource (route, stored card) does not exist."""

    status = 404
    error_type = "invalid_request_error"
    code = "not_found"


class BodyTooLargeError(ProxyError):
    """The request body exceeds `server.max_body_bytes`."""

    status = 413
    error_type = "invalid_request_error"
    code = "request_too_large"


class RequestTimeoutError(ProxyError):
    """The request body did not arrive within `server.body_read_timeout_s`."""

    status = 408
    error_type = "invalid_request_error"
    code = "request_timeout"


class TooManyRequestsError(ProxyError):
    """More concurrent requests than `server.max_concurrency`; answered with `Retry-After`."""

    status = 429
    error_type = "rate_limit_error"
    code = "too_many_concurrent_requests"

    def __init__(self, message: str, *, retry_after_s: int = 1, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after_s = retry_after_s


class AssuranceUnavailableError(ProxyError):
    """Mode shadow/enforce asked of a proxy built without the assurance pipeline."""

    status = 501
    error_type = "invalid_request_error"
    code = "assurance_mode_unavailable"


class ShuttingDownError(ProxyError):
    """The proxy is draining for shutdown: new requests are refused, and streams still open when
    the grace period ends are closed with this error as their last event."""

    status = 503
    error_type = "server_error"
    code = "shutting_down"


class HTTPProtocolError(ProxyError):
    """aiohttp rejected the request at the HTTP level (method, headers, framing); status kept."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = "invalid_request_error" if status < 500 else "server_error"


class UpstreamError(ProxyError):
    """Base of failures reaching or reported by an upstream provider."""

    status = 502
    error_type = "upstream_error"
    code = "upstream_error"


class UpstreamConnectError(UpstreamError):
    """The upstream could not be reached (connection refused, DNS, dropped connection)."""

    status = 502
    code = "upstream_unreachable"


class UpstreamTimeoutError(UpstreamError):
    """The upstream did not answer within its configured timeout."""

    status = 504
    code = "upstream_timeout"


class UpstreamHTTPError(UpstreamError):
    """The upstream answered 4xx/5xx; its status and message are passed through."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        error_type: str | None = None,
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message, param=param, code=code)
        self.status = status
        if error_type is not None:
            self.error_type = error_type
