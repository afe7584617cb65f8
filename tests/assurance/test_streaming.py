"""Streaming in assurance modes: enforce buffers then replays; shadow streams live plus a card."""

from __future__ import annotations

from typing import Any

import openai
import pytest
from openai import AsyncOpenAI

from proxy.assurance.headers import decode_card_header
from tests.assurance.clinical import (
    CONTRADICTED_CLAIM,
    EVIDENCE,
    MESSAGES,
    SUPPORTED,
    WITH_CONTRADICTION,
    headers,
)
from tests.fakes.openai_server import (
    FakeOpenAIServer,
    JsonReply,
    StreamReply,
    chat_completion,
    stream_chunks,
)


async def test_enforce_stream_carries_the_card_in_headers_and_last_chunk(
    client: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """The upstream is asked once without streaming; the residue streams in several chunks."""
    fake_upstream.script(JsonReply(chat_completion(WITH_CONTRADICTION)))
    async with client.chat.completions.with_streaming_response.create(
        model="gpt-fake",
        messages=MESSAGES,
        stream=True,
        extra_headers=headers("enforce"),
        extra_body={"assurance": {"evidence": EVIDENCE}},
    ) as response:
        card = decode_card_header(response.headers["X-Assurance-Card"])
        chunks = [chunk async for chunk in await response.parse()]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "stream" not in fake_upstream.requests[0].json()
    assert CONTRADICTED_CLAIM not in text
    assert "Apixaban is an oral anticoagulant" in text
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 1
    last = (chunks[-1].model_extra or {}).get("assurance")
    assert isinstance(last, dict)
    assert last["card"] == card
    assert all("assurance" not in (c.model_extra or {}) for c in chunks[:-1])


async def test_shadow_stream_passes_tokens_then_one_card_chunk(
    client: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """Shadow relays the upstream chunks unchanged, then one `choices: []` chunk with the card."""
    pieces = (SUPPORTED[:20], SUPPORTED[20:])
    fake_upstream.script(StreamReply(stream_chunks(pieces, include_usage=True)))
    async with client.chat.completions.with_streaming_response.create(
        model="gpt-fake",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
        extra_headers=headers("shadow"),
        extra_body={"assurance": {"evidence": EVIDENCE}},
    ) as response:
        assert "X-Assurance-Card" not in response.headers
        assert response.headers["X-Assurance-Mode"] == "shadow"
        chunks = [chunk async for chunk in await response.parse()]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == SUPPORTED
    assert fake_upstream.requests[0].json()["stream"] is True
    trailer = chunks[-1]
    assert trailer.choices == []
    assurance = (trailer.model_extra or {})["assurance"]
    assert assurance["card"]["verdict"]["kind"] == "certified"
    assert chunks[-2].usage is not None


async def test_shadow_stream_cut_by_the_upstream_ends_with_an_error_and_no_card(
    client: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """An upstream that drops mid-stream yields an error for the SDK, never a card."""
    fake_upstream.script(StreamReply(stream_chunks(("a", "b", "c")), drop_after=2))
    received: list[Any] = []
    with pytest.raises(openai.APIError):
        async with client.chat.completions.with_streaming_response.create(
            model="gpt-fake", messages=MESSAGES, stream=True, extra_headers=headers("shadow")
        ) as response:
            received.extend([chunk async for chunk in await response.parse()])
    assert all("assurance" not in (chunk.model_extra or {}) for chunk in received)


async def test_upstream_error_status_passes_through_in_enforce(
    client: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """A 4xx from the provider reaches the client unchanged: there is no answer to certify."""
    error = {"error": {"message": "bad model", "type": "invalid_request_error", "code": "x"}}
    fake_upstream.script(JsonReply(error, status=404))
    with pytest.raises(openai.NotFoundError) as caught:
        await client.chat.completions.create(
            model="gpt-fake", messages=MESSAGES, stream=True, extra_headers=headers("enforce")
        )
    assert "bad model" in str(caught.value)
