"""Maximal certifiable residue builder (SPEC 5.2, paper §6, Def. 6.1-6.2, Theorem 6.3).

Per-claim constraints (C_ground strict / C_norefute, C_pol, C_pre, single-claim C_bud) exclude
claims first; an exact branch-and-bound search then finds the maximum-weight subset of the
remaining claims with no conflicting pair (C_cons) within the budget (C_bud), ties broken by the
lexicographically smallest sorted index tuple. All constraints are monotone and empty-admitting, so
the residue is well defined. Forbidden patterns are plain case-insensitive substrings (no regex: no
backtracking).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

from certifiers.types import (
    Admission,
    Budget,
    Claim,
    Dependency,
    Exclusion,
    GroundingCertificate,
    ResidueCertificate,
    Status,
)


def admission_of(grounding: GroundingCertificate | None) -> Admission:
    """SPEC 5.2: C_ground strict if the gate blocks; C_norefute if it passes with W⁻ + W± > 0."""
    if grounding is None:
        return "none"
    if not grounding.emitted:
        return "ground_strict"
    if grounding.masses.contradicted + grounding.masses.contested > 0:
        return "norefute"
    return "none"


def forbidden_match(text: str, patterns: Sequence[str]) -> str | None:
    """The first pattern occurring in `text` as a case-insensitive substring, if any (C_pol)."""
    folded = text.casefold()
    for pattern in patterns:
        if pattern.casefold() in folded:
            return pattern
    return None


def exclusion_reason(
    index: int,
    claim: Claim,
    *,
    admission: Admission,
    statuses: tuple[Status, ...] | None,
    patterns: Sequence[str],
    requires: Sequence[int],
    budget: Budget | None,
) -> str | None:
    """The first per-claim constraint the claim fails, in the documented order, or None."""
    status = statuses[index] if statuses is not None else None
    if admission == "ground_strict" and status != "supported":
        return f"ground:{status}"
    if admission == "norefute" and status in ("contradicted", "contested"):
        return f"norefute:{status}"
    pattern = forbidden_match(claim.text, patterns)
    if pattern is not None:
        return f"forbidden:{pattern}"
    if statuses is not None:
        for required in requires:
            if statuses[required] != "supported":
                return f"requires:{required}"
    if budget is not None and budget.costs[index] > budget.limit:
        return "budget"
    return None


def solve_mcr(
    candidates: Sequence[int],
    weights: Sequence[Fraction],
    conflicts: Sequence[tuple[int, int]],
    budget: Budget | None,
) -> tuple[int, ...]:
    """Exact max-weight subset of `candidates` (conflict-free, within budget), lex-smallest on ties.

    Depth-first over candidates in increasing index order, "include" before "exclude": the first
    subset found with a given weight is the lexicographically smallest, so only strictly heavier
    subsets replace the incumbent and a branch is pruned when its optimistic bound cannot beat it.
    """
    order = sorted(candidates)
    clash: dict[int, set[int]] = {i: set() for i in order}
    for a, b in conflicts:
        if a in clash and b in clash:
            clash[a].add(b)
            clash[b].add(a)
    if budget is None:
        return _solve_unbudgeted(order, weights, clash)
    costs = budget.costs
    limit = budget.limit
    best: list[int] = []
    best_weight = Fraction(0)
    chosen: list[int] = []

    def bound(position: int, weight: Fraction, spent: Fraction) -> Fraction:
        banned = set().union(*(clash[c] for c in chosen)) if chosen else set()
        rest = [i for i in order[position:] if i not in banned]
        if costs is None or limit is None:
            return weight + sum((weights[i] for i in rest), Fraction(0))
        room = limit - spent
        total = weight
        free = [i for i in rest if costs[i] == 0]
        total += sum((weights[i] for i in free), Fraction(0))
        paid = sorted((i for i in rest if costs[i] > 0), key=lambda i: -weights[i] / costs[i])
        for i in paid:
            if room <= 0:
                break
            take = min(Fraction(1), room / costs[i])
            total += take * weights[i]
            room -= take * costs[i]
        return total

    def search(position: int, weight: Fraction, spent: Fraction) -> None:
        nonlocal best, best_weight
        if weight > best_weight:
            best, best_weight = list(chosen), weight
        if position == len(order) or bound(position, weight, spent) <= best_weight:
            return
        item = order[position]
        new_spent = spent + (costs[item] if costs is not None else 0)
        fits = limit is None or new_spent <= limit
        if fits and not any(item in clash[c] for c in chosen):
            chosen.append(item)
            search(position + 1, weight + weights[item], new_spent)
            chosen.pop()
        search(position + 1, weight, spent)

    search(0, Fraction(0), Fraction(0))
    return tuple(sorted(best))


def _solve_unbudgeted(
    order: list[int], weights: Sequence[Fraction], clash: dict[int, set[int]]
) -> tuple[int, ...]:
    """`solve_mcr` with no budget, searched on integers: each weight times L, the lcm of the
    candidates' denominators. Scaling by L > 0 keeps every comparison the search makes (same
    order, same pruning, same ties), so it returns the same subset without Fraction arithmetic.
    """
    scale = math.lcm(*(weights[i].denominator for i in order)) if order else 1
    scaled = {i: weights[i].numerator * (scale // weights[i].denominator) for i in order}
    best: list[int] = []
    best_weight = 0
    chosen: list[int] = []

    def bound(position: int, weight: int) -> int:
        banned = set().union(*(clash[c] for c in chosen)) if chosen else set()
        return weight + sum(scaled[i] for i in order[position:] if i not in banned)

    def search(position: int, weight: int) -> None:
        nonlocal best, best_weight
        if weight > best_weight:
            best, best_weight = list(chosen), weight
        if position == len(order) or bound(position, weight) <= best_weight:
            return
        item = order[position]
        if not any(item in clash[c] for c in chosen):
            chosen.append(item)
            search(position + 1, weight + scaled[item])
            chosen.pop()
        search(position + 1, weight)

    search(0, 0)
    return tuple(sorted(best))


def build_residue(
    claims: tuple[Claim, ...],
    grounding: GroundingCertificate | None,
    *,
    forbidden_patterns: tuple[str, ...],
    dependencies: tuple[Dependency, ...],
    conflicts: tuple[tuple[int, int], ...],
    budget: Budget | None,
) -> ResidueCertificate:
    """Build the MCR certificate for `claims` under the constraints that apply (SPEC 5.2)."""
    admission = admission_of(grounding)
    statuses = grounding.statuses if grounding is not None else None
    requires = {dep.claim: dep.requires for dep in dependencies}
    exclusions: list[Exclusion] = []
    candidates: list[int] = []
    for index, claim in enumerate(claims):
        reason = exclusion_reason(
            index,
            claim,
            admission=admission,
            statuses=statuses,
            patterns=forbidden_patterns,
            requires=requires.get(index, ()),
            budget=budget,
        )
        if reason is None:
            candidates.append(index)
        else:
            exclusions.append(Exclusion(claim=index, reason=reason))
    weights = [claim.weight for claim in claims]
    kept = solve_mcr(candidates, weights, conflicts, budget)
    kept_set = set(kept)
    kept_weight = sum((weights[i] for i in kept), Fraction(0))
    total_weight = sum(weights, Fraction(0))
    return ResidueCertificate(
        forbidden_patterns=forbidden_patterns,
        dependencies=dependencies,
        conflicts=conflicts,
        budget=budget,
        admission=admission,
        exclusions=tuple(exclusions),
        kept=kept,
        dropped=tuple(i for i in range(len(claims)) if i not in kept_set),
        kept_weight=kept_weight,
        total_weight=total_weight,
        coverage=kept_weight / total_weight,
    )
