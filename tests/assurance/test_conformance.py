"""Conformance: every object the proxy builds or translates validates against the published schemas.

Each object is validated with the SDKs' generated pydantic models in strict mode (openai's
`ChatCompletion`, `ChatCompletionChunk`, `Response`, `ResponseStreamEvent`, `ErrorObject`;
anthropic's `Message`, `RawMessageStreamEvent`, `ErrorResponse`), and the fields OpenAI's OpenAPI
document marks required-but-nullable (which the SDK models default to None, so pydantic alone would
not notice them missing, e.g. `message.refusal`) are checked present. Objects come from the proxy
over loopback (enforce rebuilds, translations, error bodies) and from the pure translators.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import aiohttp
import pydantic
from anthropic.types import ErrorResponse, Message, RawMessageStreamEvent
from anthropic.types import Usage as AnthropicUsage
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import Response, ResponseStreamEvent
from openai.types.shared import ErrorObject

from proxy.upstreams.messages_translate import (
    MessageStreamTranslator,
    events_for_message,
    message_from_completion,
)
from proxy.upstreams.responses_translate import (
    StreamTranslator,
    events_for_response,
    response_from_completion,
)
from proxy.upstreams.translate import ChunkTranslator, completion_from_message
from tests.assurance.clinical import DELETE_SCHEMA, EVIDENCE, UNSUPPORTED, WITH_CONTRADICTION
from tests.fakes.openai_routes import function_call_item, message_item, response_object
from tests.fakes.openai_server import (
    FakeOpenAIServer,
    JsonReply,
    chat_completion,
    stream_chunks,
)
from tests.harness import RunningProxy

STREAM_EVENTS: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(ResponseStreamEvent)
ANTHROPIC_EVENTS: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(RawMessageStreamEvent)
# required (possibly nullable) in OpenAI's OpenAPI document
COMPLETION_REQUIRED = ("id", "object", "created", "model", "choices")
CHOICE_REQUIRED = ("index", "message", "finish_reason", "logprobs")
MESSAGE_REQUIRED = ("role", "content", "refusal")
CHUNK_CHOICE_REQUIRED = ("index", "delta", "finish_reason")
RESPONSE_REQUIRED = (
    "id",
    "object",
    "created_at",
    "error",
    "incomplete_details",
    "instructions",
    "model",
    "output",
    "parallel_tool_calls",
    "metadata",
    "tool_choice",
    "tools",
    "temperature",
    "top_p",
)
ERROR_REQUIRED = ("message", "type", "param", "code")
ANTHROPIC_MESSAGE_REQUIRED = (
    "id",
    "type",
    "role",
    "content",
    "model",
    "stop_reason",
    "stop_sequence",
    "usage",
)


def _has(obj: dict[str, Any], keys: Sequence[str], where: str) -> None:
    missing = [key for key in keys if key not in obj]
    assert not missing, f"{where} lacks required {missing}"


def check_completion(obj: dict[str, Any]) -> None:
    ChatCompletion.model_validate(obj, strict=True)
    _has(obj, COMPLETION_REQUIRED, "chat.completion")
    for choice in obj["choices"]:
        _has(choice, CHOICE_REQUIRED, "choice")
        _has(choice["message"], MESSAGE_REQUIRED, "message")


def check_chunk(obj: dict[str, Any]) -> None:
    ChatCompletionChunk.model_validate(obj, strict=True)
    _has(obj, COMPLETION_REQUIRED, "chat.completion.chunk")
    for choice in obj["choices"]:
        _has(choice, CHUNK_CHOICE_REQUIRED, "chunk choice")


def check_response(obj: dict[str, Any]) -> None:
    Response.model_validate(obj, strict=True)
    _has(obj, RESPONSE_REQUIRED, "response")


def check_response_event(obj: dict[str, Any]) -> None:
    STREAM_EVENTS.validate_python(obj, strict=True)
    if "response" in obj:
        check_response(obj["response"])


def check_openai_error(obj: dict[str, Any]) -> None:
    ErrorObject.model_validate(obj["error"], strict=True)
    _has(obj["error"], ERROR_REQUIRED, "error")


def check_message(obj: dict[str, Any]) -> None:
    Message.model_validate(obj, strict=True)
    _has(obj, ANTHROPIC_MESSAGE_REQUIRED, "message")


def sse_data(body: bytes) -> list[dict[str, Any]]:
    """The JSON `data:` payloads of an SSE body (without `[DONE]`)."""
    events = []
    for line in body.decode().splitlines():
        if line.startswith("data: ") and line != "data: [DONE]":
            events.append(json.loads(line[len("data: ") :]))
    return events


async def post(
    url: str, body: dict[str, Any], headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json=body, headers=headers) as r,
    ):
        return r.status, await r.read()


ASSURED = {"X-Assurance-Mode": "enforce", "X-Assurance-Policy": "enterprise_qa"}
CHAT = {"model": "gpt-fake", "messages": [{"role": "user", "content": "q"}]}


async def test_enforced_chat_completion_and_chunks(
    proxy: RunningProxy, fake_upstream: FakeOpenAIServer
) -> None:
    """Enforce's rebuilt chat.completion and its replayed chunks (residue and tool calls)."""
    calls = [
        {
            "id": "c1",
            "type": "function",
            "function": {"name": "delete_file", "arguments": '{"path": "/etc/x"}'},
        }
    ]
    assurance = {
        "evidence": EVIDENCE,
        "actions": {"schemas": [DELETE_SCHEMA], "state": {"counters": {"deletes": 0}}},
    }
    for stream in (False, True):
        fake_upstream.script(JsonReply(chat_completion(WITH_CONTRADICTION, tool_calls=calls)))
        body = {**CHAT, "assurance": assurance, "stream": stream}
        status, raw = await post(f"{proxy.base_url}/chat/completions", body, ASSURED)
        assert status == 200
        if stream:
            chunks = sse_data(raw)
            assert len(chunks) > 2
            for chunk in chunks:
                check_chunk(chunk)
        else:
            check_completion(json.loads(raw))


