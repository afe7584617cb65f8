"""Enforce mode fails closed on every answer shape it cannot certify exactly (audit P0, P1-1/2).

Each test scripts one upstream shape through the fake and drives the proxy with the OpenAI SDK;
the raw response bytes are checked so that no uncertified text reaches the client.
"""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from openai import AsyncOpenAI

from tests.assurance.clinical import (
    DELETE_SCHEMA,
    EVIDENCE,
    MESSAGES,
    SUPPORTED,
    UNSUPPORTED,
    WITH_CONTRADICTION,
    headers,
    tool_call,
)
from tests.fakes.openai_server import FakeOpenAIServer, JsonReply, chat_completion

LEAK = "Apixaban was first synthesized on the moon"
GATED: dict[str, Any] = {
    "evidence": EVIDENCE,
    "actions": {"schemas": [DELETE_SCHEMA], "state": {"counters": {"deletes": 0}}},
}


def _with_content(content: list[dict[str, Any]]) -> dict[str, Any]:
    """A completion whose message content is an array of parts (Mistral-style servers)."""
    completion = chat_completion(None)
    completion["choices"][0]["message"]["content"] = content
    return completion


async def _raw(
    client: AsyncOpenAI, policy: str = "clinical", assurance: dict[str, Any] | None = None
) -> tuple[dict[str, Any], str]:
    """Decoded body and raw text of one enforce call (HTTP 200)."""
    response = await client.chat.completions.with_raw_response.create(
        model="gpt-fake",
        messages=MESSAGES,
        extra_headers=headers("enforce", policy),
        extra_body={"assurance": assurance or {"evidence": EVIDENCE}},
    )
    assert response.status_code == 200
    text = response.http_response.text
    return json.loads(text), text


