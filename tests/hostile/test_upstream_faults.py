"""A misbehaving upstream (issue 10 items 8, 9 and the documented faults), read through the SDK.

Shadow streams must end with the trailing card chunk and `[DONE]` whatever the upstream sent:
ill-typed chunks (item 8) abstain naming the fault; an upstream whose last event lacks its blank
line, or whose body is not SSE at all, gets the trailer framed as its own event (item 9). The other
faults map to the documented statuses (502 unreachable/dropped, 504 timeout, the upstream's own
4xx/5xx) with OpenAI's error shape, and no traceback is logged.
"""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from openai import AsyncOpenAI

from tests.fakes.openai_server import (
    DropReply,
    FakeOpenAIServer,
    JsonReply,
    RawStreamReply,
    StreamReply,
    chat_completion,
    sse,
    stream_chunks,
)
from tests.harness import LogCapture, RunningProxy
from tests.hostile.conftest import BODY, no_traceback

EVIDENCE = [{"id": "e1", "text": "Hello from the fake."}]


def _chunk(delta: Any = None, **fields: Any) -> dict[str, Any]:
    choice: dict[str, Any] = {"index": 0, "delta": delta or {}, "finish_reason": None}
    return {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "gpt-fake",
            "choices": [choice], **fields}  # fmt: skip


def _finish() -> dict[str, Any]:
    chunk = _chunk()
    chunk["choices"][0]["finish_reason"] = "stop"
    return chunk


MALFORMED: dict[str, Any] = {
    "tool_call_index_null": _chunk({"tool_calls": [{"index": None, "function": {"name": "f"}}]}),
    "function_not_object": _chunk({"tool_calls": [{"index": 0, "function": "oops"}]}),
    "delta_not_object": _chunk("oops"),
    "choices_not_array": {**_chunk(), "choices": 5},
    "content_not_string": _chunk({"content": 7}),
    "chunk_not_object": [1, 2],
    "data_not_json": "{not json",
}


async def _shadow(client: AsyncOpenAI) -> list[Any]:
    stream = await client.chat.completions.create(
        model="gpt-fake",
        messages=BODY["messages"],
        stream=True,
        extra_headers={"X-Assurance-Mode": "shadow"},
        extra_body={"assurance": {"evidence": EVIDENCE}},
    )
    return [chunk async for chunk in stream]


def _card(chunks: list[Any]) -> dict[str, Any]:
    last = chunks[-1]
    assert last.choices == []
    assurance = (last.model_extra or {}).get("assurance")
    assert isinstance(assurance, dict), last
    assert "card" in assurance, assurance
    card: dict[str, Any] = assurance["card"]
    return card


@pytest.mark.parametrize("fault", sorted(MALFORMED))
async def test_malformed_chunk_ends_with_an_abstain_card(
    proxy: RunningProxy, fake_upstream: FakeOpenAIServer, logs: LogCapture, fault: str
) -> None:
    """Item 8: the tee raised after the headers left and a second HTTP response was written."""
    bad = MALFORMED[fault]
    parts = sse(_chunk({"role": "assistant", "content": "Hello"}), bad, _finish(), "[DONE]")
    fake_upstream.script(RawStreamReply(parts))
    # the SDK reads the bad chunk as the upstream sent it; some shapes make it raise mid-stream,
    # so the wire is read raw as well to check the framing end to end
    async with AsyncOpenAI(base_url=proxy.base_url, api_key="k", max_retries=0) as client:
        response = await client.chat.completions.with_raw_response.create(
            model="gpt-fake",
            messages=BODY["messages"],
            stream=True,
            extra_headers={"X-Assurance-Mode": "shadow"},
            extra_body={"assurance": {"evidence": EVIDENCE}},
        )
        raw = await response.http_response.aread()
    events = [e for e in raw.split(b"\n\n") if e.strip()]
    assert b"HTTP/1.1" not in raw
    assert events[-1] == b"data: [DONE]"
    trailer = json.loads(events[-2].removeprefix(b"data: "))
    verdict = trailer["assurance"]["card"]["verdict"]
    assert verdict["kind"] == "abstain"
    assert any("malformed stream" in reason for reason in verdict["reasons"])
    no_traceback(logs)


async def test_well_typed_stream_has_no_fault(
    proxy: RunningProxy, fake_upstream: FakeOpenAIServer
) -> None:
    """The checks do not fire on a normal stream (tool calls included)."""
    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    fake_upstream.script(
        StreamReply(stream_chunks(("Hello", " from the fake."), tool_calls=[call]))
    )
    async with AsyncOpenAI(base_url=proxy.base_url, api_key="k", max_retries=0) as client:
        card = _card(await _shadow(client))
    assert not any("malformed" in r for r in card["verdict"].get("reasons", []))


