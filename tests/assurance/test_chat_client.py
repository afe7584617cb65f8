"""The oracles' ChatClient over each upstream kind: JSON mode for OpenAI, none for Anthropic.

The Anthropic translation refuses `response_format` other than text, so an LLM oracle over a
`kind = "anthropic"` upstream works only if the client leaves it out; these tests drive the fake
Anthropic server directly and through the whole proxy (llm NLI judge in enforce mode).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from openai import AsyncOpenAI

from proxy.assurance.chat_clients import UpstreamChatClient
from proxy.assurance.lifecycle import setup_assurance
from proxy.config import UpstreamConfig
from proxy.upstreams.anthropic import AnthropicUpstream
from proxy.upstreams.openai import OpenAIUpstream
from tests.assurance.clinical import EVIDENCE, MESSAGES, SUPPORTED, assurance_of, headers
from tests.assurance.conftest import DEFAULT_ORACLES
from tests.fakes.anthropic_server import FakeAnthropic, Reply, Text
from tests.fakes.openai_server import FakeOpenAIServer, JsonReply, chat_completion
from tests.harness import proxy_config, running_proxy

KEY_ENV = "CHAT_CLIENT_TEST_ANTHROPIC_KEY"
ENTAILED = json.dumps({"entailment": 0.97, "contradiction": 0.01, "neutral": 0.02})
ORACLE_MESSAGES = [
    {"role": "system", "content": "Answer with one JSON object only."},
    {"role": "user", "content": "judge this"},
]


async def test_anthropic_client_sends_no_response_format_and_returns_the_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Over an Anthropic upstream the oracle call succeeds and the request has no JSON mode."""
    monkeypatch.setenv(KEY_ENV, "sk-ant-test")
    async with FakeAnthropic.running() as fake:
        fake.replies.append(Reply(blocks=(Text(ENTAILED),)))
        config = UpstreamConfig(
            name="claude", kind="anthropic", base_url=fake.base_url, api_key_env=KEY_ENV
        )
        upstream = AnthropicUpstream(config)
        try:
            reply = await UpstreamChatClient(upstream).complete(
                model="claude-judge", messages=ORACLE_MESSAGES
            )
        finally:
            await upstream.aclose()
    assert json.loads(reply)["entailment"] == 0.97
    (request,) = fake.requests
    assert request.body["model"] == "claude-judge"
    assert request.body["temperature"] == 0
    assert not request.body.get("stream")
    assert "response_format" not in request.body
    assert "output_format" not in request.body


async def test_openai_client_still_asks_for_json_mode() -> None:
    """An OpenAI-compatible upstream keeps `response_format: json_object`."""
    async with FakeOpenAIServer() as fake:
        fake.script(JsonReply(chat_completion(ENTAILED)))
        config = UpstreamConfig(name="local", base_url=fake.base_url)
        upstream = OpenAIUpstream.from_env(config, forward_client_auth=False)
        try:
            reply = await UpstreamChatClient(upstream).complete(
                model="gpt-fake", messages=ORACLE_MESSAGES
            )
        finally:
            await upstream.aclose()
        body = fake.requests[0].json()
    assert reply == ENTAILED
    assert body["response_format"] == {"type": "json_object"}


async def test_llm_nli_over_an_anthropic_upstream_certifies_end_to_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Answer and NLI judgments both come from Claude; the card is certified, not abstain."""
    monkeypatch.setenv(KEY_ENV, "sk-ant-test")
    async with FakeAnthropic.running() as fake:
        # the answer first, then one judge call per claim (concat aggregation: 2 claims)
        fenced = f"```json\n{ENTAILED}\n```"
        fake.replies.extend(Reply(blocks=(Text(text),)) for text in (SUPPORTED, ENTAILED, fenced))
        oracles: dict[str, dict[str, Any]] = {
            **DEFAULT_ORACLES,
            "nli": {"kind": "llm", "upstream": "claude", "model": "claude-judge"},
        }
        config = proxy_config(
            fake.base_url,
            upstream={"name": "claude", "kind": "anthropic", "api_key_env": KEY_ENV},
            extra={"oracles": oracles, "store": {"path": str(tmp_path / "store.sqlite3")}},
        )
        async with (
            running_proxy(config, setup_assurance=setup_assurance) as proxy,
            AsyncOpenAI(base_url=proxy.base_url, api_key="k", max_retries=0) as sdk,
        ):
            completion = await sdk.chat.completions.create(
                model="claude-answer",
                messages=MESSAGES,
                extra_headers=headers("enforce"),
                extra_body={"assurance": {"evidence": EVIDENCE}},
            )
    assurance = assurance_of(completion)
    assert assurance["card"]["verdict"]["kind"] == "certified"
    assert assurance["policy_decision"] == "accept"
    assert completion.choices[0].message.content == SUPPORTED
    judge_calls = [r for r in fake.requests if r.body["model"] == "claude-judge"]
    assert len(judge_calls) == 2
    assert all("response_format" not in r.body for r in fake.requests)
    assert all(r.body["temperature"] == 0 for r in judge_calls)
