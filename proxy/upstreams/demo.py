"""A local OpenAI-compatible upstream that replays one fixed answer, for `assurance demo` and
benchmarks.

It serves `POST /v1/chat/completions` (JSON, or SSE when `stream` is true) and `GET /v1/models` on
loopback, answering every chat request with the same assistant message (text and optional tool
calls) after an optional fixed delay. It is not a model: it ignores the prompt. It exists so the
demo runs on a fresh machine with no API key and no network; it says so in every answer's
`system_fingerprint`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

FINGERPRINT = "fixed-answer-replay"


@dataclass(frozen=True, slots=True)
class FixedAnswer:
    """What the replaying upstream answers, and how long it waits first."""

    content: str
    tool_calls: Sequence[dict[str, Any]] = field(default_factory=tuple)
    delay_s: float = 0.0
    model: str = "demo-model"


_ANSWER_KEY = web.AppKey("fixed_answer", FixedAnswer)


def completion_body(answer: FixedAnswer, model: str) -> dict[str, Any]:
    """The non-streaming ChatCompletion the upstream returns."""
    message: dict[str, Any] = {"role": "assistant", "content": answer.content}
    if answer.tool_calls:
        message["tool_calls"] = list(answer.tool_calls)
    return {
        "id": "chatcmpl-demo",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": FINGERPRINT,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if answer.tool_calls else "stop",
            }
        ],
        "usage": {"prompt_tokens": 50, "completion_tokens": 60, "total_tokens": 110},
    }


async def _chat(request: web.Request) -> web.StreamResponse:
    answer = request.app[_ANSWER_KEY]
    body = await request.json()
    model = str(body.get("model") or answer.model)
    if answer.delay_s:
        await asyncio.sleep(answer.delay_s)
    completion = completion_body(answer, model)
    if not body.get("stream"):
        return web.json_response(completion)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    base = {key: completion[key] for key in ("id", "created", "model", "system_fingerprint")}
    base["object"] = "chat.completion.chunk"
    words = answer.content.split(" ")
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
    deltas += [{"content": w if i == 0 else " " + w} for i, w in enumerate(words)]
    deltas += [{"tool_calls": [{"index": i, **c}]} for i, c in enumerate(answer.tool_calls)]
    for delta in deltas:
        chunk = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
        await response.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
    finish = completion["choices"][0]["finish_reason"]
    last = {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}
    await response.write(b"data: " + json.dumps(last).encode() + b"\n\n")
    if (body.get("stream_options") or {}).get("include_usage"):
        usage = {**base, "choices": [], "usage": completion["usage"]}
        await response.write(b"data: " + json.dumps(usage).encode() + b"\n\n")
    await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    return response


async def _models(request: web.Request) -> web.Response:
    model = request.app[_ANSWER_KEY].model
    return web.json_response(
        {"object": "list", "data": [{"id": model, "object": "model", "owned_by": "demo"}]}
    )


@asynccontextmanager
async def serve_fixed_answer(answer: FixedAnswer) -> AsyncIterator[str]:
    """Run the replaying upstream on 127.0.0.1 (a free port); yields its base URL (`.../v1`)."""
    app = web.Application()
    app[_ANSWER_KEY] = answer
    app.router.add_post("/v1/chat/completions", _chat)
    app.router.add_get("/v1/models", _models)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        await runner.cleanup()
