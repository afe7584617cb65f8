"""`joint` aggregation: each claim judged per chunk plus once against its chunks taken together."""

from __future__ import annotations

from oracles.nli_common import EVIDENCE_SEPARATOR, premise_pairs
from oracles.nli_lexical import LexicalJudge
from oracles.types import PrefilterRecord
from tests.oracles.test_nli_prefilter import FixedPrefilter, RecordingJudge


def test_joint_pairs_add_one_joined_premise_per_claim() -> None:
    width, cells, pairs = premise_pairs(["h0", "h1"], ["e0", "e1"], "joint", None)
    assert width == 3
    assert cells == [(0, 0), (0, 1), (1, 0), (1, 1), (0, 2), (1, 2)]
    joined = f"e0{EVIDENCE_SEPARATOR}e1"
    assert pairs[-2:] == [(joined, "h0"), (joined, "h1")]


def test_under_a_prefilter_the_joint_premise_is_the_top_k_best_first() -> None:
    record = PrefilterRecord(k=2, model="m", similarity=[[1, 9, 5]], judged=[[1, 2]])
    width, cells, pairs = premise_pairs(["h"], ["e0", "e1", "e2"], "joint", record)
    assert width == 4
    assert cells == [(0, 1), (0, 2), (0, 3)]
    assert pairs[-1] == (f"e1{EVIDENCE_SEPARATOR}e2", "h")


def test_per_chunk_and_concat_are_unchanged() -> None:
    assert premise_pairs(["h"], ["e0", "e1"], "per_chunk", None) == (
        2,
        [(0, 0), (0, 1)],
        [("e0", "h"), ("e1", "h")],
    )
    assert premise_pairs(["h"], ["e0", "e1"], "concat", None) == (
        1,
        [(0, 0)],
        [(f"e0{EVIDENCE_SEPARATOR}e1", "h")],
    )


async def test_the_judge_fills_the_joint_column_and_skips_repeated_pairs() -> None:
    judge = RecordingJudge(aggregation="joint")
    judge.prefilter = FixedPrefilter(1, [[9, 1, 5]])
    result = await judge.judge(["c0"], ["e0", "e1", "e2"])
    # k = 1: the joint premise is chunk 0 itself, so that pair is scored once
    assert judge.pairs == [("e0", "c0")]
    assert result.entail == [[0.7, 0.0, 0.0, 0.7]]
    assert result.aggregation == "joint"


async def test_a_claim_needing_two_chunks_is_supported_only_jointly() -> None:
    """The lexical heuristic entails when every content token occurs in the premise."""
    evidence = ["The Oberoi family owns The Oberoi Group.", "The Oberoi Group is based in Delhi."]
    claim = ["The Oberoi family owns a group based in Delhi."]
    per_chunk = await LexicalJudge(aggregation="per_chunk").judge(claim, evidence)
    joint = await LexicalJudge(aggregation="joint").judge(claim, evidence)
    assert max(per_chunk.entail[0]) == 0.0
    assert joint.entail[0][:2] == per_chunk.entail[0]
    assert joint.entail[0][2] == 1.0
