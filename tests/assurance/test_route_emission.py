"""Responses and Messages certify like chat: emission binding, citations, `[[clients]]` modes.

Enforce on `POST /v1/responses` and `POST /v1/messages` emits exactly the bundle's `emission.text`
(here with inline `[id]` markers bound by `context.citations`), carries `assurance.claims`, and a
client restricted to enforce cannot reach either route in another mode.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
from anthropic import AsyncAnthropic
from openai import AsyncOpenAI

from certifiers.bundle import decode_bundle
from certifiers.types import Bundle
from tests.assurance.clinical import WITH_CONTRADICTION, headers, stored_bundle
from tests.assurance.conftest import assured_proxy
from tests.fakes.openai_routes import message_item, response_object
from tests.fakes.openai_server import FakeOpenAIServer, JsonReply, chat_completion
from tests.harness import RunningProxy

# two chunks, each backing one sentence under per_chunk lexical NLI (as in test_citations)
EVIDENCE: list[dict[str, Any]] = [
    {"id": "fda-label", "text": "Apixaban is an oral anticoagulant.", "source": "fda"},
    {
        "id": "guideline",
        "text": "Standard dosing requires a creatinine clearance of at least 25 mL/min.",
    },
]
PER_CHUNK = {"nli": {"kind": "lexical", "aggregation": "per_chunk"}}
CITED = (
    "Apixaban is an oral anticoagulant. [fda-label] Standard dosing requires a creatinine"
    " clearance of at least 25 mL/min. [guideline]"
)
QUERY = "What creatinine clearance does standard apixaban dosing need?"
WARD_KEY = "ward-1"
INLINE = {"assurance": {"evidence": EVIDENCE, "citations": "inline"}}


def _assurance(obj: Any) -> dict[str, Any]:
    value = (obj.model_extra or {}).get("assurance")
    assert isinstance(value, dict), f"expected an assurance object, got {value!r}"
    return value


async def _bundle(proxy: RunningProxy, handle: str) -> Bundle:
    return decode_bundle(await stored_bundle(proxy.base_url, handle))


@pytest.fixture
async def per_chunk_proxy(
    fake_upstream: FakeOpenAIServer, tmp_path: Path
) -> AsyncIterator[RunningProxy]:
    """The proxy with per_chunk lexical NLI in front of the fake OpenAI upstream."""
    async with assured_proxy(fake_upstream.base_url, tmp_path, oracles=PER_CHUNK) as running:
        yield running


def _check_claims(assurance: dict[str, Any]) -> None:
    claims = assurance["claims"]
    assert [c["status"] for c in claims] == ["supported", "supported", "contradicted"]
    assert [c["emitted"] for c in claims] == [True, True, False]
    assert claims[2]["text"] is None  # enforce never shows the text it dropped
    assert assurance["citations"] == {"aggregation": "per_chunk", "inline": True}


async def test_responses_enforce_emits_exactly_the_bundles_emission_text(
    per_chunk_proxy: RunningProxy, fake_upstream: FakeOpenAIServer
) -> None:
    """Responses, enforce, inline citations: `output_text` is `emission.text`, claims attached."""
    fake_upstream.script(JsonReply(response_object([message_item(WITH_CONTRADICTION)])))
    async with AsyncOpenAI(base_url=per_chunk_proxy.base_url, api_key="k", max_retries=0) as sdk:
        response = await sdk.responses.create(
            model="gpt-fake",
            input=QUERY,
            extra_headers=headers("enforce"),
            extra_body=INLINE,
        )
    assurance = _assurance(response)
    bundle = await _bundle(per_chunk_proxy, assurance["replay_handle"])
    assert bundle.emission.inline is True
    assert response.output_text == bundle.emission.text == CITED
    _check_claims(assurance)


async def test_messages_enforce_emits_exactly_the_bundles_emission_text(
    per_chunk_proxy: RunningProxy, fake_upstream: FakeOpenAIServer
) -> None:
    """Messages (translated to the OpenAI upstream), enforce: the text block is `emission.text`."""
    fake_upstream.script(JsonReply(chat_completion(WITH_CONTRADICTION)))
    async with AsyncAnthropic(base_url=per_chunk_proxy.root_url, api_key="k", max_retries=0) as sdk:
        message = await sdk.messages.create(
            model="gpt-fake",
            max_tokens=100,
            messages=[{"role": "user", "content": QUERY}],
            extra_headers=headers("enforce"),
            extra_body=INLINE,
        )
    assurance = _assurance(message)
    bundle = await _bundle(per_chunk_proxy, assurance["replay_handle"])
    texts = [block.text for block in message.content if block.type == "text"]
    assert texts == [bundle.emission.text]
    assert bundle.emission.text == CITED
    _check_claims(assurance)


async def test_an_enforce_only_client_cannot_use_another_mode_on_any_route(
    fake_upstream: FakeOpenAIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`[[clients]] modes = ["enforce"]`: off/shadow on Responses and Messages are 403 too."""
    monkeypatch.setenv("WARD_APP_KEYS", WARD_KEY)
    ward = {"name": "ward-app", "keys_env": "WARD_APP_KEYS", "modes": ["enforce"]}
    async with assured_proxy(fake_upstream.base_url, tmp_path, clients=[ward]) as proxy:
        async with AsyncOpenAI(base_url=proxy.base_url, api_key=WARD_KEY, max_retries=0) as sdk:
            for mode in ("off", "shadow"):
                with pytest.raises(openai.PermissionDeniedError) as denied:
                    await sdk.responses.create(
                        model="gpt-fake", input="hi", extra_headers=headers(mode)
                    )
                body = denied.value.body
                assert isinstance(body, dict)
                assert (body["code"], body["param"]) == ("mode_not_allowed", "X-Assurance-Mode")
        async with AsyncAnthropic(
            base_url=proxy.root_url, auth_token=WARD_KEY, max_retries=0
        ) as claude:
            for mode in ("off", "shadow"):
                with pytest.raises(anthropic.PermissionDeniedError) as refused:
                    await claude.messages.create(
                        model="gpt-fake",
                        max_tokens=10,
                        messages=[{"role": "user", "content": "hi"}],
                        extra_headers=headers(mode),
                    )
                assert "X-Assurance-Mode" in str(refused.value)
    assert fake_upstream.requests == []