async def test_enforced_response_json_and_events(
    proxy: RunningProxy, fake_upstream: FakeOpenAIServer
) -> None:
    """Enforce's rebuilt `response` (accept with a call, reject) and its event sequence."""
    output = [message_item(WITH_CONTRADICTION), function_call_item("f", "{}", "c1", "fc_1")]
    for text, policy in ((WITH_CONTRADICTION, "enterprise_qa"), (UNSUPPORTED, "clinical")):
        for stream in (False, True):
            fake_upstream.script(JsonReply(response_object([message_item(text), *output[1:]])))
            body: dict[str, Any] = {"model": "gpt-fake", "input": "q", "stream": stream}
            body["assurance"] = {"evidence": EVIDENCE}
            headers = {**ASSURED, "X-Assurance-Policy": policy}
            status, raw = await post(f"{proxy.base_url}/responses", body, headers)
            assert status == 200
            if stream:
                events = sse_data(raw)
                assert events[-1]["type"] in ("response.completed", "response.incomplete")
                for event in events:
                    check_response_event(event)
            else:
                check_response(json.loads(raw))


async def test_error_bodies(proxy: RunningProxy, fake_upstream: FakeOpenAIServer) -> None:
    """OpenAI error bodies on OpenAI routes, Anthropic's on /v1/messages."""
    status, raw = await post(f"{proxy.base_url}/chat/completions", {"messages": []})
    assert status == 400
    check_openai_error(json.loads(raw))
    status, raw = await post(f"{proxy.base_url}/responses", {"input": "x"})
    assert status == 400
    check_openai_error(json.loads(raw))
    status, raw = await post(f"{proxy.base_url}/messages", {"max_tokens": 1})
    assert status == 400
    ErrorResponse.model_validate(json.loads(raw), strict=True)
    error = {"message": "slow down", "type": "rate_limit_error", "param": None, "code": None}
    fake_upstream.script(JsonReply({"error": error}, status=429))
    status, raw = await post(
        f"{proxy.base_url}/messages", {"model": "gpt-fake", "max_tokens": 1, "messages": []}
    )
    assert status == 429
    decoded = ErrorResponse.model_validate(json.loads(raw), strict=True)
    assert decoded.error.type == "rate_limit_error"
    assert decoded.error.message == "slow down"


