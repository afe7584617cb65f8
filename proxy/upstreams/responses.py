"""`POST /v1/responses` against one upstream: natively, or translated to Chat Completions.

An OpenAI-compatible upstream with `responses = "native"` (the default) gets the request as is
(`OpenAIUpstream.open_raw`); an Anthropic upstream or one with `responses = "translate"` gets the
Chat Completions request of `proxy.upstreams.responses_translate`, through its ordinary `chat` /
`chat_stream`, and its answer is translated back (streams event by event, live). Errors keep the
upstream's status and OpenAI error body. This module routes nothing and certifies nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import msgspec

from proxy.server.errors import ProxyError, UpstreamConnectError, UpstreamError
from proxy.upstreams.base import Upstream, UpstreamResponse, UpstreamStream
from proxy.upstreams.openai import OpenAIUpstream
from proxy.upstreams.passthrough import response_headers
from proxy.upstreams.responses_translate import (
    StreamTranslator,
    chat_body_from_responses,
    encode_event,
    response_from_completion,
)
from proxy.upstreams.sse import SSESplitter

_JSON_HEADERS = {"Content-Type": "application/json"}
_SSE_HEADERS = {"Content-Type": "text/event-stream"}


def translates(upstream: Upstream) -> bool:
    """Whether `upstream` serves Responses through Chat Completions."""
    return not isinstance(upstream, OpenAIUpstream) or upstream.config.responses == "translate"


async def create_response(
    upstream: Upstream, body: bytes, parsed: Mapping[str, Any], headers: Mapping[str, str]
) -> UpstreamResponse:
    """One complete (non-streaming) `response` object, or the upstream's error answer."""
    if not translates(upstream):
        assert isinstance(upstream, OpenAIUpstream)
        resp = await upstream.open_raw("POST", "/responses", headers, body)
        try:
            with upstream.transport_errors():
                payload = await resp.read()
        finally:
            resp.release()
        return UpstreamResponse(resp.status, payload, dict(response_headers(resp.headers)))
    chat = chat_body_from_responses(parsed)
    answer = await upstream.chat(msgspec.json.encode(chat), chat, headers)
    if answer.status != 200:
        return answer
    try:
        completion = json.loads(answer.body)
    except ValueError as exc:
        raise UpstreamError(f"Upstream {upstream.name!r} answered a body that is not JSON") from exc
    response = response_from_completion(completion, parsed, created_at=int(time.time()))
    return UpstreamResponse(200, msgspec.json.encode(response), _JSON_HEADERS)


async def stream_response(
    upstream: Upstream, body: bytes, parsed: Mapping[str, Any], headers: Mapping[str, str]
) -> UpstreamStream:
    """A streaming `response` (named SSE events); raises before returning if refused."""
    if not translates(upstream):
        assert isinstance(upstream, OpenAIUpstream)
        resp = await upstream.open_raw("POST", "/responses", headers, body)
        return UpstreamStream(
            resp.status, dict(response_headers(resp.headers)), upstream.relay_body(resp)
        )
    chat = chat_body_from_responses(parsed)
    stream = await upstream.chat_stream(msgspec.json.encode(chat), chat, headers)
    if stream.status != 200:
        return stream
    return UpstreamStream(200, _SSE_HEADERS, _translated(stream, parsed))


async def _translated(stream: UpstreamStream, request: Mapping[str, Any]) -> AsyncIterator[bytes]:
    translator = StreamTranslator(request, created_at=int(time.time()))
    splitter = SSESplitter()
    try:
        async for chunk in stream.chunks:
            for event in splitter.feed(chunk):
                if not event.data or event.data == "[DONE]":
                    continue
                decoded = json.loads(event.data)
                if isinstance(decoded, dict) and "error" in decoded:
                    yield encode_event({"type": "error", **_error_fields(decoded["error"])})
                    return
                if isinstance(decoded, dict):
                    for out in translator.feed(decoded):
                        yield encode_event(out)
        for out in translator.finish():
            yield encode_event(out)
    except ProxyError as exc:
        # the upstream failed midway: Responses clients expect an `error` event
        yield encode_event({"type": "error", **_error_fields(exc.to_dict()["error"])})
    except (ValueError, TypeError, AttributeError, KeyError):
        failure = UpstreamConnectError(
            "the upstream sent a chat stream event that is not a valid chunk"
        )
        yield encode_event({"type": "error", **_error_fields(failure.to_dict()["error"])})
    finally:
        await stream.aclose()


def _error_fields(error: object) -> dict[str, Any]:
    fields = error if isinstance(error, dict) else {}
    return {
        "code": fields.get("code"),
        "message": str(fields.get("message") or "upstream error"),
        "param": fields.get("param"),
        "sequence_number": 0,
    }
