"""Two `assurance serve` replicas on one PostgreSQL database behave as one proxy.

Cards and certified Responses stored by one are served by the other, one session's
`counter_within` budget holds across both under concurrency, a replica killed with SIGKILL
mid-stream does not disturb the other, and a database restart mid-run degrades (shadow still
answers, enforce fails closed, `/readyz` false) and recovers without restarting the replicas.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from openai import APIStatusError, AsyncOpenAI

from tests.assurance.clinical import (
    DELETE_SCHEMA,
    EVIDENCE,
    MESSAGES,
    WITH_CONTRADICTION,
    assurance_of,
    headers,
    tool_call,
)
from tests.fakes.openai_routes import message_item, response_object
from tests.fakes.openai_server import (
    FakeOpenAIServer,
    JsonReply,
    StreamReply,
    chat_completion,
    stream_chunks,
)
from tests.pg import PostgresServer
from tests.store.conftest import CREDENTIAL_VAR
from tests.store.replicas import Replica, replica_config

BUDGET = 5
SCHEMA: dict[str, Any] = copy.deepcopy(DELETE_SCHEMA)
SCHEMA["pre"][1]["max"] = BUDGET
ACTIONS: dict[str, Any] = {"schemas": [SCHEMA], "state": {"counters": {"deletes": 0}}}


@pytest.fixture
async def fake_upstream() -> AsyncIterator[FakeOpenAIServer]:
    """The fake OpenAI upstream both replicas forward to."""
    async with FakeOpenAIServer() as fake:
        yield fake


@pytest.fixture
async def replicas(
    pg_url: str, fake_upstream: FakeOpenAIServer, tmp_path: Path
) -> AsyncIterator[tuple[Replica, Replica]]:
    """Two replicas started together on one fresh database."""
    store = f'url = "{pg_url}"\npassword_env = "{CREDENTIAL_VAR}"\ntimeout_s = 2.0\n'
    store += "maintenance_interval_s = 0.3\n"
    config = replica_config(fake_upstream.base_url, store)
    started = await asyncio.gather(
        Replica.start(config, tmp_path, "a"), Replica.start(config, tmp_path, "b")
    )
    try:
        yield started[0], started[1]
    finally:
        codes = await asyncio.gather(*(replica.stop() for replica in started))
        del codes


async def _enforce_delete(client: AsyncOpenAI, session: str) -> list[str]:
    completion = await client.chat.completions.create(
        model="gpt-fake",
        messages=MESSAGES,
        extra_headers=headers("enforce", "creative", **{"X-Assurance-Session": session}),
        extra_body={"assurance": {"actions": ACTIONS}},
    )
    return [call.id for call in completion.choices[0].message.tool_calls or []]


async def _ready(replica: Replica, session: aiohttp.ClientSession) -> bool:
    async with session.get(f"{replica.root_url}/readyz") as response:
        return response.status == 200


async def _until_ready(replica: Replica, want: bool, timeout_s: float = 15.0) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout_s
    async with aiohttp.ClientSession() as session:
        while asyncio.get_running_loop().time() < deadline:
            if await _ready(replica, session) == want:
                return True
            await asyncio.sleep(0.1)
    return False


async def test_a_card_stored_by_one_replica_is_served_by_the_other(
    replicas: tuple[Replica, Replica], fake_upstream: FakeOpenAIServer
) -> None:
    """The bundle of a call through A is fetched byte for byte from B."""
    a, b = replicas
    fake_upstream.script(JsonReply(chat_completion("Aspirin inhibits COX enzymes.")))
    async with AsyncOpenAI(base_url=a.base_url, api_key="k", max_retries=0) as client:
        completion = await client.chat.completions.create(
            model="gpt-fake", messages=MESSAGES, extra_headers=headers("shadow", "creative")
        )
    handle = assurance_of(completion)["replay_handle"]
    assert handle
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{a.base_url}/assurance/cards/{handle}") as from_a:
            bundle_a = await from_a.read()
        async with session.get(f"{b.base_url}/assurance/cards/{handle}") as from_b:
            assert from_b.status == 200
            bundle_b = await from_b.read()
    assert bundle_b == bundle_a
    assert handle.encode() in bundle_b


async def test_a_response_certified_by_one_replica_is_retrieved_from_the_other(
    replicas: tuple[Replica, Replica], fake_upstream: FakeOpenAIServer
) -> None:
    """GET /v1/responses/{id} on B returns what A emitted in enforce, not the provider's copy."""
    a, b = replicas
    original = response_object([message_item(WITH_CONTRADICTION)], response_id="resp_ab")
    fake_upstream.stored_responses["resp_ab"] = original
    fake_upstream.script(JsonReply(original))
    async with AsyncOpenAI(base_url=a.base_url, api_key="k", max_retries=0) as client:
        emitted = await client.responses.create(
            model="gpt-fake",
            input="What creatinine clearance does standard apixaban dosing need?",
            extra_headers=headers("enforce"),
            extra_body={"assurance": {"evidence": EVIDENCE}},
        )
    assert emitted.output_text != original["output"][0]["content"][0]["text"]
    async with AsyncOpenAI(base_url=b.base_url, api_key="k", max_retries=0) as client:
        fetched = await client.responses.retrieve("resp_ab")
    assert fetched.output_text == emitted.output_text
    assert (fetched.model_extra or {})["assurance"] == (emitted.model_extra or {})["assurance"]


