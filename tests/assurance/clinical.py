"""Shared test data: evidence, answers and tool schemas whose `lexical` NLI outcome is known, and
the small helpers that read what the proxy answered and stored."""

from __future__ import annotations

from typing import Any

import aiohttp
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam

LABEL = (
    "Apixaban is an oral anticoagulant. Standard dosing requires a creatinine clearance of at"
    " least 25 mL/min."
)
EVIDENCE: list[dict[str, Any]] = [{"id": "fda-label", "text": LABEL, "source": "fda"}]
SUPPORTED = (
    "Apixaban is an oral anticoagulant. Standard dosing requires a creatinine clearance of at"
    " least 25 mL/min."
)
CONTRADICTED_CLAIM = "Standard dosing requires a creatinine clearance of at least 15 mL/min."
WITH_CONTRADICTION = f"{SUPPORTED} {CONTRADICTED_CLAIM}"
UNSUPPORTED = f"{SUPPORTED} Apixaban was first synthesized on the moon."
MESSAGES: list[ChatCompletionMessageParam] = [
    {"role": "user", "content": "What creatinine clearance does standard apixaban dosing need?"}
]
DELETE_SCHEMA: dict[str, Any] = {
    "tool": "delete_file",
    "pre": [
        {"pred": "path_in_sandbox", "arg": "path", "root": "/sandbox"},
        {"pred": "counter_within", "counter": "deletes", "max": 1},
    ],
    "effects": [{"counter": "deletes", "add": 1}],
}


def tool_call(call_id: str, path: str) -> dict[str, Any]:
    """A `delete_file` tool call as a provider proposes it."""
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": "delete_file", "arguments": f'{{"path": "{path}"}}'},
    }


def assurance_of(completion: ChatCompletion) -> dict[str, Any]:
    """The top-level `assurance` object the SDK exposes in `model_extra`."""
    extra = completion.model_extra or {}
    value = extra.get("assurance")
    assert isinstance(value, dict), f"expected an assurance object, got {value!r}"
    return value


def headers(mode: str, policy: str = "enterprise_qa", **extra: str) -> dict[str, str]:
    """The assurance request headers."""
    return {"X-Assurance-Mode": mode, "X-Assurance-Policy": policy, **extra}


async def stored_bundle(base_url: str, handle: str) -> bytes:
    """The bundle the proxy stored under `handle` (`GET /assurance/cards/{handle}`, 200)."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{base_url}/assurance/cards/{handle}") as response,
    ):
        assert response.status == 200
        return await response.read()


async def ask_with_evidence(
    client: AsyncOpenAI,
    evidence: list[dict[str, Any]],
    mode: str = "enforce",
    policy: str = "enterprise_qa",
) -> ChatCompletion:
    """One chat call with `MESSAGES`, the assurance headers and `evidence` in the body."""
    return await client.chat.completions.create(
        model="gpt-fake",
        messages=MESSAGES,
        extra_headers=headers(mode, policy),
        extra_body={"assurance": {"evidence": evidence}},
    )
