"""Invariants of the oracle record types."""

from __future__ import annotations

import msgspec
import pytest

from oracles.types import ClaimRecord, Decomposition, EmbeddingBatch, NLIJudgments

DIGEST = "sha256:" + "0" * 64


def _judgments(**changes: object) -> NLIJudgments:
    valid = NLIJudgments(
        entail=[[0.9], [0.1]],
        contradict=[[0.05], [0.8]],
        aggregation="concat",
        adapter="lexical",
        model="m",
        digest=DIGEST,
    )
    return msgspec.structs.replace(valid, **changes)


def test_valid_judgments_are_accepted() -> None:
    """A well-formed claims x 1 judgment constructs."""
    assert _judgments().entail[0] == [0.9]


def test_judgment_score_outside_unit_interval_is_rejected() -> None:
    """A score above 1 is refused with its position."""
    with pytest.raises(ValueError, match=r"at \[1\]\[0\]"):
        _judgments(contradict=[[0.05], [1.3]])


def test_concat_judgments_must_have_width_one() -> None:
    """`concat` rows hold exactly one column."""
    with pytest.raises(ValueError, match="matching row widths"):
        _judgments(entail=[[0.9, 0.1], [0.1, 0.1]], contradict=[[0.0, 0.0], [0.0, 0.0]])


def test_claim_weight_must_be_positive() -> None:
    """A zero weight is refused."""
    with pytest.raises(ValueError, match="weight > 0"):
        ClaimRecord(text="x", weight=0.0)


def test_claim_span_must_be_ordered() -> None:
    """A span with start >= end is refused."""
    with pytest.raises(ValueError, match="start < end"):
        ClaimRecord(text="x", span=(4, 4))


def test_digest_format_is_checked() -> None:
    """A digest without the sha256 prefix is refused."""
    with pytest.raises(ValueError, match="sha256"):
        Decomposition(claims=(), adapter="a", model="m", digest="abc")


def test_embedding_batch_rejects_ragged_vectors() -> None:
    """Vectors of different dimensions are refused."""
    with pytest.raises(ValueError, match="one positive dimension"):
        EmbeddingBatch(vectors=[[1.0, 0.0], [1.0]], adapter="a", model="m", digest=DIGEST)


def test_embedding_batch_reports_its_dimension() -> None:
    """`dim` is the common vector length."""
    batch = EmbeddingBatch(vectors=[[1.0, 0.0, 0.0]], adapter="a", model="m", digest=DIGEST)
    assert batch.dim == 3