async def test_a_second_choice_is_a_502_without_its_text(
    client: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """An upstream answering two choices gets a 502 naming the count, never choice 1's text."""
    completion = chat_completion(SUPPORTED)
    second = {**completion["choices"][0], "index": 1}
    second["message"] = {"role": "assistant", "content": f"{LEAK}. SECOND CHOICE"}
    fake_upstream.script(JsonReply({**completion, "choices": [completion["choices"][0], second]}))
    with pytest.raises(openai.APIStatusError) as caught:
        await _raw(client)
    assert caught.value.status_code == 502
    assert "2 choices" in caught.value.message
    assert "SECOND CHOICE" not in caught.value.response.text


async def test_rejected_answer_drops_logprobs_and_reasoning(
    client: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """On reject neither the logprobs nor the reasoning_content of the answer are emitted."""
    completion = chat_completion(UNSUPPORTED)
    completion["choices"][0]["logprobs"] = {"content": [{"token": LEAK, "logprob": -0.1}]}
    completion["choices"][0]["message"]["reasoning_content"] = f"SECRET REASONING {LEAK}"
    fake_upstream.script(JsonReply(completion))
    body, text = await _raw(client)
    assert body["assurance"]["policy_decision"] == "reject"
    assert body["choices"][0]["finish_reason"] == "content_filter"
    assert body["choices"][0]["logprobs"] is None
    assert "reasoning_content" not in body["choices"][0]["message"]
    assert "moon" not in text
    assert "SECRET" not in text


async def test_accepted_answer_drops_uncertified_fields(
    client: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """On accept the certified content is emitted; reasoning, annotations, audio are not."""
    completion = chat_completion(SUPPORTED)
    message = completion["choices"][0]["message"]
    message["reasoning_content"] = "SECRET REASONING"
    message["annotations"] = [{"type": "url_citation", "url_citation": {"title": "SECRET"}}]
    message["audio"] = {"id": "a", "data": "U0VDUkVU", "transcript": "SECRET", "expires_at": 1}
    fake_upstream.script(JsonReply(completion))
    body, text = await _raw(client)
    assert body["assurance"]["policy_decision"] == "accept"
    assert body["choices"][0]["message"]["content"] == SUPPORTED
    assert set(body["choices"][0]["message"]) == {"role", "content", "refusal"}
    assert "SECRET" not in text
    assert "U0VDUkVU" not in text


async def test_legacy_function_call_is_gated_like_a_tool_call(
    client: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """A `function_call` outside the sandbox is judged by the gate and removed from the answer."""
    completion = chat_completion(SUPPORTED)
    completion["choices"][0]["message"]["function_call"] = {
        "name": "delete_file",
        "arguments": '{"path": "/etc/passwd"}',
    }
    completion["choices"][0]["finish_reason"] = "function_call"
    fake_upstream.script(JsonReply(completion))
    body, _ = await _raw(client, "enterprise_qa", GATED)
    assert body["assurance"]["card"]["verdict"]["kind"] == "residue"
    assert "function_call" not in body["choices"][0]["message"]
    assert "/etc/passwd" not in json.dumps(body["choices"])
    assert body["choices"][0]["finish_reason"] == "stop"
    dropped = body["assurance"]["card"]["dropped_claims"]
    assert any("function_call" in line and "path_in_sandbox" in line for line in dropped)


async def test_blocked_tool_calls_without_ids_are_removed_by_position(
    client: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """Id-less calls get positional ids; the blocked one goes, the allowed one stays."""
    calls = [tool_call("x", "/sandbox/a.md"), tool_call("x", "/etc/passwd")]
    for call in calls:
        del call["id"]
    fake_upstream.script(JsonReply(chat_completion(SUPPORTED, tool_calls=calls)))
    body, _ = await _raw(client, "enterprise_qa", GATED)
    kept = body["choices"][0]["message"]["tool_calls"]
    assert [call["function"]["arguments"] for call in kept] == ['{"path": "/sandbox/a.md"}']
    assert [call["id"] for call in kept] == ["call_0"]
    assert "/etc/passwd" not in json.dumps(body["choices"])


async def test_duplicate_tool_call_ids_only_lose_the_blocked_call(
    client: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """Two calls sharing one id: the blocked one is removed, its allowed sibling is kept."""
    calls = [tool_call("dup", "/sandbox/a.md"), tool_call("dup", "/etc/passwd")]
    fake_upstream.script(JsonReply(chat_completion(SUPPORTED, tool_calls=calls)))
    body, _ = await _raw(client, "enterprise_qa", GATED)
    kept = body["choices"][0]["message"]["tool_calls"]
    assert [call["function"]["arguments"] for call in kept] == ['{"path": "/sandbox/a.md"}']


async def test_array_content_is_certified_as_its_joined_text(
    client: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """Text parts are joined and certified: an unsupported claim inside them is rejected."""
    parts = [{"type": "text", "text": UNSUPPORTED[:40]}, {"type": "text", "text": UNSUPPORTED[40:]}]
    fake_upstream.script(JsonReply(_with_content(parts)))
    body, text = await _raw(client)
    assert body["assurance"]["policy_decision"] == "reject"
    assert body["assurance"]["card"]["supported_mass"] != "0"
    assert "moon" not in text


async def test_array_content_residue_is_emitted_as_text(
    client: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """A downgraded array answer is emitted as the rendered residue string."""
    parts = [{"type": "text", "text": WITH_CONTRADICTION}]
    fake_upstream.script(JsonReply(_with_content(parts)))
    body, text = await _raw(client, "enterprise_qa")
    assert body["assurance"]["policy_decision"] == "downgrade"
    assert isinstance(body["choices"][0]["message"]["content"], str)
    assert "15 mL/min" not in text.split('"assurance"')[0]


async def test_other_content_shapes_fail_closed(
    client: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """Content that is neither text, null nor text parts is a 502 that does not echo it."""
    parts = [{"type": "image_url", "image_url": {"url": f"data:{LEAK}"}}]
    fake_upstream.script(JsonReply(_with_content(parts)))
    with pytest.raises(openai.APIStatusError) as caught:
        await _raw(client)
    assert caught.value.status_code == 502
    assert "moon" not in caught.value.response.text


async def test_malformed_answer_error_does_not_echo_the_body(
    client: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """A legacy `text` completion is a 502 naming the shape, not quoting the answer."""
    fake_upstream.script(JsonReply({"choices": [{"text": f"{LEAK} UNCERTIFIED"}]}))
    with pytest.raises(openai.APIStatusError) as caught:
        await _raw(client)
    assert caught.value.status_code == 502
    assert "UNCERTIFIED" not in caught.value.response.text


async def test_a_non_200_success_status_is_not_certified(
    client: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """A 203 carrying a completion is a 502 in enforce mode; its content is not relayed."""
    fake_upstream.script(JsonReply(chat_completion(UNSUPPORTED), status=203))
    with pytest.raises(openai.APIStatusError) as caught:
        await _raw(client)
    assert caught.value.status_code == 502
    assert "203" in caught.value.message
    assert "moon" not in caught.value.response.text


async def test_n_null_is_accepted_and_n_true_refused(
    client: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """`n: null` means one answer (allowed); `n: true` is not the integer 1 (400)."""
    fake_upstream.script(JsonReply(chat_completion(SUPPORTED)))
    completion = await client.chat.completions.create(
        model="gpt-fake",
        messages=MESSAGES,
        extra_headers=headers("enforce"),
        extra_body={"assurance": {"evidence": EVIDENCE}, "n": None},
    )
    assert completion.choices[0].message.content == SUPPORTED
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(
            model="gpt-fake",
            messages=MESSAGES,
            extra_headers=headers("enforce"),
            extra_body={"n": True},
        )
    assert caught.value.param == "n"