async def test_one_session_split_across_replicas_gets_exactly_its_budget(
    replicas: tuple[Replica, Replica], fake_upstream: FakeOpenAIServer
) -> None:
    """20 concurrent deletes of one session, alternating A and B: exactly `BUDGET` are emitted."""
    a, b = replicas
    fake_upstream.script(
        *(
            JsonReply(chat_completion(None, tool_calls=[tool_call("c1", "/sandbox/a.md")]))
            for _ in range(20)
        )
    )
    async with (
        AsyncOpenAI(base_url=a.base_url, api_key="k", max_retries=0, timeout=60) as to_a,
        AsyncOpenAI(base_url=b.base_url, api_key="k", max_retries=0, timeout=60) as to_b,
    ):
        results = await asyncio.gather(
            *(_enforce_delete(to_a if i % 2 else to_b, "agent-7") for i in range(20))
        )
        emitted = [r for r in results if r == ["c1"]]
        assert len(emitted) == BUDGET
        assert all(r in ([], ["c1"]) for r in results)
        # the budget is spent for the session on both replicas; another session is fresh
        fake_upstream.script(
            *(
                JsonReply(chat_completion(None, tool_calls=[tool_call("c1", "/sandbox/a.md")]))
                for _ in range(3)
            )
        )
        assert await _enforce_delete(to_a, "agent-7") == []
        assert await _enforce_delete(to_b, "agent-7") == []
        assert await _enforce_delete(to_b, "agent-8") == ["c1"]


async def test_a_replica_killed_mid_stream_leaves_the_other_serving(
    replicas: tuple[Replica, Replica], fake_upstream: FakeOpenAIServer
) -> None:
    """SIGKILL A while both relay a slow stream: B's stream completes and B keeps answering."""
    a, b = replicas
    pieces = tuple(f"w{i} " for i in range(20))
    fake_upstream.script(
        StreamReply(stream_chunks(pieces), delay_s=0.05),
        StreamReply(stream_chunks(pieces), delay_s=0.05),
    )
    body = {"model": "gpt-fake", "messages": MESSAGES, "stream": True}
    async with aiohttp.ClientSession() as session:
        stream_a = await session.post(f"{a.base_url}/chat/completions", json=body)
        stream_b = await session.post(f"{b.base_url}/chat/completions", json=body)
        await stream_a.content.readuntil(b"\n\n")
        await stream_b.content.readuntil(b"\n\n")
        a.kill()
        with pytest.raises(aiohttp.ClientError):
            await stream_a.content.read()
        rest_b = await stream_b.content.read()
        assert b"data: [DONE]" in rest_b
        assert b"w19" in rest_b
        stream_a.release()
        stream_b.release()
        assert await _ready(b, session)
    fake_upstream.script(JsonReply(chat_completion("Aspirin inhibits COX enzymes.")))
    async with AsyncOpenAI(base_url=b.base_url, api_key="k", max_retries=0) as client:
        completion = await client.chat.completions.create(
            model="gpt-fake", messages=MESSAGES, extra_headers=headers("shadow", "creative")
        )
    assert assurance_of(completion)["replay_handle"]


async def test_database_restart_mid_run_degrades_then_recovers(
    replicas: tuple[Replica, Replica],
    fake_upstream: FakeOpenAIServer,
    postgres: PostgresServer,
) -> None:
    """DB down: readyz false, shadow answers with replay_error, enforce sessions fail closed.

    DB back: both replicas turn ready, store cards and advance sessions again, no restart.
    """
    a, b = replicas
    await asyncio.to_thread(postgres.stop)
    try:
        assert await _until_ready(a, want=False)
        assert await _until_ready(b, want=False)
        fake_upstream.script(
            JsonReply(chat_completion("Aspirin inhibits COX enzymes.")),
            JsonReply(chat_completion(None, tool_calls=[tool_call("c1", "/sandbox/a.md")])),
        )
        async with AsyncOpenAI(base_url=a.base_url, api_key="k", max_retries=0) as client:
            completion = await client.chat.completions.create(
                model="gpt-fake", messages=MESSAGES, extra_headers=headers("shadow", "creative")
            )
            field = assurance_of(completion)
            assert field["replay_handle"] is None
            assert "could not be stored" in field["replay_error"]
            with pytest.raises(APIStatusError) as caught:
                await _enforce_delete(client, "agent-9")
        assert caught.value.status_code == 503
        error = caught.value.body
        assert isinstance(error, dict)
        assert error["code"] == "store_unavailable"
    finally:
        await asyncio.to_thread(postgres.start)
    assert await _until_ready(a, want=True)
    assert await _until_ready(b, want=True)
    fake_upstream.script(
        *(
            JsonReply(chat_completion(None, tool_calls=[tool_call("c1", "/sandbox/a.md")]))
            for _ in range(2)
        )
    )
    async with (
        AsyncOpenAI(base_url=a.base_url, api_key="k", max_retries=0) as to_a,
        AsyncOpenAI(base_url=b.base_url, api_key="k", max_retries=0) as to_b,
    ):
        assert await _enforce_delete(to_a, "agent-9") == ["c1"]
        assert await _enforce_delete(to_b, "agent-9") == ["c1"]
