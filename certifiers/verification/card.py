"""Re-derivation of the Universal Assurance Card (SPEC 5.6, paper Sec. 10.2) and VerdictConsistent.

Every card field is recomputed from the certificates' data and the other checks' recomputed facts
(never a stored derived field): scope predicates, gaps, dropped items, masses over all claims and
over the emitted claims, safety flags, residue coverage, provenance hashes, times, the stability
budget and the verdict (abstain / residue / partial / certified, in that order). Fields this proxy
never measures (calibration, reproducibility, human signatures) must be null or empty. Each field
is compared by name; VerdictConsistent (paper Sec. 10.2) is re-implemented and checked on the card.
"""

from __future__ import annotations

from fractions import Fraction
from typing import NamedTuple

from certifiers.canonical import canonical_digest, sha256_digest
from certifiers.render import candidate_text
from certifiers.tokens import content_tokens
from certifiers.types import (
    VERIFIER_VERSION,
    Abstain,
    Card,
    Certificates,
    Certified,
    Masses,
    Partial,
    Residue,
    Verdict,
)
from certifiers.verification.actions import ActionFacts
from certifiers.verification.embedding import EmbeddingFacts
from certifiers.verification.grounding import GroundingFacts
from certifiers.verification.report import Report
from certifiers.verification.residue import ResidueFacts

__all__ = ["Facts", "check_card", "verdict_consistent"]

_SCOPE = (
    "evidence_supplied",
    "claims_within_limit",
    "evidence_fresh",
    "oracles_allowed",
    "reconstruction_passed",
)
_LABEL = 40


class Facts(NamedTuple):
    """Everything the other checks recomputed (None where the certificate is absent)."""

    grounding: GroundingFacts | None
    residue: ResidueFacts | None
    embedding: EmbeddingFacts | None
    actions: ActionFacts | None
    budget: Fraction | None


def verdict_consistent(card: Card) -> bool:
    """Paper Sec. 10.2 VerdictConsistent, re-implemented (not imported from the builder side)."""
    verdict = card.verdict
    if isinstance(verdict, Certified):
        return (
            not card.unverified_layers
            and card.forbidden_check_pass is True
            and card.action_precondition is True
            and card.contradicted_mass == 0
            and card.in_scope is True
        )
    if isinstance(verdict, Partial):
        return (
            card.unverified_layers == verdict.gaps
            and card.forbidden_check_pass is True
            and card.action_precondition is True
        )
    if isinstance(verdict, Residue):
        return card.residue_coverage == verdict.weight and len(card.dropped_claims) > 0
    return len(verdict.reasons) > 0 and card.residue_coverage == 0


def _missing(certs: Certificates) -> list[str]:
    joined = " ".join(claim.text for claim in certs.decomposition.claims)
    return sorted(content_tokens(certs.decomposition.answer) - content_tokens(joined))


def _scope(certs: Certificates, nothing: bool) -> tuple[str, ...]:
    ctx, policy = certs.context, certs.policy
    limit = policy.max_age_seconds
    held = {
        "evidence_supplied": nothing or len(ctx.evidence) > 0,
        "claims_within_limit": ctx.max_claims is None
        or len(certs.decomposition.claims) <= ctx.max_claims,
        "evidence_fresh": not any(
            e.retrieved_at is not None
            and (e.retrieved_at > ctx.now or (limit != "∞" and ctx.now - e.retrieved_at > limit))
            for e in ctx.evidence
        ),
        "oracles_allowed": policy.allowed_oracles is None
        or all(record.adapter in policy.allowed_oracles for record in ctx.oracles.values()),
        "reconstruction_passed": not _missing(certs),
    }
    return tuple(name for name in _SCOPE if held[name])


