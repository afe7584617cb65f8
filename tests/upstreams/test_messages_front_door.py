"""`POST /v1/messages` in mode off through the official anthropic SDK: native relay and translation.

To an Anthropic upstream (the fake Messages API) the bytes pass untouched both ways, streams
included; to an OpenAI-compatible upstream (the fake OpenAI server) requests and answers are
translated. Errors on this route are Anthropic-shaped.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anthropic
import pytest
from anthropic import AsyncAnthropic

from tests.fakes.anthropic_server import FakeAnthropic, Reply, Text, ToolUse
from tests.fakes.openai_server import (
    FakeOpenAIServer,
    JsonReply,
    StreamReply,
    chat_completion,
    stream_chunks,
)
from tests.harness import RunningProxy, proxy_config, running_proxy

MESSAGES: list[anthropic.types.MessageParam] = [{"role": "user", "content": "hi"}]


@pytest.fixture
async def fake() -> AsyncIterator[FakeAnthropic]:
    async with FakeAnthropic.running() as server:
        yield server


@pytest.fixture
async def native(fake: FakeAnthropic) -> AsyncIterator[RunningProxy]:
    config = proxy_config(
        fake.base_url,
        extra={
            "upstreams": [
                {"name": "claude", "kind": "anthropic", "base_url": f"{fake.base_url}/v1"}
            ]
        },
    )
    async with running_proxy(config) as proxy:
        yield proxy


async def _post_both(
    native: RunningProxy, fake: FakeAnthropic, body: dict[str, Any], headers: dict[str, str]
) -> tuple[bytes, bytes]:
    """The same request through the proxy, then directly to the fake."""
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{native.root_url}/v1/messages", json=body, headers=headers) as r:
            through = await r.read()
        async with session.post(f"{fake.base_url}/v1/messages", json=body, headers=headers) as r:
            direct = await r.read()
    return through, direct


async def test_native_json_is_byte_for_byte(native: RunningProxy, fake: FakeAnthropic) -> None:
    """The upstream's JSON reaches the client unchanged, and the SDK parses it."""
    body = {"model": "claude-x", "max_tokens": 20, "messages": MESSAGES}
    headers = {"x-api-key": "sk-ant-client", "anthropic-version": "2023-06-01"}
    through, direct = await _post_both(native, fake, body, headers)
    assert through == direct.replace(b"msg_fake2", b"msg_fake1")
    assert fake.requests[0].headers["x-api-key"] == "sk-ant-client"
    assert fake.requests[0].headers["anthropic-version"] == "2023-06-01"


async def test_native_stream_is_byte_for_byte(native: RunningProxy, fake: FakeAnthropic) -> None:
    """The SSE event stream is relayed as sent; the SDK reassembles the message."""
    fake.replies.append(Reply(blocks=(Text("Hello there"), ToolUse("tu_1", "f", {"a": 1}))))
    client = AsyncAnthropic(base_url=native.root_url, api_key="k", max_retries=0)
    async with (
        client,
        client.messages.stream(model="claude-x", max_tokens=20, messages=MESSAGES) as stream,
    ):
        message = await stream.get_final_message()
    assert message.content[0].type == "text"
    assert message.content[0].text == "Hello there"
    assert message.content[1].type == "tool_use"
    assert message.content[1].input == {"a": 1}
    body = {"model": "claude-x", "max_tokens": 20, "messages": MESSAGES, "stream": True}
    through, direct = await _post_both(native, fake, body, {})
    assert through == direct.replace(b"msg_fake3", b"msg_fake2")


async def test_count_tokens_passes_through(native: RunningProxy, fake: FakeAnthropic) -> None:
    """count_tokens reaches the Anthropic upstream."""
    async with AsyncAnthropic(base_url=native.root_url, api_key="k", max_retries=0) as client:
        counted = await client.messages.count_tokens(model="claude-x", messages=MESSAGES)
    assert counted.input_tokens == 3
    assert fake.requests[-1].path == "/v1/messages/count_tokens"


async def test_errors_are_anthropic_shaped(native: RunningProxy, fake: FakeAnthropic) -> None:
    """A bad body and an upstream error both reach the SDK as Anthropic errors."""
    url = f"{native.root_url}/v1/messages"
    async with aiohttp.ClientSession() as session, session.post(url, json={"max_tokens": 1}) as r:
        assert r.status == 400
        payload = await r.json()
    assert payload["type"] == "error"
    assert payload["error"]["type"] == "invalid_request_error"
    assert "model" in payload["error"]["message"]
    fake.replies.append(Reply(status=529, error_type="overloaded_error", error_message="busy"))
    async with AsyncAnthropic(base_url=native.root_url, api_key="k", max_retries=0) as client:
        with pytest.raises(anthropic.APIStatusError) as caught:
            await client.messages.create(model="claude-x", max_tokens=5, messages=MESSAGES)
    assert caught.value.status_code == 529
    assert "busy" in caught.value.message