async def test_enforced_and_translated_messages(
    proxy: RunningProxy, fake_upstream: FakeOpenAIServer
) -> None:
    """/v1/messages to an OpenAI upstream: the translated and the enforced message, and events."""
    body = {
        "model": "gpt-fake",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "q"}],
    }
    status, raw = await post(f"{proxy.base_url}/messages", body)
    assert status == 200
    check_message(json.loads(raw))
    status, raw = await post(f"{proxy.base_url}/messages", {**body, "stream": True})
    assert status == 200
    for event in sse_data(raw):
        ANTHROPIC_EVENTS.validate_python(event, strict=True)
    for stream in (False, True):
        fake_upstream.script(JsonReply(chat_completion(WITH_CONTRADICTION)))
        assured = {**body, "stream": stream, "assurance": {"evidence": EVIDENCE}}
        status, raw = await post(f"{proxy.base_url}/messages", assured, ASSURED)
        assert status == 200
        if stream:
            for event in sse_data(raw):
                ANTHROPIC_EVENTS.validate_python(event, strict=True)
        else:
            check_message(json.loads(raw))


def test_translated_chat_completion_from_anthropic_has_refusal() -> None:
    """Anthropic -> chat.completion (the `kind = "anthropic"` upstream) carries `refusal: null`."""
    message = Message.model_validate(
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-x",
            "content": [
                {"type": "text", "text": "hi"},
                {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}},
            ],
            "stop_reason": "tool_use",
            "stop_sequence": None,
            "usage": {"input_tokens": 1, "output_tokens": 2},
        }
    )
    completion = completion_from_message(message, created=1)
    assert completion["choices"][0]["message"]["refusal"] is None
    check_completion(completion)


def test_anthropic_stream_chunks_validate() -> None:
    """Every chunk the Anthropic -> OpenAI stream translator emits is a valid chunk."""
    translator = ChunkTranslator(created=1, include_usage=True)
    usage = AnthropicUsage(input_tokens=1, output_tokens=0)
    start = {
        "type": "message_start",
        "message": {
            "id": "m",
            "type": "message",
            "role": "assistant",
            "model": "c",
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage.model_dump(),
        },
    }
    raw_events = [
        start,
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "a"}},
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": 1},
        },
        {"type": "message_stop"},
    ]
    chunks = []
    for event in raw_events:
        chunks += translator.feed(ANTHROPIC_EVENTS.validate_python(event))
    assert len(chunks) == 4
    for chunk in chunks:
        check_chunk(chunk)


def test_translated_responses_objects_validate() -> None:
    """Chat -> Responses: the `response` object and every streamed event."""
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    request = {"model": "gpt-fake", "input": "hi", "tools": []}
    check_response(
        response_from_completion(chat_completion("hi", tool_calls=[call]), request, created_at=1)
    )
    translator = StreamTranslator(request, created_at=1)
    events: list[dict[str, Any]] = []
    for chunk in stream_chunks(("a", "b"), tool_calls=[call], include_usage=True):
        events += translator.feed(chunk)
    events += translator.finish()
    for event in events:
        check_response_event(event)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    for event in events_for_response(response_object([message_item("x")])):
        check_response_event(event)


def test_translated_messages_objects_validate() -> None:
    """Chat -> Messages: the `message` object and every streamed event."""
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}
    message = message_from_completion(chat_completion("hi", tool_calls=[call]), "gpt-fake")
    check_message(message)
    for event in events_for_message(message):
        ANTHROPIC_EVENTS.validate_python(event, strict=True)
    translator = MessageStreamTranslator("gpt-fake")
    events: list[dict[str, Any]] = []
    for chunk in stream_chunks(("a", "b"), tool_calls=[call], include_usage=True):
        events += translator.feed(chunk)
    events += translator.finish()
    for event in events:
        ANTHROPIC_EVENTS.validate_python(event, strict=True)