def _gaps(certs: Certificates, facts: Facts, held: tuple[str, ...], nothing: bool) -> list[str]:
    claims, ctx = certs.decomposition.claims, certs.context
    gaps: list[str] = []
    if not nothing:
        if not claims:
            gaps.append("grounding: no claims decomposed")
        elif not ctx.evidence:
            gaps.append("grounding: no evidence supplied")
        elif certs.grounding is None:
            gaps.append("grounding: no NLI judgments")
        missing = _missing(certs)
        if claims and missing:
            gaps.append(f"grounding: reconstruction failed (missing: {', '.join(missing[:5])})")
    if "stability" not in ctx.disabled_layers:
        if certs.embedding is None:
            gaps.append("stability: no embedding data supplied")
        elif not _norms_bounded(certs):
            gaps.append("stability: embedding norm exceeds 1 + tolerance")
    if facts.actions is not None:
        for call_id, name in facts.actions.unchecked:
            gaps.append(f"actions: call {call_id} {name!r} has no schema (unknown_tools = allow)")
    gaps.extend(f"scope: {name} does not hold" for name in _SCOPE if name not in held)
    return gaps


def _norms_bounded(certs: Certificates) -> bool:
    emb = certs.embedding
    if emb is None:
        return False
    ceiling = (1 + emb.norm_tolerance) * (1 << 48)
    norms = [emb.query_norm_sq, *(m.norm_sq for m in (*emb.invariant, *emb.significant))]
    return all(n <= ceiling for n in (*norms, *(e.norm_sq for e in emb.evidence)))


def _dropped(certs: Certificates, facts: Facts) -> list[str]:
    labels: list[str] = []
    if facts.residue is not None:
        for i in facts.residue.dropped:
            text = certs.decomposition.claims[i].text
            short = text if len(text) <= _LABEL else text[: _LABEL - 1] + "…"
            reason = facts.residue.reasons.get(i, "not in maximal residue")
            labels.append(f"c{i + 1}: {short} ({reason})")
    if facts.actions is not None:
        labels.extend(
            f"tool {call_id} {name}: blocked by {predicate}"
            for call_id, name, predicate in facts.actions.blocked
        )
    return labels


def _emitted(certs: Certificates, facts: Facts) -> Masses | None:
    if facts.grounding is None or facts.residue is None or not facts.residue.kept:
        return None
    weights = [certs.decomposition.claims[i].weight for i in facts.residue.kept]
    statuses = [facts.grounding.statuses[i] for i in facts.residue.kept]
    total = sum(weights, Fraction(0))

    def share(status: str) -> Fraction:
        part = sum((w for w, s in zip(weights, statuses, strict=True) if s == status), Fraction(0))
        return part / total

    return Masses(
        supported=share("supported"),
        contradicted=share("contradicted"),
        contested=share("contested"),
        unknown=share("unknown"),
    )


def _forbidden_in_emission(certs: Certificates, facts: Facts) -> str | None:
    """The first forbidden pattern in the text emitted unless rejected (recomputed residue)."""
    kept = facts.residue.kept if facts.residue is not None else ()
    dropped_any = facts.residue is not None and bool(facts.residue.dropped)
    text = candidate_text(certs.decomposition, kept, dropped_any).casefold()
    for pattern in certs.policy.forbidden_patterns:
        if pattern.casefold() in text:
            return pattern
    return None


def _verdict(certs: Certificates, facts: Facts, dropped: list[str], gaps: list[str]) -> Verdict:
    failed = certs.context.oracle_failures
    if failed:
        return Abstain(reasons=tuple(f"oracle {f.oracle} failed: {f.reason}" for f in failed))
    pattern = _forbidden_in_emission(certs, facts)
    if pattern is not None:
        return Abstain(reasons=(f"forbidden pattern in the emitted text: {pattern}",))
    kept = len(facts.residue.kept) if facts.residue is not None else 0
    allowed = facts.actions.allowed if facts.actions is not None else 0
    if dropped and kept == 0 and allowed == 0:
        return Abstain(reasons=(f"nothing certifiable remains: {len(dropped)} item(s) dropped",))
    if dropped:
        return Residue(weight=facts.residue.coverage if facts.residue is not None else Fraction(1))
    if gaps:
        return Partial(gaps=tuple(gaps))
    return Certified()


