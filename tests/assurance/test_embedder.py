"""The real all-MiniLM-L6-v2 embedder, loaded offline, yields an embedding certificate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openai import AsyncOpenAI

from certifiers.verify import check_bundle
from tests.assurance.clinical import (
    EVIDENCE,
    SUPPORTED,
    ask_with_evidence,
    assurance_of,
    stored_bundle,
)
from tests.assurance.conftest import assured_proxy
from tests.fakes.openai_server import FakeOpenAIServer, JsonReply, chat_completion
from tests.fakes.tei_server import FakeTEIServer


async def test_minilm_embedder_produces_an_embedding_certificate(
    fake_upstream: FakeOpenAIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With `sentence_transformers` offline, the bundle holds an embedding certificate at d=384."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    fake_upstream.script(JsonReply(chat_completion(SUPPORTED)))
    oracles = {"embedder": {"kind": "sentence_transformers"}}
    async with (
        assured_proxy(fake_upstream.base_url, tmp_path, oracles=oracles) as proxy,
        AsyncOpenAI(base_url=proxy.base_url, api_key="k", max_retries=0) as client,
    ):
        completion = await ask_with_evidence(client, EVIDENCE)
        assurance = assurance_of(completion)
        bundle = json.loads(await stored_bundle(proxy.base_url, assurance["replay_handle"]))
    embedding = bundle["certificates"]["embedding"]
    assert embedding["dim"] == 384
    assert embedding["invariant"]
    assert embedding["significant"]
    assert bundle["certificates"]["context"]["oracles"]["embedder"]["adapter"] == (
        "sentence_transformers"
    )
    card = assurance["card"]
    assert card["semantic_agreement"] is not None
    assert "stability" not in " ".join(card["unverified_layers"])


@pytest.mark.parametrize(("inline", "measurements"), [("auto", "recorded"), ("always", "derived")])
async def test_inline_embeddings_setting_reaches_the_early_crossed_section(
    fake_upstream: FakeOpenAIServer, tmp_path: Path, inline: str, measurements: str
) -> None:
    """`[assurance] inline_embeddings` decides whether large vectors are inlined (derived)."""
    fake_upstream.script(JsonReply(chat_completion(SUPPORTED)))
    async with (
        FakeTEIServer(dim=2048) as tei,
        assured_proxy(
            fake_upstream.base_url,
            tmp_path,
            oracles={"embedder": {"kind": "tei", "url": tei.url}},
            assurance={"inline_embeddings": inline},
        ) as proxy,
        AsyncOpenAI(base_url=proxy.base_url, api_key="k", max_retries=0) as client,
    ):
        completion = await ask_with_evidence(client, EVIDENCE)
        raw = await stored_bundle(proxy.base_url, assurance_of(completion)["replay_handle"])
    embedding = json.loads(raw)["certificates"]["embedding"]
    assert embedding["dim"] == 2048  # > 4096 coordinates in all: "auto" records, not inlines
    assert embedding["measurements"] == measurements
    assert (embedding["vectors"] is not None) == (inline == "always")
    assert check_bundle(raw).ok
