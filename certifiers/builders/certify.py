"""`certify(scenario) -> Bundle`: build the certificates, the card and the policy decision.

Pure and deterministic (time comes from the scenario). Oracle scores and coordinates have crossed
the trust boundary already, once, in `certifiers.scenario` through `certifiers.quantize` (SPEC 4.1;
the simplex repair is part of the grounding derivation); a Scenario built in code is normalized
the same way first. It does not sign (the shell does) and does not decide enforce-mode rendering.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import cast

import msgspec

from certifiers.builders.actions import build_actions
from certifiers.builders.card import build_card
from certifiers.builders.citations import claim_citations
from certifiers.builders.embedding import build_embedding
from certifiers.builders.grounding import build_grounding
from certifiers.builders.prefilter import check_calibration, check_prefilter
from certifiers.builders.residue import build_residue
from certifiers.builders.stability import build_stability, proxy_layers
from certifiers.canonical import canonical_digest
from certifiers.errors import PolicyError, ScenarioError
from certifiers.policy import (
    DEFAULT_BASE,
    apply_overrides,
    get_policy,
    policy_accepts,
    validate_policy,
)
from certifiers.quantize import Number
from certifiers.render import emission_of
from certifiers.scenario import BudgetIn, Scenario, normalize_scenario
from certifiers.types import (
    SCORE_SCALE,
    ActionCertificate,
    ActionState,
    Budget,
    Bundle,
    Certificates,
    Claim,
    Context,
    Decomposition,
    Dependency,
    EmbeddingCertificate,
    EvidenceRef,
    GroundingCertificate,
    Policy,
    StabilityCertificate,
    SupportMatrix,
    Thresholds,
)


def _ints(values: tuple[Number, ...]) -> tuple[int, ...]:
    """A row or vector after `normalize_scenario`, which checked that every element is an int."""
    return cast("tuple[int, ...]", values)


def resolve_policy(scenario: Scenario, extra: Mapping[str, Policy] | None) -> Policy:
    """The scenario's policy: a name or an inline object, then `policy_overrides`."""
    try:
        if isinstance(scenario.policy, str):
            policy = get_policy(scenario.policy, extra)
        else:
            fields = dict(scenario.policy)
            base = get_policy(str(fields.pop("extends", DEFAULT_BASE)), extra)
            policy = apply_overrides(base, fields, name=str(fields.pop("name", "inline")))
    except PolicyError as exc:
        raise _policy_error(exc, "$.policy") from exc
    try:
        if scenario.policy_overrides:
            policy = apply_overrides(policy, scenario.policy_overrides)
    except PolicyError as exc:
        raise _policy_error(exc, "$.policy_overrides") from exc
    return policy


_INNER_PATH = re.compile(r"`\$((?:\.|\[)[^`]*)`")


def _policy_error(exc: PolicyError, where: str) -> ScenarioError:
    """A policy error as a ScenarioError whose path is relative to the scenario, not the policy."""
    message = str(exc).replace("`$.", f"`{where}.")
    inner = _INNER_PATH.search(str(exc))
    return ScenarioError(message, path=where + inner.group(1) if inner else where)


def _thresholds(policy: Policy, scenario: Scenario) -> Thresholds:
    base, given = policy.thresholds, scenario.thresholds
    if given is None:
        return base
    return Thresholds(
        theta_g=given.theta_g if given.theta_g is not None else base.theta_g,
        theta_c=given.theta_c if given.theta_c is not None else base.theta_c,
        theta_e=given.theta_e if given.theta_e is not None else base.theta_e,
        theta_r=given.theta_r if given.theta_r is not None else base.theta_r,
    )


def _effective(policy: Policy, scenario: Scenario) -> Policy:
    """The policy the call is certified under: the scenario's thresholds and `unknown_tools` are
    folded in, so the recorded policy equals what the grounding and actions certificates used
    (the verifier checks both equalities)."""
    acts = scenario.actions
    unknown = acts.unknown_tools if acts is not None else None
    effective = msgspec.structs.replace(
        policy,
        thresholds=_thresholds(policy, scenario),
        unknown_tools=unknown if unknown is not None else policy.unknown_tools,
    )
    try:
        validate_policy(effective)
    except PolicyError as exc:
        raise _policy_error(exc, "$.thresholds") from exc
    return effective


def _budget(given: BudgetIn | None, claims: tuple[Claim, ...]) -> Budget | None:
    if given is None:
        return None
    if given.max_weight is not None:
        return Budget(limit=given.max_weight, costs=tuple(c.weight for c in claims))
    if given.max_cost is not None and given.costs is not None:
        return Budget(limit=given.max_cost, costs=given.costs)
    return None


def _dependencies(scenario: Scenario) -> tuple[Dependency, ...]:
    """C_pre data by claim: indices required, and prerequisite names that matched no claim."""
    required = {int(k): set(v) for k, v in scenario.claim_dependencies.items() if v}
    absent = {int(k): set(v) for k, v in scenario.unmet_dependencies.items() if v}
    return tuple(
        Dependency(
            claim=claim,
            requires=tuple(sorted(required.get(claim, ()))),
            absent=tuple(sorted(absent.get(claim, ()))),
        )
        for claim in sorted(required.keys() | absent.keys())
    )


def _context(scenario: Scenario, signer: str | None) -> Context:
    evidence = scenario.evidence
    return Context(
        signer=signer,
        now=scenario.now,
        card_ttl_s=scenario.card_ttl_s,
        max_claims=scenario.max_claims,
        replay_handle=scenario.replay_handle,
        disabled_layers=scenario.disabled_layers,
        citations=scenario.citations,
        oracle_failures=scenario.oracle_failures,
        oracles=dict(scenario.oracles),
        provenance=scenario.provenance,
        evidence=tuple(
            EvidenceRef(id=e.id, retrieved_at=e.retrieved_at, source=e.source) for e in evidence
        ),
        evidence_digest=canonical_digest(tuple(e.text for e in evidence)) if evidence else None,
    )


