"""A fake OpenAI-compatible upstream on loopback with scripted replies, for proxy tests and
benchmarks.

`FakeOpenAIServer` binds 127.0.0.1 on port 0 and serves `/v1/chat/completions`, `/v1/embeddings` and
`/v1/models`, plus the rest of the API from `tests.fakes.openai_routes` (files, audio, stored
completions, batches, Responses). Replies are taken in order from a script (`JsonReply`,
`StreamReply`, `DropReply`, `EventsReply`, and for misbehaving upstreams `RawStreamReply`: arbitrary
bytes, in pieces, with any framing); with an empty script it answers a default completion (or
stream, when the request asks for one, honouring `stream_options.include_usage`). Every request is
recorded (path with query, headers, body). It counts requests the proxy abandoned (cancelled while
the fake was waiting, or a stream whose reader went away). It is not a model and ignores the prompt.

The `llama_cpp_*` builders reproduce, byte for byte in shape, what llama-cpp-python's server sends
for a forced tool call (every delta repeats the call's `id` and `function.name`, with a legacy
`function_call` copy; `content: null`), and `StreamReply` can answer with its `Content-Type`
(charset included) and keep the connection open a while after `[DONE]`, as it does.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.openai_routes import EventsReply, add_routes, send_events

FAKE_MODEL = "gpt-fake"
DEFAULT_CONTENT = "Hello from the fake upstream."


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body decoded as JSON."""
        return json.loads(self.body)


@dataclass(frozen=True)
class JsonReply:
    """Answer with `payload` as JSON (or `raw` bytes verbatim) and `status`, after `delay_s`."""

    payload: Any = None
    status: int = 200
    delay_s: float = 0.0
    raw: bytes | None = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StreamReply:
    """Answer with SSE events (`chunks`, then `data: [DONE]`); `drop_after` cuts the connection."""

    chunks: Sequence[Any]
    delay_s: float = 0.0
    first_delay_s: float = 0.0
    drop_after: int | None = None
    content_type: str = "text/event-stream"
    linger_after_done_s: float = 0.0  # the response ends this long after `[DONE]` went out


@dataclass(frozen=True)
class DropReply:
    """Close the connection without answering."""


@dataclass(frozen=True)
class RawStreamReply:
    """Stream `parts` verbatim (no SSE framing added, no `[DONE]`), `delay_s` apart; `drop` aborts
    the connection after the last part instead of ending the body."""

    parts: Sequence[bytes]
    delay_s: float = 0.0
    content_type: str = "text/event-stream"
    drop: bool = False


Reply = JsonReply | StreamReply | DropReply | EventsReply | RawStreamReply


def sse(*payloads: Any) -> list[bytes]:
    """Each payload as one well-framed `data:` event (str payloads are sent as they are)."""
    return [
        b"data: " + (p.encode() if isinstance(p, str) else json.dumps(p).encode()) + b"\n\n"
        for p in payloads
    ]


def chat_completion(
    content: str | None = DEFAULT_CONTENT,
    *,
    model: str = FAKE_MODEL,
    tool_calls: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A ChatCompletion object as OpenAI returns it."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls is not None:
        message["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1714000000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": "tool_calls" if tool_calls else "stop",
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12},
    }


def stream_chunks(
    pieces: Sequence[str] = ("Hello", " from", " the fake."),
    *,
    model: str = FAKE_MODEL,
    tool_calls: list[dict[str, Any]] | None = None,
    include_usage: bool = False,
) -> list[dict[str, Any]]:
    """ChatCompletionChunk objects: role, one per content piece, tool calls, finish, usage."""

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": 1714000000,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    chunks = [chunk({"role": "assistant", "content": ""})]
    chunks += [chunk({"content": p}) for p in pieces]
    for i, call in enumerate(tool_calls or []):
        chunks.append(chunk({"tool_calls": [{"index": i, **call}]}))
    chunks.append(chunk({}, "tool_calls" if tool_calls else "stop"))
    if include_usage:
        usage = {
            "prompt_tokens": 5,
            "completion_tokens": len(pieces),
            "total_tokens": 5 + len(pieces),
        }
        chunks.append({**chunk({}), "choices": [], "usage": usage})
    return chunks


LLAMA_CPP_CONTENT_TYPE = "text/event-stream; charset=utf-8"


def llama_cpp_tool_completion(name: str, arguments: str) -> dict[str, Any]:
    """A forced tool call as llama-cpp-python answers it: `tool_calls[0]` plus a `function_call`
    copy of it, `content: null`."""
    completion = chat_completion(
        None,
        tool_calls=[
            {
                "id": f"call__0_{name}_cmpl-fake",
                "type": "function",
                "function": {"name": name, "arguments": arguments},
            }
        ],
    )
    completion["choices"][0]["message"]["function_call"] = {"name": name, "arguments": arguments}
    return completion


def llama_cpp_tool_chunks(name: str, pieces: Sequence[str]) -> list[dict[str, Any]]:
    """A forced tool call as llama-cpp-python streams it: a role chunk with every field null,
    then one chunk per argument piece that repeats the call's `id` and `name` (in `tool_calls[0]`
    and in a legacy `function_call`), then a finish chunk."""

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": 1714000000,
            "model": FAKE_MODEL,
            "choices": [{"index": 0, "finish_reason": finish, "logprobs": None, "delta": delta}],
        }

    empty = {"role": None, "content": None, "function_call": None, "tool_calls": None}
    call_id = f"call__0_{name}_cmpl-fake"
    chunks = [chunk({**empty, "role": "assistant"})]
    for piece in pieces:
        function = {"name": name, "arguments": piece}
        call = {"index": 0, "id": call_id, "type": "function", "function": function}
        chunks.append(chunk({**empty, "function_call": function, "tool_calls": [call]}))
    chunks.append(chunk(empty, "tool_calls"))
    return chunks


