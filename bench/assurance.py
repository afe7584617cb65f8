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

Run: `.venv/bin/python -m bench.assurance [--rounds 30]`. With `--nli embedded` it runs instead the
embedded-model benchmark (`bench.embedded_nli`: the shipped cross-encoder on this CPU, enforce
overhead at 5/20/50 claims x 10 chunks with and without the top-k pre-filter).
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
from pathlib import Path
from typing import Any

import aiohttp

import proxy.assurance.certify as certify_module
from bench import embedded_nli
from bench.workload import (
    CLAIM_COUNTS,
    EVIDENCE_CHUNKS,
    UPSTREAM_DELAY_S,
    answer_with,
    serving,
    timed_call,
)
from certifiers.verify import check_bundle
from proxy.config import Config, config_from_mapping
from proxy.server.log import configure_logging
from proxy.upstreams.demo import FixedAnswer, serve_fixed_answer
from tests.fakes.tei_server import FakeTEIServer

ORACLE_DELAY_S = 0.020
SLACK_MS = 25.0


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
    parser.add_argument(
        "--nli",
        choices=("fake-tei", "embedded"),
        default="fake-tei",
        help="fake-tei: the 20 ms fake TEI judge (default); embedded: the shipped model",
    )
    args = parser.parse_args()
    configure_logging(level="warning")
    if args.nli == "embedded":
        embedded_nli.run(args.rounds)
        return
    vars(certify_module)["check_bundle"] = _timed_check_bundle(check_bundle)
    print(json.dumps(asyncio.run(main_async(args.rounds)), indent=2))


if __name__ == "__main__":
    main()
