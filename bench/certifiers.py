"""Benchmark: certify and verify one large bundle; print median times and sizes as JSON.

Workload (issue 3): 20 claims x 100 evidence chunks (per_chunk NLI), a 50-variant embedding
certificate at d = 384 (25 invariant + 25 significant variants, 100 evidence embeddings, top-5),
and 10 tool calls. Synthetic data from a seeded generator; run `python -m bench.certifiers`.
Targets: certify + verify <= 20 ms, canonical card <= 2 KiB, bundle <= 64 KiB. `certify_ms` includes
decoding the ~0.5 MB scenario JSON; `certify_predecoded_ms` starts from a decoded Scenario (as the
pipeline does). Embedding vectors are sent quantized (grid integers), as the pipeline sends them.
"""

from __future__ import annotations

import json
import math
import random
import statistics
import sys
import time
from typing import Any

from certifiers.builders import certify
from certifiers.bundle import encode_bundle
from certifiers.canonical import encode_canonical
from certifiers.scenario import decode_scenario
from certifiers.verify import check_bundle

CLAIMS, CHUNKS, DIM, VARIANTS, CALLS, TOP_K = 20, 100, 384, 50, 10, 5
RUNS = 15
GRID = 2**24


def _unit(rng: random.Random, base: list[float] | None = None, noise: float = 1.0) -> list[float]:
    raw = [rng.gauss(0.0, 1.0) * noise + (base[i] if base else 0.0) for i in range(DIM)]
    norm = math.sqrt(sum(x * x for x in raw))
    return [x / norm for x in raw]


def _grid(vector: list[float]) -> list[int]:
    """What the pipeline sends: floor(x·2^24 + 1/2), exact in binary floating point for |x| <= 2."""
    return [math.floor(x * GRID + 0.5) for x in vector]


def scenario_bytes(seed: int = 7) -> bytes:
    """The benchmark scenario as JSON bytes (numbers written as exact decimal strings)."""
    rng = random.Random(seed)
    words = [f"term{i}" for i in range(200)]
    claims = [" ".join(rng.sample(words, 6)) + "." for _ in range(CLAIMS)]
    query = _unit(rng)
    scenario: dict[str, Any] = {
        "answer": " ".join(claims),
        "query": "synthetic query",
        "claims": [{"text": c, "weight": str(rng.randint(1, 5))} for c in claims],
        "evidence": [
            {
                "id": f"e{j}",
                "text": f"chunk {j} " + " ".join(rng.sample(words, 30)),
                "retrieved_at": 1_714_000_000 - rng.randint(0, 3600),
            }
            for j in range(CHUNKS)
        ],
        "nli": {
            "aggregation": "per_chunk",
            "entail": [[f"{rng.random() * 0.6:.6f}" for _ in range(CHUNKS)] for _ in range(CLAIMS)],
            "contradict": [
                [f"{rng.random() * 0.3:.6f}" for _ in range(CHUNKS)] for _ in range(CLAIMS)
            ],
        },
        "embedding": {
            "dim": DIM,
            "quantized": True,
            "query": _grid(query),
            "invariant": [_grid(_unit(rng, query, 0.01)) for _ in range(VARIANTS // 2)],
            "significant": [_grid(_unit(rng, query, 0.05)) for _ in range(VARIANTS // 2)],
            "evidence": [_grid(_unit(rng)) for _ in range(CHUNKS)],
            "top_k": TOP_K,
        },
        "actions": {
            "schemas": [
                {
                    "tool": "delete_file",
                    "pre": [
                        {"pred": "path_in_sandbox", "arg": "path", "root": "/sandbox"},
                        {"pred": "counter_within", "counter": "deletes", "max": 5},
                    ],
                    "effects": [{"counter": "deletes", "add": 1}],
                }
            ],
            "state": {"now": 1_714_000_000, "counters": {"deletes": 0}},
            "calls": [
                {
                    "id": f"c{i}",
                    "name": "delete_file",
                    "arguments": json.dumps({"path": f"/sandbox/f{i}"}),
                }
                for i in range(CALLS)
            ],
        },
        "policy": "enterprise_qa",
        "now": 1_714_000_000,
    }
    for i in range(CLAIMS):  # make most claims supported by one chunk
        scenario["nli"]["entail"][i][i] = "0.95"
    return json.dumps(scenario).encode()


def main() -> int:
    """Run the benchmark and print one JSON object."""
    data = scenario_bytes()
    certify_ms: list[float] = []
    verify_ms: list[float] = []
    encoded = b""
    ok = True
    for _ in range(RUNS):
        start = time.perf_counter()
        bundle = certify(decode_scenario(data))
        encoded = encode_bundle(bundle)
        middle = time.perf_counter()
        result = check_bundle(encoded)
        end = time.perf_counter()
        ok = ok and result.ok
        certify_ms.append((middle - start) * 1000)
        verify_ms.append((end - middle) * 1000)
    decoded = decode_scenario(data)
    struct_ms: list[float] = []
    for _ in range(RUNS):
        start = time.perf_counter()
        certify(decoded)
        struct_ms.append((time.perf_counter() - start) * 1000)
    card_bytes = len(encode_canonical(bundle.card))
    report = {
        "workload": {
            "claims": CLAIMS,
            "chunks": CHUNKS,
            "dim": DIM,
            "variants": VARIANTS,
            "tool_calls": CALLS,
        },
        "certify_ms_median": round(statistics.median(certify_ms), 2),
        "certify_predecoded_ms_median": round(statistics.median(struct_ms), 2),
        "verify_ms_median": round(statistics.median(verify_ms), 2),
        "total_ms_median": round(
            statistics.median(c + v for c, v in zip(certify_ms, verify_ms, strict=True)), 2
        ),
        "bundle_bytes": len(encoded),
        "card_bytes": card_bytes,
        "verified": ok,
        "verdict": bundle.card.verdict.__struct_config__.tag,
    }
    sys.stdout.write(json.dumps(report) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
