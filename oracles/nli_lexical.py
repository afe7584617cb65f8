"""`lexical` NLI: a deterministic token-overlap HEURISTIC, the counterpart of the paper's B1.

Per (premise, claim) pair: *contradiction* (0, 1) when some premise sentence shares at least half of
the claim's non-number content words and the claim states numbers that sentence does not, or when a
premise sentence contains all of the claim's content words with the opposite negation polarity;
otherwise *entailment* (1, 0) when every content token of the claim occurs in the premise; otherwise
*neutral* (0, 0). It understands no paraphrase, scope or world knowledge: it is a baseline and a
test double, never a default for real use. It calls no model. Tokens are
`oracles.text.lexical_tokens` (digits of any script as ASCII, "1,000" = "1000") and numbers keep
their sign ("-5" != "5"), so numbers compare the same way in the overlap and in the number rule.
Each distinct premise (evidence chunk, or the joined evidence) and claim is tokenized once per
request, not once per pair.
"""

from __future__ import annotations

from typing import Any

from oracles.nli_common import PairJudge, PairScores
from oracles.text import NEGATIONS, is_negated, lexical_tokens, numbers, segments
from oracles.types import Aggregation

LEXICAL_VERSION = "oracles.nli_lexical/2"


class _Premise:
    """A premise tokenized once: its content tokens and, per sentence, tokens/numbers/negation."""

    __slots__ = ("sentences", "tokens")

    def __init__(self, premise: str) -> None:
        self.tokens = lexical_tokens(premise)
        self.sentences = [
            (lexical_tokens(text), numbers(text), is_negated(text))
            for text in (premise[start:end] for start, end in segments(premise))
        ]


class _Claim:
    """A claim tokenized once."""

    __slots__ = ("negated", "numbers", "tokens", "words")

    def __init__(self, claim: str) -> None:
        self.tokens = lexical_tokens(claim)
        self.numbers = numbers(claim)
        unsigned = {number.removeprefix("-") for number in self.numbers}
        self.words = self.tokens - self.numbers - unsigned - NEGATIONS
        self.negated = is_negated(claim)


def _scores(premise: _Premise, claim: _Claim) -> PairScores:
    if not claim.tokens:
        return (0.0, 0.0)
    for sentence_tokens, sentence_numbers, sentence_negated in premise.sentences:
        shared = claim.words & sentence_tokens
        if not shared or 2 * len(shared) < len(claim.words):
            continue
        if claim.numbers and sentence_numbers and not claim.numbers <= sentence_numbers:
            return (0.0, 1.0)
        if shared == claim.words and sentence_negated != claim.negated:
            return (0.0, 1.0)
    if claim.tokens <= premise.tokens:
        return (1.0, 0.0)
    return (0.0, 0.0)


def lexical_scores(premise: str, claim: str) -> PairScores:
    """(sigma+, sigma-) in {0, 1} for one pair (see the module docstring for the rules)."""
    return _scores(_Premise(premise), _Claim(claim))


def score_pairs(pairs: list[tuple[str, str]]) -> list[PairScores]:
    """`lexical_scores` of every pair, tokenizing each distinct premise and claim only once."""
    premises: dict[str, _Premise] = {}
    claims: dict[str, _Claim] = {}
    scores: list[PairScores] = []
    for premise, claim in pairs:
        tokenized_premise = premises.get(premise)
        if tokenized_premise is None:
            tokenized_premise = premises[premise] = _Premise(premise)
        tokenized_claim = claims.get(claim)
        if tokenized_claim is None:
            tokenized_claim = claims[claim] = _Claim(claim)
        scores.append(_scores(tokenized_premise, tokenized_claim))
    return scores


class LexicalJudge(PairJudge):
    """Deterministic lexical heuristic (`[oracles.nli] kind = "lexical"`)."""

    adapter = "lexical"
    model = LEXICAL_VERSION

    judges_in_context = False

    def __init__(self, *, aggregation: Aggregation, timeout_s: float = 30.0) -> None:
        super().__init__(aggregation=aggregation, timeout_s=timeout_s)

    async def _score_pairs(self, pairs: list[tuple[str, str]]) -> tuple[list[PairScores], Any]:
        # synchronous CPU work: the proxy runs this adapter in a worker thread
        return score_pairs(pairs), None
