"""Tests for proxy.upstreams.anthropic.AnthropicUpstream against the fake Anthropic server."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from proxy.config import UpstreamConfig
from proxy.server.errors import (
    InvalidRequestError,
    UpstreamConnectError,
    UpstreamHTTPError,
    UpstreamTimeoutError,
)
from proxy.upstreams.anthropic import AnthropicUpstream
from proxy.upstreams.base import UpstreamStream
from tests.fakes.anthropic_server import FakeAnthropic, Reply, Text, ToolUse

KEY_ENV = "FAKE_ANTHROPIC_KEY"
KEY = "sk-ant-test-key"
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


@pytest.fixture
async def fake() -> AsyncIterator[FakeAnthropic]:
    async with FakeAnthropic.running() as server:
        yield server


def _config(base_url: str, **overrides: Any) -> UpstreamConfig:
    fields: dict[str, Any] = {
        "name": "claude",
        "kind": "anthropic",
        "base_url": base_url,
        "api_key_env": KEY_ENV,
        "models": ("claude-*", "claude-exact"),
        "connect_timeout_s": 2.0,
        "read_timeout_s": 2.0,
    }
    fields.update(overrides)
    return UpstreamConfig(**fields)


@pytest.fixture
async def upstream(fake: FakeAnthropic) -> AsyncIterator[AnthropicUpstream]:
    client = AnthropicUpstream(_config(fake.base_url), environ={KEY_ENV: KEY})
    yield client
    await client.aclose()


def _body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "claude-test",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "user", "content": "there"},
        ],
    }
    body.update(overrides)
    return body


async def _chat(upstream: AnthropicUpstream, body: dict[str, Any]) -> ChatCompletion:
    response = await upstream.chat(msgspec.json.encode(body), body, {})
    assert response.status == 200
    return ChatCompletion.model_validate_json(response.body)


async def _stream(upstream: AnthropicUpstream, body: dict[str, Any]) -> list[bytes]:
    stream = await upstream.chat_stream(msgspec.json.encode(body), body, {})
    assert stream.headers["content-type"] == "text/event-stream"
    return [chunk async for chunk in stream.chunks]


def _data(events: list[bytes]) -> list[dict[str, Any]]:
    """Decoded `data:` payloads, excluding the terminal [DONE]."""
    payloads = []
    for event in events:
        assert event.startswith(b"data: ")
        assert event.endswith(b"\n\n")
        if event != b"data: [DONE]\n\n":
            payloads.append(json.loads(event[len(b"data: ") :]))
    return payloads


async def test_chat_sends_translated_request_with_key(
    upstream: AnthropicUpstream, fake: FakeAnthropic
) -> None:
    """The fake receives system, merged user turns, sampling fields and the configured key."""
    await _chat(upstream, _body(temperature=0.3, max_tokens=50, stop=["##"]))
    received = fake.requests[0]
    assert received.path == "/v1/messages"
    assert received.headers["Authorization"] == f"Bearer {KEY}"
    assert received.body["system"] == [{"type": "text", "text": "Be brief."}]
    assert received.body["messages"] == [
        {
            "role": "user",
            "content": [{"type": "text", "text": "Hi"}, {"type": "text", "text": "there"}],
        }
    ]
    assert received.body["max_tokens"] == 50
    assert received.body["temperature"] == 0.3
    assert received.body["stop_sequences"] == ["##"]
    assert "stream" not in received.body


async def test_chat_answers_openai_completion_with_usage(
    upstream: AnthropicUpstream, fake: FakeAnthropic
) -> None:
    """A text reply becomes an OpenAI ChatCompletion with content, finish_reason and usage."""
    fake.replies.append(Reply(blocks=(Text("Bonjour."),), input_tokens=21, output_tokens=4))
    completion = await _chat(upstream, _body())
    assert completion.choices[0].message.content == "Bonjour."
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (21, 4)
    assert completion.usage.total_tokens == 25
    assert completion.model == "claude-test"


async def test_chat_tool_use_becomes_tool_calls(
    upstream: AnthropicUpstream, fake: FakeAnthropic
) -> None:
    """A tool_use reply becomes tool_calls with JSON arguments and finish_reason tool_calls."""
    fake.replies.append(
        Reply(blocks=(ToolUse("toolu_1", "weather", {"city": "Oslo"}),), stop_reason="tool_use")
    )
    completion = await _chat(upstream, _body(tools=[WEATHER_TOOL], tool_choice="auto"))
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls is not None
    call = choice.message.tool_calls[0]
    assert call.type == "function"
    assert call.id == "toolu_1"
    assert json.loads(call.function.arguments) == {"city": "Oslo"}
    sent_tools = fake.requests[0].body["tools"]
    assert sent_tools[0]["name"] == "weather"
    assert sent_tools[0]["input_schema"]["properties"] == {"city": {"type": "string"}}


async def test_tool_results_reach_anthropic_as_one_user_turn(
    upstream: AnthropicUpstream, fake: FakeAnthropic
) -> None:
    """Consecutive tool messages arrive at the provider as tool_result blocks of one user turn."""
    call = {
        "id": "toolu_1",
        "type": "function",
        "function": {"name": "weather", "arguments": '{"city": "Oslo"}'},
    }
    messages = [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "toolu_1", "content": "rain"},
    ]
    await _chat(upstream, _body(messages=messages, tools=[WEATHER_TOOL]))
    sent = fake.requests[0].body["messages"]
    assert sent[1]["content"][0] == {
        "type": "tool_use",
        "id": "toolu_1",
        "name": "weather",
        "input": {"city": "Oslo"},
    }
    assert sent[2] == {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "rain"}],
    }


async def test_max_tokens_stop_becomes_length(
    upstream: AnthropicUpstream, fake: FakeAnthropic
) -> None:
    """stop_reason max_tokens is reported as finish_reason length."""
    fake.replies.append(Reply(stop_reason="max_tokens"))
    completion = await _chat(upstream, _body())
    assert completion.choices[0].finish_reason == "length"


async def test_stream_text_arrives_as_openai_chunks_then_done(
    upstream: AnthropicUpstream, fake: FakeAnthropic
) -> None:
    """A streamed text reply becomes role, content and finish chunks, a usage chunk, then [DONE]."""
    fake.replies.append(
        Reply(blocks=(Text("Streaming works fine."),), input_tokens=8, output_tokens=5)
    )
    events = await _stream(upstream, _body(stream=True, stream_options={"include_usage": True}))
    assert events[-1] == b"data: [DONE]\n\n"
    chunks = [ChatCompletionChunk.model_validate(d) for d in _data(events)]
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Streaming works fine."
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 1
    finishes = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert finishes == ["stop"]
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (8, 5)
    assert fake.requests[0].body["stream"] is True


async def test_stream_without_include_usage_has_no_usage_chunk(
    upstream: AnthropicUpstream, fake: FakeAnthropic
) -> None:
    """Without stream_options.include_usage no chunk carries usage."""
    events = await _stream(upstream, _body(stream=True))
    assert all("usage" not in d for d in _data(events))


async def test_stream_tool_use_reassembles_with_openai_chunk_semantics(
    upstream: AnthropicUpstream, fake: FakeAnthropic
) -> None:
    """Streamed tool_use JSON deltas accumulate, by the openai SDK's rules, into whole calls."""
    fake.replies.append(
        Reply(
            blocks=(
                Text("Checking."),
                ToolUse("toolu_a", "weather", {"city": "Oslo", "days": [1, 2]}),
                ToolUse("toolu_b", "weather", {"city": "Lima"}),
            ),
            stop_reason="tool_use",
            piece=3,
        )
    )
    events = await _stream(upstream, _body(stream=True, tools=[WEATHER_TOOL]))
    state: ChatCompletionStreamState[None] = ChatCompletionStreamState()
    for data in _data(events):
        state.handle_chunk(ChatCompletionChunk.model_validate(data))
    final = state.get_final_completion()
    choice = final.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "Checking."
    assert choice.message.tool_calls is not None
    calls = [
        (c.id, c.function.name, json.loads(c.function.arguments)) for c in choice.message.tool_calls
    ]
    assert calls == [
        ("toolu_a", "weather", {"city": "Oslo", "days": [1, 2]}),
        ("toolu_b", "weather", {"city": "Lima"}),
    ]


