"""Verify before emit (issue 9 §1) and the verify endpoint pinned to the proxy's key (§2)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from openai import AsyncOpenAI

from certifiers.builders import certify
from certifiers.types import Bundle, Emission
from oracles.decomposers import SPLITTER_VERSION
from oracles.nli_lexical import LEXICAL_VERSION
from tests.assurance.clinical import (
    DELETE_SCHEMA,
    EVIDENCE,
    MESSAGES,
    SUPPORTED,
    assurance_of,
    headers,
    tool_call,
)
from tests.assurance.conftest import assured_proxy
from tests.fakes.openai_server import FakeOpenAIServer, JsonReply, chat_completion

SMUGGLED = " The secret dose is 900 mg."


def _smuggling_builder(real: Any) -> Any:
    """A builder bug: the recorded emission carries text no certificate covers (unless the call
    already abstains because the verifier failed)."""

    def smuggling(scenario: Any, **kwargs: Any) -> Bundle:
        bundle: Bundle = real(scenario, **kwargs)
        if any(f.oracle == "verifier" for f in scenario.oracle_failures):
            return bundle
        emission = Emission(kind=bundle.emission.kind, text=bundle.emission.text + SMUGGLED)
        return msgspec.structs.replace(bundle, emission=emission)

    return smuggling


async def _metric(base_url: str, name: str) -> float:
    async with aiohttp.ClientSession() as session, session.get(f"{base_url}/metrics") as resp:
        text = await resp.text()
    values = [line.split()[-1] for line in text.splitlines() if line.startswith(name + " ")]
    return float(values[0])


async def test_enforce_abstains_when_the_in_process_verifier_rejects_the_bundle(
    fake_upstream: FakeOpenAIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bundle the independent verifier rejects is never emitted: enforce abstains, counted."""
    monkeypatch.setattr("proxy.assurance.certify.certify", _smuggling_builder(certify))
    fake_upstream.script(JsonReply(chat_completion(SUPPORTED)))
    async with (
        assured_proxy(fake_upstream.base_url, tmp_path) as px,
        AsyncOpenAI(base_url=px.base_url, api_key="k", max_retries=0) as client,
    ):
        completion = await client.chat.completions.create(
            model="gpt-fake",
            messages=MESSAGES,
            extra_headers=headers("enforce"),
            extra_body={"assurance": {"evidence": EVIDENCE}},
        )
        content = completion.choices[0].message.content or ""
        assert SMUGGLED.strip() not in content
        assert "oracle verifier failed" in content
        assert assurance_of(completion)["policy_decision"] == "reject"
        root = px.base_url.removesuffix("/v1")
        assert await _metric(root, "assurance_proxy_bundle_self_check_failures_total") == 1


async def test_shadow_counts_a_self_check_failure_and_keeps_the_answer(
    fake_upstream: FakeOpenAIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Shadow never changes the answer, but the failed self-check is still counted."""
    monkeypatch.setattr("proxy.assurance.certify.certify", _smuggling_builder(certify))
    fake_upstream.script(JsonReply(chat_completion(SUPPORTED)))
    async with (
        assured_proxy(fake_upstream.base_url, tmp_path) as px,
        AsyncOpenAI(base_url=px.base_url, api_key="k", max_retries=0) as client,
    ):
        completion = await client.chat.completions.create(
            model="gpt-fake",
            messages=MESSAGES,
            extra_headers=headers("shadow"),
            extra_body={"assurance": {"evidence": EVIDENCE}},
        )
        assert completion.choices[0].message.content == SUPPORTED
        root = px.base_url.removesuffix("/v1")
        assert await _metric(root, "assurance_proxy_bundle_self_check_failures_total") == 1


async def test_session_calls_are_self_checked_and_an_abstain_charges_nothing(
    fake_upstream: FakeOpenAIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A session call with actions (store-backed counters) also passes the verifier before emit:
    the smuggled bundle becomes an abstain with no tool call, and the session is not advanced."""
    smuggling = _smuggling_builder(certify)
    calls = {"n": 0}

    def first_call_smuggles(scenario: Any, **kwargs: Any) -> Bundle:
        calls["n"] += 1
        return smuggling(scenario, **kwargs) if calls["n"] == 1 else certify(scenario, **kwargs)

    monkeypatch.setattr("proxy.assurance.certify.certify", first_call_smuggles)
    actions = {"schemas": [DELETE_SCHEMA], "state": {"counters": {"deletes": 0}}}
    session = {"X-Assurance-Session": "s1"}
    async with (
        assured_proxy(fake_upstream.base_url, tmp_path) as px,
        AsyncOpenAI(base_url=px.base_url, api_key="k", max_retries=0) as client,
    ):
        emitted: list[list[str]] = []
        for attempt in range(2):
            reply = chat_completion(None, tool_calls=[tool_call("c1", "/sandbox/a.md")])
            fake_upstream.script(JsonReply(reply))
            completion = await client.chat.completions.create(
                model="gpt-fake",
                messages=MESSAGES,
                extra_headers=headers("enforce", "creative", **session),
                extra_body={"assurance": {"actions": actions}},
            )
            emitted.append([call.id for call in completion.choices[0].message.tool_calls or []])
            if attempt == 0:
                assert "oracle verifier failed" in (completion.choices[0].message.content or "")
        root = px.base_url.removesuffix("/v1")
        assert await _metric(root, "assurance_proxy_bundle_self_check_failures_total") == 1
    # the abstain emitted no delete and charged none: the next call's delete is still allowed
    assert emitted == [[], ["c1"]]


async def test_enforce_emits_exactly_the_recorded_emission(
    fake_upstream: FakeOpenAIServer, tmp_path: Path
) -> None:
    """The emitted content is the stored bundle's `emission.text`."""
    fake_upstream.script(JsonReply(chat_completion(SUPPORTED)))
    async with (
        assured_proxy(fake_upstream.base_url, tmp_path) as px,
        AsyncOpenAI(base_url=px.base_url, api_key="k", max_retries=0) as client,
    ):
        completion = await client.chat.completions.create(
            model="gpt-fake",
            messages=MESSAGES,
            extra_headers=headers("enforce", policy="creative"),
            extra_body={"assurance": {"evidence": EVIDENCE}},
        )
        handle = assurance_of(completion)["replay_handle"]
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{px.base_url}/assurance/cards/{handle}") as response,
        ):
            bundle = json.loads(await response.read())
    assert completion.choices[0].message.content == bundle["emission"]["text"]


