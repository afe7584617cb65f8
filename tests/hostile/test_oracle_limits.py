"""Oracle limits (issue 10 items 14, 15): the end-to-end assurance deadline, scrubbed oracle errors,
bounded CPU pools, and the verify endpoint's own body and concurrency limits.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import proxy.assurance.routes
from certifiers.verify import check_bundle
from proxy.assurance.certify import Certifier
from tests.assurance.conftest import assured_proxy
from tests.fakes.openai_server import FakeOpenAIServer, JsonReply, chat_completion
from tests.fakes.tei_server import FakeTEIServer
from tests.harness import RunningProxy
from tests.hostile.conftest import body_with, post

EVIDENCE_TEXT = "SECRET-EVIDENCE-42 the dose is five milligrams"
EVIDENCE = [{"id": "e1", "text": EVIDENCE_TEXT}]


def _reasons(answer_body: dict[str, Any]) -> list[str]:
    return list(answer_body["assurance"]["card"]["verdict"].get("reasons", []))


@pytest.fixture
async def slow_tei() -> AsyncIterator[FakeTEIServer]:
    """A TEI server taking 3 s per call."""
    async with FakeTEIServer(delay_s=3.0) as tei:
        yield tei


@pytest.mark.parametrize("where", ["body", "config"])
async def test_deadline_bounds_the_oracle_work(
    fake_upstream: FakeOpenAIServer,
    slow_tei: FakeTEIServer,
    tmp_path: Path,
    http: aiohttp.ClientSession,
    where: str,
) -> None:
    """Item 15: the call abstains at its deadline instead of waiting out each oracle timeout."""
    assurance: dict[str, Any] = {"oracle_timeout_s": 10.0}
    field: dict[str, Any] = {"evidence": EVIDENCE}
    if where == "config":
        assurance["deadline_s"] = 0.5
    else:
        field["deadline_s"] = 0.5
    oracles = {"nli": {"kind": "tei", "url": slow_tei.url, "timeout_s": 10.0}}
    async with assured_proxy(
        fake_upstream.base_url, tmp_path, oracles=oracles, assurance=assurance
    ) as px:
        started = time.monotonic()
        answer = await post(http, px, body_with(assurance=field), mode="shadow")
        elapsed = time.monotonic() - started
    assert answer.status == 200
    assert elapsed < 2.5  # one TEI call alone takes 3 s; the oracle timeout is 10 s
    assert any("deadline" in reason for reason in _reasons(answer.json()))


async def test_client_deadline_must_be_positive(
    proxy: RunningProxy, http: aiohttp.ClientSession
) -> None:
    """`assurance.deadline_s` <= 0 is a 400 naming it."""
    answer = await post(http, proxy, body_with(assurance={"deadline_s": -1}), mode="shadow")
    assert answer.status == 400
    assert answer.error()["param"] == "assurance.deadline_s"


async def test_oracle_errors_never_carry_bodies_or_evidence(
    fake_upstream: FakeOpenAIServer, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    """Item 15: a TEI error body echoing the inputs reached the card, headers and stored bundle."""
    failing = FakeTEIServer(status=500, error_body='{"error": "TEI-BODY-MARKER on {inputs}"}')
    async with failing as tei:
        oracles = {"nli": {"kind": "tei", "url": tei.url}}
        async with assured_proxy(fake_upstream.base_url, tmp_path, oracles=oracles) as px:
            answer = await post(
                http, px, body_with(assurance={"evidence": EVIDENCE}), mode="shadow"
            )
            handle = answer.json()["assurance"]["replay_handle"]
            async with http.get(f"{px.base_url}/assurance/cards/{handle}") as stored:
                bundle = await stored.read()
    card_header = answer.headers.get("X-Assurance-Card", "")
    exposed = [
        answer.body.decode(),
        json.dumps(answer.headers),
        base64.urlsafe_b64decode(card_header + "=" * (-len(card_header) % 4)).decode(),
        bundle.decode(),
    ]
    for text in exposed:
        assert "TEI-BODY-MARKER" not in text
        assert "SECRET-EVIDENCE-42" not in text
    assert any("expected HTTP 200" in reason for reason in _reasons(answer.json()))


async def test_llm_oracle_error_message_is_not_quoted(
    fake_upstream: FakeOpenAIServer, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    """An LLM judge's upstream answering 400 with a message quoting the prompt: status only."""
    echo = {"error": {"message": f"bad prompt: {EVIDENCE_TEXT}", "type": "invalid_request_error"}}
    fake_upstream.script(
        JsonReply(chat_completion("Five milligrams.")), JsonReply(echo, status=400)
    )
    oracles = {"nli": {"kind": "llm", "upstream": "fake", "model": "gpt-fake"}}
    async with assured_proxy(fake_upstream.base_url, tmp_path, oracles=oracles) as px:
        answer = await post(http, px, body_with(assurance={"evidence": EVIDENCE}), mode="shadow")
    assert "SECRET-EVIDENCE-42" not in answer.body.decode()
    assert any("got 400" in reason for reason in _reasons(answer.json()))


async def test_verify_has_its_own_body_limit(
    fake_upstream: FakeOpenAIServer, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    """Item 14: `max_verify_body_bytes` (below the server's limit) gives a 413, also chunked."""
    async with assured_proxy(
        fake_upstream.base_url, tmp_path, assurance={"max_verify_body_bytes": 1000}
    ) as px:
        url = f"{px.base_url}/assurance/verify"
        async with http.post(url, data=b"{" + b" " * 2000 + b"}") as declared:
            assert declared.status == 413

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(4):
                yield b" " * 400

        async with http.post(url, data=chunks()) as chunked:
            assert chunked.status == 413
        async with http.post(url, data=b"{}") as small:
            assert small.status == 200
            assert (await small.json())["valid"] is False


async def test_verify_concurrency_limit_and_pools_keep_certification_going(
    fake_upstream: FakeOpenAIServer,
    tmp_path: Path,
    http: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Item 14: verify runs in its own pool under its own limit; certification is not starved.

    The verifier is wrapped to block on an event (a stand-in for a bundle costing seconds of CPU)
    and to record its thread; certification records its thread too.
    """
    release = threading.Event()
    started = threading.Event()
    threads: dict[str, str] = {}

    def blocking_check(data: bytes, *, trusted_keys: tuple[bytes, ...] | None = None) -> Any:
        threads["verify"] = threading.current_thread().name
        started.set()
        release.wait(10)
        return check_bundle(data, trusted_keys=trusted_keys)

    original = Certifier._certify_sync

    def recording_certify(self: Certifier, inputs: Any) -> Any:
        threads["certify"] = threading.current_thread().name
        return original(self, inputs)

    monkeypatch.setattr(proxy.assurance.routes, "check_bundle", blocking_check)
    monkeypatch.setattr(Certifier, "_certify_sync", recording_certify)
    async with assured_proxy(
        fake_upstream.base_url, tmp_path, assurance={"max_concurrent_verify": 1}
    ) as px:
        url = f"{px.base_url}/assurance/verify"
        first = asyncio.ensure_future(http.post(url, data=b"{}"))
        assert await asyncio.to_thread(started.wait, 10)
        async with http.post(url, data=b"{}") as second:
            assert second.status == 429
            assert (await second.json())["error"]["code"] == "too_many_verify_requests"
        answer = await post(http, px, body_with(assurance={"evidence": EVIDENCE}), mode="enforce")
        assert answer.status == 200
        release.set()
        response = await first
        assert response.status == 200
        response.release()
    assert threads["verify"].startswith("assurance-verify")
    assert threads["certify"].startswith("assurance-certify")
