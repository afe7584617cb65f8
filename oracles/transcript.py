"""Canonical transcripts of oracle calls and their `sha256:` digests.

A transcript records what went into an oracle call and what came out (inputs, outputs — for LLM
adapters the exact prompt messages and the raw reply), which adapter ran and which model id/version
answered. Its canonical encoding is msgspec JSON with object keys sorted at every level; floats are
written in their shortest round-trip form, so the same call always yields the same bytes. The digest
is what goes into a certificate's `oracle_digests`. This module does not store transcripts; the
pipeline may keep the `Transcript` object for replay.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from typing import Any

import msgspec

TRANSCRIPT_VERSION = 1


class Transcript(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One oracle call: `oracle` is the role (decomposer, nli, paraphraser, embedder)."""

    oracle: str
    adapter: str
    model: str
    model_version: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    version: int = TRANSCRIPT_VERSION


def _check_finite(value: object, where: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"Expected finite numbers in a transcript, got {value!r} - at {where}")
    if isinstance(value, Mapping):
        for key, item in value.items():
            _check_finite(item, f"{where}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_finite(item, f"{where}[{index}]")


def encode_canonical(transcript: Transcript) -> bytes:
    """Canonical JSON bytes of a transcript (sorted keys; non-finite floats are rejected)."""
    _check_finite(transcript.inputs, "$.inputs")
    _check_finite(transcript.outputs, "$.outputs")
    return msgspec.json.encode(transcript, order="sorted")


def transcript_digest(transcript: Transcript) -> str:
    """`sha256:` + hex digest of the canonical encoding."""
    return "sha256:" + hashlib.sha256(encode_canonical(transcript)).hexdigest()


def digest_call(
    *,
    oracle: str,
    adapter: str,
    model: str,
    model_version: str = "",
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
) -> str:
    """Build the transcript of one call and return its digest (the usual adapter entry point)."""
    transcript = Transcript(
        oracle=oracle,
        adapter=adapter,
        model=model,
        model_version=model_version,
        inputs=dict(inputs),
        outputs=dict(outputs),
    )
    return transcript_digest(transcript)