async def test_verify_endpoint_pins_the_proxys_own_key(
    fake_upstream: FakeOpenAIServer, tmp_path: Path
) -> None:
    """With a signing key, a stored bundle verifies; stripped or foreign signatures do not."""
    key_path = tmp_path / "card.key"
    key_path.write_text(bytes(range(7, 39)).hex())
    fake_upstream.script(JsonReply(chat_completion(SUPPORTED)))
    async with (
        assured_proxy(
            fake_upstream.base_url, tmp_path, assurance={"signing_key_file": str(key_path)}
        ) as px,
        AsyncOpenAI(base_url=px.base_url, api_key="k", max_retries=0) as client,
        aiohttp.ClientSession() as session,
    ):
        completion = await client.chat.completions.create(
            model="gpt-fake",
            messages=MESSAGES,
            extra_headers=headers("enforce"),
            extra_body={"assurance": {"evidence": EVIDENCE}},
        )
        handle = assurance_of(completion)["replay_handle"]
        async with session.get(f"{px.base_url}/assurance/cards/{handle}") as response:
            stored = json.loads(await response.read())
        foreign_key = Ed25519PrivateKey.from_private_bytes(bytes(32))
        foreign = {
            **stored,
            "signature": {
                **stored["signature"],
                "public_key": bytes(foreign_key.public_key().public_bytes_raw()).hex(),
            },
        }
        verdicts = {}
        for name, tree in (
            ("stored", stored),
            ("stripped", {**stored, "signature": None}),
            ("foreign", foreign),
        ):
            body = msgspec.json.encode(tree, order="sorted")
            async with session.post(f"{px.base_url}/assurance/verify", data=body) as response:
                verdicts[name] = (await response.json())["valid"]
    assert verdicts == {"stored": True, "stripped": False, "foreign": False}


async def test_prompt_template_hash_names_the_grounding_prompts(
    fake_upstream: FakeOpenAIServer, tmp_path: Path
) -> None:
    """The card's prompt_template_hash is the sha256 of the decomposer and NLI prompt versions."""
    fake_upstream.script(JsonReply(chat_completion(SUPPORTED)))
    async with (
        assured_proxy(fake_upstream.base_url, tmp_path) as px,
        AsyncOpenAI(base_url=px.base_url, api_key="k", max_retries=0) as client,
        aiohttp.ClientSession() as session,
    ):
        completion = await client.chat.completions.create(
            model="gpt-fake",
            messages=MESSAGES,
            extra_headers=headers("enforce"),
            extra_body={"assurance": {"evidence": EVIDENCE}},
        )
        handle = assurance_of(completion)["replay_handle"]
        async with session.get(f"{px.base_url}/assurance/cards/{handle}") as response:
            bundle = json.loads(await response.read())
    template = bundle["certificates"]["context"]["provenance"]["prompt_template"]
    assert template == f"decomposer=sentences:{SPLITTER_VERSION};nli=lexical:{LEXICAL_VERSION}"
    expected = "sha256:" + hashlib.sha256(template.encode()).hexdigest()
    assert bundle["card"]["prompt_template_hash"] == expected
