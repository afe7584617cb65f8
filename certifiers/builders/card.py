"""Universal Assurance Card builder: scope, gaps, verdict and VerdictConsistent (SPEC 5.6, §10).

Every field is a function of `Certificates` (so the verifier can recompute it). Rules, in order:
1. Scope predicates (each named when it holds): evidence_supplied (>= 1 chunk, or nothing to
   ground), claims_within_limit, evidence_fresh (every retrieved_at at or before now and within
   the policy's max_age of now), oracles_allowed (adapters in the policy's allow-list, if any),
   reconstruction_passed (C(answer) ⊆ C(claims joined)). "Nothing to ground" = no claims and no
   content token in the answer.
2. Gaps (`unverified_layers`), in this order: grounding ("no claims decomposed" | "no evidence
   supplied" | "no NLI judgments"; then "reconstruction failed (missing: ≤5 tokens)"), unless
   nothing to ground; stability ("no embedding data supplied" | "embedding norm exceeds 1 +
   tolerance") unless disabled; actions (one per allowed call without schema); "scope: X does not
   hold" for every failing scope predicate.
3. Verdict: abstain (oracle failure, a forbidden pattern in the text that would be emitted - the
   answer, or the residue when a claim was dropped - or something dropped and nothing left),
   residue (something dropped), partial (gaps), certified. A card violating VerdictConsistent
   raises.
"""

from __future__ import annotations

from fractions import Fraction

from certifiers.bundle import certificate_digest
from certifiers.canonical import sha256_digest
from certifiers.errors import CertificationError
from certifiers.render import candidate_text
from certifiers.tokens import content_tokens
from certifiers.types import (
    Abstain,
    Card,
    Certificates,
    Certified,
    Masses,
    Partial,
    Residue,
    Verdict,
)
from certifiers.verdict import verdict_consistent

LABEL_CHARS = 40
SCOPE_PREDICATES = (
    "evidence_supplied",
    "claims_within_limit",
    "evidence_fresh",
    "oracles_allowed",
    "reconstruction_passed",
)


