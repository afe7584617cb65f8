"""`assurance.claims` and inline `[id]` markers end to end through the OpenAI SDK (issue 14)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import openai
import pytest
from openai import AsyncOpenAI

from certifiers.bundle import decode_bundle
from certifiers.verification.citations import check_response
from proxy.cli import main
from tests.assurance.clinical import (
    CONTRADICTED_CLAIM,
    MESSAGES,
    SUPPORTED,
    UNSUPPORTED,
    WITH_CONTRADICTION,
    assurance_of,
    headers,
    stored_bundle,
)
from tests.assurance.conftest import assured_proxy
from tests.fakes.openai_server import (
    FakeOpenAIServer,
    JsonReply,
    StreamReply,
    chat_completion,
    stream_chunks,
)
from tests.harness import RunningProxy

# two chunks, each backing one sentence of SUPPORTED under per_chunk lexical NLI
EVIDENCE: list[dict[str, Any]] = [
    {"id": "fda-label", "text": "Apixaban is an oral anticoagulant.", "source": "fda"},
    {
        "id": "guideline",
        "text": "Standard dosing requires a creatinine clearance of at least 25 mL/min.",
    },
]
PER_CHUNK = {"nli": {"kind": "lexical", "aggregation": "per_chunk"}}


async def _bundle(proxy: RunningProxy, handle: str) -> bytes:
    return await stored_bundle(proxy.base_url, handle)


async def _create(client: AsyncOpenAI, mode: str, **body: Any) -> Any:
    return await client.chat.completions.create(
        model="gpt-fake",
        messages=MESSAGES,
        extra_headers=headers(mode),
        extra_body={"assurance": {"evidence": EVIDENCE, **body}},
    )


@pytest.fixture
async def per_chunk_proxy(
    fake_upstream: FakeOpenAIServer, tmp_path: Path
) -> AsyncIterator[RunningProxy]:
    """The proxy with per_chunk lexical NLI (one judgment per claim and chunk)."""
    async with assured_proxy(fake_upstream.base_url, tmp_path, oracles=PER_CHUNK) as running:
        yield running


@pytest.fixture
async def per_chunk_client(per_chunk_proxy: RunningProxy) -> AsyncIterator[AsyncOpenAI]:
    """The OpenAI SDK pointed at `per_chunk_proxy`."""
    async with AsyncOpenAI(base_url=per_chunk_proxy.base_url, api_key="k", max_retries=0) as sdk:
        yield sdk


async def test_every_emitted_sentence_names_the_evidence_behind_it(
    per_chunk_client: AsyncOpenAI, fake_upstream: FakeOpenAIServer, per_chunk_proxy: RunningProxy
) -> None:
    """Enforce, per_chunk: each claim cites its own chunk; the verifier re-derives the list."""
    fake_upstream.script(JsonReply(chat_completion(WITH_CONTRADICTION)))
    completion = await _create(per_chunk_client, "enforce")
    assurance = assurance_of(completion)
    claims = assurance["claims"]
    assert [c["status"] for c in claims] == ["supported", "supported", "contradicted"]
    assert [c["supporting"] for c in claims] == [["fda-label"], ["guideline"], []]
    assert claims[2]["contradicting"] == ["guideline"]
    assert [c["emitted"] for c in claims] == [True, True, False]
    assert claims[2]["text"] is None  # enforce never shows the text it dropped
    assert CONTRADICTED_CLAIM not in completion.model_dump_json()
    start, end = claims[0]["span"]
    assert WITH_CONTRADICTION[start:end].strip() == claims[0]["text"]
    assert assurance["citations"] == {"aggregation": "per_chunk", "inline": False}
    bundle = await _bundle(per_chunk_proxy, assurance["replay_handle"])
    assert check_response(bundle, completion.model_dump()).failures == ()


async def test_inline_citations_mark_each_emitted_claim(
    per_chunk_client: AsyncOpenAI, fake_upstream: FakeOpenAIServer, per_chunk_proxy: RunningProxy
) -> None:
    """`assurance.citations = "inline"`: the residue carries `[id]` after each kept claim."""
    fake_upstream.script(JsonReply(chat_completion(WITH_CONTRADICTION)))
    completion = await _create(per_chunk_client, "enforce", citations="inline")
    content = completion.choices[0].message.content
    assert content == (
        "Apixaban is an oral anticoagulant. [fda-label] Standard dosing requires a creatinine"
        " clearance of at least 25 mL/min. [guideline]"
    )
    assurance = assurance_of(completion)
    assert assurance["citations"]["inline"] is True
    bundle = await _bundle(per_chunk_proxy, assurance["replay_handle"])
    assert check_response(bundle, completion.model_dump()).failures == ()
    tampered = completion.model_dump()
    tampered["choices"][0]["message"]["content"] = content.replace("[guideline]", "[fda-label]")
    assert check_response(bundle, tampered).failures[0].startswith("content.inline")


async def test_verify_response_flag_checks_a_saved_completion(
    per_chunk_client: AsyncOpenAI,
    fake_upstream: FakeOpenAIServer,
    per_chunk_proxy: RunningProxy,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`assurance verify B --response F`: valid as received, exit 1 once a claim is forged."""
    fake_upstream.script(JsonReply(chat_completion(WITH_CONTRADICTION)))
    completion = await _create(per_chunk_client, "enforce", citations="inline")
    bundle_path, response_path = tmp_path / "bundle.json", tmp_path / "response.json"
    bundle_path.write_bytes(
        await _bundle(per_chunk_proxy, assurance_of(completion)["replay_handle"])
    )
    response_path.write_text(completion.model_dump_json())
    capsys.readouterr()
    assert main(["verify", str(bundle_path), "--response", str(response_path)]) == 0
    assert capsys.readouterr().out.startswith("valid")
    forged = completion.model_dump()
    forged["assurance"]["claims"][2]["supporting"] = ["fda-label"]
    response_path.write_text(json.dumps(forged))
    assert main(["verify", str(bundle_path), "--response", str(response_path)]) == 1
    assert "claims[2].supporting" in capsys.readouterr().out