class FakeOpenAIServer:
    """The fake upstream; use `async with FakeOpenAIServer() as fake:` and `fake.base_url`."""

    def __init__(self, *, models: Sequence[str] = (FAKE_MODEL,)) -> None:
        self.requests: list[RecordedRequest] = []
        self.abandoned = 0
        self.models = list(models)
        self.uploads: list[bytes] = []
        self.stored_responses: dict[str, dict[str, Any]] = {}
        self._script: deque[Reply] = deque()
        self._runner: web.AppRunner | None = None
        self._arrived: asyncio.Event | None = None
        self.base_url = ""

    def script(self, *replies: Reply) -> None:
        """Queue replies; each request takes the next one."""
        self._script.extend(replies)

    async def start(self) -> str:
        """Bind 127.0.0.1 on a free port; returns the OpenAI-style base URL (ending in /v1)."""
        self._arrived = asyncio.Event()
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/embeddings", self._embeddings)
        app.router.add_get("/v1/models", self._models)
        add_routes(app, self)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}/v1"
        return self.base_url

    async def close(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeOpenAIServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def next_reply(self) -> Reply | None:
        """The next scripted reply, if any."""
        return self._script.popleft() if self._script else None

    async def record(self, request: web.Request, *, body: bytes | None = None) -> RecordedRequest:
        """Record `request` (its body read whole unless `body` is given)."""
        recorded = RecordedRequest(
            method=request.method,
            path=request.path_qs,
            headers=dict(request.headers),
            body=await request.read() if body is None else body,
        )
        self.requests.append(recorded)
        if self._arrived is not None:
            self._arrived.set()
        return recorded

    async def wait_for_requests(self, count: int) -> None:
        """Return once at least `count` requests have arrived."""
        assert self._arrived is not None, "start() the fake first"
        while len(self.requests) < count:
            self._arrived.clear()
            await self._arrived.wait()

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        recorded = await self.record(request)
        if self._script:
            reply = self._script.popleft()
        else:
            try:
                body = recorded.json()
            except ValueError:
                body = None
            if not isinstance(body, dict):
                # as OpenAI does: a 400 in its error shape, not a crash
                error = {"message": "We could not parse the JSON body of your request.",
                         "type": "invalid_request_error", "param": None, "code": None}  # fmt: skip
                return web.json_response({"error": error}, status=400)
            if body.get("stream"):
                usage = bool((body.get("stream_options") or {}).get("include_usage"))
                reply = StreamReply(stream_chunks(include_usage=usage))
            else:
                reply = JsonReply(chat_completion())
        return await self._answer(request, reply)

    async def _embeddings(self, request: web.Request) -> web.StreamResponse:
        await self.record(request)
        if self._script:
            return await self._answer(request, self._script.popleft())
        payload = {
            "object": "list",
            "data": [{"object": "embedding", "index": 0, "embedding": [0.5, -0.25, 0.125]}],
            "model": "text-embedding-fake",
            "usage": {"prompt_tokens": 2, "total_tokens": 2},
        }
        return web.json_response(payload)

    async def _models(self, request: web.Request) -> web.StreamResponse:
        await self.record(request)
        if self._script:
            return await self._answer(request, self._script.popleft())
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in self.models]
        return web.json_response({"object": "list", "data": data})

    async def answer(self, request: web.Request, reply: Reply) -> web.StreamResponse:
        """Answer `request` with a scripted `reply`."""
        return await self._answer(request, reply)

    async def _answer(self, request: web.Request, reply: Reply) -> web.StreamResponse:
        try:
            match reply:
                case DropReply():
                    return self._drop(request)
                case JsonReply():
                    await asyncio.sleep(reply.delay_s)
                    body = (
                        reply.raw if reply.raw is not None else json.dumps(reply.payload).encode()
                    )
                    response = web.Response(body=body, status=reply.status, headers=reply.headers)
                    response.content_type = reply.content_type
                    return response
                case StreamReply():
                    return await self._stream(request, reply)
                case EventsReply():
                    return await send_events(request, reply)
                case RawStreamReply():
                    return await self._raw_stream(request, reply)
        except asyncio.CancelledError:
            self.abandoned += 1
            raise

    def _drop(self, request: web.Request) -> web.StreamResponse:
        if request.transport is not None:
            request.transport.abort()
        # nothing reaches the proxy: the connection is already gone
        return web.Response(status=500)

    async def _raw_stream(self, request: web.Request, reply: RawStreamReply) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": reply.content_type})
        await response.prepare(request)
        try:
            for i, part in enumerate(reply.parts):
                if i and reply.delay_s:
                    await asyncio.sleep(reply.delay_s)
                await response.write(part)
            if reply.drop:
                self._drop(request)
                return response
            await response.write_eof()
        except ConnectionResetError:
            self.abandoned += 1
        return response

    async def _stream(self, request: web.Request, reply: StreamReply) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": reply.content_type})
        await asyncio.sleep(reply.first_delay_s)
        await response.prepare(request)
        try:
            for i, chunk in enumerate(reply.chunks):
                if reply.drop_after is not None and i >= reply.drop_after:
                    self._drop(request)
                    return response
                if i and reply.delay_s:
                    await asyncio.sleep(reply.delay_s)
                await response.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
            await response.write(b"data: [DONE]\n\n")
            await asyncio.sleep(reply.linger_after_done_s)
            await response.write_eof()
        except ConnectionResetError:
            self.abandoned += 1
        return response
