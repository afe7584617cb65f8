"""An `Upstream` serving OpenAI chat requests from Anthropic's Messages API via the `anthropic` SDK.

It owns one `AsyncAnthropic` client (no SDK retries; the proxy's caller decides), translates each
request with `proxy.upstreams.translate`, and maps SDK failures onto `proxy.server.errors`.
Streaming answers are re-encoded event by event as OpenAI SSE bytes, with no buffering; closing the
stream
closes the upstream HTTP response. It does not route, authenticate clients, or offer embeddings.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import anthropic
import msgspec
from anthropic import AsyncAnthropic, AsyncStream
from anthropic.types import RawMessageStreamEvent

from proxy.config import UpstreamConfig
from proxy.server.errors import (
    UpstreamConnectError,
    UpstreamError,
    UpstreamHTTPError,
    UpstreamTimeoutError,
)
from proxy.upstreams.anthropic_raw import AnthropicRaw
from proxy.upstreams.base import UpstreamResponse, UpstreamStream
from proxy.upstreams.routing import ModelMatcher, is_glob
from proxy.upstreams.translate import (
    AnthropicRequest,
    ChunkTranslator,
    completion_from_message,
    error_chunk,
    to_anthropic_request,
)

_DONE = b"data: [DONE]\n\n"
_JSON_HEADERS = {"content-type": "application/json"}
_SSE_HEADERS = {"content-type": "text/event-stream", "cache-control": "no-cache"}

# Anthropic error `type` -> OpenAI error `type`.
_ERROR_TYPES = {
    "invalid_request_error": "invalid_request_error",
    "request_too_large": "invalid_request_error",
    "not_found_error": "invalid_request_error",
    "authentication_error": "authentication_error",
    "permission_error": "permission_error",
    "billing_error": "insufficient_quota",
    "rate_limit_error": "rate_limit_error",
    "api_error": "server_error",
    "overloaded_error": "server_error",
    "timeout_error": "server_error",
}


def map_sdk_error(error: anthropic.APIError) -> UpstreamError:
    """The proxy error for an SDK failure: 504 timeout, 502 unreachable, else the provider's."""
    if isinstance(error, anthropic.APITimeoutError):
        return UpstreamTimeoutError(f"anthropic upstream timed out: {error.message}")
    if isinstance(error, anthropic.APIConnectionError):
        return UpstreamConnectError(f"anthropic upstream unreachable: {error.message}")
    if isinstance(error, anthropic.APIStatusError):
        kind = error.type or "api_error"
        message = error.api_message or error.message
        return UpstreamHTTPError(
            message,
            status=error.status_code,
            error_type=_ERROR_TYPES.get(kind, "upstream_error"),
            code=kind,
        )
    return UpstreamError(f"anthropic upstream answered unexpectedly: {error.message}")


def sdk_base_url(base_url: str) -> str:
    """The SDK appends `/v1/messages` itself, so an OpenAI-style `.../v1` suffix is dropped."""
    trimmed = base_url.rstrip("/")
    return trimmed.removesuffix("/v1") or trimmed


def _sse(chunk: Mapping[str, Any]) -> bytes:
    return b"data: " + msgspec.json.encode(chunk) + b"\n\n"


