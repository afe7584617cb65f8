"""`POST /v1/messages` in shadow and enforce through the official anthropic SDK over loopback.

Text blocks are certified, `tool_use` blocks gated; the card rides in a top-level `assurance` (the
SDK keeps unknown fields in `model_extra`), in the `X-Assurance-*` headers, and on `message_delta`
when streaming. Upstreams: the fake Anthropic API (native) and the fake OpenAI server (translated).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anthropic
import pytest
from anthropic import AsyncAnthropic

from proxy.assurance.lifecycle import setup_assurance
from tests.assurance.clinical import (
    DELETE_SCHEMA,
    EVIDENCE,
    LABEL,
    SUPPORTED,
    UNSUPPORTED,
    WITH_CONTRADICTION,
    headers,
)
from tests.assurance.conftest import DEFAULT_ORACLES
from tests.fakes.anthropic_server import FakeAnthropic, Reply, Text, ToolUse
from tests.fakes.openai_server import FakeOpenAIServer, JsonReply, chat_completion
from tests.harness import proxy_config, running_proxy

QUERY = "What creatinine clearance does standard apixaban dosing need?"
MESSAGES: list[Any] = [{"role": "user", "content": QUERY}]


def assurance_of(obj: Any) -> dict[str, Any]:
    value = (obj.model_extra or {}).get("assurance")
    assert isinstance(value, dict), f"expected an assurance object, got {value!r}"
    return value


@pytest.fixture
async def fake() -> AsyncIterator[FakeAnthropic]:
    async with FakeAnthropic.running() as server:
        yield server


@pytest.fixture
async def native(fake: FakeAnthropic, tmp_path: Path) -> AsyncIterator[AsyncAnthropic]:
    """The SDK -> the proxy (pipeline installed) -> the fake Anthropic upstream."""
    config = proxy_config(
        fake.base_url,
        extra={
            "upstreams": [{"name": "claude", "kind": "anthropic", "base_url": fake.base_url}],
            "oracles": DEFAULT_ORACLES,
            "store": {"path": str(tmp_path / "store.sqlite3")},
        },
    )
    async with (
        running_proxy(config, setup_assurance=setup_assurance) as proxy,
        AsyncAnthropic(base_url=proxy.root_url, api_key="k", max_retries=0) as client,
    ):
        yield client


async def test_enforce_downgrade_rebuilds_the_text(
    native: AsyncAnthropic, fake: FakeAnthropic
) -> None:
    """A contradicted claim is dropped; card in `assurance` and the headers."""
    fake.replies.append(Reply(blocks=(Text(WITH_CONTRADICTION),)))
    raw = await native.messages.with_raw_response.create(
        model="claude-x",
        max_tokens=100,
        messages=MESSAGES,
        extra_headers=headers("enforce"),
        extra_body={"assurance": {"evidence": EVIDENCE}},
    )
    message = await raw.parse()
    text = message.content[0].text if message.content[0].type == "text" else ""
    assert "15 mL/min" not in text
    assert "Apixaban is an oral anticoagulant" in text
    assert assurance_of(message)["policy_decision"] == "downgrade"
    assert raw.headers["X-Assurance-Policy-Decision"] == "downgrade"
    assert "assurance" not in fake.requests[-1].body


async def test_enforce_blocks_a_tool_use(native: AsyncAnthropic, fake: FakeAnthropic) -> None:
    """A tool_use outside the sandbox is removed; the allowed one stays."""
    fake.replies.append(
        Reply(
            blocks=(
                Text(SUPPORTED),
                ToolUse("tu_ok", "delete_file", {"path": "/sandbox/a"}),
                ToolUse("tu_bad", "delete_file", {"path": "/etc/passwd"}),
            ),
            stop_reason="tool_use",
        )
    )
    message = await native.messages.create(
        model="claude-x",
        max_tokens=100,
        messages=MESSAGES,
        extra_headers=headers("enforce"),
        extra_body={
            "assurance": {
                "evidence": EVIDENCE,
                "actions": {"schemas": [DELETE_SCHEMA], "state": {"counters": {"deletes": 0}}},
            }
        },
    )
    assert [b.id for b in message.content if b.type == "tool_use"] == ["tu_ok"]
    assert message.stop_reason == "tool_use"


async def test_enforce_reject_is_a_refusal(native: AsyncAnthropic, fake: FakeAnthropic) -> None:
    """Reject: one abstention text block, stop_reason refusal."""
    fake.replies.append(Reply(blocks=(Text(UNSUPPORTED),)))
    message = await native.messages.create(
        model="claude-x",
        max_tokens=100,
        messages=MESSAGES,
        extra_headers=headers("enforce", "clinical"),
        extra_body={"assurance": {"evidence": EVIDENCE}},
    )
    assert message.stop_reason == "refusal"
    assert len(message.content) == 1
    assert message.content[0].type == "text"
    assert "moon" not in message.content[0].text


async def test_tool_result_is_evidence(native: AsyncAnthropic, fake: FakeAnthropic) -> None:
    """A tool_result block grounds the answer."""
    fake.replies.append(Reply(blocks=(Text(SUPPORTED),)))
    message = await native.messages.create(
        model="claude-x",
        max_tokens=100,
        messages=[
            {"role": "user", "content": QUERY},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "t1", "name": "label", "input": {}}],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "t1", "content": LABEL}],
            },
        ],
        extra_headers=headers("enforce"),
    )
    assert assurance_of(message)["card"]["supported_mass"] == "1"


async def test_enforce_stream_emits_the_event_sequence(
    native: AsyncAnthropic, fake: FakeAnthropic
) -> None:
    """Enforce streaming: buffered, then message_start ... message_delta (+assurance) ... stop."""
    fake.replies.append(Reply(blocks=(Text(WITH_CONTRADICTION),)))
    stream = await native.messages.create(
        model="claude-x",
        max_tokens=100,
        messages=MESSAGES,
        stream=True,
        extra_headers=headers("enforce"),
        extra_body={"assurance": {"evidence": EVIDENCE}},
    )
    events = [event async for event in stream]
    assert fake.requests[-1].body.get("stream") is None
    types = [event.type for event in events]
    assert types[0] == "message_start"
    assert types[-2:] == ["message_delta", "message_stop"]
    text = "".join(
        e.delta.text
        for e in events
        if e.type == "content_block_delta" and e.delta.type == "text_delta"
    )
    assert "15 mL/min" not in text
    assert assurance_of(events[-2])["policy_decision"] == "downgrade"


async def test_shadow_stream_relays_and_cards_message_delta(
    native: AsyncAnthropic, fake: FakeAnthropic
) -> None:
    """Shadow streaming: the upstream's text unchanged, the card on message_delta."""
    fake.replies.append(Reply(blocks=(Text(UNSUPPORTED),)))
    async with native.messages.stream(
        model="claude-x",
        max_tokens=100,
        messages=MESSAGES,
        extra_headers=headers("shadow", "clinical"),
        extra_body={"assurance": {"evidence": EVIDENCE}},
    ) as stream:
        events = [event async for event in stream]
        message = await stream.get_final_message()
    assert message.content[0].type == "text"
    assert message.content[0].text == UNSUPPORTED
    delta = next(e for e in events if e.type == "message_delta")
    assert assurance_of(delta)["policy_decision"] == "reject"


