"""`POST /v1/responses` in shadow and enforce, through the official openai SDK over loopback.

The fake upstream answers `response` objects (JSON or its SSE events); the proxy certifies the
`output_text` of message items, gates `function_call` items, and emits the card in `assurance`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from openai import APIStatusError, AsyncOpenAI, BadRequestError

from proxy.assurance.lifecycle import setup_assurance
from proxy.assurance.slot import PIPELINE
from proxy.store.base import StoreError
from tests.assurance.clinical import (
    CONTRADICTED_CLAIM,
    DELETE_SCHEMA,
    EVIDENCE,
    LABEL,
    SUPPORTED,
    UNSUPPORTED,
    WITH_CONTRADICTION,
    headers,
)
from tests.assurance.conftest import DEFAULT_ORACLES, assured_proxy
from tests.fakes.anthropic_server import FakeAnthropic, Reply, Text
from tests.fakes.openai_routes import (
    EventsReply,
    function_call_item,
    message_item,
    response_events,
    response_object,
)
from tests.fakes.openai_server import (
    FakeOpenAIServer,
    JsonReply,
    StreamReply,
    chat_completion,
    stream_chunks,
)
from tests.harness import RunningProxy, proxy_config, running_proxy

QUERY = "What creatinine clearance does standard apixaban dosing need?"


def assurance_of(response: Any) -> dict[str, Any]:
    value = (response.model_extra or {}).get("assurance")
    assert isinstance(value, dict), f"expected an assurance object, got {value!r}"
    return value


def delete_call(call_id: str, path: str) -> dict[str, Any]:
    return function_call_item("delete_file", json.dumps({"path": path}), call_id, f"fc_{call_id}")


async def test_enforce_accepts_a_supported_answer(
    client: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """Supported text: accepted, output unchanged, card in `assurance` and the headers."""
    fake_upstream.script(JsonReply(response_object([message_item(SUPPORTED)])))
    raw = await client.responses.with_raw_response.create(
        model="gpt-fake",
        input=QUERY,
        extra_headers=headers("enforce"),
        extra_body={"assurance": {"evidence": EVIDENCE}},
    )
    response = raw.parse()
    assurance = assurance_of(response)
    assert response.output_text == SUPPORTED
    assert response.status == "completed"
    assert assurance["policy_decision"] == "accept"
    assert assurance["card"]["verdict"]["kind"] == "certified"
    assert raw.headers["X-Assurance-Policy-Decision"] == "accept"
    assert "assurance" not in fake_upstream.requests[-1].json()


async def test_enforce_downgrade_emits_the_residue(
    client: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """A contradicted claim is dropped from the message item's text."""
    fake_upstream.script(JsonReply(response_object([message_item(WITH_CONTRADICTION)])))
    response = await client.responses.create(
        model="gpt-fake",
        input=QUERY,
        extra_headers=headers("enforce"),
        extra_body={"assurance": {"evidence": EVIDENCE}},
    )
    assert assurance_of(response)["policy_decision"] == "downgrade"
    assert "15 mL/min" not in response.output_text
    assert "Apixaban is an oral anticoagulant" in response.output_text
    assert CONTRADICTED_CLAIM[:30] in " ".join(assurance_of(response)["card"]["dropped_claims"])


