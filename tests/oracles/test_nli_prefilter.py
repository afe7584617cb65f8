"""The top-k pre-filter: which pairs a per_chunk judge scores, and what it records."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from oracles.nli_common import PairJudge, PairScores
from oracles.nli_prefilter import EmbeddingPrefilter, similarity_ints, top_k
from oracles.types import PrefilterRecord


class RecordingJudge(PairJudge):
    """Scores every pair (0.7, 0.1) and records the pairs it was asked about."""

    adapter = "recording"
    model = "recording"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(timeout_s=5.0, **kwargs)
        self.pairs: list[tuple[str, str]] = []

    async def _score_pairs(self, pairs: list[tuple[str, str]]) -> tuple[list[PairScores], Any]:
        self.pairs.extend(pairs)
        return [(0.7, 0.1) for _ in pairs], None


class FixedPrefilter:
    """A pre-filter with fixed similarities (so the test does not depend on a model)."""

    def __init__(self, k: int, similarity: list[list[int]]) -> None:
        self.k, self.similarity = k, similarity

    async def select(self, claims: Sequence[str], chunks: Sequence[str]) -> PrefilterRecord:
        return PrefilterRecord(
            k=self.k,
            model="fixed",
            similarity=self.similarity,
            judged=[top_k(row, self.k) for row in self.similarity],
        )


def test_top_k_breaks_ties_to_the_lower_index() -> None:
    assert top_k([5, 9, 9, 1], 2) == [1, 2]
    assert top_k([3, 3, 3], 2) == [0, 1]


def test_similarity_ints_are_clamped_and_rounded() -> None:
    assert similarity_ints([[1.0, 0.0]], [[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]]) == [
        [1000000, 0, 600000]
    ]


async def test_only_the_top_k_pairs_are_judged_and_others_are_neutral() -> None:
    judge = RecordingJudge(aggregation="per_chunk")
    judge.prefilter = FixedPrefilter(2, [[9, 1, 5], [0, 8, 8]])
    result = await judge.judge(["c0", "c1"], ["e0", "e1", "e2"])
    assert sorted(judge.pairs) == sorted([("e0", "c0"), ("e2", "c0"), ("e1", "c1"), ("e2", "c1")])
    assert result.entail == [[0.7, 0.0, 0.7], [0.0, 0.7, 0.7]]
    assert result.contradict == [[0.1, 0.0, 0.1], [0.0, 0.1, 0.1]]
    assert result.prefilter is not None
    assert result.prefilter.judged == [[0, 2], [1, 2]]


async def test_no_prefilter_when_the_evidence_fits_in_k() -> None:
    judge = RecordingJudge(aggregation="per_chunk")
    judge.prefilter = FixedPrefilter(3, [[1, 2, 3]])
    result = await judge.judge(["c0"], ["e0", "e1", "e2"])
    assert result.prefilter is None
    assert len(judge.pairs) == 3


async def test_the_real_prefilter_picks_the_related_chunk() -> None:
    """With the packaged MiniLM, a claim's top chunk is the one about its subject."""
    prefilter = EmbeddingPrefilter(1)
    record = await prefilter.select(
        ["Apixaban dose should be reduced in renal impairment."],
        [
            "The Eiffel Tower is in Paris.",
            "Apixaban: reduce the dose for patients with kidney impairment.",
            "Football is played with a ball.",
        ],
    )
    assert record.judged == [[1]]
    assert record.model.startswith("all-MiniLM-L6-v2@sha256:")
    assert record.similarity[0][1] > record.similarity[0][0]


@pytest.mark.parametrize("k", [0, -1])
def test_record_rejects_non_positive_k(k: int) -> None:
    with pytest.raises(ValueError, match="k >= 1"):
        PrefilterRecord(k=k, model="m", similarity=[], judged=[])
