"""Realistic scenarios for the verifier tests, and checks that they exercise every layer."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from certifiers.builders import certify
from certifiers.bundle import card_signing_payload, encode_bundle, with_signature
from certifiers.scenario import decode_scenario
from certifiers.types import Bundle, Residue

NOW = 1_714_000_000
SIGNING_SEED = bytes(range(100, 132))


def _unit(values: list[float]) -> list[str]:
    """Normalize a float vector and write it as exact decimal text (9 places)."""
    norm = math.sqrt(sum(v * v for v in values))
    return [str(Decimal(f"{v / norm:.9f}")) for v in values]


def _vector(seed: int, dim: int, base: list[float] | None = None, noise: float = 1.0) -> list[str]:
    """A deterministic pseudo-random unit vector, optionally near `base`."""
    raw = [math.sin(seed * 12.9898 + k * 78.233) * 43758.5453 % 1.0 - 0.5 for k in range(dim)]
    if base is not None:
        raw = [b + noise * r for b, r in zip(base, raw, strict=True)]
    return _unit(raw)


def embedding_block(dim: int, n_inv: int, n_sig: int, n_evidence: int) -> dict[str, Any]:
    """Query, invariant variants near it, significant variants farther, evidence vectors."""
    query = _vector(1, dim)
    base = [float(x) for x in query]
    return {
        "dim": dim,
        "query": query,
        "invariant": [_vector(100 + i, dim, base, 0.05) for i in range(n_inv)],
        "significant": [_vector(200 + i, dim, base, 0.6) for i in range(n_sig)],
        "evidence": [_vector(300 + j, dim, base, 0.3 + 0.2 * j) for j in range(n_evidence)],
        "top_k": 2,
    }


def full_scenario(**extra: Any) -> dict[str, Any]:
    """Clinical RAG plus agent: contradicted claim, residue, embedding, blocked call, stability."""
    scenario: dict[str, Any] = {
        "query": "Can this patient take apixaban, and clean up the old notes?",
        "answer": (
            "Apixaban is indicated for atrial fibrillation. The usual dose is 5 mg twice daily. "
            "The patient's CrCl of 22 mL/min is within the renal range. "
            "Reduce the dose to 2.5 mg for patients over 80. Follow up in 3 months."
        ),
        "claims": [
            {"text": "Apixaban is indicated for atrial fibrillation.", "weight": "3"},
            {"text": "The usual dose is 5 mg twice daily.", "weight": "2"},
            {"text": "The patient's CrCl of 22 mL/min is within the renal range.", "weight": "1"},
            {"text": "Reduce the dose to 2.5 mg for patients over 80.", "weight": "3/2"},
            {"text": "Follow up in 3 months.", "weight": "1/2"},
        ],
        "evidence": [
            {"id": "fda-label", "text": "Apixaban ... CrCl >= 25", "retrieved_at": NOW - 600},
            {"id": "guideline", "text": "Dose 5 mg twice daily ...", "retrieved_at": NOW - 3000},
            {"id": "tool-1", "text": "notes listing", "source": "tool_output"},
        ],
        "nli": {
            "aggregation": "per_chunk",
            "entail": [
                ["0.92", "0.40", "0"],
                ["0.30", "0.97", "0.01"],
                ["0.10", "0.05", "0"],
                ["0.81", "0.86", "0.2"],
                ["0.30", "0.2", "0.1"],
            ],
            "contradict": [
                ["0.03", "0.1", "0"],
                ["0.02", "0.01", "0"],
                ["0.91", "0.2", "0"],
                ["0.30", "0.02", "0"],
                ["0.2", "0.1", "0.95"],
            ],
        },
        "claim_dependencies": {"3": [1]},
        "conflicts": [[0, 4]],
        "embedding": embedding_block(dim=8, n_inv=3, n_sig=2, n_evidence=3),
        "actions": {
            "schemas": [
                {
                    "tool": "delete_file",
                    "pre": [
                        {"pred": "path_in_sandbox", "arg": "path", "root": "/sandbox"},
                        {"pred": "owner_is", "arg": "path", "owner": "user"},
                        {"pred": "mtime_at_least_days", "arg": "path", "days": 30},
                        {"pred": "counter_within", "counter": "deletes", "max": 1},
                    ],
                    "effects": [{"counter": "deletes", "add": 1}],
                },
                {
                    "tool": "fetch",
                    "pre": [
                        {"pred": "host_in_allowlist", "arg": "url", "hosts": ["example.org"]},
                        {"pred": "number_between", "arg": "timeout", "min": "0.5", "max": 30},
                    ],
                },
            ],
            "state": {
                "now": NOW,
                "counters": {"deletes": 0},
                "files": {
                    "/sandbox/notes/old.md": {"owner": "user", "mtime": NOW - 90 * 86_400},
                    "/sandbox/notes/older.md": {"owner": "user", "mtime": NOW - 99 * 86_400},
                },
            },
            "calls": [
                {
                    "id": "call_1",
                    "name": "delete_file",
                    "arguments": '{"path": "/sandbox/notes/old.md"}',
                },
                {
                    "id": "call_2",
                    "name": "delete_file",
                    "arguments": '{"path": "/sandbox/../etc/passwd"}',
                },
                {
                    "id": "call_3",
                    "name": "delete_file",
                    "arguments": '{"path": "/sandbox/notes/older.md"}',
                },
                {
                    "id": "call_4",
                    "name": "fetch",
                    "arguments": '{"url": "https://example.org/a", "timeout": 2.5}',
                },
                {"id": "call_5", "name": "shell", "arguments": '{"cmd": "rm -rf /"}'},
            ],
        },
        "oracles": {
            "decomposer": {
                "adapter": "llm",
                "model": "gpt-4o-mini",
                "digest": "sha256:" + "a" * 64,
            },
            "nli": {
                "adapter": "cross_encoder",
                "model": "nli-deberta",
                "digest": "sha256:" + "b" * 64,
            },
            "embedder": {"adapter": "sentence_transformers", "model": "all-MiniLM-L6-v2"},
            "paraphraser": {"adapter": "rules", "digest": "sha256:" + "c" * 64},
        },
        "provenance": {"model_version": "gpt-4o-2024-08-06", "prompt_template": "rag-v3"},
        "policy": "clinical",
        "replay_handle": "rh_0001",
        "card_ttl_s": 3600,
        "max_claims": 20,
        "now": NOW,
    }
    scenario.update(extra)
    return scenario


def bundle_of(scenario: dict[str, Any], *, signer: str | None = None) -> Bundle:
    """Certify a scenario given as a JSON-like dict (`signer`: the issuing proxy's key, hex)."""
    return certify(decode_scenario(json.dumps(scenario).encode()), signer=signer)


def signed(bundle: Bundle) -> Bundle:
    """The bundle signed with the test key (what the shell's signer does)."""
    key = Ed25519PrivateKey.from_private_bytes(SIGNING_SEED)
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return with_signature(bundle, public, key.sign(card_signing_payload(bundle)))


def signing_public_key() -> bytes:
    """The raw public key of the test signing key."""
    key = Ed25519PrivateKey.from_private_bytes(SIGNING_SEED)
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def full_bundle_bytes() -> bytes:
    """Canonical bytes of the signed full scenario's bundle."""
    return encode_bundle(signed(bundle_of(full_scenario())))


def test_full_scenario_exercises_every_layer() -> None:
    """The full scenario has a contradicted claim, a residue, vectors, a blocked call, stability."""
    bundle = bundle_of(full_scenario())
    certs = bundle.certificates
    assert certs.grounding is not None
    assert "contradicted" in certs.grounding.statuses
    assert certs.residue is not None
    assert certs.residue.dropped
    assert certs.embedding is not None
    assert certs.embedding.vectors is not None
    assert certs.actions is not None
    assert any(not d.allowed for d in certs.actions.decisions)
    assert any(d.allowed for d in certs.actions.decisions)
    assert certs.stability is not None
    assert certs.stability.source == "derived"
    assert isinstance(bundle.card.verdict, Residue)
