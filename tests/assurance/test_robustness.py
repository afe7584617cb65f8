"""Pipeline robustness through the OpenAI SDK: streams, failures, sessions, probes, logs, CPU work.

Covers audit findings P0-7 (CPU-bound oracles off the loop), P1-4..P1-8 and P2-1/P2-2: enforce
streaming with reject, truncated and oversized shadow streams, certification and store failures,
session counters only for emitted calls, `/readyz` with the pipeline, and request-id logging.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest
from openai import AsyncOpenAI

import oracles.nli_lexical
import proxy.assurance.certify
from certifiers.errors import ScenarioError
from oracles.nli_common import PairScores
from proxy.assurance.headers import decode_card_header
from proxy.assurance.slot import PIPELINE
from proxy.store.sqlite import StoreError
from tests.assurance.clinical import (
    DELETE_SCHEMA,
    EVIDENCE,
    MESSAGES,
    SUPPORTED,
    UNSUPPORTED,
    assurance_of,
    headers,
    tool_call,
)
from tests.assurance.conftest import assured_proxy
from tests.fakes.openai_server import (
    FakeOpenAIServer,
    JsonReply,
    StreamReply,
    chat_completion,
    stream_chunks,
)
from tests.harness import LogCapture, RunningProxy

ACTIONS: dict[str, Any] = {"schemas": [DELETE_SCHEMA], "state": {"counters": {"deletes": 0}}}


@pytest.fixture
def logs() -> Iterator[LogCapture]:
    """structlog output captured as JSON lines for the duration of the test."""
    with LogCapture() as capture:
        yield capture


async def _shadow_stream(client: AsyncOpenAI, policy: str = "enterprise_qa") -> list[Any]:
    stream = await client.chat.completions.create(
        model="gpt-fake",
        messages=MESSAGES,
        stream=True,
        extra_headers=headers("shadow", policy),
        extra_body={"assurance": {"evidence": EVIDENCE}},
    )
    return [chunk async for chunk in stream]


def _trailer(chunks: list[Any]) -> dict[str, Any]:
    value = (chunks[-1].model_extra or {}).get("assurance")
    assert isinstance(value, dict), f"expected a trailer chunk with assurance, got {chunks[-1]}"
    return value


async def test_enforce_stream_with_reject_streams_the_abstention(
    client: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """A rejected streamed answer: abstention chunks, content_filter, card in headers and last."""
    fake_upstream.script(JsonReply(chat_completion(UNSUPPORTED)))
    async with client.chat.completions.with_streaming_response.create(
        model="gpt-fake",
        messages=MESSAGES,
        stream=True,
        extra_headers=headers("enforce", "clinical"),
        extra_body={"assurance": {"evidence": EVIDENCE}},
    ) as response:
        assert response.headers["X-Assurance-Policy-Decision"] == "reject"
        card = decode_card_header(response.headers["X-Assurance-Card"])
        chunks = [chunk async for chunk in await response.parse()]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert "moon" not in text
    assert text
    assert finishes[-1] == "content_filter"
    assert _trailer(chunks)["card"] == card


async def test_truncated_shadow_stream_is_certified_as_truncated(
    client: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """An upstream stream that closes without finish_reason and [DONE] gets an abstain card."""
    chunks = stream_chunks((SUPPORTED[:30], SUPPORTED[30:]))[:-1]  # no finish chunk
    raw = b"".join(b"data: " + json.dumps(chunk).encode() + b"\n\n" for chunk in chunks)
    fake_upstream.script(JsonReply(raw=raw, content_type="text/event-stream"))
    received = await _shadow_stream(client)
    text = "".join(c.choices[0].delta.content or "" for c in received if c.choices)
    assert text == SUPPORTED
    verdict = _trailer(received)["card"]["verdict"]
    assert verdict["kind"] == "abstain"
    assert any("upstream" in reason and "[DONE]" in reason for reason in verdict["reasons"])


async def test_oversized_shadow_stream_is_relayed_with_an_abstain_card(
    fake_upstream: FakeOpenAIServer, tmp_path: Path
) -> None:
    """Past `max_answer_bytes` the stream still passes through; the card abstains naming it."""
    pieces = tuple(SUPPORTED[i : i + 10] for i in range(0, len(SUPPORTED), 10))
    fake_upstream.script(StreamReply(stream_chunks(pieces)))
    async with (
        assured_proxy(fake_upstream.base_url, tmp_path, assurance={"max_answer_bytes": 40}) as px,
        AsyncOpenAI(base_url=px.base_url, api_key="k", max_retries=0) as client,
    ):
        received = await _shadow_stream(client)
    text = "".join(c.choices[0].delta.content or "" for c in received if c.choices)
    assert text == SUPPORTED
    verdict = _trailer(received)["card"]["verdict"]
    assert verdict["kind"] == "abstain"
    assert any("max_answer_bytes" in reason for reason in verdict["reasons"])


async def test_oversized_enforce_answer_is_rejected(
    fake_upstream: FakeOpenAIServer, tmp_path: Path
) -> None:
    """An answer body over `max_answer_bytes` abstains in enforce: nothing of it is emitted."""
    fake_upstream.script(JsonReply(chat_completion(SUPPORTED)))
    async with (
        assured_proxy(fake_upstream.base_url, tmp_path, assurance={"max_answer_bytes": 40}) as px,
        AsyncOpenAI(base_url=px.base_url, api_key="k", max_retries=0) as client,
    ):
        completion = await client.chat.completions.create(
            model="gpt-fake",
            messages=MESSAGES,
            extra_headers=headers("enforce"),
            extra_body={"assurance": {"evidence": EVIDENCE}},
        )
    assert assurance_of(completion)["policy_decision"] == "reject"
    assert "anticoagulant" not in (completion.choices[0].message.content or "")


def _failing_certify(*args: Any, **kwargs: Any) -> Any:
    raise ScenarioError(f"Expected a claim, got {UNSUPPORTED!r}", path="$.claims[0]")


async def test_certification_failure_in_enforce_is_a_500_without_content(
    client: AsyncOpenAI,
    fake_upstream: FakeOpenAIServer,
    monkeypatch: pytest.MonkeyPatch,
    logs: LogCapture,
) -> None:
    """When the certifiers refuse the scenario, enforce emits no answer and quotes no claim."""
    monkeypatch.setattr(proxy.assurance.certify, "certify", _failing_certify)
    fake_upstream.script(JsonReply(chat_completion(UNSUPPORTED)))
    with pytest.raises(openai.InternalServerError) as caught:
        await client.chat.completions.create(
            model="gpt-fake",
            messages=MESSAGES,
            extra_headers=headers("enforce"),
            extra_body={"assurance": {"evidence": EVIDENCE}},
        )
    assert caught.value.code == "certification_failed"
    assert "$.claims[0]" in caught.value.message
    assert "moon" not in caught.value.response.text
    [failed] = logs.events("certification_failed")
    assert failed["at"] == "$.claims[0]"
    assert "moon" not in logs.text()


async def test_certification_failure_in_shadow_keeps_the_answer(
    client: AsyncOpenAI, fake_upstream: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Shadow never changes the answer: it arrives with `assurance.error` instead of a card."""
    monkeypatch.setattr(proxy.assurance.certify, "certify", _failing_certify)
    fake_upstream.script(JsonReply(chat_completion(SUPPORTED)))
    completion = await client.chat.completions.create(
        model="gpt-fake",
        messages=MESSAGES,
        extra_headers=headers("shadow"),
        extra_body={"assurance": {"evidence": EVIDENCE}},
    )
    assert completion.choices[0].message.content == SUPPORTED
    assert assurance_of(completion)["error"]["code"] == "certification_failed"


