"""Maximal certifiable residue builder (SPEC 5.2, paper §6, Def. 6.1-6.2, Theorem 6.3).

Per-claim constraints (C_ground strict / C_norefute, C_pol, C_pre, single-claim C_bud) exclude
claims first (C_pre: a prerequisite naming no claim, or one that is not Supported - with no
grounding certificate no claim is Supported - excludes the dependent claim); an exact
branch-and-bound search then finds the maximum-weight subset of the remaining claims with no
conflicting pair (C_cons) within the budget (C_bud), ties broken by the lexicographically smallest
sorted index tuple. All constraints are monotone and empty-admitting, so the residue is well
defined. Forbidden patterns are plain case-insensitive substrings (no regex: no backtracking).
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
    absent: Sequence[str] = (),
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
    if absent:  # a prerequisite that names no claim is never Supported
        return "requires:absent"
    for required in requires:  # no grounding certificate: no status is Supported
        if statuses is None or statuses[required] != "supported":
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
    return _solve_budgeted(order, weights, clash, budget)


#: the subset-sum cut of the budget bound runs while the scaled room is at most this many units
_SUBSET_SUM_ROOM = 1 << 16


def _solve_budgeted(
    order: list[int], weights: Sequence[Fraction], clash: dict[int, set[int]], budget: Budget
) -> tuple[int, ...]:
    """`solve_mcr` under a budget, on integers: weights times the lcm of their denominators, costs
    and the limit times the lcm of theirs (positive scalings keep every comparison). The bound is
    the fractional knapsack over the open claims in a ratio order fixed once, rounded up."""
    w_scale = math.lcm(*(weights[i].denominator for i in order)) if order else 1
    weight = {i: weights[i].numerator * (w_scale // weights[i].denominator) for i in order}
    c_values = [budget.costs[i] for i in order] + [budget.limit]
    c_scale = math.lcm(*(v.denominator for v in c_values))
    cost = {i: budget.costs[i].numerator * (c_scale // budget.costs[i].denominator) for i in order}
    limit = budget.limit.numerator * (c_scale // budget.limit.denominator)
    # ratio order, zero-cost claims first (their ratio is unbounded): exact keys, no float infinity
    by_ratio = sorted(
        order, key=lambda i: (1, Fraction(-weight[i], cost[i])) if cost[i] else (0, Fraction(0))
    )
    best: list[int] = []
    best_weight = 0
    chosen: list[int] = []
    banned: dict[int, int] = {}  # claim -> how many chosen claims conflict with it

    def bound(position: int, total: int, spent: int) -> int:
        first = order[position]  # `search` calls the bound only while position < len(order)
        room = limit - spent
        if room <= _SUBSET_SUM_ROOM:  # cut the room to the largest cost sum the open claims reach
            sums = 1
            for i in order[position:]:
                if not banned.get(i):
                    sums = (sums | (sums << cost[i])) & ((1 << (room + 1)) - 1)
            room = sums.bit_length() - 1
        extra = 0
        for i in by_ratio:
            if i < first or banned.get(i):
                continue
            if cost[i] <= room:
                extra += weight[i]
                room -= cost[i]
            else:
                extra += -((-weight[i] * room) // cost[i])
                break
        return total + extra

    def search(position: int, total: int, spent: int) -> None:
        nonlocal best, best_weight
        if total > best_weight:
            best, best_weight = list(chosen), total
        if position == len(order) or bound(position, total, spent) <= best_weight:
            return
        item = order[position]
        if spent + cost[item] <= limit and not banned.get(item):
            chosen.append(item)
            for other in clash[item]:
                banned[other] = banned.get(other, 0) + 1
            search(position + 1, total + weight[item], spent + cost[item])
            for other in clash[item]:
                banned[other] -= 1
            chosen.pop()
        search(position + 1, total, spent)

    search(0, 0, 0)
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
    requires = {dep.claim: dep for dep in dependencies}
    exclusions: list[Exclusion] = []
    candidates: list[int] = []
    for index, claim in enumerate(claims):
        reason = exclusion_reason(
            index,
            claim,
            admission=admission,
            statuses=statuses,
            patterns=forbidden_patterns,
            requires=requires[index].requires if index in requires else (),
            budget=budget,
            absent=requires[index].absent if index in requires else (),
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