def _digests(scenario: Scenario, roles: tuple[str, ...]) -> dict[str, str]:
    return {
        role: record.digest
        for role, record in scenario.oracles.items()
        if role in roles and record.digest is not None
    }


def _grounding(
    scenario: Scenario, decomposition: Decomposition, thresholds: Thresholds, failed: set[str]
) -> GroundingCertificate | None:
    nli = scenario.nli
    if not decomposition.claims or not scenario.evidence or nli is None:
        return None
    if failed & {"nli", "decomposer"}:
        return None
    support = SupportMatrix(
        aggregation=nli.aggregation,
        scale=SCORE_SCALE,
        entail=tuple(map(_ints, nli.entail)),
        contradict=tuple(map(_ints, nli.contradict)),
        prefilter=nli.prefilter,
    )
    if nli.prefilter is not None:
        check_prefilter(support, len(scenario.evidence))
    if nli.calibration is not None:
        check_calibration(nli.calibration, scenario.oracles.get("nli"))
    digests = _digests(scenario, ("decomposer", "nli"))
    return build_grounding(decomposition, support, thresholds, digests, calibration=nli.calibration)


def _embedding(scenario: Scenario, failed: set[str]) -> EmbeddingCertificate | None:
    emb = scenario.embedding
    if emb is None or "stability" in scenario.disabled_layers:
        return None
    if failed & {"embedder", "paraphraser"}:
        return None
    return build_embedding(
        dim=emb.dim,
        query=_ints(emb.query),
        invariant=[_ints(v) for v in emb.invariant],
        significant=[_ints(v) for v in emb.significant],
        evidence=[_ints(v) for v in emb.evidence],
        top_k=emb.top_k,
        norm_tolerance=emb.norm_tolerance,
        text=emb.text if emb.text is not None else scenario.query,
        oracle_digests=_digests(scenario, ("embedder", "paraphraser")),
        inline=emb.inline,
    )


def _actions(scenario: Scenario, policy: Policy) -> ActionCertificate | None:
    acts = scenario.actions
    if acts is None or not (acts.calls or acts.schemas):
        return None
    state = acts.state if acts.state is not None else ActionState(now=scenario.now)
    return build_actions(acts.schemas, state, policy.unknown_tools, acts.calls)


def _stability(
    scenario: Scenario,
    embedding: EmbeddingCertificate | None,
    grounding: GroundingCertificate | None,
    actions: ActionCertificate | None,
) -> StabilityCertificate | None:
    if "stability" in scenario.disabled_layers:
        return None
    if scenario.layers is not None:
        if not scenario.layers:
            return None
        return build_stability(scenario.layers, source="declared", epsilon0=scenario.epsilon0)
    layers, epsilon0 = proxy_layers(embedding, grounding, actions)
    if not layers:
        return None
    return build_stability(layers, source="derived", epsilon0=epsilon0)


def certify(
    scenario: Scenario,
    *,
    extra_policies: Mapping[str, Policy] | None = None,
    signer: str | None = None,
) -> Bundle:
    """Build the complete bundle for one recorded call (the core's public builder API).

    `signer` (hex Ed25519 public key) is recorded in the digest-covered context by a signing
    proxy: the bundle is then valid only with a signature by exactly that key (SPEC 6).
    """
    nli, emb = scenario.nli, scenario.embedding
    if (nli is not None and not nli.quantized) or (emb is not None and not emb.quantized):
        scenario = normalize_scenario(scenario)  # decode_scenario already did this
    policy = _effective(resolve_policy(scenario, extra_policies), scenario)
    thresholds = policy.thresholds
    claims = tuple(Claim(text=c.text, weight=c.weight, span=c.span) for c in scenario.claims)
    decomposition = Decomposition(answer=scenario.answer, claims=claims)
    failed = {f.oracle for f in scenario.oracle_failures}
    grounding = _grounding(scenario, decomposition, thresholds, failed)
    dependencies = _dependencies(scenario)
    conflicts = tuple(sorted({(min(a, b), max(a, b)) for a, b in scenario.conflicts}))
    residue = (
        build_residue(
            claims,
            grounding,
            forbidden_patterns=policy.forbidden_patterns,
            dependencies=dependencies,
            conflicts=conflicts,
            budget=_budget(scenario.budget, claims),
        )
        if claims
        else None
    )
    embedding = _embedding(scenario, failed)
    actions = _actions(scenario, policy)
    certificates = Certificates(
        context=_context(scenario, signer),
        policy=policy,
        decomposition=decomposition,
        grounding=grounding,
        residue=residue,
        embedding=embedding,
        actions=actions,
        stability=_stability(scenario, embedding, grounding, actions),
    )
    card = build_card(certificates)
    decision = policy_accepts(card, policy)
    kept = residue.kept if residue is not None else ()
    dropped = residue is not None and bool(residue.dropped)
    emission = emission_of(decomposition, kept, dropped, card, decision)
    bundle = Bundle(
        card=card, certificates=certificates, policy_decision=decision, emission=emission
    )
    if certificates.context.citations != "inline":
        return bundle
    cited = {claim.index: claim.supporting for claim in claim_citations(bundle).claims}
    evidence_ids = [ref.id for ref in certificates.context.evidence]
    emission = emission_of(
        decomposition, kept, dropped, card, decision, cited=cited, evidence_ids=evidence_ids
    )
    return msgspec.structs.replace(bundle, emission=emission)
