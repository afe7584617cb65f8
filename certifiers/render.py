"""Deterministic rendering for enforce mode (SPEC 5.7): residue answer, abstention message.

`residue_answer` renders the MCR's kept claims from their *certified claim texts* (the texts the
NLI judged), in answer order; a span only orders claims, its content is never emitted, so a span
that covers a dropped claim's words cannot smuggle them out (issue 9 §1). `abstention_reasons` /
`abstention_message` state why nothing was emitted, in machine-readable form. `emission_of` is the
one rule for what enforce emits (accept: the answer; downgrade that dropped a claim: the residue;
reject: the abstention); builder and verifier both derive `Bundle.emission` with it. No policy
decision is made here.
"""

from __future__ import annotations

from collections.abc import Sequence

from certifiers.canonical import encode_canonical
from certifiers.types import Abstain, Card, Decomposition, Emission, PolicyDecision

ABSTENTION_PREFIX = "No certified answer can be given. Reasons: "


def residue_answer(decomposition: Decomposition, kept: Sequence[int]) -> str:
    """The kept claims' texts joined by spaces, in answer order (span start, then claim index)."""
    claims = decomposition.claims

    def position(index: int) -> tuple[int, int]:
        span = claims[index].span
        return (span[0] if span is not None else -1, index)

    unique = set(kept)
    spanned = all(claims[i].span is not None for i in unique)
    ordered = sorted(unique, key=position) if spanned else sorted(unique)
    return " ".join(text for text in (claims[i].text.strip() for i in ordered) if text)


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


def candidate_text(decomposition: Decomposition, kept: Sequence[int], dropped: bool) -> str:
    """The text emitted unless the policy rejects: the residue when a claim was dropped, else the
    whole answer. Forbidden patterns are checked against it (card `forbidden_check_pass`), not
    only against single claims."""
    return residue_answer(decomposition, kept) if dropped else decomposition.answer


def emission_of(
    decomposition: Decomposition,
    kept: Sequence[int],
    dropped: bool,
    card: Card,
    decision: PolicyDecision,
) -> Emission:
    """SPEC 5.7: the text enforce mode emits (see the module docstring). `kept` / `dropped` are
    the residue's kept claims and whether it dropped any (the verifier passes recomputed ones)."""
    if decision.decision == "reject":
        return Emission(kind="abstention", text=abstention_message(card, decision))
    if decision.decision == "downgrade" and dropped:
        return Emission(kind="residue", text=residue_answer(decomposition, kept))
    return Emission(kind="answer", text=decomposition.answer)