async def test_enforce_removes_a_blocked_function_call(
    client: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """A function_call outside the sandbox is removed; the allowed one stays."""
    output = [
        message_item(SUPPORTED),
        delete_call("call_ok", "/sandbox/a.md"),
        delete_call("call_bad", "/etc/passwd"),
    ]
    fake_upstream.script(JsonReply(response_object(output)))
    response = await client.responses.create(
        model="gpt-fake",
        input=QUERY,
        extra_headers=headers("enforce"),
        extra_body={
            "assurance": {
                "evidence": EVIDENCE,
                "actions": {"schemas": [DELETE_SCHEMA], "state": {"counters": {"deletes": 0}}},
            }
        },
    )
    calls = [item for item in response.output if item.type == "function_call"]
    assert [call.call_id for call in calls] == ["call_ok"]
    assert any("call_bad" in d for d in assurance_of(response)["card"]["dropped_claims"])


async def test_enforce_reject_is_an_incomplete_abstention(
    client: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """Reject: one abstention message, status incomplete, reason content_filter."""
    fake_upstream.script(JsonReply(response_object([message_item(UNSUPPORTED)])))
    response = await client.responses.create(
        model="gpt-fake",
        input=QUERY,
        extra_headers=headers("enforce", "clinical"),
        extra_body={"assurance": {"evidence": EVIDENCE}},
    )
    assert assurance_of(response)["policy_decision"] == "reject"
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "content_filter"
    assert "moon" not in response.output_text


async def test_function_call_output_is_evidence(
    client: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """A function_call_output input item grounds the answer like a tool message."""
    fake_upstream.script(JsonReply(response_object([message_item(SUPPORTED)])))
    response = await client.responses.create(
        model="gpt-fake",
        input=[
            {"role": "user", "content": QUERY},
            {"type": "function_call", "call_id": "c1", "name": "lookup", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": LABEL},
        ],
        extra_headers=headers("enforce"),
    )
    assurance = assurance_of(response)
    assert assurance["policy_decision"] == "accept"
    assert assurance["card"]["supported_mass"] == "1"


async def test_enforce_stream_is_the_standard_event_sequence(
    client: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """Enforce streaming: buffered, certified, then created ... delta ... completed (+assurance)."""
    fake_upstream.script(JsonReply(response_object([message_item(WITH_CONTRADICTION)])))
    stream = await client.responses.create(
        model="gpt-fake",
        input=QUERY,
        stream=True,
        extra_headers=headers("enforce"),
        extra_body={"assurance": {"evidence": EVIDENCE}},
    )
    events = [event async for event in stream]
    types = [event.type for event in events]
    assert types[0] == "response.created"
    assert "response.output_text.delta" in types
    assert types[-1] == "response.completed"
    assert fake_upstream.requests[-1].json().get("stream") is None
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert "15 mL/min" not in text
    final = events[-1]
    assert final.type == "response.completed"
    assert final.response.output_text == text
    assert assurance_of(final.response)["policy_decision"] == "downgrade"
    assert [e.sequence_number for e in events] == list(range(len(events)))


async def test_shadow_stream_relays_live_and_certifies_completed(
    client: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """Shadow: the upstream's events unchanged, `response.completed` carries `assurance`."""
    upstream_events = response_events(response_object([message_item(UNSUPPORTED)]))
    fake_upstream.script(EventsReply(upstream_events))
    stream = await client.responses.create(
        model="gpt-fake",
        input=QUERY,
        stream=True,
        extra_headers=headers("shadow", "clinical"),
        extra_body={"assurance": {"evidence": EVIDENCE}},
    )
    events = [event async for event in stream]
    assert [e.type for e in events] == [e["type"] for e in upstream_events]
    final = events[-1]
    assert final.type == "response.completed"
    assert final.response.output_text == UNSUPPORTED
    assert assurance_of(final.response)["policy_decision"] == "reject"


async def test_shadow_json_appends_assurance_to_the_provider_bytes(
    client: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """Shadow never changes the answer, even on reject."""
    fake_upstream.script(JsonReply(response_object([message_item(UNSUPPORTED)])))
    response = await client.responses.create(
        model="gpt-fake",
        input=QUERY,
        extra_headers=headers("shadow", "clinical"),
        extra_body={"assurance": {"evidence": EVIDENCE}},
    )
    assert response.output_text == UNSUPPORTED
    assert assurance_of(response)["policy_decision"] == "reject"


async def test_get_returns_the_certified_version(
    client: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """GET /v1/responses/{id} after enforce: the emitted (certified) copy, not the original."""
    original = response_object([message_item(WITH_CONTRADICTION)], response_id="resp_42")
    fake_upstream.stored_responses["resp_42"] = original
    fake_upstream.script(JsonReply(original))
    emitted = await client.responses.create(
        model="gpt-fake",
        input=QUERY,
        extra_headers=headers("enforce"),
        extra_body={"assurance": {"evidence": EVIDENCE}},
    )
    fetched = await client.responses.retrieve("resp_42")
    assert fetched.output_text == emitted.output_text
    assert "15 mL/min" not in fetched.output_text
    assert assurance_of(fetched)["policy_decision"] == "downgrade"
    # the provider still decides who may read it: once deleted there, it is gone here too
    await client.responses.delete("resp_42")
    with pytest.raises(Exception, match="404"):
        await client.responses.retrieve("resp_42")


async def _enforce(client: AsyncOpenAI) -> Any:
    return await client.responses.create(
        model="gpt-fake",
        input=QUERY,
        extra_headers=headers("enforce"),
        extra_body={"assurance": {"evidence": EVIDENCE}},
    )


def _stored_original(fake_upstream: FakeOpenAIServer, response_id: str) -> None:
    original = response_object([message_item(WITH_CONTRADICTION)], response_id=response_id)
    fake_upstream.stored_responses[response_id] = original
    fake_upstream.script(JsonReply(original))


async def test_the_certified_copy_outlives_a_restart(
    fake_upstream: FakeOpenAIServer, tmp_path: Path
) -> None:
    """The copy is in the store: a new proxy process on the same store still serves it."""
    _stored_original(fake_upstream, "resp_r")
    async with (
        assured_proxy(fake_upstream.base_url, tmp_path) as first,
        AsyncOpenAI(base_url=first.base_url, api_key="k", max_retries=0) as sdk,
    ):
        emitted = await _enforce(sdk)
    assert "15 mL/min" not in emitted.output_text
    async with (
        assured_proxy(fake_upstream.base_url, tmp_path) as second,
        AsyncOpenAI(base_url=second.base_url, api_key="k", max_retries=0) as sdk,
    ):
        fetched = await sdk.responses.retrieve("resp_r")
    assert fetched.output_text == emitted.output_text
    assert assurance_of(fetched)["policy_decision"] == "downgrade"


def _store_of(running: RunningProxy) -> Any:
    return running.app[PIPELINE].require().certifier.store


async def test_enforce_fails_closed_when_the_certified_copy_cannot_be_stored(
    client: AsyncOpenAI,
    fake_upstream: FakeOpenAIServer,
    proxy: RunningProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another replica would serve the provider's original, so nothing is emitted: a 503."""

    async def put_response(response_id: str, body: bytes, created_at: int) -> None:
        raise StoreError("Cannot write a certified response: disk full")

    monkeypatch.setattr(_store_of(proxy), "put_response", put_response)
    _stored_original(fake_upstream, "resp_f")
    with pytest.raises(APIStatusError) as caught:
        await _enforce(client)
    assert caught.value.status_code == 503
    body = caught.value.body
    assert isinstance(body, dict)
    assert (body["type"], body["code"]) == ("server_error", "store_unavailable")
    assert "nothing was emitted" in body["message"]
    assert "15 mL/min" not in caught.value.response.text
    # nothing was kept either: the id the client never received reads as uncertified upstream
    fetched = await client.responses.retrieve("resp_f")
    assert "15 mL/min" in fetched.output_text


async def test_get_fails_closed_when_the_store_cannot_be_read(
    fake_upstream: FakeOpenAIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No local copy and an unreadable store: a 503, not the provider's uncertified original."""
    _stored_original(fake_upstream, "resp_u")
    async with (
        assured_proxy(fake_upstream.base_url, tmp_path) as first,
        AsyncOpenAI(base_url=first.base_url, api_key="k", max_retries=0) as sdk,
    ):
        await _enforce(sdk)
    async with (
        assured_proxy(fake_upstream.base_url, tmp_path) as second,
        AsyncOpenAI(base_url=second.base_url, api_key="k", max_retries=0) as sdk,
    ):

        async def get_response(response_id: str) -> bytes | None:
            raise StoreError("Cannot read a certified response: database is locked")

        monkeypatch.setattr(_store_of(second), "get_response", get_response)
        with pytest.raises(APIStatusError) as caught:
            await sdk.responses.retrieve("resp_u")
    assert caught.value.status_code == 503
    assert "store_unavailable" in caught.value.response.text
    assert "15 mL/min" not in caught.value.response.text


@pytest.fixture
async def translating(
    fake_upstream: FakeOpenAIServer, tmp_path: Path
) -> AsyncIterator[AsyncOpenAI]:
    """The SDK against a proxy whose upstream serves only Chat Completions (`translate`)."""
    async with (
        assured_proxy(fake_upstream.base_url, tmp_path, upstream={"responses": "translate"}) as px,
        AsyncOpenAI(base_url=px.base_url, api_key="k", max_retries=0) as sdk,
    ):
        yield sdk


async def test_translated_enforce_certifies_the_chat_answer(
    translating: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """responses = "translate": the upstream gets a chat request, the client a `response`."""
    fake_upstream.script(JsonReply(chat_completion(WITH_CONTRADICTION)))
    response = await translating.responses.create(
        model="gpt-fake",
        instructions="Be brief.",
        input=QUERY,
        extra_headers=headers("enforce"),
        extra_body={"assurance": {"evidence": EVIDENCE}},
    )
    sent = fake_upstream.requests[-1]
    assert sent.path == "/v1/chat/completions"
    assert sent.json()["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": QUERY},
    ]
    assert assurance_of(response)["policy_decision"] == "downgrade"
    assert "15 mL/min" not in response.output_text


async def test_translated_stream_in_mode_off(
    translating: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """Mode off over translate: chat chunks become Responses events, live."""
    fake_upstream.script(StreamReply(stream_chunks(("Hel", "lo"), include_usage=True)))
    stream = await translating.responses.create(
        model="gpt-fake", input="hi", stream=True, extra_headers={"X-Assurance-Mode": "off"}
    )
    events = [event async for event in stream]
    assert events[0].type == "response.created"
    assert [e.delta for e in events if e.type == "response.output_text.delta"] == ["Hel", "lo"]
    final = events[-1]
    assert final.type == "response.completed"
    assert final.response.output_text == "Hello"
    assert final.response.usage is not None
    assert final.response.usage.output_tokens == 2
    assert fake_upstream.requests[-1].json()["stream"] is True


async def test_translated_function_calls_round_trip(
    translating: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """Chat tool calls come back as function_call items; tools are translated on the way."""
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "lookup", "arguments": '{"q": "x"}'},
    }
    fake_upstream.script(JsonReply(chat_completion(None, tool_calls=[call])))
    response = await translating.responses.create(
        model="gpt-fake",
        input="hi",
        tools=[{"type": "function", "name": "lookup", "parameters": {}, "strict": False}],
        extra_headers={"X-Assurance-Mode": "off"},
    )
    assert fake_upstream.requests[-1].json()["tools"] == [
        {"type": "function", "function": {"name": "lookup", "parameters": {}, "strict": False}}
    ]
    item = response.output[0]
    assert item.type == "function_call"
    assert item.call_id == "call_1"
    assert item.arguments == '{"q": "x"}'


async def test_malformed_input_is_a_400_naming_it(
    client: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """`input` that is neither a string nor an array, in enforce: 400, nothing forwarded."""
    with pytest.raises(BadRequestError) as caught:
        await client.responses.create(
            model="gpt-fake", input="x", extra_headers=headers("enforce"), extra_body={"input": 5}
        )
    assert caught.value.param == "input"
    assert fake_upstream.requests == []


async def test_responses_through_an_anthropic_upstream(tmp_path: Path) -> None:
    """An Anthropic upstream serves /v1/responses by translation (Responses -> Chat -> Messages)."""
    async with FakeAnthropic.running() as fake:
        fake.replies.append(Reply(blocks=(Text(WITH_CONTRADICTION),)))
        config = proxy_config(
            fake.base_url,
            extra={
                "upstreams": [{"name": "claude", "kind": "anthropic", "base_url": fake.base_url}],
                "oracles": DEFAULT_ORACLES,
                "store": {"path": str(tmp_path / "s.sqlite3")},
            },
        )
        async with (
            running_proxy(config, setup_assurance=setup_assurance) as proxy,
            AsyncOpenAI(base_url=proxy.base_url, api_key="k", max_retries=0) as sdk,
        ):
            response = await sdk.responses.create(
                model="claude-x",
                input=QUERY,
                max_output_tokens=64,
                extra_headers=headers("enforce"),
                extra_body={"assurance": {"evidence": EVIDENCE}},
            )
            plain = await sdk.responses.create(model="claude-x", input="hi")
    assert fake.requests[0].path == "/v1/messages"
    assert fake.requests[0].body["max_tokens"] == 64
    assert assurance_of(response)["policy_decision"] == "downgrade"
    assert "15 mL/min" not in response.output_text
    assert plain.output_text == "Hello from fake Claude."


async def test_previous_response_id_and_streamed_enforce_are_stored(
    client: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """`previous_response_id` reaches the provider; a streamed enforce answer is retrievable."""
    original = response_object([message_item(WITH_CONTRADICTION)], response_id="resp_s")
    fake_upstream.stored_responses["resp_s"] = original
    fake_upstream.script(JsonReply(original))
    stream = await client.responses.create(
        model="gpt-fake",
        input=QUERY,
        previous_response_id="resp_prev",
        stream=True,
        extra_headers=headers("enforce"),
        extra_body={"assurance": {"evidence": EVIDENCE}},
    )
    events = [event async for event in stream]
    assert fake_upstream.requests[-1].json()["previous_response_id"] == "resp_prev"
    final = events[-1]
    assert final.type == "response.completed"
    fetched = await client.responses.retrieve("resp_s")
    assert fetched.output_text == final.response.output_text
    assert "15 mL/min" not in fetched.output_text