@pytest.mark.parametrize(
    ("status", "anthropic_type", "openai_type"),
    [
        (400, "invalid_request_error", "invalid_request_error"),
        (401, "authentication_error", "authentication_error"),
        (429, "rate_limit_error", "rate_limit_error"),
        (500, "api_error", "server_error"),
        (529, "overloaded_error", "server_error"),
    ],
)
async def test_provider_errors_pass_through_status_and_message(
    upstream: AnthropicUpstream,
    fake: FakeAnthropic,
    status: int,
    anthropic_type: str,
    openai_type: str,
) -> None:
    """An Anthropic 4xx/5xx becomes UpstreamHTTPError with its status, message and mapped type."""
    fake.replies.append(
        Reply(status=status, error_type=anthropic_type, error_message="nope: detail")
    )
    with pytest.raises(UpstreamHTTPError) as caught:
        await upstream.chat(b"{}", _body(), {})
    assert caught.value.status == status
    assert caught.value.message == "nope: detail"
    assert caught.value.error_type == openai_type
    assert caught.value.code == anthropic_type
    assert len(fake.requests) == 1  # max_retries=0: no SDK retry


async def test_stream_refusal_raises_before_returning(
    upstream: AnthropicUpstream, fake: FakeAnthropic
) -> None:
    """A provider error on a streaming request raises from chat_stream itself."""
    fake.replies.append(Reply(status=400, error_type="invalid_request_error", error_message="bad"))
    with pytest.raises(UpstreamHTTPError) as caught:
        await upstream.chat_stream(b"{}", _body(stream=True), {})
    assert caught.value.status == 400


