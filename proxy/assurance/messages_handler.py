"""The `ASSURED_MESSAGES` handler: `POST /v1/messages` (the Anthropic front door) in shadow/enforce.

Text blocks are the certified answer, `tool_use` blocks go through the action gate, evidence is the
`assurance` field plus `tool_result` blocks (`proxy.assurance.messages_answer`); certification is
the chat pipeline's. Enforce gets one complete message, certifies, rebuilds it and sends JSON with
a top-level `assurance` (and the `X-Assurance-*` headers) or Anthropic's event sequence with
`assurance` on `message_delta`. Shadow relays the upstream's events live, holding back
`message_delta` and `message_stop` until the answer is certified; the card rides on the held
`message_delta`. Non-streaming shadow appends `assurance` to the upstream's bytes.
"""

from __future__ import annotations

import json
import time
from typing import Any

import structlog
from aiohttp import web

from proxy.assurance.answer import certify_answer, too_large
from proxy.assurance.begin import Started, certification
from proxy.assurance.buffered import certify_buffered
from proxy.assurance.emit import ParsedAnswer, UpstreamAnswerError
from proxy.assurance.messages_answer import chat_view, enforced_message, parse_message_object
from proxy.assurance.scenario import OracleFailure
from proxy.config import AssuranceMode
from proxy.server.chat_request import ChatRequest
from proxy.server.error_shapes import anthropic_error
from proxy.server.errors import ProxyError
from proxy.server.responses import relay_stream
from proxy.server.state import REQUEST_INFO, STATE
from proxy.upstreams.base import Upstream
from proxy.upstreams.messages import create_message, stream_message
from proxy.upstreams.messages_translate import encode_event, events_for_message
from proxy.upstreams.sse import SSEEvent, SSESplitter

log = structlog.get_logger("proxy.assurance")
SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
_HELD = frozenset({"message_delta", "message_stop"})


async def handle_assured_messages(
    request: web.Request, upstream: Upstream, req: ChatRequest, mode: AssuranceMode
) -> web.StreamResponse:
    """Modes shadow and enforce for `POST /v1/messages`, streaming or not."""
    with structlog.contextvars.bound_contextvars(request_id=request[REQUEST_INFO].request_id):
        async with certification(request, chat_view(req), mode) as started:
            if mode == "shadow" and req.stream:
                return await _shadow_stream(request, started, upstream, req)
            return await _buffered(request, started, upstream, req)


async def _buffered(
    request: web.Request, started: Started, upstream: Upstream, req: ChatRequest
) -> web.StreamResponse:
    ready = await certify_buffered(
        request,
        started,
        upstream,
        create=create_message,
        req=req,
        stream_keys=("stream",),
        parse=parse_message_object,
        kind="message",
    )
    if isinstance(ready, web.Response):
        return ready
    assurance, headers = ready.assurance, ready.headers
    emitted = enforced_message(ready.document, ready.parsed, ready.certified.bundle)
    if not req.stream:
        payload = json.dumps({**emitted, "assurance": assurance}, ensure_ascii=False).encode()
        return web.Response(body=payload, content_type="application/json", headers=headers)
    events = events_for_message(emitted)
    for event in events:
        if event["type"] == "message_delta":
            event["assurance"] = assurance
    response = web.StreamResponse(headers={**SSE_HEADERS, **headers})
    await response.prepare(request)
    for event in events:
        await response.write(encode_event(event))
    await response.write_eof()
    return response