async def test_inline_citations_on_accept_keep_the_answer_text(
    per_chunk_client: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """Accept: the provider's answer with a marker inserted after each sentence."""
    fake_upstream.script(JsonReply(chat_completion(SUPPORTED)))
    completion = await _create(per_chunk_client, "enforce", citations="inline")
    assert assurance_of(completion)["policy_decision"] == "accept"
    assert completion.choices[0].message.content == (
        "Apixaban is an oral anticoagulant. [fda-label] Standard dosing requires a creatinine"
        " clearance of at least 25 mL/min. [guideline]"
    )


async def test_a_rejected_answer_has_no_markers_and_says_so(
    per_chunk_client: AsyncOpenAI, fake_upstream: FakeOpenAIServer, per_chunk_proxy: RunningProxy
) -> None:
    """Reject: the abstention carries no markers, `citations.inline` is false, claims withheld."""
    fake_upstream.script(JsonReply(chat_completion(UNSUPPORTED)))
    completion = await per_chunk_client.chat.completions.create(
        model="gpt-fake",
        messages=MESSAGES,
        extra_headers=headers("enforce", "clinical"),
        extra_body={"assurance": {"evidence": EVIDENCE, "citations": "inline"}},
    )
    assurance = assurance_of(completion)
    assert assurance["policy_decision"] == "reject"
    assert "[" not in (completion.choices[0].message.content or "").split("Reasons:")[0]
    assert assurance["citations"]["inline"] is False
    assert all(c["text"] is None and not c["emitted"] for c in assurance["claims"])
    assert "moon" not in completion.model_dump_json()
    bundle = await _bundle(per_chunk_proxy, assurance["replay_handle"])
    assert check_response(bundle, completion.model_dump()).failures == ()


async def test_concat_aggregation_cites_all_chunks_and_says_so(
    client: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """Default test oracles use concat: a supported claim cites both chunks, with a note."""
    fake_upstream.script(JsonReply(chat_completion(SUPPORTED)))
    assurance = assurance_of(await _create(client, "enforce"))
    assert [c["supporting"] for c in assurance["claims"]] == [["fda-label", "guideline"]] * 2
    assert assurance["citations"]["aggregation"] == "concat"
    assert "one premise" in assurance["citations"]["note"]


async def test_shadow_carries_claims_and_never_adds_markers(
    per_chunk_client: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """Shadow: the answer is untouched even with inline asked for; claims say what enforce drops."""
    fake_upstream.script(JsonReply(chat_completion(WITH_CONTRADICTION)))
    completion = await _create(per_chunk_client, "shadow", citations="inline")
    assert completion.choices[0].message.content == WITH_CONTRADICTION
    assurance = assurance_of(completion)
    assert [c["emitted"] for c in assurance["claims"]] == [True, True, False]
    assert assurance["claims"][2]["text"] == CONTRADICTED_CLAIM  # shadow shows everything anyway
    assert assurance["citations"]["inline"] is False


async def test_streams_carry_claims_in_the_card_chunk(
    per_chunk_client: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """Shadow SSE: the trailing card chunk has the claims; enforce SSE replays the markers."""
    fake_upstream.script(StreamReply(stream_chunks((SUPPORTED[:20], SUPPORTED[20:]))))
    stream = await per_chunk_client.chat.completions.create(
        model="gpt-fake",
        messages=MESSAGES,
        stream=True,
        extra_headers=headers("shadow"),
        extra_body={"assurance": {"evidence": EVIDENCE}},
    )
    chunks = [chunk async for chunk in stream]
    trailer = (chunks[-1].model_extra or {})["assurance"]
    assert [c["supporting"] for c in trailer["claims"]] == [["fda-label"], ["guideline"]]
    fake_upstream.script(JsonReply(chat_completion(WITH_CONTRADICTION)))
    stream = await per_chunk_client.chat.completions.create(
        model="gpt-fake",
        messages=MESSAGES,
        stream=True,
        extra_headers=headers("enforce"),
        extra_body={"assurance": {"evidence": EVIDENCE, "citations": "inline"}},
    )
    chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.endswith("25 mL/min. [guideline]")
    assert (chunks[-1].model_extra or {})["assurance"]["claims"][2]["emitted"] is False


async def test_an_unknown_citations_value_is_a_400_naming_the_field(
    client: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """`assurance.citations` must be "inline" or "none"; nothing is forwarded otherwise."""
    with pytest.raises(openai.BadRequestError) as caught:
        await _create(client, "enforce", citations="footnotes")
    error = caught.value.body
    assert isinstance(error, dict)
    assert error["param"] == "assurance.citations"
    assert fake_upstream.requests == []


async def test_inline_enforce_emits_exactly_the_bundles_emission_text(
    per_chunk_client: AsyncOpenAI, fake_upstream: FakeOpenAIServer, per_chunk_proxy: RunningProxy
) -> None:
    """The marked text enforce sends (JSON and SSE, accept and downgrade) is `emission.text`."""
    for answer in (SUPPORTED, WITH_CONTRADICTION):
        fake_upstream.script(JsonReply(chat_completion(answer)))
        completion = await _create(per_chunk_client, "enforce", citations="inline")
        handle = assurance_of(completion)["replay_handle"]
        bundle = decode_bundle(await _bundle(per_chunk_proxy, handle))
        assert bundle.certificates.context.citations == "inline"
        assert bundle.emission.inline is True
        assert "[guideline]" in bundle.emission.text
        assert completion.choices[0].message.content == bundle.emission.text
        fake_upstream.script(JsonReply(chat_completion(answer)))
        stream = await per_chunk_client.chat.completions.create(
            model="gpt-fake",
            messages=MESSAGES,
            stream=True,
            extra_headers=headers("enforce"),
            extra_body={"assurance": {"evidence": EVIDENCE, "citations": "inline"}},
        )
        chunks = [chunk async for chunk in stream]
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        handle = (chunks[-1].model_extra or {})["assurance"]["replay_handle"]
        streamed = decode_bundle(await _bundle(per_chunk_proxy, handle))
        assert streamed.emission.inline is True
        assert text == streamed.emission.text == bundle.emission.text
