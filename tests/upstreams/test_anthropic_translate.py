"""Tests for the pure OpenAI <-> Anthropic translation in proxy.upstreams.translate."""

from __future__ import annotations

import json
from typing import Any

import pytest
from anthropic.types import Message, RawMessageStreamEvent
from pydantic import TypeAdapter

from proxy.server.errors import InvalidRequestError
from proxy.upstreams.translate import (
    DEFAULT_MAX_TOKENS,
    ChunkTranslator,
    completion_from_message,
    to_anthropic_request,
)

_EVENTS: TypeAdapter[RawMessageStreamEvent] = TypeAdapter(RawMessageStreamEvent)


def _request(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "claude-test", "messages": [{"role": "user", "content": "Hi"}]}
    body.update(overrides)
    return body


def _message(**overrides: Any) -> Message:
    data: dict[str, Any] = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-test",
        "content": [{"type": "text", "text": "Hello"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 3},
    }
    data.update(overrides)
    return Message.model_validate(data)


def _feed_all(translator: ChunkTranslator, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    chunks: list[dict[str, Any]] = []
    for event in events:
        chunks += translator.feed(_EVENTS.validate_python(event))
    return chunks


def test_system_and_developer_messages_are_hoisted_into_system_blocks() -> None:
    """System and developer messages become Anthropic `system` text blocks, in order."""
    request = to_anthropic_request(
        _request(
            messages=[
                {"role": "system", "content": "Be brief."},
                {"role": "developer", "content": [{"type": "text", "text": "Cite sources."}]},
                {"role": "user", "content": "Hi"},
            ]
        )
    )
    assert request.params["system"] == [
        {"type": "text", "text": "Be brief."},
        {"type": "text", "text": "Cite sources."},
    ]
    assert request.params["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Hi"}]}
    ]


def test_consecutive_same_role_messages_are_merged_into_one_turn() -> None:
    """Two user messages in a row become one user turn with both text blocks."""
    request = to_anthropic_request(
        _request(messages=[{"role": "user", "content": "a"}, {"role": "user", "content": "b"}])
    )
    assert request.params["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}
    ]


def test_tool_round_trip_becomes_tool_use_and_merged_tool_results() -> None:
    """Assistant tool_calls become tool_use blocks; consecutive tool messages one user turn."""
    calls = [
        {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}},
        {"id": "call_2", "type": "function", "function": {"name": "g", "arguments": "{}"}},
    ]
    request = to_anthropic_request(
        _request(
            messages=[
                {"role": "user", "content": "go"},
                {"role": "assistant", "content": None, "tool_calls": calls},
                {"role": "tool", "tool_call_id": "call_1", "content": "one"},
                {"role": "tool", "tool_call_id": "call_2", "content": "two"},
                {"role": "user", "content": "thanks"},
            ]
        )
    )
    turns = list(request.params["messages"])
    assert turns[1] == {
        "role": "assistant",
        "content": [
            {"type": "tool_use", "id": "call_1", "name": "f", "input": {"x": 1}},
            {"type": "tool_use", "id": "call_2", "name": "g", "input": {}},
        ],
    }
    assert turns[2] == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "call_1", "content": "one"},
            {"type": "tool_result", "tool_use_id": "call_2", "content": "two"},
            {"type": "text", "text": "thanks"},
        ],
    }


def test_sampling_limits_and_stop_are_translated() -> None:
    """max_completion_tokens, stop, temperature and top_p reach their Anthropic names."""
    request = to_anthropic_request(
        _request(max_completion_tokens=77, stop="END", temperature=0.2, top_p=0.9, user="u1")
    )
    assert request.params["max_tokens"] == 77
    assert request.params["stop_sequences"] == ["END"]
    assert request.params["metadata"] == {"user_id": "u1"}
    assert request.extra_body == {"temperature": 0.2, "top_p": 0.9}


def test_max_tokens_defaults_when_absent() -> None:
    """Without max_tokens the Anthropic-required max_tokens gets the documented default."""
    assert to_anthropic_request(_request()).params["max_tokens"] == DEFAULT_MAX_TOKENS


