"""Bundle-level rules the verifier checks before the certificates (SPEC 6, 5.6, 5.7).

Declared assumptions: every certificate's assumption names must lie in the allowed set (tiers:
kernel-free Python checks declare none; tier 4 = DecompositionOracle, SignedSupportOracle,
ParaphraseOracle) and equal what its kind relies on, so a certificate cannot hide an oracle it used.
Oracle digests: each certificate carries exactly the transcript digests of the oracle roles it
consumed, as recorded in the context. Presence: a certificate may exist only when its inputs exist
(grounding needs claims, evidence and working oracles; the residue exists iff there are claims; no
embedding or stability certificate when that layer is disabled). Sanity of the recorded context and
policy (ranges of masses, limits, thresholds). It recomputes no certificate field.
"""

from __future__ import annotations

from collections.abc import Mapping

from certifiers.types import Certificates
from certifiers.verification.report import Report

__all__ = ["ALLOWED_ASSUMPTIONS", "check_rules"]

#: SPEC 6: the tier-4 oracle assumptions; tiers below are kernel-free checks and need no name
#: plus the grounding records: a top-k pre-filter's unjudged cells are neutral, and the NLI model
#: card's calibration error holds for its weights
ALLOWED_ASSUMPTIONS = frozenset(
    {
        "DecompositionOracle",
        "SignedSupportOracle",
        "ParaphraseOracle",
        "EmbeddingPrefilter",
        "CalibrationRecord",
    }
)

_EXPECTED_ASSUMPTIONS: Mapping[str, tuple[str, ...]] = {
    "grounding": ("DecompositionOracle", "SignedSupportOracle"),
    "residue": (),
    "embedding": ("ParaphraseOracle",),
    "actions": (),
    "stability": (),
}
_ORACLE_ROLES: Mapping[str, tuple[str, ...]] = {
    "grounding": ("decomposer", "nli"),
    "residue": (),
    "embedding": ("embedder", "paraphraser"),
    "actions": (),
    "stability": (),
}


def _check_declarations(certs: Certificates, report: Report) -> None:
    """Assumptions within the allowed tiers and oracle digests as recorded in the context."""
    present = {
        "grounding": certs.grounding,
        "residue": certs.residue,
        "embedding": certs.embedding,
        "actions": certs.actions,
        "stability": certs.stability,
    }
    for kind, cert in present.items():
        if cert is None:
            continue
        unknown = sorted(set(cert.assumptions) - ALLOWED_ASSUMPTIONS)
        report.require(
            f"{kind}.assumptions.allowed",
            not unknown,
            f"expected assumptions within {sorted(ALLOWED_ASSUMPTIONS)}, got {unknown}",
        )
        expected = _EXPECTED_ASSUMPTIONS[kind]
        if kind == "grounding" and certs.grounding is not None:
            expected = (
                *expected,
                *(("EmbeddingPrefilter",) if certs.grounding.support.prefilter else ()),
                *(("CalibrationRecord",) if certs.grounding.calibration else ()),
            )
        report.expect(f"{kind}.assumptions", expected, cert.assumptions)
        digests = {
            role: record.digest
            for role, record in certs.context.oracles.items()
            if role in _ORACLE_ROLES[kind] and record.digest is not None
        }
        report.expect(
            f"{kind}.oracle_digests", sorted(digests.items()), sorted(cert.oracle_digests.items())
        )


def _check_presence(certs: Certificates, report: Report) -> None:
    """Which certificates may exist given the recorded inputs (the builders' presence rules)."""
    claims = certs.decomposition.claims
    ctx = certs.context
    failed = {failure.oracle for failure in ctx.oracle_failures}
    if certs.grounding is not None:
        report.require(
            "grounding.presence",
            bool(claims) and bool(ctx.evidence) and not failed & {"nli", "decomposer"},
            "expected claims, evidence and no failed decomposer/NLI oracle",
        )
    report.expect("residue.presence", bool(claims), certs.residue is not None)
    disabled = "stability" in ctx.disabled_layers
    if certs.embedding is not None:
        report.require(
            "embedding.presence",
            not disabled and not failed & {"embedder", "paraphraser"},
            "expected the stability layer enabled and no failed embedder/paraphraser oracle",
        )
    if certs.actions is not None:
        report.require(
            "actions.presence",
            bool(certs.actions.calls or certs.actions.schemas),
            "expected at least one call or schema",
        )
    if certs.stability is not None:
        report.require(
            "stability.presence",
            not disabled and bool(certs.stability.layers),
            "expected the stability layer enabled and at least one layer",
        )