class AnthropicUpstream:
    """Chat completions served by an Anthropic Messages endpoint, translated both ways.

    The key is read once from the environment variable `config.api_key_env` (or `environ`). With
    no key, the client's own `x-api-key` / bearer token is sent only if `forward_client_auth` is
    true (off by default: with proxy auth on, that header holds the proxy key).
    """

    kind = "anthropic"

    def __init__(
        self,
        config: UpstreamConfig,
        *,
        environ: Mapping[str, str] | None = None,
        forward_client_auth: bool = False,
    ) -> None:
        self.name = config.name
        self.config = config
        self._matcher = ModelMatcher(config.models)
        env = os.environ if environ is None else environ
        api_key = (env.get(config.api_key_env) if config.api_key_env else None) or None
        self._has_key = api_key is not None
        self._forward_client_auth = forward_client_auth and api_key is None
        self._timeout = anthropic.Timeout(config.read_timeout_s, connect=config.connect_timeout_s)
        # An explicit (possibly empty) key stops the SDK from reading ANTHROPIC_* variables or
        # profile files; without a configured key each request carries the client's own key.
        self._client = AsyncAnthropic(
            api_key=api_key or "",
            base_url=sdk_base_url(config.base_url),
            max_retries=0,
            timeout=self._timeout,
        )
        # raw HTTP for the `/v1/messages` front door (byte-for-byte relay)
        self.raw = AnthropicRaw(config, api_key=api_key, forward_client_auth=forward_client_auth)

    @property
    def has_key(self) -> bool:
        """Whether a provider key was found in the environment variable the config names."""
        return self._has_key

    def serves(self, model: str) -> bool:
        """Whether one of the configured model names or glob patterns matches `model`."""
        return self._matcher.matches(model)

    async def list_models(
        self, client_headers: Mapping[str, str] | None = None
    ) -> list[dict[str, Any]]:
        """The configured literal model names (glob patterns name no model) as OpenAI objects."""
        return [
            {"id": model, "object": "model", "created": 0, "owned_by": self.name}
            for model in self.config.models
            if not is_glob(model)
        ]

    def _auth_headers(self, client_headers: Mapping[str, str]) -> dict[str, str | anthropic.Omit]:
        """Without a configured key: the client's `x-api-key` or bearer token, else none."""
        if self._has_key:
            return {}
        lowered = {key.lower(): value for key, value in client_headers.items()}
        key = lowered.get("x-api-key", "")
        bearer = lowered.get("authorization", "")
        if not key and bearer.lower().startswith("bearer "):
            key = bearer[len("bearer ") :].strip()
        if key and self._forward_client_auth:
            return {"Authorization": f"Bearer {key}"}
        return {"Authorization": anthropic.omit}

    async def chat(
        self, body: bytes, parsed: Mapping[str, Any], client_headers: Mapping[str, str]
    ) -> UpstreamResponse:
        """One translated `messages.create` call, answered as an OpenAI ChatCompletion."""
        request = to_anthropic_request(parsed)
        headers = self._auth_headers(client_headers)
        try:
            message = await self._client.messages.create(
                **request.params,
                extra_body=request.extra_body or None,
                extra_headers=headers or None,
                timeout=self._timeout,
            )
        except anthropic.APIError as error:
            raise map_sdk_error(error) from error
        completion = completion_from_message(message, created=int(time.time()))
        return UpstreamResponse(
            status=200, body=msgspec.json.encode(completion), headers=_JSON_HEADERS
        )

    async def chat_stream(
        self, body: bytes, parsed: Mapping[str, Any], client_headers: Mapping[str, str]
    ) -> UpstreamStream:
        """Open the Anthropic event stream (raising if refused) and re-encode it as OpenAI SSE."""
        request = to_anthropic_request(parsed)
        headers = self._auth_headers(client_headers)
        try:
            stream = await self._client.messages.create(
                **request.params,
                stream=True,
                extra_body=request.extra_body or None,
                extra_headers=headers or None,
                timeout=self._timeout,
            )
        except anthropic.APIError as error:
            raise map_sdk_error(error) from error
        chunks = _openai_sse(stream, request, created=int(time.time()))
        return UpstreamStream(status=200, headers=_SSE_HEADERS, chunks=chunks)

    async def embeddings(self, body: bytes, client_headers: Mapping[str, str]) -> UpstreamResponse:
        """Anthropic offers no embeddings endpoint."""
        raise UpstreamHTTPError(
            f"embeddings not supported by anthropic upstream {self.name!r}",
            status=404,
            error_type="invalid_request_error",
            code="embeddings_not_supported",
        )

    async def aclose(self) -> None:
        """Close the SDK client's connection pool and the raw session."""
        await self._client.close()
        await self.raw.aclose()


async def _openai_sse(
    stream: AsyncStream[RawMessageStreamEvent], request: AnthropicRequest, *, created: int
) -> AsyncIterator[bytes]:
    """OpenAI SSE bytes for each Anthropic event as it arrives; a failure becomes an error event."""
    translator = ChunkTranslator(created=created, include_usage=request.include_usage)
    try:
        async for event in stream:
            for chunk in translator.feed(event):
                yield _sse(chunk)
        if not translator.done:
            failure = UpstreamConnectError(
                "anthropic upstream ended the stream before message_stop"
            )
            yield _sse(error_chunk(failure.message, failure.error_type, failure.code))
            return
        yield _DONE
    except anthropic.APIError as error:
        mapped = map_sdk_error(error)
        yield _sse(error_chunk(mapped.message, mapped.error_type, mapped.code))
    finally:
        await stream.close()
