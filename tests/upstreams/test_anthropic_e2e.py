"""End to end: the OpenAI SDK talks to the proxy, which serves a `kind = "anthropic"` upstream.

The upstream is the fake Anthropic Messages server; the proxy runs in mode `off` on loopback via
`tests.harness.running_proxy`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest
from openai import AsyncOpenAI
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolParam

from proxy.config import config_from_mapping
from tests.fakes.anthropic_server import FakeAnthropic, Reply, Text, ToolUse
from tests.harness import RunningProxy, running_proxy

KEY_ENV = "E2E_ANTHROPIC_KEY"
KEY = "sk-ant-e2e"
MESSAGES: list[ChatCompletionMessageParam] = [
    {"role": "system", "content": "Answer in French."},
    {"role": "user", "content": "Say hello"},
]
WEATHER_TOOL: ChatCompletionToolParam = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


@pytest.fixture
async def fake() -> AsyncIterator[FakeAnthropic]:
    async with FakeAnthropic.running() as server:
        yield server


@pytest.fixture
async def proxy(
    fake: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[RunningProxy]:
    monkeypatch.setenv(KEY_ENV, KEY)
    raw: dict[str, Any] = {
        "server": {"host": "127.0.0.1", "port": 0, "shutdown_grace_s": 2.0},
        "upstreams": [
            {
                "name": "claude",
                "kind": "anthropic",
                "base_url": fake.base_url,
                "api_key_env": KEY_ENV,
                "models": ["claude-*", "claude-e2e"],
                "connect_timeout_s": 2.0,
                "read_timeout_s": 5.0,
            }
        ],
    }
    async with running_proxy(config_from_mapping(raw)) as running:
        yield running


@pytest.fixture
async def client(proxy: RunningProxy) -> AsyncIterator[AsyncOpenAI]:
    async with AsyncOpenAI(base_url=proxy.base_url, api_key="client-key", max_retries=0) as sdk:
        yield sdk


async def test_sdk_completion_is_served_by_anthropic(
    client: AsyncOpenAI, fake: FakeAnthropic
) -> None:
    """A plain completion comes back translated, and the provider saw system and the key."""
    fake.replies.append(Reply(blocks=(Text("Bonjour !"),), input_tokens=9, output_tokens=3))
    completion = await client.chat.completions.create(model="claude-e2e", messages=MESSAGES)
    assert completion.choices[0].message.content == "Bonjour !"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.total_tokens == 12
    sent = fake.requests[0]
    assert sent.body["system"] == [{"type": "text", "text": "Answer in French."}]
    assert sent.headers["Authorization"] == f"Bearer {KEY}"


async def test_sdk_stream_is_served_by_anthropic(client: AsyncOpenAI, fake: FakeAnthropic) -> None:
    """A streamed completion arrives chunk by chunk with a final usage chunk."""
    fake.replies.append(
        Reply(blocks=(Text("Bonjour tout le monde."),), input_tokens=5, output_tokens=6)
    )
    stream = await client.chat.completions.create(
        model="claude-e2e",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    pieces: list[str] = []
    usage_total = 0
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
        if chunk.usage is not None:
            usage_total = chunk.usage.total_tokens
    assert "".join(pieces) == "Bonjour tout le monde."
    assert len(pieces) > 1
    assert usage_total == 11


async def test_sdk_tool_call_round_trip(client: AsyncOpenAI, fake: FakeAnthropic) -> None:
    """A tool call comes back as tool_calls; the tool result goes out as a tool_result block."""
    fake.replies += [
        Reply(
            blocks=(ToolUse("toolu_7", "get_weather", {"city": "Paris"}),), stop_reason="tool_use"
        ),
        Reply(blocks=(Text("Il pleut."),)),
    ]
    first = await client.chat.completions.create(
        model="claude-e2e", messages=MESSAGES, tools=[WEATHER_TOOL]
    )
    assert first.choices[0].finish_reason == "tool_calls"
    calls = first.choices[0].message.tool_calls
    assert calls is not None
    call = calls[0]
    assert call.type == "function"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    follow_up: list[ChatCompletionMessageParam] = [
        *MESSAGES,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.function.name, "arguments": call.function.arguments},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call.id, "content": "rain"},
    ]
    second = await client.chat.completions.create(
        model="claude-e2e", messages=follow_up, tools=[WEATHER_TOOL]
    )
    assert second.choices[0].message.content == "Il pleut."
    last_turn = fake.requests[1].body["messages"][-1]
    assert last_turn == {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "toolu_7", "content": "rain"}],
    }


async def test_sdk_streamed_tool_call_reassembles(client: AsyncOpenAI, fake: FakeAnthropic) -> None:
    """Streamed tool-call fragments accumulate into the whole call with the SDK's stream state."""
    fake.replies.append(
        Reply(
            blocks=(ToolUse("toolu_8", "get_weather", {"city": "Rio de Janeiro"}),),
            stop_reason="tool_use",
            piece=2,
        )
    )
    stream = await client.chat.completions.create(
        model="claude-e2e", messages=MESSAGES, tools=[WEATHER_TOOL], stream=True
    )
    state: ChatCompletionStreamState[None] = ChatCompletionStreamState()
    async for chunk in stream:
        state.handle_chunk(chunk)
    choice = state.get_final_completion().choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls is not None
    assert json.loads(choice.message.tool_calls[0].function.arguments) == {"city": "Rio de Janeiro"}


async def test_provider_error_reaches_sdk_with_status_and_message(
    client: AsyncOpenAI, fake: FakeAnthropic
) -> None:
    """An Anthropic 529 overloaded error reaches the SDK with its status and message."""
    fake.replies.append(
        Reply(status=529, error_type="overloaded_error", error_message="Overloaded")
    )
    with pytest.raises(openai.APIStatusError) as caught:
        await client.chat.completions.create(model="claude-e2e", messages=MESSAGES)
    assert caught.value.status_code == 529
    assert "Overloaded" in caught.value.message


async def test_image_request_is_a_400_naming_the_part(
    client: AsyncOpenAI, fake: FakeAnthropic
) -> None:
    """An image part is refused with 400 naming the part, and nothing is sent upstream."""
    messages: list[ChatCompletionMessageParam] = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": "https://example.invalid/cat.png"}},
            ],
        }
    ]
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(model="claude-e2e", messages=messages)
    body = caught.value.body
    assert isinstance(body, dict)
    assert body.get("param") == "messages[0].content[1]"
    assert fake.requests == []


async def test_midstream_provider_error_raises_in_sdk(
    client: AsyncOpenAI, fake: FakeAnthropic
) -> None:
    """An Anthropic error event mid-stream surfaces as an APIError while iterating."""
    fake.replies.append(Reply(midstream_error="overloaded_error", error_message="Overloaded"))
    stream = await client.chat.completions.create(
        model="claude-e2e", messages=MESSAGES, stream=True
    )
    with pytest.raises(openai.APIError) as caught:
        async for _ in stream:
            pass
    assert "Overloaded" in caught.value.message


async def test_models_lists_literal_anthropic_models(client: AsyncOpenAI) -> None:
    """/v1/models lists the upstream's literal model names."""
    models = [model.id async for model in client.models.list()]
    assert "claude-e2e" in models