def test_default_valued_untranslatable_parameters_are_accepted() -> None:
    """Unset-equivalent values (logprobs false, penalties 0, empty logit_bias, n 1) pass."""
    request = to_anthropic_request(
        _request(logprobs=False, presence_penalty=0, frequency_penalty=0.0, logit_bias={}, n=1)
    )
    assert request.params["model"] == "claude-test"


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
def test_non_positive_token_limit_is_refused(field: str) -> None:
    """A zero token limit is a 400 naming the field that carried it."""
    with pytest.raises(InvalidRequestError) as caught:
        to_anthropic_request(_request(**{field: 0}))
    assert caught.value.param == field


def test_function_tools_and_tool_choice_are_translated() -> None:
    """OpenAI function tools get input_schema; tool_choice "required" becomes "any"."""
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    tool = {
        "type": "function",
        "function": {"name": "weather", "description": "d", "parameters": schema},
    }
    request = to_anthropic_request(
        _request(tools=[tool], tool_choice="required", parallel_tool_calls=False)
    )
    assert request.params["tools"] == [
        {"name": "weather", "input_schema": schema, "description": "d"}
    ]
    assert request.params["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}


def test_named_tool_choice_becomes_tool_choice_tool() -> None:
    """A named function tool_choice becomes {"type": "tool", "name": ...}."""
    tool = {"type": "function", "function": {"name": "f"}}
    choice = {"type": "function", "function": {"name": "f"}}
    request = to_anthropic_request(_request(tools=[tool], tool_choice=choice))
    assert request.params["tool_choice"] == {
        "type": "tool",
        "name": "f",
        "disable_parallel_tool_use": False,
    }
    assert request.params["tools"] == [
        {"name": "f", "input_schema": {"type": "object", "properties": {}}}
    ]


def test_image_part_is_refused_naming_its_position() -> None:
    """An image_url content part is a 400 whose param names the part."""
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}}
    messages = [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b"},
        {"role": "user", "content": [{"type": "text", "text": "c"}, image]},
    ]
    with pytest.raises(InvalidRequestError) as caught:
        to_anthropic_request(_request(messages=messages))
    assert caught.value.param == "messages[2].content[1]"
    assert caught.value.status == 400


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("n", 2),
        ("logprobs", True),
        ("presence_penalty", 0.5),
        ("response_format", {"type": "json_object"}),
    ],
)
def test_untranslatable_parameters_are_refused(field: str, value: object) -> None:
    """Parameters Anthropic cannot honour are a 400 naming the parameter."""
    with pytest.raises(InvalidRequestError) as caught:
        to_anthropic_request(_request(**{field: value}))
    assert caught.value.param == field


def test_malformed_tool_call_arguments_are_refused() -> None:
    """Tool-call arguments that are not a JSON object are a 400 naming their path."""
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "not json"}}
    messages = [{"role": "user", "content": "x"}, {"role": "assistant", "tool_calls": [call]}]
    with pytest.raises(InvalidRequestError) as caught:
        to_anthropic_request(_request(messages=messages))
    assert caught.value.param == "messages[1].tool_calls[0].function.arguments"


@pytest.mark.parametrize(
    ("messages", "param"),
    [
        ([], "messages"),
        ([{"role": "system", "content": "only system"}], "messages"),
        ([{"role": "wizard", "content": "x"}], "messages[0].role"),
        ([{"role": "user", "content": ""}], "messages[0].content"),
        ([{"role": "tool", "content": "x"}], "messages[0].tool_call_id"),
    ],
)
def test_bad_messages_are_refused_with_their_path(messages: list[Any], param: str) -> None:
    """Empty, system-only, unknown-role, empty-content and id-less tool messages are 400s."""
    with pytest.raises(InvalidRequestError) as caught:
        to_anthropic_request(_request(messages=messages))
    assert caught.value.param == param


def test_text_message_becomes_chat_completion() -> None:
    """A text Message becomes a ChatCompletion with content, stop finish and usage."""
    completion = completion_from_message(_message(), created=123)
    assert completion["object"] == "chat.completion"
    assert completion["created"] == 123
    assert completion["model"] == "claude-test"
    assert completion["choices"][0]["message"] == {
        "role": "assistant",
        "content": "Hello",
        "refusal": None,
    }
    assert completion["choices"][0]["finish_reason"] == "stop"
    assert completion["usage"]["prompt_tokens"] == 12
    assert completion["usage"]["completion_tokens"] == 3
    assert completion["usage"]["total_tokens"] == 15


