"""Runs the per-certificate re-derivations in dependency order, then the card and the decision.

Grounding first (its recomputed statuses and masses feed the residue, card and stability checks),
then residue, embedding, actions, stability, the card (SPEC 5.6) and the policy decision (SPEC 5.7),
then the emitted text (`Bundle.emission`) from the recomputed card, decision and residue, with
`[id]` markers from the re-derived citations when `context.citations` is inline. Each step receives
only recomputed facts from earlier steps, never stored fields. The policy criteria come from
`certifiers.policy.policy_failures` (shared, builder-independent code) evaluated on the recomputed
card; the accept / downgrade / reject rule is re-implemented here.
"""

from __future__ import annotations

from certifiers.policy import policy_failures
from certifiers.render import emission_of
from certifiers.types import Abstain, Bundle, Card, Policy, PolicyDecision, Residue
from certifiers.verification.actions import check_actions
from certifiers.verification.card import Facts, check_card
from certifiers.verification.claims import cited_ids
from certifiers.verification.embedding import check_embedding
from certifiers.verification.grounding import check_grounding
from certifiers.verification.layers import check_stability
from certifiers.verification.report import Report
from certifiers.verification.residue import check_residue

__all__ = ["check_certificates", "expected_decision"]


def expected_decision(card: Card, policy: Policy) -> PolicyDecision:
    """SPEC 5.7: reject on any failed criterion; else accept, or downgrade for a residue."""
    failures = tuple(policy_failures(card, policy))
    if failures or isinstance(card.verdict, Abstain):
        return PolicyDecision(decision="reject", failures=failures or ("verdict is abstain",))
    if isinstance(card.verdict, Residue):
        return PolicyDecision(decision="downgrade", failures=())
    return PolicyDecision(decision="accept", failures=())


def check_certificates(bundle: Bundle, report: Report) -> None:
    """Every certificate, the card and the policy decision of a decoded bundle."""
    certs = bundle.certificates
    grounding = (
        check_grounding(certs, certs.grounding, report) if certs.grounding is not None else None
    )
    residue = (
        check_residue(certs, certs.residue, grounding, report)
        if certs.residue is not None
        else None
    )
    if certs.residue is not None and residue is None:
        return  # the residue could not be recomputed; the card would only repeat that failure
    embedding = check_embedding(certs.embedding, report) if certs.embedding is not None else None
    actions = check_actions(certs.actions, report) if certs.actions is not None else None
    budget = None
    if certs.stability is not None:
        budget = check_stability(
            certs.stability, embedding, grounding, certs.actions is not None, report
        )
    facts = Facts(
        grounding=grounding, residue=residue, embedding=embedding, actions=actions, budget=budget
    )
    card = check_card(bundle.card, certs, facts, report)
    decision = expected_decision(card, certs.policy)
    report.expect("policy_decision.decision", decision.decision, bundle.policy_decision.decision)
    report.expect("policy_decision.failures", decision.failures, bundle.policy_decision.failures)
    kept = residue.kept if residue is not None else ()
    dropped = residue is not None and bool(residue.dropped)
    inline = certs.context.citations == "inline"
    emission = emission_of(
        certs.decomposition,
        kept,
        dropped,
        card,
        decision,
        cited=cited_ids(bundle) if inline else None,
        evidence_ids=[ref.id for ref in certs.context.evidence],
    )
    report.expect("emission.kind", emission.kind, bundle.emission.kind)
    report.expect("emission.text", emission.text, bundle.emission.text)
    report.expect("emission.inline", emission.inline, bundle.emission.inline)
