"""Deterministic rendering for enforce mode (SPEC 5.7): residue answer, abstention message.

`residue_answer` keeps the MCR's claims in answer order (span text when the claim has a span, else
the claim text). `abstention_reasons` / `abstention_message` state why nothing was emitted, in
machine-readable form. No policy decision is made here.
"""

from __future__ import annotations

from collections.abc import Sequence

from certifiers.canonical import encode_canonical
from certifiers.types import Abstain, Card, Decomposition, PolicyDecision

ABSTENTION_PREFIX = "No certified answer can be given. Reasons: "


def residue_answer(decomposition: Decomposition, kept: Sequence[int]) -> str:
    """The kept claims joined by spaces, in answer order (span start, then claim index)."""
    claims = decomposition.claims
    answer = decomposition.answer

    def position(index: int) -> tuple[int, int]:
        span = claims[index].span
        return (span[0] if span is not None else -1, index)

    ordered = sorted(set(kept), key=position) if all(claims[i].span for i in kept) else sorted(kept)
    parts: list[str] = []
    for index in ordered:
        span = claims[index].span
        text = answer[span[0] : span[1]] if span is not None else claims[index].text
        if text.strip():
            parts.append(text.strip())
    return " ".join(parts)


def abstention_reasons(card: Card, decision: PolicyDecision | None = None) -> tuple[str, ...]:
    """Machine-readable reasons: the abstain verdict's reasons, then the policy's failures."""
    reasons: list[str] = []
    if isinstance(card.verdict, Abstain):
        reasons += [f"verdict: {reason}" for reason in card.verdict.reasons]
    if decision is not None:
        reasons += [f"policy: {failure}" for failure in decision.failures]
    if not reasons:
        reasons.append("policy: answer not accepted")
    return tuple(reasons)


def abstention_message(card: Card, decision: PolicyDecision | None = None) -> str:
    """A fixed sentence followed by the reasons as a JSON array (parseable by clients)."""
    reasons = abstention_reasons(card, decision)
    return ABSTENTION_PREFIX + encode_canonical(list(reasons)).decode()
