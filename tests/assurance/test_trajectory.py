"""Action counters persist per X-Assurance-Session: each call starts from the last post-state."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from openai import AsyncOpenAI

from tests.assurance.clinical import DELETE_SCHEMA, MESSAGES, assurance_of, headers, tool_call
from tests.assurance.conftest import assured_proxy
from tests.fakes.openai_server import FakeOpenAIServer, JsonReply, chat_completion

ACTIONS: dict[str, Any] = {"schemas": [DELETE_SCHEMA], "state": {"counters": {"deletes": 0}}}


async def _delete(client: AsyncOpenAI, fake: FakeOpenAIServer, session: str) -> list[str]:
    fake.script(JsonReply(chat_completion(None, tool_calls=[tool_call("c1", "/sandbox/a.md")])))
    completion = await client.chat.completions.create(
        model="gpt-fake",
        messages=MESSAGES,
        extra_headers=headers("enforce", "creative", **{"X-Assurance-Session": session}),
        extra_body={"assurance": {"actions": ACTIONS}},
    )
    assert assurance_of(completion)["replay_handle"]
    return [call.id for call in completion.choices[0].message.tool_calls or []]


async def test_second_delete_in_a_session_exceeds_the_counter(
    client: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """With `deletes <= 1`, a session's second delete is blocked; another session is fresh."""
    assert await _delete(client, fake_upstream, "s1") == ["c1"]
    assert await _delete(client, fake_upstream, "s1") == []
    assert await _delete(client, fake_upstream, "s2") == ["c1"]


async def test_config_schemas_apply_when_the_request_brings_none(
    fake_upstream: FakeOpenAIServer, tmp_path: Path
) -> None:
    """`[assurance] actions_file` schemas gate the tool calls of requests that bring none."""
    actions_file = tmp_path / "actions.json"
    actions_file.write_text(json.dumps({"schemas": [DELETE_SCHEMA], "unknown_tools": "block"}))
    calls = [tool_call("c1", "/etc/passwd"), tool_call("c2", "/sandbox/a.md")]
    fake_upstream.script(JsonReply(chat_completion(None, tool_calls=calls)))
    async with (
        assured_proxy(
            fake_upstream.base_url, tmp_path, assurance={"actions_file": str(actions_file)}
        ) as proxy,
        AsyncOpenAI(base_url=proxy.base_url, api_key="k", max_retries=0) as client,
    ):
        completion = await client.chat.completions.create(
            model="gpt-fake", messages=MESSAGES, extra_headers=headers("enforce", "creative")
        )
    assert [call.id for call in completion.choices[0].message.tool_calls or []] == ["c2"]
    dropped = assurance_of(completion)["card"]["dropped_claims"]
    assert any("c1" in line and "path_in_sandbox" in line for line in dropped)


async def test_concurrent_calls_of_one_session_are_chained_not_raced(
    client: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """Two simultaneous deletes in one session: exactly one passes `deletes <= 1`."""
    results = await asyncio.gather(*(_delete(client, fake_upstream, "s3") for _ in range(2)))
    assert sorted(results) == [[], ["c1"]]
