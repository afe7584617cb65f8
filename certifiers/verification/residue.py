"""Re-derivation of the maximal certifiable residue certificate (SPEC 5.2, paper Sec. 6.3).

From the claims, the recomputed grounding statuses and the configured constraints this recomputes:
which constraints apply (C_ground strict / C_norefute), the per-claim exclusions (C_pol; C_pre: an
`absent` prerequisite, or one not Supported, where no grounding certificate means nothing is
Supported; single-claim C_bud) with their reasons, and the optimum by `verification.search` (an
exact method different from the builder's branch and bound). It checks the stored residue's
subset property, each constraint on it, its weight, its optimality against the independent
optimum, the complement, the total weight and the coverage. Returns the recomputed residue for the
card checks.
"""

from __future__ import annotations

from fractions import Fraction
from typing import NamedTuple

from certifiers.types import Admission, Certificates, ResidueCertificate, Status
from certifiers.verification.grounding import GroundingFacts
from certifiers.verification.report import Report, show
from certifiers.verification.search import best_residue, subset_is_feasible

__all__ = ["ResidueFacts", "check_residue"]


class ResidueFacts(NamedTuple):
    """Recomputed residue used by the card checks."""

    kept: tuple[int, ...]
    dropped: tuple[int, ...]
    reasons: dict[int, str]
    coverage: Fraction


def _admission(grounding: GroundingFacts | None) -> Admission:
    """SPEC 5.2: strict grounding when the gate blocks; no-refute when it passes with refutation."""
    if grounding is None:
        return "none"
    if not grounding.emitted:
        return "ground_strict"
    if grounding.masses["contradicted"] + grounding.masses["contested"] > 0:
        return "norefute"
    return "none"


def _check_data(cert: ResidueCertificate, certs: Certificates, n: int, report: Report) -> bool:
    """Indices in range, canonical order, costs present for every claim, patterns = the policy's."""
    ok = report.expect(
        "residue.forbidden_patterns", certs.policy.forbidden_patterns, cert.forbidden_patterns
    )
    claims = [dep.claim for dep in cert.dependencies]
    ok &= report.require(
        "residue.dependencies",
        claims == sorted(set(claims))
        and all(0 <= dep.claim < n for dep in cert.dependencies)
        and all(
            list(dep.requires) == sorted(set(dep.requires))
            and all(0 <= j < n for j in dep.requires)
            and list(dep.absent) == sorted(set(dep.absent))
            and bool(dep.requires or dep.absent)
            for dep in cert.dependencies
        ),
        f"expected sorted unique claim indices in [0, {n}) with sorted unique non-empty "
        f"prerequisites, got {show(claims)}",
    )
    pairs = list(cert.conflicts)
    ok &= report.require(
        "residue.conflicts",
        pairs == sorted(set(pairs)) and all(0 <= a < b < n for a, b in pairs),
        f"expected sorted unique pairs i < j in [0, {n}), got {show(pairs)}",
    )
    if cert.budget is not None:
        costs = cert.budget.costs
        ok &= report.require(
            "residue.budget",
            len(costs) == n and all(cost >= 0 for cost in costs) and cert.budget.limit >= 0,
            f"expected {n} non-negative costs and a non-negative limit, got {len(costs)} costs",
        )
    return ok


def _reason(
    index: int,
    text: str,
    admission: Admission,
    statuses: tuple[Status, ...] | None,
    cert: ResidueCertificate,
) -> str | None:
    """The first failed per-claim constraint: ground, norefute, forbidden, requires, budget."""
    status = statuses[index] if statuses is not None else None
    if admission == "ground_strict" and status != "supported":
        return f"ground:{status}"
    if admission == "norefute" and status in {"contradicted", "contested"}:
        return f"norefute:{status}"
    folded = text.casefold()
    hit = next((p for p in cert.forbidden_patterns if p.casefold() in folded), None)
    if hit is not None:
        return f"forbidden:{hit}"
    for dep in cert.dependencies:
        if dep.claim == index:
            if dep.absent:  # a prerequisite that names no claim can never be Supported
                return "requires:absent"
            # without a grounding certificate there are no statuses: nothing is Supported
            missing = [j for j in dep.requires if statuses is None or statuses[j] != "supported"]
            if missing:
                return f"requires:{missing[0]}"
    if cert.budget is not None and cert.budget.costs[index] > cert.budget.limit:
        return "budget"
    return None


def check_residue(
    certs: Certificates,
    cert: ResidueCertificate,
    grounding: GroundingFacts | None,
    report: Report,
) -> ResidueFacts | None:
    """Check every obligation of the residue certificate; return the recomputed residue."""
    claims = certs.decomposition.claims
    n = len(claims)
    if not _check_data(cert, certs, n, report):
        return None
    admission = _admission(grounding)
    report.expect("residue.admission", admission, cert.admission)
    statuses = grounding.statuses if grounding is not None else None
    reasons: dict[int, str] = {}
    for index, claim in enumerate(claims):
        reason = _reason(index, claim.text, admission, statuses, cert)
        if reason is not None:
            reasons[index] = reason
    stored_reasons = [(e.claim, e.reason) for e in cert.exclusions]
    report.expect("residue.exclusions", sorted(reasons.items()), stored_reasons)
    weights = [claim.weight for claim in claims]
    costs = cert.budget.costs if cert.budget is not None else None
    limit = cert.budget.limit if cert.budget is not None else None
    admissible = [i for i in range(n) if i not in reasons]
    optimum = best_residue(weights, admissible, cert.conflicts, costs, limit)
    stored = cert.kept
    if report.require(
        "residue.subset",
        list(stored) == sorted(set(stored)) and all(0 <= i < n for i in stored),
        f"expected sorted unique claim indices in [0, {n}), got {show(stored)}",
    ):
        inadmissible = [i for i in stored if i in reasons]
        report.require(
            "residue.constraints.per_claim",
            not inadmissible,
            f"expected only admissible claims, got {show(inadmissible)} "
            f"({', '.join(reasons[i] for i in inadmissible)})",
        )
        report.require(
            "residue.constraints.conflicts_and_budget",
            subset_is_feasible(stored, cert.conflicts, costs, limit),
            f"expected no conflicting pair and cost within the budget, got {show(stored)}",
        )
        stored_weight = sum((weights[i] for i in stored), Fraction(0))
        report.expect("residue.weight", stored_weight, cert.kept_weight)
    if optimum is None:
        report.fail("residue.optimality", "independent search exceeded its node limit")
        return None
    best_weight = sum((weights[i] for i in optimum), Fraction(0))
    report.expect("residue.optimality", optimum, stored)
    report.expect("residue.kept_weight", best_weight, cert.kept_weight)
    dropped = tuple(i for i in range(n) if i not in set(optimum))
    report.expect("residue.dropped", dropped, cert.dropped)
    total = sum(weights, Fraction(0))
    report.expect("residue.total_weight", total, cert.total_weight)
    coverage = best_weight / total if total > 0 else Fraction(0)
    report.expect("residue.coverage", coverage, cert.coverage)
    return ResidueFacts(kept=optimum, dropped=dropped, reasons=reasons, coverage=coverage)