def _broken_store(running: RunningProxy, monkeypatch: pytest.MonkeyPatch) -> None:
    store = running.app[PIPELINE].require().certifier.store

    async def put(replay_handle: str, bundle: bytes, created_at: int) -> None:
        raise StoreError(f"Cannot write bundle {replay_handle!r}: disk full")

    monkeypatch.setattr(store, "put", put)


async def test_store_failure_in_enforce_emits_the_card_without_a_replay_handle(
    client: AsyncOpenAI,
    fake_upstream: FakeOpenAIServer,
    proxy: RunningProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A store that cannot write: the certified answer and card still go out, handle null."""
    _broken_store(proxy, monkeypatch)
    fake_upstream.script(JsonReply(chat_completion(SUPPORTED)))
    response = await client.chat.completions.with_raw_response.create(
        model="gpt-fake",
        messages=MESSAGES,
        extra_headers=headers("enforce"),
        extra_body={"assurance": {"evidence": EVIDENCE}},
    )
    completion = response.parse()
    assurance = assurance_of(completion)
    assert completion.choices[0].message.content == SUPPORTED
    assert assurance["policy_decision"] == "accept"
    assert assurance["replay_handle"] is None
    assert "replay_error" in assurance
    assert "X-Assurance-Replay-Handle" not in response.headers


async def test_store_failure_does_not_truncate_a_shadow_stream(
    client: AsyncOpenAI,
    fake_upstream: FakeOpenAIServer,
    proxy: RunningProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The shadow stream ends with its card chunk and [DONE] even when the store fails."""
    _broken_store(proxy, monkeypatch)
    fake_upstream.script(StreamReply(stream_chunks((SUPPORTED,))))
    received = await _shadow_stream(client)
    trailer = _trailer(received)
    assert trailer["card"]["verdict"]["kind"] == "certified"
    assert trailer["replay_handle"] is None


async def _delete(client: AsyncOpenAI, fake: FakeOpenAIServer, mode: str, policy: str) -> Any:
    content = UNSUPPORTED if policy == "clinical" else None
    calls = [tool_call("c1", "/sandbox/a.md")]
    fake.script(JsonReply(chat_completion(content, tool_calls=calls)))
    return await client.chat.completions.create(
        model="gpt-fake",
        messages=MESSAGES,
        extra_headers=headers(mode, policy, **{"X-Assurance-Session": "trajectory"}),
        extra_body={"assurance": {"evidence": EVIDENCE, "actions": ACTIONS}},
    )


async def test_shadow_calls_do_not_advance_the_session(
    client: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """A delete seen in shadow mode leaves the counter: the next enforce delete is allowed."""
    await _delete(client, fake_upstream, "shadow", "creative")
    completion = await _delete(client, fake_upstream, "enforce", "creative")
    assert [call.id for call in completion.choices[0].message.tool_calls or []] == ["c1"]
    completion = await _delete(client, fake_upstream, "enforce", "creative")
    assert not completion.choices[0].message.tool_calls


async def test_rejected_calls_do_not_advance_the_session(
    client: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """A rejected answer emits no call, so its delete is not charged to the session."""
    rejected = await _delete(client, fake_upstream, "enforce", "clinical")
    assert assurance_of(rejected)["policy_decision"] == "reject"
    assert not rejected.choices[0].message.tool_calls
    completion = await _delete(client, fake_upstream, "enforce", "creative")
    assert [call.id for call in completion.choices[0].message.tool_calls or []] == ["c1"]


async def test_readyz_waits_for_the_pipeline(proxy: RunningProxy) -> None:
    """/readyz is ready with the pipeline loaded and 503 while it is not."""
    slot = proxy.app[PIPELINE]
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{proxy.root_url}/readyz") as resp:
            assert resp.status == 200
        loaded, slot.pipeline = slot.pipeline, None
        try:
            async with session.get(f"{proxy.root_url}/readyz") as resp:
                assert resp.status == 503
        finally:
            slot.pipeline = loaded


async def test_enforce_logs_carry_the_request_id_and_no_text(
    client: AsyncOpenAI, fake_upstream: FakeOpenAIServer, logs: LogCapture
) -> None:
    """The pipeline's log line names the request id; no prompt, answer or evidence text."""
    fake_upstream.script(JsonReply(chat_completion(SUPPORTED)))
    response = await client.chat.completions.with_raw_response.create(
        model="gpt-fake",
        messages=MESSAGES,
        extra_headers=headers("enforce"),
        extra_body={"assurance": {"evidence": EVIDENCE}},
    )
    request_id = response.headers["X-Request-Id"]
    [certified] = logs.events("assurance_certified")
    assert certified["request_id"] == request_id
    assert certified["answer_chars"] == len(SUPPORTED)
    everything = logs.text()
    for text in ("anticoagulant", "creatinine", "apixaban dosing"):
        assert text not in everything


async def test_log_content_puts_query_and_answer_in_the_log(
    fake_upstream: FakeOpenAIServer, tmp_path: Path, logs: LogCapture
) -> None:
    """With `[assurance] log_content = true` the certified line carries query and answer."""
    fake_upstream.script(JsonReply(chat_completion(SUPPORTED)))
    async with (
        assured_proxy(fake_upstream.base_url, tmp_path, assurance={"log_content": True}) as px,
        AsyncOpenAI(base_url=px.base_url, api_key="sk-secret-client", max_retries=0) as client,
    ):
        await client.chat.completions.create(
            model="gpt-fake",
            messages=MESSAGES,
            extra_headers=headers("enforce"),
            extra_body={"assurance": {"evidence": EVIDENCE}},
        )
    [certified] = logs.events("assurance_certified")
    assert certified["answer"] == SUPPORTED
    assert certified["query"] == MESSAGES[0]["content"]
    assert "sk-secret-client" not in logs.text()


async def test_cpu_bound_nli_runs_off_the_loop_and_times_out(
    fake_upstream: FakeOpenAIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slow lexical judge neither blocks /healthz nor escapes `oracle_timeout_s` (abstain)."""
    real = oracles.nli_lexical.score_pairs

    def slow(pairs: list[tuple[str, str]]) -> list[PairScores]:
        time.sleep(1.5)  # stands in for minutes of token overlap on large evidence
        return real(pairs)

    monkeypatch.setattr(oracles.nli_lexical, "score_pairs", slow)
    fake_upstream.script(JsonReply(chat_completion(SUPPORTED)))
    async with (
        assured_proxy(fake_upstream.base_url, tmp_path, assurance={"oracle_timeout_s": 0.3}) as px,
        AsyncOpenAI(base_url=px.base_url, api_key="k", max_retries=0) as client,
        aiohttp.ClientSession() as session,
    ):
        call = asyncio.create_task(
            client.chat.completions.create(
                model="gpt-fake",
                messages=MESSAGES,
                extra_headers=headers("enforce"),
                extra_body={"assurance": {"evidence": EVIDENCE}},
            )
        )
        await fake_upstream.wait_for_requests(1)
        await asyncio.sleep(0.1)
        started = time.perf_counter()
        async with session.get(f"{px.root_url}/healthz") as resp:
            assert resp.status == 200
        healthz_s = time.perf_counter() - started
        completion = await call
    verdict = assurance_of(completion)["card"]["verdict"]
    assert healthz_s < 0.5
    assert verdict["kind"] == "abstain"
    assert any("nli" in reason for reason in verdict["reasons"])
