"""The rest of the fake OpenAI API: files, audio, stored chat completions, models, batches and the
Responses API (JSON and its named SSE events), for pass-through and Responses tests.

`add_routes(app, fake)` registers them on a `FakeOpenAIServer`'s app; every request is recorded
by the fake. Objects follow OpenAI's published shapes (the SDK's models parse them); ids are fixed
or derived from the path. `/v1/responses` takes the fake's script (`JsonReply`, `EventsReply`) or
answers `response_object()` (as SSE events when `stream` is true). Unknown `/v1/` paths answer 404
in OpenAI's error shape, as the real API does. Not a model: the prompt is ignored.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import BodyPartReader, web

if TYPE_CHECKING:
    from tests.fakes.openai_server import FakeOpenAIServer

RESPONSE_ID = "resp_fake"
SPEECH_CHUNKS = (b"ID3\x04\x00fake-mp3-", b"\x00\xff\xfe" * 100, b"-end")


@dataclass(frozen=True)
class EventsReply:
    """Answer with named SSE events (`event: TYPE` + `data: JSON`), no `[DONE]`."""

    events: Sequence[dict[str, Any]]
    delay_s: float = 0.0


def message_item(text: str, item_id: str = "msg_fake") -> dict[str, Any]:
    """A completed assistant `message` output item with one `output_text` part."""
    return {
        "id": item_id,
        "type": "message",
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}],
    }


def function_call_item(name: str, arguments: str, call_id: str, item_id: str) -> dict[str, Any]:
    """A completed `function_call` output item."""
    return {
        "id": item_id,
        "type": "function_call",
        "status": "completed",
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
    }


def response_object(
    output: list[dict[str, Any]] | None = None,
    *,
    model: str = "gpt-fake",
    response_id: str = RESPONSE_ID,
    status: str = "completed",
) -> dict[str, Any]:
    """A Responses API `response` object as OpenAI returns it."""
    if output is None:
        output = [message_item("Hello from the fake upstream.")]
    return {
        "id": response_id,
        "object": "response",
        "created_at": 1714000000,
        "status": status,
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "max_output_tokens": None,
        "model": model,
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "store": True,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": {
            "input_tokens": 5,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": 7,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 12,
        },
        "user": None,
        "metadata": {},
    }


def response_events(response: dict[str, Any], pieces: int = 3) -> list[dict[str, Any]]:
    """The SSE events OpenAI streams for `response` (text split into `pieces` deltas)."""
    events: list[dict[str, Any]] = []
    start = {**response, "status": "in_progress", "output": [], "usage": None}
    events.append({"type": "response.created", "response": start})
    events.append({"type": "response.in_progress", "response": start})
    for index, item in enumerate(response["output"]):
        if item["type"] == "message":
            opened = {**item, "status": "in_progress", "content": []}
            events.append(
                {"type": "response.output_item.added", "output_index": index, "item": opened}
            )
            for part_index, part in enumerate(item["content"]):
                where = {"item_id": item["id"], "output_index": index, "content_index": part_index}
                empty = {"type": "output_text", "text": "", "annotations": []}
                events.append({"type": "response.content_part.added", **where, "part": empty})
                text = part["text"]
                step = max(1, -(-len(text) // pieces))
                for at in range(0, len(text), step):
                    delta = {"delta": text[at : at + step], "logprobs": []}
                    events.append({"type": "response.output_text.delta", **where, **delta})
                done = {"text": text, "logprobs": []}
                events.append({"type": "response.output_text.done", **where, **done})
                events.append({"type": "response.content_part.done", **where, "part": part})
        else:
            opened = {**item, "status": "in_progress", "arguments": ""}
            events.append(
                {"type": "response.output_item.added", "output_index": index, "item": opened}
            )
            where = {"item_id": item["id"], "output_index": index}
            args = item["arguments"]
            events.append(
                {"type": "response.function_call_arguments.delta", **where, "delta": args}
            )
            events.append(
                {"type": "response.function_call_arguments.done", **where, "arguments": args}
            )
        events.append({"type": "response.output_item.done", "output_index": index, "item": item})
    events.append({"type": "response.completed", "response": response})
    return [{**event, "sequence_number": n} for n, event in enumerate(events)]


def _file(file_id: str, filename: str, size: int, purpose: str) -> dict[str, Any]:
    return {
        "id": file_id,
        "object": "file",
        "bytes": size,
        "created_at": 1714000000,
        "filename": filename,
        "purpose": purpose,
        "status": "processed",
    }


def _batch(batch_id: str, status: str = "validating") -> dict[str, Any]:
    return {
        "id": batch_id,
        "object": "batch",
        "endpoint": "/v1/chat/completions",
        "input_file_id": "file-fake",
        "completion_window": "24h",
        "status": status,
        "created_at": 1714000000,
    }


def _stored_completion(
    completion_id: str, metadata: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": 1714000000,
        "model": "gpt-fake",
        "metadata": metadata or {},
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "stored", "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
    }


def _not_found(request: web.Request) -> web.Response:
    error = {
        "message": f"Invalid URL ({request.method} {request.path})",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
    return web.json_response({"error": error}, status=404)


async def send_events(request: web.Request, reply: EventsReply) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    for i, event in enumerate(reply.events):
        if i and reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        line = f"event: {event['type']}\ndata: {json.dumps(event)}\n\n"
        await response.write(line.encode())
    await response.write_eof()
    return response


def add_routes(app: web.Application, fake: FakeOpenAIServer) -> None:
    """Register the generic routes on `app` (after the fake's chat/embeddings/models routes)."""

    async def files(request: web.Request) -> web.StreamResponse:
        await fake.record(request, body=b"")
        reader = await request.multipart()
        filename, size, purpose = "", 0, ""
        async for part in reader:
            if not isinstance(part, BodyPartReader):
                continue
            data = await part.read()
            if part.name == "file":
                filename, size = part.filename or "", len(data)
                fake.uploads.append(data)
            elif part.name == "purpose":
                purpose = data.decode()
        return web.json_response(_file("file-fake", filename, size, purpose))

    async def transcriptions(request: web.Request) -> web.StreamResponse:
        await fake.record(request, body=b"")
        reader = await request.multipart()
        fields: dict[str, str] = {}
        async for part in reader:
            if isinstance(part, BodyPartReader):
                data = await part.read()
                fields[part.name or ""] = part.filename or data.decode()
        return web.json_response({"text": f"heard {fields.get('file')} with {fields.get('model')}"})

    async def speech(request: web.Request) -> web.StreamResponse:
        await fake.record(request)
        response = web.StreamResponse(headers={"Content-Type": "audio/mpeg"})
        await response.prepare(request)
        for chunk in SPEECH_CHUNKS:
            await response.write(chunk)
            await asyncio.sleep(0.01)
        await response.write_eof()
        return response

    async def generic(request: web.Request) -> web.StreamResponse:
        recorded = await fake.record(request)
        path, method = request.path, request.method
        parts = path.strip("/").split("/")[1:]  # after "v1"
        match parts:
            case ["files", file_id] if method == "GET":
                return web.json_response(_file(file_id, "a.jsonl", 3, "batch"))
            case ["files", file_id] if method == "DELETE":
                return web.json_response({"id": file_id, "object": "file", "deleted": True})
            case ["files", _, "content"]:
                return web.Response(body=b'{"line": 1}\n', content_type="application/octet-stream")
            case ["chat", "completions"] if method == "GET":
                data = [_stored_completion("chatcmpl-1"), _stored_completion("chatcmpl-2")]
                return web.json_response(
                    {
                        "object": "list",
                        "data": data,
                        "first_id": "chatcmpl-1",
                        "last_id": "chatcmpl-2",
                        "has_more": False,
                    }
                )
            case ["chat", "completions", cid] if method == "GET":
                return web.json_response(_stored_completion(cid))
            case ["chat", "completions", cid] if method == "POST":
                return web.json_response(_stored_completion(cid, recorded.json().get("metadata")))
            case ["chat", "completions", cid] if method == "DELETE":
                return web.json_response(
                    {"id": cid, "object": "chat.completion.deleted", "deleted": True}
                )
            case ["chat", "completions", cid, "messages"]:
                item = {"id": f"{cid}-0", "role": "user", "content": "hi"}
                return web.json_response(
                    {
                        "object": "list",
                        "data": [item],
                        "first_id": item["id"],
                        "last_id": item["id"],
                        "has_more": False,
                    }
                )
            case ["models", model_id] if method == "GET":
                if model_id not in fake.models:
                    return _not_found(request)
                return web.json_response(
                    {"id": model_id, "object": "model", "created": 0, "owned_by": "fake"}
                )
            case ["models", model_id] if method == "DELETE":
                return web.json_response({"id": model_id, "object": "model", "deleted": True})
            case ["batches"] if method == "POST":
                return web.json_response(_batch("batch_fake"))
            case ["batches"]:
                return web.json_response(
                    {"object": "list", "data": [_batch("batch_fake")], "has_more": False}
                )
            case ["batches", bid]:
                return web.json_response(_batch(bid, "in_progress"))
            case ["batches", bid, "cancel"]:
                return web.json_response(_batch(bid, "cancelling"))
            case ["responses"] if method == "POST":
                return await responses(request, recorded.json())
            case ["responses", rid] if method == "GET":
                stored = fake.stored_responses.get(rid)
                return _not_found(request) if stored is None else web.json_response(stored)
            case ["responses", rid] if method == "DELETE":
                fake.stored_responses.pop(rid, None)
                return web.Response(status=200)
            case ["responses", rid, "cancel"]:
                return web.json_response(response_object(response_id=rid, status="cancelled"))
            case ["responses", rid, "input_items"]:
                listed: dict[str, Any] = {
                    "id": "msg_in",
                    "type": "message",
                    "role": "user",
                    "status": "completed",
                    "content": [{"type": "input_text", "text": "hi"}],
                }
                return web.json_response(
                    {
                        "object": "list",
                        "data": [listed],
                        "first_id": "msg_in",
                        "last_id": "msg_in",
                        "has_more": False,
                    }
                )
        return _not_found(request)

    async def responses(request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
        reply = fake.next_reply()
        if reply is None:
            response = response_object(model=body.get("model", "gpt-fake"))
            fake.stored_responses[response["id"]] = response
            if body.get("stream"):
                return await send_events(request, EventsReply(response_events(response)))
            return web.json_response(response)
        if isinstance(reply, EventsReply):
            return await send_events(request, reply)
        return await fake.answer(request, reply)

    app.router.add_post("/v1/files", files)
    app.router.add_post("/v1/audio/transcriptions", transcriptions)
    app.router.add_post("/v1/audio/speech", speech)
    app.router.add_route("*", "/v1/{tail:.*}", generic)
