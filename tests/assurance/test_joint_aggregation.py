"""`joint` NLI aggregation end to end through the OpenAI SDK: a sentence that needs two chunks at
once is supported (and cites both); under `per_chunk` the same sentence is unknown and dropped."""

from __future__ import annotations

from pathlib import Path

from openai import AsyncOpenAI

from certifiers.verification.citations import check_response
from tests.assurance.clinical import (
    ask_with_evidence,
    assurance_of,
    stored_bundle,
)
from tests.assurance.conftest import assured_proxy
from tests.fakes.openai_server import FakeOpenAIServer, JsonReply, chat_completion

EVIDENCE = [
    {"id": "fda-label", "text": "Apixaban is an oral anticoagulant."},
    {"id": "guideline", "text": "Standard dosing requires a creatinine clearance of 25 mL/min."},
]
ALONE = "Apixaban is an oral anticoagulant."
TWO_HOP = "Apixaban is an oral anticoagulant and its standard dosing requires 25 mL/min."
ANSWER = f"{ALONE} {TWO_HOP}"


async def _enforce(aggregation: str, upstream: FakeOpenAIServer, tmp_path: Path) -> list[object]:
    oracles = {"nli": {"kind": "lexical", "aggregation": aggregation}}
    async with (
        assured_proxy(upstream.base_url, tmp_path / aggregation, oracles=oracles) as proxy,
        AsyncOpenAI(base_url=proxy.base_url, api_key="k", max_retries=0) as client,
    ):
        upstream.script(JsonReply(chat_completion(ANSWER)))
        completion = await ask_with_evidence(client, EVIDENCE)
        assurance = assurance_of(completion)
        bundle = await stored_bundle(proxy.base_url, assurance["replay_handle"])
        assert check_response(bundle, completion.model_dump()).failures == ()
        return [completion.choices[0].message.content, assurance["claims"], assurance["citations"]]


async def test_joint_supports_the_two_hop_sentence_and_cites_both_chunks(
    fake_upstream: FakeOpenAIServer, tmp_path: Path
) -> None:
    content, claims, citations = await _enforce("joint", fake_upstream, tmp_path)
    assert content == ANSWER
    assert isinstance(claims, list)
    assert [c["status"] for c in claims] == ["supported", "supported"]
    assert [c["supporting"] for c in claims] == [["fda-label"], ["fda-label", "guideline"]]
    assert isinstance(citations, dict)
    assert citations["aggregation"] == "joint"
    assert "taken together" in citations["note"]


async def test_per_chunk_leaves_the_two_hop_sentence_unknown_and_drops_it(
    fake_upstream: FakeOpenAIServer, tmp_path: Path
) -> None:
    content, claims, _ = await _enforce("per_chunk", fake_upstream, tmp_path)
    assert isinstance(claims, list)
    assert [c["status"] for c in claims] == ["supported", "unknown"]
    assert isinstance(content, str)
    assert TWO_HOP not in content
