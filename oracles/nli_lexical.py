"""`lexical` NLI: a deterministic token-overlap HEURISTIC, the counterpart of the paper's B1.

Per (premise, claim) pair: *contradiction* (0, 1) when some premise sentence shares at least half of
the claim's non-number content words and the claim states numbers that sentence does not, or when a
premise sentence contains all of the claim's content words with the opposite negation polarity;
otherwise *entailment* (1, 0) when every content token of the claim occurs in the premise; otherwise
*neutral* (0, 0). It understands no paraphrase, scope or world knowledge: it is a baseline and a
test double, never a default for real use. It calls no model.
"""

from __future__ import annotations

from typing import Any

from oracles.nli_common import PairJudge, PairScores
from oracles.text import NEGATIONS, content_tokens, is_negated, numbers, segments
from oracles.types import Aggregation

LEXICAL_VERSION = "oracles.nli_lexical/1"


def lexical_scores(premise: str, claim: str) -> PairScores:
    """(sigma+, sigma-) in {0, 1} for one pair (see the module docstring for the rules)."""
    claim_tokens = content_tokens(claim)
    claim_numbers = numbers(claim)
    claim_words = claim_tokens - claim_numbers - NEGATIONS
    if not claim_tokens:
        return (0.0, 0.0)
    claim_negated = is_negated(claim)
    for start, end in segments(premise):
        sentence = premise[start:end]
        sentence_tokens = content_tokens(sentence)
        shared = claim_words & sentence_tokens
        if not shared or 2 * len(shared) < len(claim_words):
            continue
        sentence_numbers = numbers(sentence)
        if claim_numbers and sentence_numbers and not claim_numbers <= sentence_numbers:
            return (0.0, 1.0)
        if shared == claim_words and is_negated(sentence) != claim_negated:
            return (0.0, 1.0)
    if claim_tokens <= content_tokens(premise):
        return (1.0, 0.0)
    return (0.0, 0.0)


class LexicalJudge(PairJudge):
    """Deterministic lexical heuristic (`[oracles.nli] kind = "lexical"`)."""

    adapter = "lexical"
    model = LEXICAL_VERSION

    def __init__(self, *, aggregation: Aggregation, timeout_s: float = 30.0) -> None:
        super().__init__(aggregation=aggregation, timeout_s=timeout_s)

    async def _score_pairs(self, pairs: list[tuple[str, str]]) -> tuple[list[PairScores], Any]:
        return [lexical_scores(premise, claim) for premise, claim in pairs], None