def _check_policy(certs: Certificates, report: Report) -> None:
    """Ranges of every recorded policy field (SPEC 5.7), and the policy bound to what was
    certified: the grounding thresholds and the action gate's `unknown_tools` are the policy's."""
    policy = certs.policy
    report.require("policy.name", bool(policy.name), "expected a non-empty name")
    for name in ("min_supported_mass", "max_contradicted_mass", "max_contested_mass"):
        value = getattr(policy, name)
        report.require(f"policy.{name}", 0 <= value <= 1, f"expected in [0, 1], got {value}")
    report.require(
        "policy.max_unverified_gaps",
        policy.max_unverified_gaps >= 0,
        f"expected >= 0, got {policy.max_unverified_gaps}",
    )
    age = policy.max_age_seconds
    report.require("policy.max_age_seconds", age == "∞" or age >= 0, f"expected >= 0, got {age}")
    for name in ("max_calibration_gap", "min_perturbation_budget"):
        value = getattr(policy, name)
        report.require(
            f"policy.{name}", value is None or value >= 0, f"expected null or >= 0, got {value}"
        )
    thresholds = policy.thresholds
    for name in ("theta_g", "theta_c"):
        value = getattr(thresholds, name)
        report.require(
            f"policy.thresholds.{name}", 0 < value <= 1, f"expected in (0, 1], got {value}"
        )
    for name in ("theta_e", "theta_r"):
        value = getattr(thresholds, name)
        report.require(
            f"policy.thresholds.{name}", 0 <= value <= 1, f"expected in [0, 1], got {value}"
        )
    report.require(
        "policy.forbidden_patterns",
        all(policy.forbidden_patterns),
        "expected non-empty patterns (an empty one matches every text)",
    )
    allowed = policy.allowed_oracles
    report.require(
        "policy.allowed_oracles",
        allowed is None or all(allowed),
        "expected null or non-empty adapter names",
    )
    if certs.grounding is not None:
        report.expect("grounding.thresholds", thresholds, certs.grounding.thresholds)
    if certs.actions is not None:
        report.expect("actions.unknown_tools", policy.unknown_tools, certs.actions.unknown_tools)


def check_rules(certs: Certificates, report: Report) -> None:
    """Assumptions, oracle digests, presence, and context/policy sanity."""
    _check_declarations(certs, report)
    _check_presence(certs, report)
    _check_policy(certs, report)
    ctx = certs.context
    report.require(
        "context.disabled_layers",
        set(ctx.disabled_layers) <= {"stability"},
        f"expected only 'stability' to be disabled, got {list(ctx.disabled_layers)}",
    )
    report.require(
        "context.card_ttl_s",
        ctx.card_ttl_s is None or ctx.card_ttl_s >= 0,
        f"expected >= 0, got {ctx.card_ttl_s}",
    )
    report.require(
        "context.max_claims",
        ctx.max_claims is None or ctx.max_claims >= 0,
        f"expected >= 0, got {ctx.max_claims}",
    )
    answer_length = len(certs.decomposition.answer)
    for index, claim in enumerate(certs.decomposition.claims):
        report.require(
            f"decomposition.claims[{index}].weight",
            claim.weight > 0,
            f"expected > 0, got {claim.weight}",
        )
        span = claim.span
        report.require(
            f"decomposition.claims[{index}].span",
            span is None or 0 <= span[0] <= span[1] <= answer_length,
            f"expected 0 <= start <= end <= {answer_length}, got {span}",
        )
