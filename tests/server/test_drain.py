"""SIGTERM with `server.drain_s`: `/readyz` turns false first, in-flight calls finish, exit 0."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp

from tests.fakes.openai_server import FakeOpenAIServer, JsonReply, chat_completion
from tests.store.replicas import Replica, replica_config

BODY = {"model": "gpt-fake", "messages": [{"role": "user", "content": "hi"}]}


async def test_readyz_turns_false_before_the_listener_closes(tmp_path: Path) -> None:
    """During the drain window readyz is 503 while a slow call still completes; then exit 0."""
    async with FakeOpenAIServer() as fake:
        fake.script(JsonReply(chat_completion("drained"), delay_s=1.5))
        config = replica_config(
            fake.base_url,
            f'path = "{tmp_path / "store.sqlite3"}"',
            server_toml="drain_s = 1.0",
        )
        replica = await Replica.start(config, tmp_path, "drain")
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{replica.root_url}/readyz") as before:
                assert before.status == 200
            pending = asyncio.ensure_future(
                session.post(f"{replica.base_url}/chat/completions", json=BODY)
            )
            await fake.wait_for_requests(1)
            signalled = time.monotonic()
            stopping = asyncio.ensure_future(replica.stop())
            await asyncio.sleep(0.3)
            async with session.get(f"{replica.root_url}/readyz") as during:
                assert during.status == 503
            response = await pending
            body = await response.json()
            response.release()
            code = await stopping
        assert time.monotonic() - signalled < 5.0 + 1.0 + 2.0
    assert response.status == 200
    assert body["choices"][0]["message"]["content"] == "drained"
    assert code == 0
