"""`VerdictConsistent` (paper §10.2), the schema gate between a card's verdict tag and its fields.

Builder side: `certifiers.builders.card` raises if it would emit an inconsistent card, and the shell
names verdicts with `verdict_name`. The verifier does not import this module: it re-implements the
predicate (`certifiers.verification.card`), as the allow-list test checks. It checks only what the
paper's predicate checks; deeper obligations live in the certificates.
"""

from __future__ import annotations

from certifiers.types import Abstain, Card, Certified, Partial, Residue


def verdict_consistent(card: Card) -> bool:
    """Paper §10.2 VerdictConsistent, case by case on the verdict tag."""
    match card.verdict:
        case Certified():
            return (
                card.unverified_layers == ()
                and card.forbidden_check_pass is True
                and card.action_precondition is True
                and card.contradicted_mass == 0
                and card.in_scope is True
            )
        case Partial(gaps=gaps):
            return (
                card.unverified_layers == gaps
                and card.forbidden_check_pass is True
                and card.action_precondition is True
            )
        case Residue(weight=weight):
            return card.residue_coverage == weight and card.dropped_claims != ()
        case Abstain(reasons=reasons):
            return reasons != () and card.residue_coverage == 0


def verdict_name(card: Card) -> str:
    """The verdict tag as text (`X-Assurance-Verdict`)."""
    match card.verdict:
        case Certified():
            return "certified"
        case Partial():
            return "partial"
        case Residue():
            return "residue"
        case Abstain():
            return "abstain"
