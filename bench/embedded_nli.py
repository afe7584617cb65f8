"""Benchmark: enforce overhead with the embedded NLI model on this CPU (issue 11).

The same fixed-answer upstream as `bench.assurance` (`bench.workload`: 100 ms, answers of 5, 20 or
50 sentence claims, 10 evidence chunks per request), but NLI is the real embedded cross-encoder
(`[oracles.nli]` defaults: `per_chunk`), once with the top-k pre-filter (`top_k = 3`: 3 of 10
chunks judged per claim, chosen by MiniLM similarity), once without (`top_k = 0`: all 10), and once
with `aggregation = "joint"` and the top-3 pre-filter (those 3 chunks alone plus the 3 joined: 4
pairs per claim, one of them 3 chunks long). No embedder (the stability layer is off) so the figure
is the NLI cost. Off and the three enforce variants are measured round-robin per size. Prints one
JSON object with medians, overheads over `off`, the pairs judged per request, and the model's
pairs/s.

Run: `.venv/bin/python -m bench.embedded_nli [--rounds 5]` (or `python -m bench.assurance --nli
embedded --rounds 5`).
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

from bench.workload import (
    CLAIM_COUNTS,
    EVIDENCE_CHUNKS,
    UPSTREAM_DELAY_S,
    answer_with,
    evidence_chunks,
    serving,
    study,
)
from bench.workload import timed_call as timed_chat
from oracles.embedded import embedded_nli_model_path
from oracles.models import cross_encoder_model
from proxy.config import Config, config_from_mapping
from proxy.server.log import configure_logging
from proxy.upstreams.demo import FixedAnswer, serve_fixed_answer

TOP_K = 3


def embedded_config(
    upstream_url: str, store: str, top_k: int, aggregation: str = "per_chunk"
) -> Config:
    """The proxy with the embedded cross-encoder (`aggregation`, `top_k`), no embedder."""
    return config_from_mapping(
        {
            "server": {"host": "127.0.0.1", "port": 0},
            "upstreams": [{"name": "bench", "kind": "openai", "base_url": upstream_url}],
            "assurance": {"default_policy": "enterprise_qa", "oracle_timeout_s": 120},
            "oracles": {
                "decomposer": {"kind": "sentences"},
                "nli": {"top_k": top_k, "aggregation": aggregation, "timeout_s": 120},
                "paraphraser": {"kind": "rules"},
                "embedder": {"kind": "none"},
            },
            "store": {"path": store},
        }
    )


async def _medians(root: str, claims: int, mode: str, rounds: int) -> list[float]:
    url = f"{root}/v1/chat/completions"
    async with aiohttp.ClientSession() as session:
        await timed_chat(session, url, mode, claims)  # warm-up
        return [await timed_chat(session, url, mode, claims) for _ in range(rounds)]


async def one_size(rounds: int, claims: int, tmp: str) -> dict[str, Any]:
    """Off, enforce with top-3, over all chunks, and joint top-3 for one answer size."""
    answer = FixedAnswer(content=answer_with(claims), delay_s=UPSTREAM_DELAY_S)
    timings: dict[str, list[float]] = {"off": [], "top_k": [], "all_chunks": [], "joint": []}
    async with serve_fixed_answer(answer) as upstream:
        top = embedded_config(upstream, str(Path(tmp) / f"{claims}-k.sqlite3"), TOP_K)
        every = embedded_config(upstream, str(Path(tmp) / f"{claims}-all.sqlite3"), 0)
        joint = embedded_config(upstream, str(Path(tmp) / f"{claims}-j.sqlite3"), TOP_K, "joint")
        async with serving(top) as root_top, serving(every) as root_all, serving(joint) as root_j:
            for _ in range(rounds):
                timings["off"] += await _medians(root_top, claims, "off", 1)
                timings["top_k"] += await _medians(root_top, claims, "enforce", 1)
                timings["all_chunks"] += await _medians(root_all, claims, "enforce", 1)
                timings["joint"] += await _medians(root_j, claims, "enforce", 1)
    off = statistics.median(timings["off"])
    top_ms = statistics.median(timings["top_k"])
    all_ms = statistics.median(timings["all_chunks"])
    joint_ms = statistics.median(timings["joint"])
    return {
        "claims": claims,
        "off_median_ms": round(off, 1),
        "enforce_top_k_median_ms": round(top_ms, 1),
        "enforce_all_chunks_median_ms": round(all_ms, 1),
        "overhead_top_k_ms": round(top_ms - off, 1),
        "overhead_all_chunks_ms": round(all_ms - off, 1),
        "enforce_joint_top_k_median_ms": round(joint_ms, 1),
        "overhead_joint_top_k_ms": round(joint_ms - off, 1),
        "pairs_top_k": claims * TOP_K,
        "pairs_all_chunks": claims * EVIDENCE_CHUNKS,
        "pairs_joint_top_k": claims * (TOP_K + 1),
        "all_chunks_over_top_k": round((all_ms - off) / max(top_ms - off, 1e-9), 2),
    }


def model_pairs_per_s(rounds: int) -> float:
    """The shipped model alone on this workload's 200 pairs (20 claims x 10 chunks), median."""
    model = cross_encoder_model(embedded_nli_model_path(), device=None)
    chunks = [str(chunk["text"]) for chunk in evidence_chunks()]
    pairs = [(chunk, study(i)) for i in range(20) for chunk in chunks]
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        model.predict(pairs, batch_size=32)
        timings.append(time.perf_counter() - started)
    return len(pairs) / statistics.median(timings)


async def main_async(rounds: int) -> dict[str, Any]:
    """Every size, then the report."""
    with tempfile.TemporaryDirectory(prefix="bench-embedded-nli-") as tmp:
        sizes = [await one_size(rounds, claims, tmp) for claims in CLAIM_COUNTS]
    per_s = model_pairs_per_s(rounds)
    twenty = next(size for size in sizes if size["claims"] == 20)
    return {
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
        },
        "upstream_delay_ms": UPSTREAM_DELAY_S * 1000,
        "evidence_chunks": EVIDENCE_CHUNKS,
        "top_k": TOP_K,
        "rounds": rounds,
        "sizes": sizes,
        "model_pairs_per_s": round(per_s, 1),
        "target_20_claims_overhead_ms": 1000,
        "within_target_20_claims_top_k": twenty["overhead_top_k_ms"] <= 1000,
        "within_target_20_claims_joint_top_k": twenty["overhead_joint_top_k_ms"] <= 1000,
    }


def main() -> None:
    """Parse flags, run, print the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    configure_logging(level="warning")
    run(args.rounds)


def run(rounds: int) -> None:
    """Run offline and print the JSON report (also `python -m bench.assurance --nli embedded`)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    print(json.dumps(asyncio.run(main_async(rounds)), indent=2))


if __name__ == "__main__":
    main()