def _shorten(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


def missing_tokens(certs: Certificates) -> tuple[str, ...]:
    """Content tokens of the answer that no claim covers (decidable Def. 5.1)."""
    dec = certs.decomposition
    joined = " ".join(claim.text for claim in dec.claims)
    return tuple(sorted(content_tokens(dec.answer) - content_tokens(joined)))


def nothing_to_ground(certs: Certificates) -> bool:
    """No claims and no content token in the answer (e.g. a tool-call-only response)."""
    dec = certs.decomposition
    return not dec.claims and not content_tokens(dec.answer)


def scope_held(certs: Certificates) -> tuple[str, ...]:
    """SPEC 5.6 scope-of-validity predicates that hold, in the fixed order."""
    ctx, policy = certs.context, certs.policy
    max_age = policy.max_age_seconds
    holds = {
        "evidence_supplied": bool(ctx.evidence) or nothing_to_ground(certs),
        "claims_within_limit": ctx.max_claims is None
        or len(certs.decomposition.claims) <= ctx.max_claims,
        "evidence_fresh": all(
            e.retrieved_at <= ctx.now and (max_age == "∞" or ctx.now - e.retrieved_at <= max_age)
            for e in ctx.evidence
            if e.retrieved_at is not None
        ),
        "oracles_allowed": policy.allowed_oracles is None
        or all(rec.adapter in policy.allowed_oracles for rec in ctx.oracles.values()),
        "reconstruction_passed": not missing_tokens(certs),
    }
    return tuple(name for name in SCOPE_PREDICATES if holds[name])


def unverified_layers(certs: Certificates, held: tuple[str, ...]) -> tuple[str, ...]:
    """Gaps in the documented order (module docstring, rule 2)."""
    gaps: list[str] = []
    if not nothing_to_ground(certs):
        if not certs.decomposition.claims:
            gaps.append("grounding: no claims decomposed")
        elif not certs.context.evidence:
            gaps.append("grounding: no evidence supplied")
        elif certs.grounding is None:
            gaps.append("grounding: no NLI judgments")
        # `held` comes from scope_held(certs): the tokens are recomputed only when some are missing
        missing = () if "reconstruction_passed" in held else missing_tokens(certs)
        if missing and certs.decomposition.claims:
            gaps.append(f"grounding: reconstruction failed (missing: {', '.join(missing[:5])})")
    if "stability" not in certs.context.disabled_layers:
        if certs.embedding is None:
            gaps.append("stability: no embedding data supplied")
        elif not certs.embedding.norms_bounded:
            gaps.append("stability: embedding norm exceeds 1 + tolerance")
    if certs.actions is not None:
        names = {call.id: call.name for call in certs.actions.calls}
        for decision in certs.actions.decisions:
            if decision.allowed and not decision.checked:
                gaps.append(
                    f"actions: call {decision.id} {names[decision.id]!r} has no schema "
                    "(unknown_tools = allow)"
                )
    gaps += [f"scope: {name} does not hold" for name in SCOPE_PREDICATES if name not in held]
    return tuple(gaps)


def dropped_labels(certs: Certificates) -> tuple[str, ...]:
    """Human-readable dropped items: claims (1-based, shortened) then blocked tool calls."""
    labels: list[str] = []
    residue = certs.residue
    if residue is not None:
        reasons = {ex.claim: ex.reason for ex in residue.exclusions}
        for i in residue.dropped:
            text = _shorten(certs.decomposition.claims[i].text)
            labels.append(f"c{i + 1}: {text} ({reasons.get(i, 'not in maximal residue')})")
    if certs.actions is not None:
        names = {call.id: call.name for call in certs.actions.calls}
        for decision in certs.actions.decisions:
            if not decision.allowed:
                predicate = decision.audit.predicate if decision.audit is not None else "?"
                labels.append(f"tool {decision.id} {names[decision.id]}: blocked by {predicate}")
    return tuple(labels)


def emitted_masses(certs: Certificates) -> Masses | None:
    """The four masses over the kept claims (normalized by their weight), when measurable."""
    grounding, residue = certs.grounding, certs.residue
    if grounding is None or residue is None or not residue.kept:
        return None
    claims = certs.decomposition.claims
    sums = {"supported": Fraction(0), "contradicted": Fraction(0), "contested": Fraction(0)}
    for i in residue.kept:
        if grounding.statuses[i] in sums:
            sums[grounding.statuses[i]] += claims[i].weight
    total = residue.kept_weight
    known = sums["supported"] + sums["contradicted"] + sums["contested"]
    return Masses(
        supported=sums["supported"] / total,
        contradicted=sums["contradicted"] / total,
        contested=sums["contested"] / total,
        unknown=(total - known) / total,
    )


def emitted_forbidden(certs: Certificates) -> str | None:
    """The first forbidden pattern in the text that would be emitted (`render.candidate_text`)."""
    residue = certs.residue
    kept = residue.kept if residue is not None else ()
    dropped = residue is not None and bool(residue.dropped)
    candidate = candidate_text(certs.decomposition, kept, dropped).casefold()
    return next((p for p in certs.policy.forbidden_patterns if p.casefold() in candidate), None)


def choose_verdict(certs: Certificates, dropped: tuple[str, ...], gaps: tuple[str, ...]) -> Verdict:
    """SPEC 5.6 order: abstain (oracle failure, forbidden pattern in the text to be emitted,
    nothing left), residue, partial, certified."""
    failures = tuple(f"oracle {f.oracle} failed: {f.reason}" for f in certs.context.oracle_failures)
    if failures:
        return Abstain(reasons=failures)
    pattern = emitted_forbidden(certs)
    if pattern is not None:
        return Abstain(reasons=(f"forbidden pattern in the emitted text: {pattern}",))
    kept_claims = certs.residue.kept if certs.residue is not None else ()
    kept_calls = [d for d in certs.actions.decisions if d.allowed] if certs.actions else []
    if dropped and not kept_claims and not kept_calls:
        return Abstain(reasons=(f"nothing certifiable remains: {len(dropped)} item(s) dropped",))
    if dropped:
        coverage = certs.residue.coverage if certs.residue is not None else Fraction(1)
        return Residue(weight=coverage)
    if gaps:
        return Partial(gaps=gaps)
    return Certified()


def build_card(certs: Certificates) -> Card:
    """Derive the card from the certificates; CertificationError if VerdictConsistent fails."""
    ctx, residue = certs.context, certs.residue
    held = scope_held(certs)
    gaps = unverified_layers(certs, held)
    dropped = dropped_labels(certs)
    verdict = choose_verdict(certs, dropped, gaps)
    if certs.grounding is not None:
        masses: Masses | None = certs.grounding.masses
    elif not certs.decomposition.claims:
        zero = Fraction(0)
        masses = Masses(supported=zero, contradicted=zero, contested=zero, unknown=zero)
    else:
        masses = None
    kept_texts = [certs.decomposition.claims[i].text for i in (residue.kept if residue else ())]
    patterns = certs.policy.forbidden_patterns
    forbidden_ok = emitted_forbidden(certs) is None and not any(
        p.casefold() in t.casefold() for p in patterns for t in kept_texts
    )
    budget_ok: bool | None = None
    if residue is not None:
        budget = residue.budget
        spent = sum((budget.costs[i] for i in residue.kept), Fraction(0)) if budget else None
        budget_ok = budget is None or (spent is not None and spent <= budget.limit)
    coverage = residue.coverage if residue is not None else Fraction(1)
    retrieved = [e.retrieved_at for e in ctx.evidence if e.retrieved_at is not None]
    prov = ctx.provenance
    emb = certs.embedding
    card = Card(
        verdict=verdict,
        perturbation_budget=certs.stability.budget if certs.stability is not None else None,
        variant_flips=emb.variant_flips if emb is not None else None,
        semantic_agreement=emb.semantic_agreement if emb is not None else None,
        supported_mass=masses.supported if masses else None,
        contradicted_mass=masses.contradicted if masses else None,
        contested_mass=masses.contested if masses else None,
        unknown_mass=masses.unknown if masses else None,
        emitted=None if isinstance(verdict, Abstain) else emitted_masses(certs),
        calibration_gap=(
            certs.grounding.calibration.expected_calibration_error
            if certs.grounding is not None and certs.grounding.calibration is not None
            else None
        ),
        in_scope=len(held) == len(SCOPE_PREDICATES),
        scope_predicates_held=held,
        source_snapshot_hash=ctx.evidence_digest,
        evidence_oldest_at=min(retrieved) if retrieved else None,
        issue_time=ctx.now,
        expiry_time=ctx.now + ctx.card_ttl_s if ctx.card_ttl_s is not None else None,
        forbidden_check_pass=forbidden_ok,
        action_precondition=True,
        budget_under_limit=budget_ok,
        residue_coverage=Fraction(0) if isinstance(verdict, Abstain) else coverage,
        dropped_claims=dropped,
        unverified_layers=gaps,
        model_version_hash=_hash(prov.model_version if prov else None),
        prompt_template_hash=_hash(prov.prompt_template if prov else None),
        certificate_digest=certificate_digest(certs),
        replay_handle=ctx.replay_handle,
    )
    if not verdict_consistent(card):
        raise CertificationError(f"Expected a card satisfying VerdictConsistent, got {card!r}")
    return card


def _hash(text: str | None) -> str | None:
    return sha256_digest(text.encode()) if text is not None else None