@pytest.fixture
async def translated() -> AsyncIterator[tuple[AsyncAnthropic, FakeOpenAIServer]]:
    async with (
        FakeOpenAIServer() as upstream,
        running_proxy(proxy_config(upstream.base_url)) as proxy,
        AsyncAnthropic(base_url=proxy.root_url, api_key="k", max_retries=0) as client,
    ):
        yield client, upstream


async def test_translated_message_and_tool_use(
    translated: tuple[AsyncAnthropic, FakeOpenAIServer],
) -> None:
    """To an OpenAI upstream: system, tools and tool results translated; tool calls come back."""
    client, upstream = translated
    call = {
        "id": "call_7",
        "type": "function",
        "function": {"name": "lookup", "arguments": '{"q": "x"}'},
    }
    upstream.script(JsonReply(chat_completion("Let me look.", tool_calls=[call])))
    message = await client.messages.create(
        model="gpt-fake",
        max_tokens=50,
        system="Be brief.",
        tools=[{"name": "lookup", "input_schema": {"type": "object"}}],
        messages=[
            {"role": "user", "content": "find x"},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "t0", "name": "lookup", "input": {}}],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "t0", "content": "none"}],
            },
        ],
    )
    sent = upstream.requests[-1].json()
    assert sent["messages"][0] == {"role": "system", "content": "Be brief."}
    assert sent["messages"][-1] == {"role": "tool", "tool_call_id": "t0", "content": "none"}
    assert sent["tools"][0]["function"]["name"] == "lookup"
    assert sent["max_tokens"] == 50
    assert message.stop_reason == "tool_use"
    assert message.content[0].type == "text"
    tool = message.content[1]
    assert tool.type == "tool_use"
    assert tool.id == "call_7"
    assert tool.input == {"q": "x"}


async def test_translated_stream(translated: tuple[AsyncAnthropic, FakeOpenAIServer]) -> None:
    """A chat stream becomes Anthropic's event sequence, live; the SDK reassembles it."""
    client, upstream = translated
    async with client.messages.stream(model="gpt-fake", max_tokens=20, messages=MESSAGES) as s:
        texts = [text async for text in s.text_stream]
        message = await s.get_final_message()
    assert texts == ["Hello", " from", " the fake."]
    assert message.content[0].type == "text"
    assert message.content[0].text == "Hello from the fake."
    assert message.stop_reason == "end_turn"
    assert upstream.requests[-1].json()["stream"] is True


async def test_count_tokens_on_openai_upstream_is_a_404(
    translated: tuple[AsyncAnthropic, FakeOpenAIServer],
) -> None:
    """No OpenAI-compatible equivalent: an Anthropic-shaped 404."""
    client, _ = translated
    with pytest.raises(anthropic.NotFoundError) as caught:
        await client.messages.count_tokens(model="gpt-fake", messages=MESSAGES)
    assert caught.value.body is not None


async def test_translated_stream_dropped_midway_is_an_error_event(
    translated: tuple[AsyncAnthropic, FakeOpenAIServer],
) -> None:
    """The OpenAI upstream cuts its stream: the anthropic SDK sees an error event, not a hang."""
    client, upstream = translated
    upstream.script(StreamReply(stream_chunks(("a", "b", "c")), drop_after=2))
    with pytest.raises(anthropic.APIStatusError):
        async with client.messages.stream(
            model="gpt-fake", max_tokens=20, messages=MESSAGES
        ) as stream:
            await stream.get_final_message()


async def test_message_batches_are_relayed_natively(
    native: RunningProxy, fake: FakeAnthropic
) -> None:
    """The rest of the Messages family (message batches) reaches the Anthropic upstream."""
    async with AsyncAnthropic(base_url=native.root_url, api_key="k", max_retries=0) as client:
        batch = await client.messages.batches.retrieve("msgbatch_1")
    assert batch.id == "msgbatch_1"
    assert batch.processing_status == "in_progress"
    assert fake.requests[-1].path == "/v1/messages/batches/msgbatch_1"