def test_tool_use_message_becomes_tool_calls_with_json_arguments() -> None:
    """tool_use blocks become tool_calls with JSON-string arguments and finish tool_calls."""
    content = [{"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": [1, 2]}}]
    completion = completion_from_message(
        _message(content=content, stop_reason="tool_use"), created=0
    )
    choice = completion["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    call = choice["message"]["tool_calls"][0]
    assert call["id"] == "toolu_1"
    assert json.loads(call["function"]["arguments"]) == {"a": [1, 2]}


@pytest.mark.parametrize(
    ("stop_reason", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("refusal", "content_filter"),
    ],
)
def test_stop_reasons_map_to_finish_reasons(stop_reason: str, finish: str) -> None:
    """Each Anthropic stop_reason maps to its OpenAI finish_reason."""
    completion = completion_from_message(_message(stop_reason=stop_reason), created=0)
    assert completion["choices"][0]["finish_reason"] == finish


def _start(input_tokens: int = 9) -> dict[str, Any]:
    message: dict[str, Any] = {
        "id": "msg_s",
        "type": "message",
        "role": "assistant",
        "model": "claude-test",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": 1},
    }
    return {"type": "message_start", "message": message}


def test_text_stream_becomes_role_content_finish_and_usage_chunks() -> None:
    """A text event stream yields a role chunk, text deltas, a finish chunk and a usage chunk."""
    translator = ChunkTranslator(created=5, include_usage=True)
    chunks = _feed_all(
        translator,
        [
            _start(),
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": "He"},
            },
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": "y"},
            },
            {"type": "content_block_stop", "index": 0},
            {
                "type": "message_delta",
                "delta": {"stop_reason": "max_tokens", "stop_sequence": None},
                "usage": {"output_tokens": 4},
            },
            {"type": "message_stop"},
        ],
    )
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert [c["choices"][0]["delta"].get("content") for c in chunks[1:3]] == ["He", "y"]
    assert chunks[3]["choices"][0]["finish_reason"] == "length"
    assert chunks[4]["choices"] == []
    assert chunks[4]["usage"]["prompt_tokens"] == 9
    assert chunks[4]["usage"]["completion_tokens"] == 4
    assert all(c["id"] == "msg_s" and c["object"] == "chat.completion.chunk" for c in chunks)
    assert translator.done


def test_tool_stream_gives_indexed_tool_call_chunks() -> None:
    """tool_use blocks become tool_call chunks (id and name first, then argument fragments)."""
    translator = ChunkTranslator(created=0, include_usage=False)
    tool = {"type": "tool_use", "id": "toolu_9", "name": "f", "input": {}}
    chunks = _feed_all(
        translator,
        [
            _start(),
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": "ok"},
            },
            {"type": "content_block_stop", "index": 0},
            {"type": "content_block_start", "index": 1, "content_block": tool},
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": ""},
            },
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": '{"a"'},
            },
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": ": 1}"},
            },
            {"type": "content_block_stop", "index": 1},
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                "usage": {"output_tokens": 4},
            },
            {"type": "message_stop"},
        ],
    )
    calls = [
        c["choices"][0]["delta"]["tool_calls"][0]
        for c in chunks
        if "tool_calls" in c["choices"][0]["delta"]
    ]
    assert calls[0] == {
        "index": 0,
        "id": "toolu_9",
        "type": "function",
        "function": {"name": "f", "arguments": ""},
    }
    assert "".join(c["function"]["arguments"] for c in calls) == '{"a": 1}'
    assert all(c["index"] == 0 for c in calls)
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_argumentless_tool_call_streams_empty_object() -> None:
    """A tool_use block with no JSON deltas still yields the arguments "{}" at its stop."""
    translator = ChunkTranslator(created=0, include_usage=False)
    tool = {"type": "tool_use", "id": "toolu_0", "name": "now", "input": {}}
    chunks = _feed_all(
        translator,
        [
            _start(),
            {"type": "content_block_start", "index": 0, "content_block": tool},
            {"type": "content_block_stop", "index": 0},
        ],
    )
    assert chunks[-1]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"] == "{}"


def test_stream_without_message_stop_is_not_done() -> None:
    """A translator that never saw message_stop reports the stream as unfinished."""
    translator = ChunkTranslator(created=0, include_usage=True)
    _feed_all(translator, [_start()])
    assert not translator.done
