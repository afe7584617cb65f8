"""Retention and session expiry: purged cards answer 404 naming retention; idle sessions restart."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
from openai import AsyncOpenAI

from proxy.assurance.slot import PIPELINE
from tests.assurance.clinical import MESSAGES, assurance_of, headers, tool_call
from tests.assurance.conftest import assured_proxy
from tests.assurance.test_trajectory import ACTIONS
from tests.fakes.openai_server import FakeOpenAIServer, JsonReply, chat_completion


async def _get(url: str) -> tuple[int, dict[str, object]]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        body: dict[str, object] = await response.json()
        return response.status, body


async def test_a_purged_card_is_a_404_naming_retention(
    fake_upstream: FakeOpenAIServer, tmp_path: Path
) -> None:
    """A bundle older than `retention_days` is purged in the background; its GET says why."""
    old_day = time.strftime("%Y%m%d", time.gmtime(time.time() - 3 * 86400))
    old = f"creative-{old_day}-0123456789abcdef"
    fake_upstream.script(JsonReply(chat_completion("Aspirin inhibits COX enzymes.")))
    async with (
        assured_proxy(
            fake_upstream.base_url,
            tmp_path,
            store={"retention_days": 1, "maintenance_interval_s": 0.1},
        ) as proxy,
        AsyncOpenAI(base_url=proxy.base_url, api_key="k", max_retries=0) as client,
    ):
        store = proxy.app[PIPELINE].require().certifier.store
        await store.put(old, b"{}", int(time.time()) - 3 * 86400)
        completion = await client.chat.completions.create(
            model="gpt-fake", messages=MESSAGES, extra_headers=headers("shadow", "creative")
        )
        fresh = assurance_of(completion)["replay_handle"]
        for _ in range(100):
            if await store.get(old) is None:
                break
            await asyncio.sleep(0.05)
        status, body = await _get(f"{proxy.base_url}/assurance/cards/{old}")
        fresh_status, _ = await _get(f"{proxy.base_url}/assurance/cards/{fresh}")
        unknown_status, unknown = await _get(
            f"{proxy.base_url}/assurance/cards/creative-{time.strftime('%Y%m%d')}-{'0' * 16}"
        )
    assert status == 404
    error = body["error"]
    assert isinstance(error, dict)
    assert error["code"] == "card_purged"
    assert "retention_days = 1" in str(error["message"])
    assert fresh_status == 200
    assert unknown_status == 404
    unknown_error = unknown["error"]
    assert isinstance(unknown_error, dict)
    assert unknown_error["code"] == "card_not_found"


async def test_an_idle_session_expires_after_its_ttl(
    fake_upstream: FakeOpenAIServer, tmp_path: Path
) -> None:
    """`deletes <= 1`: blocked on the second call, allowed again once the session sat idle."""
    replies = [
        JsonReply(chat_completion(None, tool_calls=[tool_call("c1", "/sandbox/a.md")]))
        for _ in range(3)
    ]
    fake_upstream.script(*replies)
    async with (
        assured_proxy(fake_upstream.base_url, tmp_path, assurance={"session_ttl_s": 1}) as proxy,
        AsyncOpenAI(base_url=proxy.base_url, api_key="k", max_retries=0) as client,
    ):

        async def delete() -> list[str]:
            completion = await client.chat.completions.create(
                model="gpt-fake",
                messages=MESSAGES,
                extra_headers=headers("enforce", "creative", **{"X-Assurance-Session": "s"}),
                extra_body={"assurance": {"actions": ACTIONS}},
            )
            return [call.id for call in completion.choices[0].message.tool_calls or []]

        assert await delete() == ["c1"]
        assert await delete() == []
        await asyncio.sleep(2.2)
        assert await delete() == ["c1"]


async def test_sessions_survive_a_restart(fake_upstream: FakeOpenAIServer, tmp_path: Path) -> None:
    """The session's counters are in the store file: a new process continues the trajectory."""
    fake_upstream.script(
        *(
            JsonReply(chat_completion(None, tool_calls=[tool_call("c1", "/sandbox/a.md")]))
            for _ in range(2)
        )
    )
    for expected in (["c1"], []):
        async with (
            assured_proxy(fake_upstream.base_url, tmp_path) as proxy,
            AsyncOpenAI(base_url=proxy.base_url, api_key="k", max_retries=0) as client,
        ):
            completion = await client.chat.completions.create(
                model="gpt-fake",
                messages=MESSAGES,
                extra_headers=headers("enforce", "creative", **{"X-Assurance-Session": "r"}),
                extra_body={"assurance": {"actions": ACTIONS}},
            )
        assert [c.id for c in completion.choices[0].message.tool_calls or []] == expected
