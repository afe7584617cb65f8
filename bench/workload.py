"""The benchmarks' shared workload: answers of N sentence claims, the evidence, the proxy, one call.

An answer of `claims` sentences ("Study i reports ...") is exactly `claims` claims for the sentence
decomposer; ten evidence chunks together state every study of the largest answer. `serving` runs
the proxy in-process on loopback; `timed_call` times one chat call in a given mode.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from aiohttp import web

from oracles.text import segments
from proxy.assurance.lifecycle import setup_assurance
from proxy.config import Config
from proxy.server.app import create_app
from proxy.server.runner import make_runner

UPSTREAM_DELAY_S = 0.100
CLAIM_COUNTS = (5, 20, 50)
EVIDENCE_CHUNKS = 10


def study(i: int) -> str:
    """One sentence: one claim for the sentence decomposer."""
    return f"Study {i} reports that compound {i} lowers blood pressure in adults."


def answer_with(claims: int) -> str:
    """An answer of exactly `claims` sentence claims (checked against the decomposer's splitter)."""
    answer = " ".join(study(i) for i in range(claims))
    if len(segments(answer)) != claims:
        raise AssertionError(
            f"expected {claims} claims, the splitter finds {len(segments(answer))}"
        )
    return answer


def evidence_chunks() -> list[dict[str, Any]]:
    """Ten evidence chunks that together state every study of the largest answer."""
    largest = max(CLAIM_COUNTS)
    return [
        {"id": f"doc-{j}", "text": " ".join(study(i) for i in range(j, largest, EVIDENCE_CHUNKS))}
        for j in range(EVIDENCE_CHUNKS)
    ]


@asynccontextmanager
async def serving(config: Config) -> AsyncIterator[str]:
    """The proxy on loopback; yields its root URL."""
    runner = make_runner(create_app(config, setup_assurance=setup_assurance), shutdown_grace_s=1)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def timed_call(session: aiohttp.ClientSession, url: str, mode: str, claims: int) -> float:
    """One chat call; returns its latency in ms (raises if the answer is not a 200)."""
    body: dict[str, Any] = {
        "model": f"m{claims}",
        "messages": [{"role": "user", "content": "What do the findings say about the doses?"}],
    }
    if mode != "off":
        body["assurance"] = {"evidence": evidence_chunks()}
    started = time.perf_counter()
    async with session.post(url, json=body, headers={"X-Assurance-Mode": mode}) as response:
        payload = await response.read()
        if response.status != 200:
            raise RuntimeError(f"expected 200, got {response.status}: {payload[:200]!r}")
    return (time.perf_counter() - started) * 1000
