"""`POST /v1/messages` against one upstream: natively (Anthropic) or translated (OpenAI-compatible).

An Anthropic upstream gets the client's bytes through `AnthropicRaw`; an OpenAI-compatible one
gets the Chat Completions request of `proxy.upstreams.messages_translate` through its `chat` /
`chat_stream`, and its answer comes back as an Anthropic `message` (streams event by event,
live). Upstream errors keep their status with an Anthropic-shaped body. Routes and certifies
nothing.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import msgspec

from proxy.server.error_shapes import anthropic_error, anthropic_error_body
from proxy.server.errors import ProxyError, UpstreamError
from proxy.upstreams.anthropic import AnthropicUpstream
from proxy.upstreams.base import Upstream, UpstreamResponse, UpstreamStream
from proxy.upstreams.messages_translate import (
    MessageStreamTranslator,
    chat_body_from_messages,
    encode_event,
    message_from_completion,
)
from proxy.upstreams.passthrough import response_headers
from proxy.upstreams.sse import SSESplitter

_JSON_HEADERS = {"Content-Type": "application/json"}
_SSE_HEADERS = {"Content-Type": "text/event-stream"}


async def create_message(
    upstream: Upstream, body: bytes, parsed: Mapping[str, Any], headers: Mapping[str, str]
) -> UpstreamResponse:
    """One complete `message` (or the upstream's error, Anthropic-shaped)."""
    if isinstance(upstream, AnthropicUpstream):
        resp = await upstream.raw.open_raw("POST", "/messages", headers, body)
        try:
            with upstream.raw.transport_errors():
                payload = await resp.read()
        finally:
            resp.release()
        return UpstreamResponse(resp.status, payload, dict(response_headers(resp.headers)))
    chat = chat_body_from_messages(parsed)
    answer = await upstream.chat(msgspec.json.encode(chat), chat, headers)
    if answer.status != 200:
        return UpstreamResponse(
            answer.status, anthropic_error_body(answer.status, answer.body), _JSON_HEADERS
        )
    try:
        completion = json.loads(answer.body)
    except ValueError as exc:
        raise UpstreamError(f"Upstream {upstream.name!r} answered a body that is not JSON") from exc
    message = message_from_completion(completion, str(parsed.get("model")))
    return UpstreamResponse(200, msgspec.json.encode(message), _JSON_HEADERS)


async def stream_message(
    upstream: Upstream, body: bytes, parsed: Mapping[str, Any], headers: Mapping[str, str]
) -> UpstreamStream:
    """A streaming `message` (Anthropic SSE events); raises before returning if refused."""
    if isinstance(upstream, AnthropicUpstream):
        resp = await upstream.raw.open_raw("POST", "/messages", headers, body)
        return UpstreamStream(
            resp.status, dict(response_headers(resp.headers)), upstream.raw.relay_body(resp)
        )
    chat = chat_body_from_messages(parsed)
    stream = await upstream.chat_stream(msgspec.json.encode(chat), chat, headers)
    if stream.status != 200:
        payload = b"".join([chunk async for chunk in stream.chunks])
        await stream.aclose()
        return UpstreamStream(
            stream.status, _JSON_HEADERS, _one(anthropic_error_body(stream.status, payload))
        )
    return UpstreamStream(200, _SSE_HEADERS, _translated(stream, str(parsed.get("model"))))


async def _one(payload: bytes) -> AsyncIterator[bytes]:
    yield payload


async def _translated(stream: UpstreamStream, model: str) -> AsyncIterator[bytes]:
    translator = MessageStreamTranslator(model)
    splitter = SSESplitter()
    try:
        async for chunk in stream.chunks:
            for event in splitter.feed(chunk):
                if not event.data or event.data == "[DONE]":
                    continue
                decoded = json.loads(event.data)
                if isinstance(decoded, dict) and "error" in decoded:
                    inner = decoded["error"] if isinstance(decoded["error"], dict) else {}
                    message = str(inner.get("message") or "upstream error")
                    yield encode_event(anthropic_error(502, message))
                    return
                if isinstance(decoded, dict):
                    for out in translator.feed(decoded):
                        yield encode_event(out)
        for out in translator.finish():
            yield encode_event(out)
    except ProxyError as exc:
        # the upstream failed midway: Anthropic clients expect an `error` event
        yield encode_event(anthropic_error(exc.status, exc.message))
    except (ValueError, TypeError, AttributeError, KeyError):
        yield encode_event(
            anthropic_error(502, "the upstream sent a chat event that is not a valid chunk")
        )
    finally:
        await stream.aclose()
