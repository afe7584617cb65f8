"""The lexical NLI heuristic and the shared pairing/aggregation machinery."""

from __future__ import annotations

import pytest

from oracles.nli_lexical import LexicalJudge, lexical_scores

EVIDENCE = [
    "Aspirin was first synthesized in 1897 by Felix Hoffmann.",
    "The usual adult dose is 325 mg. Aspirin is not recommended for children.",
]


@pytest.mark.parametrize(
    ("claim", "expected"),
    [
        ("Felix Hoffmann synthesized aspirin in 1897.", (1.0, 0.0)),
        ("Aspirin was first synthesized in 1905.", (0.0, 1.0)),
        ("Aspirin is recommended for children.", (0.0, 1.0)),
        ("Aspirin is not recommended for children.", (1.0, 0.0)),
        ("Aspirin cures headaches.", (0.0, 0.0)),
    ],
)
def test_lexical_scores_entail_contradict_or_stay_neutral(
    claim: str, expected: tuple[float, float]
) -> None:
    """Coverage entails, a number or negation mismatch over shared content contradicts."""
    assert lexical_scores(" ".join(EVIDENCE), claim) == expected


async def test_concat_aggregation_gives_one_column() -> None:
    """`concat` judges each claim once against all evidence joined."""
    judge = LexicalJudge(aggregation="concat")
    result = await judge.judge(
        ["Felix Hoffmann synthesized aspirin in 1897.", "Aspirin cures."], EVIDENCE
    )
    assert result.entail == [[1.0], [0.0]]
    assert result.contradict == [[0.0], [0.0]]
    assert result.aggregation == "concat"


async def test_per_chunk_aggregation_gives_claims_by_chunks() -> None:
    """`per_chunk` judges every claim against every chunk separately."""
    judge = LexicalJudge(aggregation="per_chunk")
    result = await judge.judge(["Aspirin is recommended for children."], EVIDENCE)
    assert result.entail == [[0.0, 0.0]]
    assert result.contradict == [[0.0, 1.0]]


async def test_judging_without_evidence_is_a_usage_error() -> None:
    """No evidence chunk is a caller error, not a neutral judgment."""
    with pytest.raises(ValueError, match="at least one evidence chunk"):
        await LexicalJudge(aggregation="concat").judge(["x"], [])


async def test_digest_depends_on_the_aggregation() -> None:
    """The same claims judged with another aggregation record a different transcript."""
    claims = ["Aspirin cures."]
    concat = await LexicalJudge(aggregation="concat").judge(claims, EVIDENCE[:1])
    per_chunk = await LexicalJudge(aggregation="per_chunk").judge(claims, EVIDENCE[:1])
    assert concat.entail == per_chunk.entail
    assert concat.digest != per_chunk.digest