async def test_translated_enforce_over_an_openai_upstream(tmp_path: Path) -> None:
    """Messages in enforce to an OpenAI-compatible upstream: translated, certified, rebuilt."""
    async with FakeOpenAIServer() as upstream:
        upstream.script(JsonReply(chat_completion(WITH_CONTRADICTION)))
        config = proxy_config(
            upstream.base_url,
            extra={"oracles": DEFAULT_ORACLES, "store": {"path": str(tmp_path / "s.sqlite3")}},
        )
        async with (
            running_proxy(config, setup_assurance=setup_assurance) as proxy,
            AsyncAnthropic(base_url=proxy.root_url, api_key="k", max_retries=0) as client,
        ):
            message = await client.messages.create(
                model="gpt-fake",
                max_tokens=100,
                messages=MESSAGES,
                extra_headers=headers("enforce"),
                extra_body={"assurance": {"evidence": EVIDENCE}},
            )
    assert json.loads(upstream.requests[-1].body)["messages"] == MESSAGES
    assert assurance_of(message)["policy_decision"] == "downgrade"
    assert message.content[0].type == "text"
    assert "15 mL/min" not in message.content[0].text


async def test_truncated_shadow_stream_gets_an_abstain_card(
    native: AsyncAnthropic, fake: FakeAnthropic
) -> None:
    """A stream cut before message_stop: relayed as is; the card names the truncation."""
    fake.replies.append(Reply(blocks=(Text(SUPPORTED),), truncate=True))
    stream = await native.messages.create(
        model="claude-x",
        max_tokens=100,
        messages=MESSAGES,
        stream=True,
        extra_headers=headers("shadow"),
        extra_body={"assurance": {"evidence": EVIDENCE}},
    )
    events = [event async for event in stream]
    delta = next(e for e in events if e.type == "message_delta")
    card = assurance_of(delta)["card"]
    assert card["verdict"]["kind"] == "abstain"
    assert "message_stop" not in [e.type for e in events]


async def test_malformed_messages_body_is_an_anthropic_400(native: AsyncAnthropic) -> None:
    """`messages` that is not an array, in enforce: a 400 naming it, nothing forwarded."""
    with pytest.raises(anthropic.BadRequestError) as caught:
        await native.messages.create(
            model="claude-x",
            max_tokens=5,
            messages=MESSAGES,
            extra_headers=headers("enforce"),
            extra_body={"messages": "nope"},
        )
    assert "messages" in caught.value.message


async def test_shadow_json_appends_assurance(native: AsyncAnthropic, fake: FakeAnthropic) -> None:
    """Shadow, non-streaming: the upstream's message unchanged, plus the card."""
    fake.replies.append(Reply(blocks=(Text(UNSUPPORTED),)))
    message = await native.messages.create(
        model="claude-x",
        max_tokens=100,
        messages=MESSAGES,
        extra_headers=headers("shadow", "clinical"),
        extra_body={"assurance": {"evidence": EVIDENCE}},
    )
    assert message.content[0].type == "text"
    assert message.content[0].text == UNSUPPORTED
    assert assurance_of(message)["policy_decision"] == "reject"
