"""A fake Anthropic Messages API on 127.0.0.1 that speaks the real wire format, for tests.

`POST /v1/messages` answers scripted `Reply`s in order (then a default text reply): a `message`
JSON body, or with `"stream": true` the SSE event stream (`message_start`, `ping`,
`content_block_*` with `text_delta` / `input_json_delta`, `message_delta`, `message_stop`). Replies
can fail with Anthropic's error JSON, fail mid-stream with an `error` event, or be delayed. Every
request's JSON and headers are recorded, and a client hanging up mid-stream is counted.
`POST /v1/messages/count_tokens` answers 3 input tokens per message; `GET
/v1/messages/batches/{id}` answers an in-progress message batch. It models
no real model and checks no credentials.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass(frozen=True)
class Text:
    """A text content block; streamed in pieces of `piece` characters."""

    text: str


@dataclass(frozen=True)
class ToolUse:
    """A tool_use content block; its input JSON is streamed in `input_json_delta` fragments."""

    id: str
    name: str
    input: dict[str, Any]


@dataclass(frozen=True)
class Reply:
    """One scripted answer to one `POST /v1/messages`."""

    blocks: tuple[Text | ToolUse, ...] = (Text("Hello from fake Claude."),)
    stop_reason: str = "end_turn"
    stop_sequence: str | None = None
    input_tokens: int = 11
    output_tokens: int = 7
    status: int = 200  # >= 400: answer Anthropic's error JSON instead
    error_type: str = "api_error"
    error_message: str = "scripted failure"
    delay_s: float = 0.0  # before the response headers
    event_delay_s: float = 0.0  # between stream events
    midstream_error: str | None = None  # error `type` sent as an `error` event after message_start
    truncate: bool = False  # end the stream before message_stop
    piece: int = 4


@dataclass(frozen=True)
class Received:
    """One request as the fake saw it."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeAnthropic:
    """The running fake: script `replies`, read `requests`, `disconnects`, `base_url`."""

    replies: list[Reply] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)
    disconnects: int = 0
    port: int = 0

    @property
    def base_url(self) -> str:
        """Where the SDK should point (it appends `/v1/messages`)."""
        return f"http://127.0.0.1:{self.port}"

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(Received(request.path, dict(request.headers), body))
        reply = self.replies.pop(0) if self.replies else Reply()
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        if reply.status >= 400:
            error = {"type": reply.error_type, "message": reply.error_message}
            payload = {"type": "error", "error": error, "request_id": "req_fake"}
            return web.json_response(payload, status=reply.status)
        message_id = f"msg_fake{len(self.requests)}"
        if body.get("stream"):
            return await self._stream(request, reply, message_id, str(body["model"]))
        return web.json_response(_message(reply, message_id, str(body["model"]), final=True))

    async def _count_tokens(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(Received(request.path, dict(request.headers), body))
        return web.json_response({"input_tokens": 3 * len(body.get("messages", []))})

    async def _batch(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(Received(request.path, dict(request.headers), {}))
        batch_id = request.match_info["batch_id"]
        counts = {"processing": 1, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        return web.json_response(
            {
                "id": batch_id,
                "type": "message_batch",
                "processing_status": "in_progress",
                "request_counts": counts,
                "created_at": "2026-01-01T00:00:00Z",
                "expires_at": "2026-01-02T00:00:00Z",
                "ended_at": None,
                "archived_at": None,
                "cancel_initiated_at": None,
                "results_url": None,
            }
        )

    async def _stream(
        self, request: web.Request, reply: Reply, message_id: str, model: str
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        try:
            for name, data in _events(reply, message_id, model):
                frame = f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()
                await response.write(frame)
                if reply.event_delay_s:
                    await asyncio.sleep(reply.event_delay_s)
        except ConnectionError:
            self.disconnects += 1
            return response
        except asyncio.CancelledError:
            self.disconnects += 1
            raise
        await response.write_eof()
        return response

    @classmethod
    @asynccontextmanager
    async def running(cls) -> AsyncIterator[FakeAnthropic]:
        """Serve on 127.0.0.1, port 0, for the duration of the block."""
        fake = cls()
        app = web.Application()
        app.router.add_post("/v1/messages", fake._messages)
        app.router.add_post("/v1/messages/count_tokens", fake._count_tokens)
        app.router.add_get("/v1/messages/batches/{batch_id}", fake._batch)
        runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        fake.port = runner.addresses[0][1]
        try:
            yield fake
        finally:
            await runner.cleanup()


def _block_json(block: Text | ToolUse, *, final: bool) -> dict[str, Any]:
    if isinstance(block, Text):
        return {"type": "text", "text": block.text if final else ""}
    return {
        "type": "tool_use",
        "id": block.id,
        "name": block.name,
        "input": block.input if final else {},
    }


def _message(reply: Reply, message_id: str, model: str, *, final: bool) -> dict[str, Any]:
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [_block_json(b, final=True) for b in reply.blocks] if final else [],
        "stop_reason": reply.stop_reason if final else None,
        "stop_sequence": reply.stop_sequence if final else None,
        "usage": {
            "input_tokens": reply.input_tokens,
            "output_tokens": reply.output_tokens if final else 1,
        },
    }


def _pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def _events(reply: Reply, message_id: str, model: str) -> list[tuple[str, dict[str, Any]]]:
    """The SSE events of one streamed reply, in Anthropic's order."""
    events: list[tuple[str, dict[str, Any]]] = [
        (
            "message_start",
            {"type": "message_start", "message": _message(reply, message_id, model, final=False)},
        ),
        ("ping", {"type": "ping"}),
    ]
    if reply.midstream_error is not None:
        error = {"type": reply.midstream_error, "message": reply.error_message}
        return [*events, ("error", {"type": "error", "error": error})]
    for index, block in enumerate(reply.blocks):
        start = {
            "type": "content_block_start",
            "index": index,
            "content_block": _block_json(block, final=False),
        }
        events.append(("content_block_start", start))
        if isinstance(block, Text):
            deltas = [{"type": "text_delta", "text": p} for p in _pieces(block.text, reply.piece)]
        else:
            encoded = json.dumps(block.input) if block.input else ""
            parts = ["", *_pieces(encoded, reply.piece)]
            deltas = [{"type": "input_json_delta", "partial_json": p} for p in parts]
        for delta in deltas:
            events.append(
                (
                    "content_block_delta",
                    {"type": "content_block_delta", "index": index, "delta": delta},
                )
            )
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
        events.append(("ping", {"type": "ping"}))
    stop = {"stop_reason": reply.stop_reason, "stop_sequence": reply.stop_sequence}
    events.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": stop,
                "usage": {"output_tokens": reply.output_tokens},
            },
        )
    )
    if not reply.truncate:
        events.append(("message_stop", {"type": "message_stop"}))
    return events