def _expected_card(certs: Certificates, facts: Facts) -> Card:
    ctx = certs.context
    claims = certs.decomposition.claims
    nothing = not claims and not content_tokens(certs.decomposition.answer)
    held = _scope(certs, nothing)
    gaps = _gaps(certs, facts, held, nothing)
    dropped = _dropped(certs, facts)
    verdict = _verdict(certs, facts, dropped, gaps)
    masses: dict[str, Fraction | None] = dict.fromkeys(
        ("supported", "contradicted", "contested", "unknown")
    )
    if facts.grounding is not None:
        for status, value in facts.grounding.masses.items():
            masses[status] = value
    elif not claims:
        masses = dict.fromkeys(masses, Fraction(0))
    kept = facts.residue.kept if facts.residue is not None else ()
    folded = [claims[i].text.casefold() for i in kept]
    forbidden_ok = _forbidden_in_emission(certs, facts) is None and not any(
        p.casefold() in t for p in certs.policy.forbidden_patterns for t in folded
    )
    under_limit: bool | None = None
    if certs.residue is not None:
        budget = certs.residue.budget
        under_limit = (
            budget is None or sum((budget.costs[i] for i in kept), Fraction(0)) <= budget.limit
        )
    retrieved = [e.retrieved_at for e in ctx.evidence if e.retrieved_at is not None]
    provenance = ctx.provenance
    model = provenance.model_version if provenance is not None else None
    template = provenance.prompt_template if provenance is not None else None
    abstain = isinstance(verdict, Abstain)
    coverage = facts.residue.coverage if facts.residue is not None else Fraction(1)
    return Card(
        verdict=verdict,
        perturbation_budget=facts.budget,
        variant_flips=facts.embedding.variant_flips if facts.embedding else None,
        semantic_agreement=facts.embedding.semantic_agreement if facts.embedding else None,
        supported_mass=masses["supported"],
        contradicted_mass=masses["contradicted"],
        contested_mass=masses["contested"],
        unknown_mass=masses["unknown"],
        emitted=None if abstain else _emitted(certs, facts),
        calibration_gap=(
            None
            if certs.grounding is None or certs.grounding.calibration is None
            else certs.grounding.calibration.expected_calibration_error
        ),
        in_scope=len(held) == len(_SCOPE),
        scope_predicates_held=held,
        source_snapshot_hash=ctx.evidence_digest,
        evidence_oldest_at=min(retrieved) if retrieved else None,
        issue_time=ctx.now,
        expiry_time=None if ctx.card_ttl_s is None else ctx.now + ctx.card_ttl_s,
        forbidden_check_pass=forbidden_ok,
        action_precondition=True,  # blocked calls are dropped: every emitted call passed its gate
        budget_under_limit=under_limit,
        residue_coverage=Fraction(0) if abstain else coverage,
        dropped_claims=tuple(dropped),
        unverified_layers=tuple(gaps),
        model_version_hash=None if model is None else sha256_digest(model.encode()),
        prompt_template_hash=None if template is None else sha256_digest(template.encode()),
        certificate_digest=canonical_digest(certs),
        verifier_version=VERIFIER_VERSION,
        replay_handle=ctx.replay_handle,
    )


def check_card(card: Card, certs: Certificates, facts: Facts, report: Report) -> Card:
    """Compare every card field with its recomputation; check VerdictConsistent; return the
    recomputed card (what the policy decision is evaluated on)."""
    expected = _expected_card(certs, facts)
    for name in Card.__struct_fields__:
        report.expect(f"card.{name}", getattr(expected, name), getattr(card, name))
    report.require(
        "card.verdict_consistent",
        verdict_consistent(card),
        "expected the verdict tag to agree with the card fields (paper Sec. 10.2)",
    )
    return expected