class _Accumulator:
    """Rebuilds the streamed message from Anthropic events (text and tool_use input JSON)."""

    def __init__(self) -> None:
        self.message: dict[str, Any] | None = None
        self.blocks: dict[int, dict[str, Any]] = {}
        self.partial: dict[int, list[str]] = {}

    def feed(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "message_start" and isinstance(event.get("message"), dict):
            self.message = dict(event["message"])
        elif kind == "content_block_start":
            self.blocks[int(event["index"])] = dict(event["content_block"])
        elif kind == "content_block_delta":
            index, delta = int(event["index"]), event.get("delta") or {}
            block = self.blocks.setdefault(index, {"type": "text", "text": ""})
            if delta.get("type") == "text_delta":
                block["text"] = block.get("text", "") + str(delta.get("text", ""))
            elif delta.get("type") == "input_json_delta":
                self.partial.setdefault(index, []).append(str(delta.get("partial_json", "")))
        elif kind == "message_delta" and self.message is not None:
            self.message.update(event.get("delta") or {})

    def result(self) -> dict[str, Any]:
        if self.message is None:
            raise UpstreamAnswerError("Expected the stream to start with message_start")
        content: list[dict[str, Any]] = []
        for index in sorted(self.blocks):
            block = self.blocks[index]
            if block.get("type") == "tool_use":
                joined = "".join(self.partial.get(index, []))
                try:
                    block["input"] = json.loads(joined) if joined else {}
                except ValueError as exc:
                    raise UpstreamAnswerError("Expected tool_use input to be JSON") from exc
            content.append(block)
        return {**self.message, "content": content}


async def _shadow_stream(
    request: web.Request, started: Started, upstream: Upstream, req: ChatRequest
) -> web.StreamResponse:
    began = time.perf_counter()
    stream = await stream_message(upstream, req.forward_body, req.parsed, request.headers)
    request.app[STATE].metrics.observe_upstream(upstream.name, time.perf_counter() - began)
    if stream.status != 200:
        return await relay_stream(request, stream)
    splitter = SSESplitter()
    accumulator = _Accumulator()
    held: list[tuple[SSEEvent, dict[str, Any]]] = []
    size = 0
    broken = False
    response = web.StreamResponse(headers={**SSE_HEADERS, "X-Assurance-Mode": "shadow"})
    try:
        await response.prepare(request)
        async for chunk in stream.chunks:
            size += len(chunk)
            for event in splitter.feed(chunk):
                try:
                    decoded = json.loads(event.data) if event.data else {}
                except ValueError:
                    decoded, broken = {}, True
                if isinstance(decoded, dict):
                    try:
                        accumulator.feed(decoded)
                    except (KeyError, ValueError, TypeError, AttributeError):
                        # a malformed upstream event: relay it, certify nothing as complete
                        broken = True
                kind = decoded.get("type") if isinstance(decoded, dict) else None
                if kind in _HELD:
                    held.append((event, decoded))
                    continue
                await response.write(event.raw)
        rest = splitter.rest()
        if rest:
            await response.write(rest)
    except ProxyError as exc:
        await response.write(encode_event(anthropic_error(exc.status, exc.message)))
        await response.write_eof()
        return response
    finally:
        await stream.aclose()
    stopped = any(decoded.get("type") == "message_stop" for _, decoded in held)
    assurance = await _shadow_assurance(started, accumulator, size, broken or not stopped)
    for event, decoded in held:
        if decoded.get("type") == "message_delta":
            await response.write(encode_event({**decoded, "assurance": assurance}))
        else:
            await response.write(event.raw)
    await response.write_eof()
    return response


async def _shadow_assurance(
    started: Started, accumulator: _Accumulator, size: int, incomplete: bool
) -> dict[str, Any]:
    limit = started.pipeline.config.assurance.max_answer_bytes
    failures: list[OracleFailure] = []
    if incomplete:
        failures.append(OracleFailure("upstream", "the stream ended without message_stop"))
    if size > limit:
        failures.append(too_large(size, limit))
    try:
        try:
            parsed = parse_message_object(accumulator.result())
        except UpstreamAnswerError:
            if not incomplete:
                raise
            # nothing reconstructable: the failures above make this an abstain card
            parsed = ParsedAnswer(completion={}, text="", calls=())
        certified = await certify_answer(
            started.pipeline, started.areq, parsed, started.stability, failures=tuple(failures)
        )
    except ProxyError as exc:
        return {"error": exc.to_dict()["error"]}
    except Exception as exc:  # the stream is already out: report, never break it
        log.error("shadow_certification_crashed", error_type=type(exc).__name__)
        return {"error": ProxyError("The proxy could not certify this answer").to_dict()["error"]}
    return certified.summary.body_field()
