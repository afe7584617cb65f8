"""Mode `off` through the official OpenAI SDK: answers, streams and tools pass through intact."""

from __future__ import annotations

import json
import time

import aiohttp
from openai import AsyncOpenAI, OpenAI
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolParam

from tests.fakes.openai_server import (
    FakeOpenAIServer,
    JsonReply,
    StreamReply,
    chat_completion,
    stream_chunks,
)
from tests.harness import RunningProxy, ThreadedStack

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Say hello"}]
WEATHER_TOOL: ChatCompletionToolParam = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
WEATHER_CALL = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
}


def _client(proxy: RunningProxy) -> AsyncOpenAI:
    return AsyncOpenAI(base_url=proxy.base_url, api_key="client-key", max_retries=0)


async def test_async_sdk_receives_the_upstream_completion(
    proxy: RunningProxy, fake_upstream: FakeOpenAIServer
) -> None:
    """A non-streaming completion reaches the async SDK with the upstream's content and usage."""
    fake_upstream.script(JsonReply(chat_completion("Bonjour")))
    async with _client(proxy) as client:
        completion = await client.chat.completions.create(model="gpt-fake", messages=MESSAGES)
    assert completion.choices[0].message.content == "Bonjour"
    assert completion.usage is not None
    assert completion.usage.total_tokens == 12


async def test_body_and_status_pass_through_byte_for_byte(
    proxy: RunningProxy, fake_upstream: FakeOpenAIServer
) -> None:
    """The client receives exactly the upstream's bytes, and the upstream exactly the client's."""
    upstream_body = b'{"id":"x",  "object":"chat.completion","choices":[],"extra":1.50}'
    fake_upstream.script(JsonReply(raw=upstream_body, status=201))
    client_body = b'{"model": "gpt-fake",\n "messages": [{"role":"user","content":"hi"}], "x": 1.0}'
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{proxy.base_url}/chat/completions", data=client_body) as resp,
    ):
        assert resp.status == 201
        assert await resp.read() == upstream_body
    assert fake_upstream.requests[-1].body == client_body


async def test_async_sdk_streams_content_in_order(proxy: RunningProxy) -> None:
    """A streamed completion arrives as chunks whose deltas join to the upstream's text."""
    async with _client(proxy) as client:
        stream = await client.chat.completions.create(
            model="gpt-fake", messages=MESSAGES, stream=True
        )
        pieces = [c.choices[0].delta.content or "" async for c in stream if c.choices]
    assert "".join(pieces) == "Hello from the fake."


async def test_include_usage_delivers_the_final_usage_chunk(
    proxy: RunningProxy, fake_upstream: FakeOpenAIServer
) -> None:
    """With stream_options.include_usage the last chunk carries usage and no choices."""
    async with _client(proxy) as client:
        stream = await client.chat.completions.create(
            model="gpt-fake",
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [c async for c in stream]
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 3
    assert fake_upstream.requests[-1].json()["stream_options"] == {"include_usage": True}


async def test_tool_calls_reach_the_sdk_non_streaming(
    proxy: RunningProxy, fake_upstream: FakeOpenAIServer
) -> None:
    """Tool definitions reach the upstream and its tool_calls reach the SDK as typed objects."""
    fake_upstream.script(JsonReply(chat_completion(None, tool_calls=[WEATHER_CALL])))
    async with _client(proxy) as client:
        completion = await client.chat.completions.create(
            model="gpt-fake", messages=MESSAGES, tools=[WEATHER_TOOL]
        )
    calls = completion.choices[0].message.tool_calls
    assert calls is not None
    assert calls[0].type == "function"
    assert calls[0].function.name == "get_weather"
    assert json.loads(calls[0].function.arguments) == {"city": "Paris"}
    assert fake_upstream.requests[-1].json()["tools"] == [WEATHER_TOOL]


async def test_tool_calls_reach_the_sdk_streaming(
    proxy: RunningProxy, fake_upstream: FakeOpenAIServer
) -> None:
    """Streamed tool-call deltas arrive intact with finish_reason tool_calls."""
    fake_upstream.script(StreamReply(stream_chunks((), tool_calls=[WEATHER_CALL])))
    async with _client(proxy) as client:
        stream = await client.chat.completions.create(
            model="gpt-fake", messages=MESSAGES, tools=[WEATHER_TOOL], stream=True
        )
        chunks = [c async for c in stream]
    deltas = [tc for c in chunks for tc in (c.choices[0].delta.tool_calls or [])]
    assert deltas[0].function is not None
    assert deltas[0].function.name == "get_weather"
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_sync_sdk_works_against_a_proxy_in_a_thread() -> None:
    """The synchronous SDK gets completions and streams from a proxy running in another thread."""
    with ThreadedStack() as stack:
        stack.fake.script(JsonReply(chat_completion("sync hello")))
        with OpenAI(base_url=stack.base_url, api_key="k", max_retries=0) as client:
            completion = client.chat.completions.create(model="gpt-fake", messages=MESSAGES)
            stream = client.chat.completions.create(
                model="gpt-fake", messages=MESSAGES, stream=True
            )
            text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert completion.choices[0].message.content == "sync hello"
    assert text == "Hello from the fake."


async def test_streamed_chunks_are_relayed_before_the_upstream_finishes(
    proxy: RunningProxy, fake_upstream: FakeOpenAIServer
) -> None:
    """The first chunk reaches the client while the upstream is still producing the rest."""
    fake_upstream.script(StreamReply(stream_chunks(("a", "b", "c")), delay_s=0.3))
    body = {"model": "gpt-fake", "messages": MESSAGES, "stream": True}
    started = time.perf_counter()
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{proxy.base_url}/chat/completions", json=body) as resp,
    ):
        first = await resp.content.readuntil(b"\n\n")
        first_at = time.perf_counter() - started
        rest = await resp.read()
        done_at = time.perf_counter() - started
    assert first.startswith(b"data: ")
    # five chunks 0.3 s apart: the first must not wait for the others
    assert first_at < 0.25
    assert done_at > 1.1
    assert rest.endswith(b"data: [DONE]\n\n")
    assert resp.headers["Content-Type"].startswith("text/event-stream")
