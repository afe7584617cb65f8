"""Enforce mode end to end through the OpenAI SDK: certified, partial, residue, abstain."""

from __future__ import annotations

from pathlib import Path

from openai import AsyncOpenAI

from tests.assurance.clinical import (
    CONTRADICTED_CLAIM,
    DELETE_SCHEMA,
    EVIDENCE,
    MESSAGES,
    SUPPORTED,
    UNSUPPORTED,
    WITH_CONTRADICTION,
    ask_with_evidence,
    assurance_of,
    headers,
    tool_call,
)
from tests.assurance.conftest import assured_proxy
from tests.fakes.openai_server import FakeOpenAIServer, JsonReply, chat_completion
from tests.fakes.tei_server import FakeTEIServer


async def test_supported_answer_is_certified_and_emitted_unchanged(
    client: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """Every claim entailed by the evidence: verdict certified, policy accepts, answer untouched."""
    fake_upstream.script(JsonReply(chat_completion(SUPPORTED)))
    completion = await ask_with_evidence(client, EVIDENCE)
    assurance = assurance_of(completion)
    assert completion.choices[0].message.content == SUPPORTED
    assert assurance["card"]["verdict"]["kind"] == "certified"
    assert assurance["policy_decision"] == "accept"
    assert assurance["card"]["supported_mass"] == "1"
    assert assurance["certificate_digest"].startswith("sha256:")
    assert "assurance" not in fake_upstream.requests[0].json()


async def test_no_evidence_gives_a_partial_card_naming_grounding(
    client: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """Without evidence the grounding layer is unverified: verdict partial, answer emitted."""
    fake_upstream.script(JsonReply(chat_completion(SUPPORTED)))
    completion = await client.chat.completions.create(
        model="gpt-fake", messages=MESSAGES, extra_headers=headers("enforce", "creative")
    )
    card = assurance_of(completion)["card"]
    assert card["verdict"]["kind"] == "partial"
    assert any(layer.startswith("grounding") for layer in card["unverified_layers"])
    assert "evidence_supplied" not in card["scope_predicates_held"]
    assert completion.choices[0].message.content == SUPPORTED


async def test_contradicted_claim_is_dropped_into_a_residue_answer(
    client: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """One contradicted claim: verdict residue, the policy downgrades, the claim is not emitted."""
    fake_upstream.script(JsonReply(chat_completion(WITH_CONTRADICTION)))
    completion = await ask_with_evidence(client, EVIDENCE)
    assurance = assurance_of(completion)
    content = completion.choices[0].message.content or ""
    assert assurance["card"]["verdict"]["kind"] == "residue"
    assert assurance["policy_decision"] == "downgrade"
    assert "15 mL/min" not in content
    assert "Apixaban is an oral anticoagulant" in content
    assert any("contradicted" in d for d in assurance["card"]["dropped_claims"])
    assert CONTRADICTED_CLAIM[:30] in " ".join(assurance["card"]["dropped_claims"])


async def test_blocked_tool_call_is_removed_and_audited(
    client: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """A tool call outside the sandbox is removed from the answer and listed in the card."""
    calls = [tool_call("call_ok", "/sandbox/old.md"), tool_call("call_bad", "/etc/passwd")]
    fake_upstream.script(JsonReply(chat_completion(SUPPORTED, tool_calls=calls)))
    completion = await client.chat.completions.create(
        model="gpt-fake",
        messages=MESSAGES,
        extra_headers=headers("enforce"),
        extra_body={
            "assurance": {
                "evidence": EVIDENCE,
                "actions": {"schemas": [DELETE_SCHEMA], "state": {"counters": {"deletes": 0}}},
            }
        },
    )
    assurance = assurance_of(completion)
    kept = completion.choices[0].message.tool_calls or []
    assert [call.id for call in kept] == ["call_ok"]
    assert assurance["card"]["verdict"]["kind"] == "residue"
    assert any(
        "call_bad" in d and "path_in_sandbox" in d for d in assurance["card"]["dropped_claims"]
    )


async def test_policy_reject_gives_an_abstention_with_content_filter(
    client: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """An answer with an unsupported claim fails clinical: abstention, HTTP 200, content_filter."""
    fake_upstream.script(JsonReply(chat_completion(UNSUPPORTED)))
    completion = await ask_with_evidence(client, EVIDENCE, policy="clinical")
    assurance = assurance_of(completion)
    content = completion.choices[0].message.content or ""
    assert assurance["policy_decision"] == "reject"
    assert completion.choices[0].finish_reason == "content_filter"
    assert "moon" not in content
    assert assurance["policy_failures"]
    assert any(failure.split(":")[0] in content for failure in assurance["policy_failures"])


async def test_oracle_timeout_fails_closed_with_an_abstain_card(
    fake_upstream: FakeOpenAIServer, tmp_path: Path
) -> None:
    """An NLI service slower than its timeout yields an abstain card naming it, never a 500."""
    fake_upstream.script(JsonReply(chat_completion(SUPPORTED)))
    async with (
        FakeTEIServer(delay_s=2.0) as tei,
        assured_proxy(
            fake_upstream.base_url,
            tmp_path,
            oracles={"nli": {"kind": "tei", "url": tei.url, "timeout_s": 0.2}},
        ) as proxy,
        AsyncOpenAI(base_url=proxy.base_url, api_key="k", max_retries=0) as client,
    ):
        completion = await ask_with_evidence(client, EVIDENCE)
    assurance = assurance_of(completion)
    verdict = assurance["card"]["verdict"]
    assert verdict["kind"] == "abstain"
    assert any("nli" in reason for reason in verdict["reasons"])
    assert assurance["policy_decision"] == "reject"
    assert completion.choices[0].finish_reason == "content_filter"
    assert SUPPORTED not in (completion.choices[0].message.content or "")
