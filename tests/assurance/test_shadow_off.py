"""Shadow attaches the card without changing the answer; off attaches nothing; headers match."""

from __future__ import annotations

import aiohttp
from openai import AsyncOpenAI

from proxy.assurance.headers import decode_card_header
from tests.assurance.clinical import EVIDENCE, MESSAGES, WITH_CONTRADICTION, assurance_of, headers
from tests.fakes.openai_server import FakeOpenAIServer, JsonReply, chat_completion
from tests.harness import RunningProxy


async def test_shadow_keeps_the_answer_and_attaches_the_card(
    client: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """A residue-worthy answer passes unchanged in shadow mode, with the residue card attached."""
    fake_upstream.script(JsonReply(chat_completion(WITH_CONTRADICTION)))
    completion = await client.chat.completions.create(
        model="gpt-fake",
        messages=MESSAGES,
        extra_headers=headers("shadow"),
        extra_body={"assurance": {"evidence": EVIDENCE}},
    )
    assert completion.choices[0].message.content == WITH_CONTRADICTION
    assurance = assurance_of(completion)
    assert assurance["card"]["verdict"]["kind"] == "residue"
    assert assurance["policy_decision"] == "downgrade"


async def test_shadow_body_is_the_provider_bytes_plus_assurance(
    proxy: RunningProxy, fake_upstream: FakeOpenAIServer
) -> None:
    """The shadow body is the upstream's exact bytes with one `assurance` member appended."""
    raw = b'{"id":"x","object":"chat.completion","created":1,"model":"m",  "choices":[{"index":0,'
    raw += b'"message":{"role":"assistant","content":"Apixaban is an oral anticoagulant."},'
    raw += b'"finish_reason":"stop"}],"extra":1.50}'
    fake_upstream.script(JsonReply(raw=raw))
    body = {"model": "m", "messages": MESSAGES, "assurance": {"evidence": EVIDENCE}}
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{proxy.base_url}/chat/completions", json=body, headers=headers("shadow")
        ) as response,
    ):
        received = await response.read()
    assert received.startswith(raw[:-1] + b',"assurance":{')


async def test_off_mode_attaches_nothing(
    client: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """Mode off: no card in the body or headers, and the assurance field is not forwarded."""
    fake_upstream.script(JsonReply(chat_completion(WITH_CONTRADICTION)))
    raw = await client.chat.completions.with_raw_response.create(
        model="gpt-fake",
        messages=MESSAGES,
        extra_headers={"X-Assurance-Mode": "off"},
        extra_body={"assurance": {"evidence": EVIDENCE}},
    )
    completion = raw.parse()
    assert "assurance" not in (completion.model_extra or {})
    assert not [name for name in raw.headers if name.lower().startswith("x-assurance")]
    assert "assurance" not in fake_upstream.requests[0].json()


async def test_card_headers_equal_the_body_card(
    client: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """X-Assurance-Card decodes to the body's card and the other headers repeat its fields."""
    fake_upstream.script(JsonReply(chat_completion(WITH_CONTRADICTION)))
    raw = await client.chat.completions.with_raw_response.create(
        model="gpt-fake",
        messages=MESSAGES,
        extra_headers=headers("enforce"),
        extra_body={"assurance": {"evidence": EVIDENCE}},
    )
    assurance = assurance_of(raw.parse())
    assert decode_card_header(raw.headers["X-Assurance-Card"]) == assurance["card"]
    assert raw.headers["X-Assurance-Verdict"] == assurance["card"]["verdict"]["kind"]
    assert raw.headers["X-Assurance-Policy"] == "enterprise_qa"
    assert raw.headers["X-Assurance-Policy-Decision"] == assurance["policy_decision"]
    assert raw.headers["X-Assurance-Replay-Handle"] == assurance["replay_handle"]
    assert raw.headers["X-Assurance-Card-Digest"].startswith("sha256:")
