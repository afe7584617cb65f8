"""Benchmark: end-to-end latency of mode `enforce` against mode `off` (issue 4).

A local upstream answers every chat request after a fixed 100 ms (`proxy.upstreams.demo`) with an
answer of 5, 20 or 50 sentence claims; each request carries 10 evidence chunks. NLI runs on a fake
TEI server (`tests.fakes.tei_server`) that takes 20 ms per call; the embedder is the same fake TEI
(`/embed`, 20 ms), the decomposer is the sentence splitter and the paraphraser the rule set. Targets
are measured round-robin (off, enforce-5, enforce-20, enforce-50 in turn) to share noise. Prints one
JSON object: medians, the overhead over `off`, oracle calls per request, whether
`enforce <= off + 2 oracle round trips + 25 ms` held for every size, and the median time of the
in-process verify-before-emit check (`self_check_median_ms`, part of the enforce latency; timed by
wrapping `proxy.assurance.certify.check_bundle`).

Run: `.venv/bin/python -m bench.assurance [--rounds 30]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

import proxy.assurance.certify as certify_module
from certifiers.verify import check_bundle
from oracles.text import segments
from proxy.assurance.lifecycle import setup_assurance
from proxy.config import Config, config_from_mapping
from proxy.server.app import create_app
from proxy.server.log import configure_logging
from proxy.server.runner import make_runner
from proxy.upstreams.demo import FixedAnswer, serve_fixed_answer
from tests.fakes.tei_server import FakeTEIServer

UPSTREAM_DELAY_S = 0.100
ORACLE_DELAY_S = 0.020
CLAIM_COUNTS = (5, 20, 50)
EVIDENCE_CHUNKS = 10
SLACK_MS = 25.0


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


def bench_config(upstream_url: str, tei_url: str, store: str) -> Config:
    """The proxy under test: sentence decomposer, TEI NLI and embedder, rules paraphraser."""
    return config_from_mapping(
        {
            "server": {"host": "127.0.0.1", "port": 0, "max_concurrency": 64},
            "upstreams": [{"name": "bench", "kind": "openai", "base_url": upstream_url}],
            "assurance": {"default_policy": "enterprise_qa"},
            "oracles": {
                "decomposer": {"kind": "sentences"},
                "nli": {"kind": "tei", "url": tei_url, "aggregation": "concat"},
                "paraphraser": {"kind": "rules"},
                "embedder": {"kind": "tei", "url": tei_url},
            },
            "store": {"path": store},
        }
    )


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


SELF_CHECK_MS: list[float] = []


def _timed_check_bundle(real: Any) -> Any:
    """`check_bundle` that appends each call's duration (ms) to SELF_CHECK_MS."""

    def check(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            SELF_CHECK_MS.append((time.perf_counter() - started) * 1000)

    return check


async def one_size(rounds: int, claims: int, tei: FakeTEIServer, root: str) -> dict[str, Any]:
    """Interleaved off/enforce latencies for one answer size."""
    url = f"{root}/v1/chat/completions"
    off: list[float] = []
    enforce: list[float] = []
    calls_before = len(tei.calls)
    async with aiohttp.ClientSession() as session:
        for _ in range(2):  # warm-up
            await timed_call(session, url, "enforce", claims)
        calls_before = len(tei.calls)
        SELF_CHECK_MS.clear()
        for _ in range(rounds):
            off.append(await timed_call(session, url, "off", claims))
            enforce.append(await timed_call(session, url, "enforce", claims))
    calls = tei.calls[calls_before:]
    off_ms = statistics.median(off)
    enforce_ms = statistics.median(enforce)
    target = off_ms + 2 * ORACLE_DELAY_S * 1000 + SLACK_MS
    return {
        "claims": claims,
        "off_median_ms": round(off_ms, 2),
        "enforce_median_ms": round(enforce_ms, 2),
        "overhead_ms": round(enforce_ms - off_ms, 2),
        "self_check_median_ms": round(statistics.median(SELF_CHECK_MS), 2),
        "target_ms": round(target, 2),
        "within_target": enforce_ms <= target,
        "oracle_calls_per_request": {
            route: sum(1 for r, _ in calls if r == route) / rounds
            for route in ("/predict", "/embed")
        },
        "peak_tei_in_flight": tei.peak_in_flight,
    }


async def main_async(rounds: int) -> dict[str, Any]:
    """Run every size and collect the report."""
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-assurance-") as tmp:
        async with FakeTEIServer(delay_s=ORACLE_DELAY_S, dim=384) as tei:
            for claims in CLAIM_COUNTS:
                answer = FixedAnswer(content=answer_with(claims), delay_s=UPSTREAM_DELAY_S)
                async with serve_fixed_answer(answer) as upstream:
                    config = bench_config(upstream, tei.url, str(Path(tmp) / f"{claims}.sqlite3"))
                    async with serving(config) as root:
                        results.append(await one_size(rounds, claims, tei, root))
    return {
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
        },
        "upstream_delay_ms": UPSTREAM_DELAY_S * 1000,
        "oracle_delay_ms": ORACLE_DELAY_S * 1000,
        "evidence_chunks": EVIDENCE_CHUNKS,
        "rounds": rounds,
        "sizes": results,
        "all_within_target": all(r["within_target"] for r in results),
    }


def main() -> None:
    """Parse flags, run, print the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    configure_logging(level="warning")
    vars(certify_module)["check_bundle"] = _timed_check_bundle(check_bundle)
    print(json.dumps(asyncio.run(main_async(args.rounds)), indent=2))


if __name__ == "__main__":
    main()