async def test_midstream_error_event_becomes_openai_error_chunk(
    upstream: AnthropicUpstream, fake: FakeAnthropic
) -> None:
    """An Anthropic `error` event mid-stream becomes an OpenAI error event with no [DONE]."""
    fake.replies.append(Reply(midstream_error="overloaded_error", error_message="Overloaded"))
    events = await _stream(upstream, _body(stream=True))
    assert b"data: [DONE]\n\n" not in events
    last = _data(events)[-1]
    assert last["error"]["message"] == "Overloaded"
    assert last["error"]["code"] == "overloaded_error"


async def test_truncated_stream_ends_with_error_event(
    upstream: AnthropicUpstream, fake: FakeAnthropic
) -> None:
    """A stream that ends before message_stop ends with an error event, not [DONE]."""
    fake.replies.append(Reply(truncate=True))
    events = await _stream(upstream, _body(stream=True))
    assert b"data: [DONE]\n\n" not in events
    assert "message_stop" in _data(events)[-1]["error"]["message"]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_unreachable_provider_is_connect_error() -> None:
    """A refused connection becomes UpstreamConnectError (502)."""
    client = AnthropicUpstream(
        _config(f"http://127.0.0.1:{_closed_port()}"), environ={KEY_ENV: KEY}
    )
    try:
        with pytest.raises(UpstreamConnectError) as caught:
            await client.chat(b"{}", _body(), {})
        assert caught.value.status == 502
    finally:
        await client.aclose()


async def test_slow_provider_is_timeout_error(fake: FakeAnthropic) -> None:
    """A provider slower than read_timeout_s is UpstreamTimeoutError (504), streaming or not."""
    client = AnthropicUpstream(_config(fake.base_url, read_timeout_s=0.2), environ={KEY_ENV: KEY})
    fake.replies += [Reply(delay_s=1.0), Reply(delay_s=1.0)]
    try:
        with pytest.raises(UpstreamTimeoutError) as caught:
            await client.chat(b"{}", _body(), {})
        assert caught.value.status == 504
        with pytest.raises(UpstreamTimeoutError):
            await client.chat_stream(b"{}", _body(stream=True), {})
    finally:
        await client.aclose()


async def test_closing_stream_cancels_upstream_request(
    upstream: AnthropicUpstream, fake: FakeAnthropic
) -> None:
    """Closing the stream after the first chunk hangs up on the provider mid-stream."""
    fake.replies.append(Reply(blocks=(Text("x" * 400),), piece=1, event_delay_s=0.01))
    stream: UpstreamStream = await upstream.chat_stream(b"{}", _body(stream=True), {})
    first = await anext(stream.chunks)
    assert b'"role":"assistant"' in first
    await stream.aclose()
    for _ in range(200):
        if fake.disconnects:
            break
        await asyncio.sleep(0.01)
    assert fake.disconnects == 1


async def test_without_configured_key_client_key_is_forwarded(fake: FakeAnthropic) -> None:
    """With no key in the environment, the client's x-api-key is sent as the provider credential."""
    client = AnthropicUpstream(_config(fake.base_url), environ={}, forward_client_auth=True)
    try:
        await client.chat(b"{}", _body(), {"X-Api-Key": "client-key"})
        assert fake.requests[0].headers["Authorization"] == "Bearer client-key"
    finally:
        await client.aclose()


async def test_client_key_is_not_forwarded_when_forwarding_is_off(fake: FakeAnthropic) -> None:
    """By default (forwarding off) with no key, no credential header reaches the provider."""
    client = AnthropicUpstream(_config(fake.base_url), environ={})
    try:
        await client.chat(b"{}", _body(), {"Authorization": "Bearer proxy-key"})
        headers = {k.lower() for k in fake.requests[0].headers}
        assert "authorization" not in headers
        assert "x-api-key" not in headers
    finally:
        await client.aclose()


async def test_openai_style_v1_base_url_is_accepted(fake: FakeAnthropic) -> None:
    """A base_url ending in /v1 still reaches /v1/messages."""
    client = AnthropicUpstream(_config(fake.base_url + "/v1/"), environ={KEY_ENV: KEY})
    try:
        await _chat(client, _body())
        assert fake.requests[0].path == "/v1/messages"
    finally:
        await client.aclose()


async def test_untranslatable_request_is_refused_before_sending(
    upstream: AnthropicUpstream, fake: FakeAnthropic
) -> None:
    """An image part is a 400 and nothing is sent to the provider."""
    image = {"type": "image_url", "image_url": {"url": "https://example.invalid/a.png"}}
    body = _body(messages=[{"role": "user", "content": [image]}])
    with pytest.raises(InvalidRequestError):
        await upstream.chat(b"{}", body, {})
    assert fake.requests == []


async def test_models_serving_and_embeddings(upstream: AnthropicUpstream) -> None:
    """Globs route, only literal names are listed, and embeddings are a 404."""
    assert upstream.serves("claude-anything")
    assert not upstream.serves("gpt-4o")
    assert [m["id"] for m in await upstream.list_models()] == ["claude-exact"]
    with pytest.raises(UpstreamHTTPError) as caught:
        await upstream.embeddings(b"{}", {})
    assert caught.value.status == 404
    assert "embeddings not supported by anthropic upstream" in caught.value.message