@pytest.mark.parametrize(
    "ending",
    [
        pytest.param(b'data: {"id": "c", "choices": []}', id="last-event-unterminated"),
        pytest.param(b'data: {"id": "c", "choices": []}\n', id="last-event-one-newline"),
        pytest.param(b'data: {"id": "c", "choices": []}\r\n', id="crlf-one-line-end"),
        pytest.param(b'data: {"id": "c", "cho', id="cut-inside-an-event"),
        pytest.param(b'{"error": "not sse at all"}', id="not-sse"),
    ],
)
async def test_trailer_is_its_own_event_whatever_the_framing(
    proxy: RunningProxy, fake_upstream: FakeOpenAIServer, ending: bytes
) -> None:
    """Item 9: the trailer was glued to an unterminated upstream line (`..."messdata: {...`)."""
    first = sse(_chunk({"role": "assistant", "content": "Hello"}), _finish())
    fake_upstream.script(RawStreamReply([*first, ending]))
    async with AsyncOpenAI(base_url=proxy.base_url, api_key="k", max_retries=0) as client:
        chunks = await _shadow(client)
    card = _card(chunks)
    assert card["verdict"]["kind"] == "abstain"  # no [DONE]: the answer is incomplete
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello"


async def test_non_sse_body_only_gets_a_trailer(
    proxy: RunningProxy, fake_upstream: FakeOpenAIServer
) -> None:
    """A 200 upstream answering JSON to a stream request: relayed, then the card as an event."""
    fake_upstream.script(RawStreamReply([json.dumps(chat_completion()).encode()]))
    async with AsyncOpenAI(base_url=proxy.base_url, api_key="k", max_retries=0) as client:
        chunks = await _shadow(client)
    assert _card(chunks)["verdict"]["kind"] == "abstain"


async def test_stream_dropped_midway_ends_with_an_error_event(
    proxy: RunningProxy, fake_upstream: FakeOpenAIServer, logs: LogCapture
) -> None:
    """A connection the upstream drops mid-stream: the SDK raises the proxy's error event."""
    fake_upstream.script(
        RawStreamReply([sse(_chunk({"content": "Hel"}))[0], b'data: {"id'], drop=True)
    )
    async with AsyncOpenAI(base_url=proxy.base_url, api_key="k", max_retries=0) as client:
        with pytest.raises(openai.APIError) as raised:
            await _shadow(client)
    assert "upstream" in str(raised.value).lower()
    no_traceback(logs)


_FAULTS: list[tuple[str, Any, int | None]] = [
    ("dropped", DropReply(), 502),
    ("upstream-503", JsonReply({"error": {"message": "down", "type": "x"}}, status=503), 503),
    ("not-json-200", JsonReply(raw=b"<html>oops</html>", content_type="text/html"), None),
]
# one slow upstream (the fake's read timeout is 5 s) is enough: every mode shares the client
_CASES = [
    *(
        (mode, reply, status)
        for mode in ("off", "shadow", "enforce")
        for _, reply, status in _FAULTS
    ),
    ("off", JsonReply(chat_completion(), delay_s=6.0), 504),
]
_IDS = [*(f"{m}-{n}" for m in ("off", "shadow", "enforce") for n, _, _ in _FAULTS), "off-timeout"]


@pytest.mark.parametrize("case", _CASES, ids=_IDS)
async def test_upstream_faults_map_as_documented(
    proxy: RunningProxy,
    fake_upstream: FakeOpenAIServer,
    logs: LogCapture,
    case: tuple[str, Any, int | None],
) -> None:
    """Unreachable, slow, failing and garbled upstreams: documented statuses, OpenAI's shape."""
    mode, reply, status = case
    fake_upstream.script(reply)
    async with AsyncOpenAI(base_url=proxy.base_url, api_key="k", max_retries=0) as client:
        try:
            completion = await client.chat.completions.create(
                model="gpt-fake",
                messages=BODY["messages"],
                extra_headers={"X-Assurance-Mode": mode},
            )
        except openai.APIStatusError as exc:
            got = exc.status_code
        else:
            got = 200
            assert mode != "enforce" or completion.choices
    if status is None:
        # mode off relays the body; enforce fails closed with a 502 naming the upstream answer
        assert got in ({200} if mode == "off" else {200, 502})
    else:
        assert got == status
    no_traceback(logs)
