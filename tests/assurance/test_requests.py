"""Bad assurance requests are refused with a 400 naming the field, before anything is forwarded."""

from __future__ import annotations

import openai
import pytest
from openai import AsyncOpenAI

from tests.assurance.clinical import MESSAGES, headers
from tests.fakes.openai_server import FakeOpenAIServer


async def test_malformed_assurance_field_is_a_400_naming_it(
    client: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """A wrong type deep in `assurance` names its path; the upstream sees no request."""
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(
            model="gpt-fake",
            messages=MESSAGES,
            extra_headers=headers("enforce"),
            extra_body={"assurance": {"evidence": [{"id": "a", "text": 42}]}},
        )
    assert caught.value.body is not None
    assert caught.value.param == "assurance.evidence[0].text"
    assert fake_upstream.requests == []


async def test_invalid_action_schema_is_a_400_naming_it(
    client: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """An action schema with an unknown predicate is refused before the upstream is called."""
    schema = {"tool": "t", "pre": [{"pred": "no_such_predicate"}]}
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(
            model="gpt-fake",
            messages=MESSAGES,
            extra_headers=headers("enforce"),
            extra_body={"assurance": {"actions": {"schemas": [schema]}}},
        )
    assert (caught.value.param or "").startswith("assurance.actions.schemas[0]")
    assert fake_upstream.requests == []


async def test_unknown_policy_override_is_a_400(
    client: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """A policy override naming no policy field is refused naming `assurance.policy`."""
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(
            model="gpt-fake",
            messages=MESSAGES,
            extra_headers=headers("enforce"),
            extra_body={"assurance": {"policy": {"no_such_field": "1/2"}}},
        )
    assert (caught.value.param or "").startswith("assurance.policy")
    assert fake_upstream.requests == []


async def test_unknown_policy_and_n_are_refused(
    client: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """An unknown X-Assurance-Policy and n = 2 are both 400s naming the culprit."""
    with pytest.raises(openai.BadRequestError) as policy:
        await client.chat.completions.create(
            model="gpt-fake", messages=MESSAGES, extra_headers=headers("enforce", "nope")
        )
    assert policy.value.param == "X-Assurance-Policy"
    with pytest.raises(openai.BadRequestError) as n:
        await client.chat.completions.create(
            model="gpt-fake", messages=MESSAGES, n=2, extra_headers=headers("shadow")
        )
    assert n.value.param == "n"
    assert fake_upstream.requests == []
