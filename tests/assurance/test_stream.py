"""SSE helpers: the shadow tee forwards events live and rebuilds the answer; enforce replays it."""

from __future__ import annotations

import json
from typing import Any

from proxy.assurance.stream import DONE_EVENT, StreamTee, completion_chunks, split_content
from tests.fakes.openai_server import stream_chunks

CALL = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}


def _sse(chunks: list[dict[str, Any]]) -> bytes:
    return b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks) + DONE_EVENT


def _events(data: bytes) -> list[Any]:
    return [
        line[len(b"data: ") :].decode()
        for line in data.split(b"\n\n")
        if line.startswith(b"data: ")
    ]


def test_tee_forwards_every_event_but_done_whatever_the_framing() -> None:
    """Bytes split at arbitrary points are forwarded as whole events, and [DONE] is held back."""
    raw = _sse(stream_chunks(("Hel", "lo"), tool_calls=[CALL], include_usage=True))
    tee = StreamTee()
    forwarded = b"".join(tee.feed(raw[i : i + 7]) for i in range(0, len(raw), 7)) + tee.flush()
    assert forwarded == raw[: -len(DONE_EVENT)]
    assert tee.done
    completion = tee.completion()
    message = completion["choices"][0]["message"]
    assert message["content"] == "Hello"
    assert message["tool_calls"] == [CALL]
    assert completion["choices"][0]["finish_reason"] == "tool_calls"
    assert completion["usage"]["total_tokens"] == 7


def test_tee_joins_tool_call_arguments_across_deltas() -> None:
    """Arguments streamed in pieces for one tool-call index are concatenated."""
    tee = StreamTee()
    first = {
        "index": 0,
        "id": "c",
        "type": "function",
        "function": {"name": "f", "arguments": '{"a'},
    }
    second = {"index": 0, "function": {"arguments": '": 2}'}}
    chunks = [{"choices": [{"index": 0, "delta": {"tool_calls": [d]}}]} for d in (first, second)]
    tee.feed(_sse(chunks))
    call = tee.completion()["choices"][0]["message"]["tool_calls"][0]
    assert call["type"] == "function"
    assert call["function"] == {
        "name": "f",
        "arguments": '{"a": 2}',
    }


def test_enforce_chunks_rebuild_the_content_and_end_with_assurance() -> None:
    """The replayed stream's pieces join to the content; its last chunk carries `assurance`."""
    content = "word " * 40
    completion = {
        "id": "x",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "message": {"content": content}, "finish_reason": "stop"}],
        "usage": {"total_tokens": 3},
    }
    events = _events(b"".join(completion_chunks(completion, {"k": 1}, include_usage=True)))
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == content
    assert len(chunks) > 4
    assert chunks[-1]["assurance"] == {"k": 1}
    assert chunks[-1]["usage"] == {"total_tokens": 3}
    assert all("assurance" not in c for c in chunks[:-1])


def test_split_content_is_lossless() -> None:
    """Splitting never loses or reorders characters."""
    text = "a" * 130 + " b c " + "d" * 5
    assert "".join(split_content(text, 10)) == text
    assert split_content("") == []


def test_tee_keeps_a_resent_tool_call_name_once() -> None:
    """llama.cpp and vLLM resend `id` and `name` in every delta: kept once, arguments joined;
    a name streamed in differing fragments is still joined."""
    resent = {"index": 0, "id": "c", "type": "function", "function": {"name": "get_weather"}}
    deltas = [
        {**resent, "function": {"name": "get_weather", "arguments": '{"city": '}},
        {**resent, "function": {"name": "get_weather", "arguments": '"Paris"}'}},
        {"index": 1, "id": "d", "function": {"name": "get_"}},
        {"index": 1, "function": {"name": "time", "arguments": "{}"}},
    ]
    legacy = [{"name": "get_weather", "arguments": a} for a in ('{"city": ', '"Paris"}')]
    chunks = [{"choices": [{"index": 0, "delta": {"tool_calls": [d]}}]} for d in deltas]
    chunks += [{"choices": [{"index": 0, "delta": {"function_call": f}}]} for f in legacy]
    tee = StreamTee()
    tee.feed(_sse(chunks))
    message = tee.completion()["choices"][0]["message"]
    assert [c["id"] for c in message["tool_calls"]] == ["c", "d"]
    assert [c["function"] for c in message["tool_calls"]] == [
        {"name": "get_weather", "arguments": '{"city": "Paris"}'},
        {"name": "get_time", "arguments": "{}"},
    ]
    assert message["function_call"] == {"name": "get_weather", "arguments": '{"city": "Paris"}'}
