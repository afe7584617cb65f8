"""`[policies.NAME]` from a TOML config, end to end: overridden built-ins and new named policies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import openai
import pytest
from openai import AsyncOpenAI

from proxy.config import read_toml
from tests.assurance.clinical import (
    EVIDENCE,
    MESSAGES,
    SUPPORTED,
    UNSUPPORTED,
    assurance_of,
    headers,
)
from tests.assurance.conftest import assured_proxy
from tests.fakes.openai_server import FakeOpenAIServer, JsonReply, chat_completion

# decimals as a user writes them; read_toml turns them into exact Decimals (never floats)
POLICIES_TOML = """
[policies.enterprise_qa]
min_supported_mass = 0.6

[policies.strict_qa]
extends = "enterprise_qa"
min_supported_mass = 0.99
"""


@pytest.fixture
async def sdk(fake_upstream: FakeOpenAIServer, tmp_path: Path) -> AsyncIterator[AsyncOpenAI]:
    """The SDK pointed at a proxy whose config defines the policies of `POLICIES_TOML`."""
    policies = read_toml(POLICIES_TOML)["policies"]
    async with (
        assured_proxy(fake_upstream.base_url, tmp_path, policies=policies) as running,
        AsyncOpenAI(base_url=running.base_url, api_key="k", max_retries=0) as client,
    ):
        yield client


async def _decide(
    sdk: AsyncOpenAI, fake: FakeOpenAIServer, answer: str, policy: str
) -> tuple[dict[str, object], dict[str, str]]:
    """Send one enforce-mode request under `policy`; the assurance object and response headers."""
    fake.script(JsonReply(chat_completion(answer)))
    raw = await sdk.chat.completions.with_raw_response.create(
        model="gpt-fake",
        messages=MESSAGES,
        extra_headers=headers("enforce", policy),
        extra_body={"assurance": {"evidence": EVIDENCE}},
    )
    return assurance_of(raw.parse()), dict(raw.headers)


async def test_new_named_policy_is_selectable_and_applies_its_threshold(
    sdk: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """`strict_qa` (min_supported_mass = 0.99) accepts a fully supported answer, rejects 2/3."""
    supported, supported_headers = await _decide(sdk, fake_upstream, SUPPORTED, "strict_qa")
    assert (supported["policy"], supported["policy_decision"]) == ("strict_qa", "accept")
    assert supported_headers["x-assurance-policy"] == "strict_qa"
    partial, partial_headers = await _decide(sdk, fake_upstream, UNSUPPORTED, "strict_qa")
    assert partial["policy"] == "strict_qa"
    assert partial["policy_decision"] == "reject"
    assert partial["policy_failures"] == ["supported_mass below min_supported_mass"]
    assert partial_headers["x-assurance-policy-decision"] == "reject"


async def test_overridden_built_in_policy_uses_the_configured_threshold(
    sdk: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """enterprise_qa lowered to 0.6 accepts a 2/3-supported answer the built-in (0.7) rejects."""
    assurance, _ = await _decide(sdk, fake_upstream, UNSUPPORTED, "enterprise_qa")
    card = assurance["card"]
    assert isinstance(card, dict)
    assert card["supported_mass"] == "2/3"
    assert (assurance["policy"], assurance["policy_decision"]) == ("enterprise_qa", "accept")


async def test_builtin_default_rejects_what_the_override_accepts(
    client: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """Without the override the same 2/3-supported answer fails enterprise_qa (control)."""
    fake_upstream.script(JsonReply(chat_completion(UNSUPPORTED)))
    completion = await client.chat.completions.create(
        model="gpt-fake",
        messages=MESSAGES,
        extra_headers=headers("enforce", "enterprise_qa"),
        extra_body={"assurance": {"evidence": EVIDENCE}},
    )
    assert assurance_of(completion)["policy_decision"] == "reject"


async def test_policy_name_not_in_the_config_is_a_400(
    sdk: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """An X-Assurance-Policy naming neither a built-in nor a configured policy is refused."""
    with pytest.raises(openai.BadRequestError) as caught:
        await sdk.chat.completions.create(
            model="gpt-fake", messages=MESSAGES, extra_headers=headers("enforce", "lax_qa")
        )
    assert caught.value.status_code == 400
    assert caught.value.param == "X-Assurance-Policy"
    assert "strict_qa" in str(caught.value.message)
    assert fake_upstream.requests == []
