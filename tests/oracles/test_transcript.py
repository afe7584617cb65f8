"""Canonical transcripts and digests."""

from __future__ import annotations

import pytest

from oracles.transcript import Transcript, digest_call, encode_canonical, transcript_digest


def test_digest_ignores_mapping_insertion_order() -> None:
    """Key order of inputs/outputs does not change the digest (keys are sorted)."""
    first = digest_call(oracle="nli", adapter="a", model="m", inputs={"x": 1, "y": 2}, outputs={})
    second = digest_call(oracle="nli", adapter="a", model="m", inputs={"y": 2, "x": 1}, outputs={})
    assert first == second
    assert first.startswith("sha256:")
    assert len(first) == len("sha256:") + 64


def test_digest_changes_with_outputs_adapter_and_model_version() -> None:
    """Changing any recorded part changes the digest."""
    base = digest_call(oracle="nli", adapter="a", model="m", inputs={"x": 1}, outputs={"s": 0.5})
    variants = [
        digest_call(oracle="nli", adapter="a", model="m", inputs={"x": 1}, outputs={"s": 0.25}),
        digest_call(oracle="nli", adapter="b", model="m", inputs={"x": 1}, outputs={"s": 0.5}),
        digest_call(
            oracle="nli",
            adapter="a",
            model="m",
            model_version="2",
            inputs={"x": 1},
            outputs={"s": 0.5},
        ),
        digest_call(oracle="nli", adapter="a", model="m", inputs={"x": 2}, outputs={"s": 0.5}),
    ]
    assert base not in variants
    assert len(set(variants)) == len(variants)


def test_canonical_encoding_has_sorted_keys() -> None:
    """The encoding writes object keys in sorted order at every level."""
    transcript = Transcript(
        oracle="o",
        adapter="a",
        model="m",
        model_version="v",
        inputs={"b": {"z": 1, "a": 2}},
        outputs={},
    )
    assert encode_canonical(transcript).startswith(b'{"adapter":"a","inputs":{"b":{"a":2,"z":1}}')


def test_non_finite_numbers_are_rejected() -> None:
    """NaN in a transcript is refused instead of being encoded as null."""
    transcript = Transcript(
        oracle="o",
        adapter="a",
        model="m",
        model_version="",
        inputs={},
        outputs={"s": [float("nan")]},
    )
    with pytest.raises(ValueError, match=r"\$\.outputs\.s\[0\]"):
        transcript_digest(transcript)
